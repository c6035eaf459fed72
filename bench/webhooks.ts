/**
 * Webhook intake: how many BC and Dataverse webhook requests per second the local host turns into change events
 * accepted by the Service Bus endpoint, and how long one takes from request to enqueued. The webhooks answer only
 * after the broker accepted the events, so the response time is the request-to-enqueued time.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { startAzurite } from '../dev/azurite';
import { LocalFunctionsHost } from '../dev/local-host/host';
import { ServiceBusEmulator } from '../dev/servicebus';
import { configureCapture } from '../shared/capture/context';
import { clientStateFor } from '../shared/capture/secrets';
import { resetSettingsCache } from '../shared/config';
import { emulatorQueueDeclarations } from '../shared/queues';
import { resetRuntime } from '../shared/runtime';
import { freePort } from '../test/support/free-port';

export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
}

const COMPANY = '11111111-2222-3333-4444-555555555555';
const BC_SECRET = 'bench-bc-webhook-secret-0123456789';
const DV_KEY = 'bench-dataverse-webhook-key-0123456789';

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** Sends `count` requests with `concurrency` in flight; returns requests/s and the sorted latencies (ms). */
async function drive(
  count: number,
  concurrency: number,
  send: (i: number) => Promise<number>,
): Promise<{ perSecond: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const t0 = performance.now();
        const status = await send(i);
        if (status !== 202) throw new Error(`webhook request ${i} answered ${status}, not 202`);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: Math.round(count / seconds), latencies: latencies.sort((a, b) => a - b) };
}

export async function benchWebhooks(opts: { quick: boolean }): Promise<BenchFigure[]> {
  const count = opts.quick ? 150 : 3_000;
  const concurrency = opts.quick ? 8 : 16;
  const azurite = await startAzurite({ port: 0 });
  const sb = new ServiceBusEmulator({ port: 0, queues: emulatorQueueDeclarations() });
  await sb.start();
  const port = await freePort();
  Object.assign(process.env, {
    SERVICEBUS_CONNECTION: sb.connectionString,
    TABLES_CONNECTION: azurite.connectionString,
    TABLE_PREFIX: `bench${Math.random().toString(36).slice(2, 8)}`,
    BC_API_URL: 'http://127.0.0.1:9',
    BC_TENANT_ID: 'bench',
    BC_ENVIRONMENT: 'production',
    BC_COMPANY_ID: COMPANY,
    BC_AUTH: 'static-token',
    BC_STATIC_TOKEN: 'bench',
    BC_WEBHOOK_SECRET: BC_SECRET,
    DATAVERSE_URL: 'http://127.0.0.1:9',
    DATAVERSE_AUTH: 'static-token',
    DATAVERSE_STATIC_TOKEN: 'bench',
    DATAVERSE_WEBHOOK_KEY: DV_KEY,
    DATAVERSE_INTEGRATION_USER_ID: '00000000-0000-0000-0000-0000000000aa',
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
  });
  resetSettingsCache();
  await resetRuntime();
  configureCapture({ log: () => undefined });
  const ext = __filename.endsWith('.ts') ? '.ts' : '.js';
  const host = await new LocalFunctionsHost({
    modules: ['bc-webhook', 'dataverse-webhook'].map((f) => path.join(__dirname, '..', 'functions', `${f}${ext}`)),
    port,
    env: process.env,
    log: () => undefined,
  }).start();
  try {
    const clientState = clientStateFor(BC_SECRET, `v2.0/companies(${COMPANY})/customers`);
    const bcUrl = host.apiUrl('webhooks/bc');
    const sendBc = async (i: number) => {
      const res = await fetch(bcUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-ms-correlation-id': randomUUID() },
        body: JSON.stringify({
          value: [
            {
              subscriptionId: 'bench',
              clientState,
              expirationDateTime: '2030-01-01T00:00:00Z',
              resource: `/api/v2.0/companies(${COMPANY})/customers(${randomUUID()})`,
              changeType: 'updated',
              lastModifiedDateTime: new Date(Date.UTC(2030, 0, 1) + i).toISOString(),
            },
          ],
        }),
      });
      await res.arrayBuffer();
      return res.status;
    };
    const dvUrl = `${host.apiUrl('webhooks/dataverse')}?code=${encodeURIComponent(DV_KEY)}`;
    const sendDv = async (i: number) => {
      const id = randomUUID();
      const res = await fetch(dvUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-ms-dynamics-entity-name': 'account', 'x-ms-dynamics-request-name': 'Update' },
        body: JSON.stringify({
          CorrelationId: randomUUID(),
          Depth: 1,
          InitiatingUserId: '75c2dd85-e89e-e711-8122-000d3aa2331c',
          UserId: '75c2dd85-e89e-e711-8122-000d3aa2331c',
          InputParameters: [
            {
              key: 'Target',
              value: {
                __type: 'Entity:http://schemas.microsoft.com/xrm/2011/Contracts',
                Attributes: [
                  { key: 'name', value: `Bench ${i}` },
                  {
                    key: 'customertypecode',
                    value: { __type: 'OptionSetValue:http://schemas.microsoft.com/xrm/2011/Contracts', Value: 3 },
                  },
                  { key: 'modifiedon', value: `/Date(${Date.UTC(2030, 0, 1) + i})/` },
                ],
                Id: id,
                LogicalName: 'account',
              },
            },
          ],
          MessageName: 'Update',
          Mode: 1,
          OperationCreatedOn: `/Date(${Date.UTC(2030, 0, 1) + i})/`,
          PostEntityImages: [],
          PreEntityImages: [],
          PrimaryEntityId: id,
          PrimaryEntityName: 'account',
          Stage: 40,
        }),
      });
      await res.arrayBuffer();
      return res.status;
    };
    // Warm-up: the first request builds the runtime and opens the AMQP link.
    await sendBc(-1);
    await sendDv(-1);
    const bc = await drive(count, concurrency, sendBc);
    const dv = await drive(count, concurrency, sendDv);
    const enqueued = sb.stats('sync-customer').active;
    if (enqueued < 2 * count) throw new Error(`only ${enqueued} events on sync-customer after ${2 * count} accepted webhooks`);
    return [
      { name: 'webhooks: BC notifications accepted into the queue', value: bc.perSecond, unit: 'req/s' },
      { name: 'webhooks: BC request to enqueued p50', value: Math.round(percentile(bc.latencies, 50) * 10) / 10, unit: 'ms' },
      { name: 'webhooks: BC request to enqueued p95', value: Math.round(percentile(bc.latencies, 95) * 10) / 10, unit: 'ms' },
      { name: 'webhooks: Dataverse notifications accepted into the queue', value: dv.perSecond, unit: 'req/s' },
      { name: 'webhooks: Dataverse request to enqueued p50', value: Math.round(percentile(dv.latencies, 50) * 10) / 10, unit: 'ms' },
      { name: 'webhooks: Dataverse request to enqueued p95', value: Math.round(percentile(dv.latencies, 95) * 10) / 10, unit: 'ms' },
    ];
  } finally {
    await host.stop();
    await resetRuntime();
    await sb.stop();
    await azurite.stop();
  }
}
