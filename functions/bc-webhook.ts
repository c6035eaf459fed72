import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { BC_WEBHOOK_MAX_BYTES, handleBcWebhook, MAX_VALIDATION_TOKEN_LENGTH } from '../shared/capture/bc-webhook';
import { captureDeps } from '../shared/capture/context';
import { PayloadTooLargeError, problem, text } from '../shared/capture/http';
import { toSyncError } from '../shared/errors';
import { readWebhookRequest, toHttpResponse } from './lib/http';

/**
 * `POST /api/webhooks/bc`. Anonymous at the Functions level: BC cannot send a function key, so each
 * notification's `clientState` (an HMAC per subscription resource) is the credential. GET is accepted too,
 * for the validation handshake only (api-contracts.md D.2).
 */
export async function bcWebhook(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  // The handshake first and without touching the runtime: BC gives it 5 s, and it must work on a cold start.
  const token = request.query.get('validationToken');
  if (token !== null) {
    if (token.length === 0 || token.length > MAX_VALIDATION_TOKEN_LENGTH)
      return toHttpResponse(problem(400, `validationToken must have 1 to ${MAX_VALIDATION_TOKEN_LENGTH} characters`));
    return toHttpResponse(text(200, token));
  }
  try {
    const req = await readWebhookRequest(request, BC_WEBHOOK_MAX_BYTES);
    return toHttpResponse(await handleBcWebhook(await captureDeps(), req));
  } catch (err) {
    if (err instanceof PayloadTooLargeError) return toHttpResponse(problem(413, err.message));
    // Anything unexpected is treated as transient: 503 makes BC retry, any 4xx would delete the subscription.
    context.error(`BC webhook failed, answering 503: ${toSyncError(err).message}`);
    return toHttpResponse(problem(503, 'the notification could not be processed; Business Central will retry', { 'Retry-After': '60' }));
  }
}

app.http('bcWebhook', { route: 'webhooks/bc', methods: ['GET', 'POST'], authLevel: 'anonymous', handler: bcWebhook });
