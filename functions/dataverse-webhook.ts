import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { captureDeps } from '../shared/capture/context';
import { registerDataverseWebhooks, unregisterDataverseWebhooks, webhookInstallation } from '../shared/capture/dataverse-registration';
import { DATAVERSE_WEBHOOK_MAX_BYTES, handleDataverseWebhook } from '../shared/capture/dataverse-webhook';
import { json, PayloadTooLargeError, problem } from '../shared/capture/http';
import { toSyncError } from '../shared/errors';
import { getRuntime } from '../shared/runtime';
import { readWebhookRequest, toHttpResponse } from './lib/http';

/**
 * `POST /api/webhooks/dataverse`. Anonymous at the Functions level: the key is checked by the handler in
 * whichever way the service endpoint sends it (WebhookKey `?code=`, HttpHeader, HttpQueryString), so the same
 * endpoint works with every auth type Dataverse offers.
 */
export async function dataverseWebhook(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const req = await readWebhookRequest(request, DATAVERSE_WEBHOOK_MAX_BYTES);
    return toHttpResponse(await handleDataverseWebhook(await captureDeps(), req));
  } catch (err) {
    if (err instanceof PayloadTooLargeError) return toHttpResponse(problem(413, err.message));
    // Dataverse retries 502/503/504 once and records the failed system job for an admin to see.
    context.error(`Dataverse webhook failed, answering 503: ${toSyncError(err).message}`);
    return toHttpResponse(problem(503, 'the change could not be processed; retry later', { 'Retry-After': '60' }));
  }
}

/**
 * `POST /api/admin/dataverse-webhooks` (master key): registers the service endpoint and the Create/Update/Delete
 * steps for the current mappings, and removes steps no longer needed. Idempotent; the CLI setup calls it too.
 * `DELETE` removes this installation's endpoint and steps (taking an installation down); other installations'
 * webhooks on the same Dataverse stay.
 */
export async function dataverseWebhookRegistration(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const runtime = await getRuntime();
    if (request.method === 'DELETE') {
      const removed = await unregisterDataverseWebhooks(runtime.dataverse, { installation: webhookInstallation(runtime.settings) });
      return toHttpResponse(json(200, removed));
    }
    const report = await registerDataverseWebhooks(runtime.dataverse, {
      publicBaseUrl: runtime.settings.PUBLIC_BASE_URL,
      webhookKey: runtime.settings.DATAVERSE_WEBHOOK_KEY,
      mappings: await runtime.mappings.all(),
      installation: webhookInstallation(runtime.settings),
    });
    return toHttpResponse(json(200, report));
  } catch (err) {
    const e = toSyncError(err);
    context.error(`Dataverse webhook registration failed: ${e.message}`);
    return toHttpResponse(json(e.transient ? 503 : 500, { error: e.code, message: e.message }));
  }
}

app.http('dataverseWebhook', { route: 'webhooks/dataverse', methods: ['POST'], authLevel: 'anonymous', handler: dataverseWebhook });
app.http('dataverseWebhookRegistration', {
  route: 'admin/dataverse-webhooks',
  methods: ['POST', 'DELETE'],
  authLevel: 'admin',
  handler: dataverseWebhookRegistration,
});
