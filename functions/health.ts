import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { createTokenSource } from '../shared/adapters/credentials';
import { createServiceBusClient, serviceBusConnectionFromSettings } from '../shared/adapters/servicebus/client';
import { createTableServiceClient } from '../shared/adapters/tables/client';
import { subscriptionHealth } from '../shared/capture/health';
import type { SubscriptionHealth } from '../shared/capture/subscriptions';
import { type Settings, settings } from '../shared/config';
import { OPERATIONAL_QUEUES } from '../shared/queues';

/**
 * `GET /api/health` (anonymous): whether each dependency answers, for load balancers, `npm start` users and
 * admins. Table Storage and Service Bus are core: without them nothing can be recorded or queued, so the
 * answer is 503. BC or Dataverse being unreachable degrades the service (changes wait in the queues) but it
 * stays up, so the answer is 200 with `degraded`.
 */

export type ComponentStatus = 'ok' | 'down';

export interface ComponentHealth {
  status: ComponentStatus;
  latencyMs: number;
  /** Why it is down (an error message or HTTP status); never a secret. */
  detail?: string;
}

export interface HealthReport {
  /** `ok` all up; `degraded` BC or Dataverse down; `unavailable` Table Storage or Service Bus down (HTTP 503). */
  status: 'ok' | 'degraded' | 'unavailable';
  checkedAt: string;
  components: {
    tables: ComponentHealth;
    serviceBus: ComponentHealth;
    businessCentral: ComponentHealth;
    dataverse: ComponentHealth;
  };
  /** BC webhook subscriptions as the subscription manager last recorded them; absent while the stores are down. */
  subscriptions?: SubscriptionHealth;
}

/** How long one probe may take before it counts as down. */
const PROBE_TIMEOUT_MS = 5_000;

/** A queue every installation has; peeking it proves the namespace answers and our queues exist. */
const PROBE_QUEUE = OPERATIONAL_QUEUES[0];

async function probe(run: (signal: AbortSignal) => Promise<void>): Promise<ComponentHealth> {
  const started = Date.now();
  const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  try {
    await Promise.race([
      run(signal),
      new Promise<never>((_, reject) => {
        signal.addEventListener('abort', () => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), { once: true });
      }),
    ]);
    return { status: 'ok', latencyMs: Date.now() - started };
  } catch (err) {
    return { status: 'down', latencyMs: Date.now() - started, detail: shortError(err) };
  }
}

function shortError(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  const firstLine = message.split('\n')[0] ?? message;
  const text = typeof code === 'string' && !firstLine.includes(code) ? `${code}: ${firstLine}` : firstLine;
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

async function checkTables(s: Settings, signal: AbortSignal): Promise<void> {
  const client = createTableServiceClient(s, { retryOptions: { maxRetries: 0 } });
  await client.listTables().byPage({ maxPageSize: 1 }).next();
  if (signal.aborted) throw new Error('aborted');
}

async function checkServiceBus(s: Settings, signal: AbortSignal): Promise<void> {
  const client = createServiceBusClient(serviceBusConnectionFromSettings(s), {
    retryOptions: { maxRetries: 0, timeoutInMs: PROBE_TIMEOUT_MS },
  });
  try {
    const receiver = client.createReceiver(PROBE_QUEUE);
    await receiver.peekMessages(1, { abortSignal: signal });
    await receiver.close();
  } finally {
    await client.close();
  }
}

async function authenticatedGet(url: string, token: string, signal: AbortSignal): Promise<void> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal });
  await res.body?.cancel();
  if (!res.ok) throw new Error(`HTTP ${res.status} from ${new URL(url).origin}`);
}

async function checkBusinessCentral(s: Settings, signal: AbortSignal): Promise<void> {
  const token = await createTokenSource('bc', s).getToken(signal);
  const base = s.BC_API_URL.replace(/\/+$/, '');
  const url = `${base}/v2.0/${encodeURIComponent(s.BC_TENANT_ID)}/${encodeURIComponent(s.BC_ENVIRONMENT)}/api/v2.0/companies(${s.BC_COMPANY_ID})`;
  await authenticatedGet(url, token, signal);
}

async function checkDataverse(s: Settings, signal: AbortSignal): Promise<void> {
  const token = await createTokenSource('dataverse', s).getToken(signal);
  await authenticatedGet(`${new URL(s.DATAVERSE_URL).origin}/api/data/v9.2/WhoAmI`, token, signal);
}

/** Probes every dependency in parallel. */
export async function checkHealth(s: Settings): Promise<HealthReport> {
  const [tables, serviceBus, businessCentral, dataverse] = await Promise.all([
    probe((signal) => checkTables(s, signal)),
    probe((signal) => checkServiceBus(s, signal)),
    probe((signal) => checkBusinessCentral(s, signal)),
    probe((signal) => checkDataverse(s, signal)),
  ]);
  const coreDown = tables.status === 'down' || serviceBus.status === 'down';
  // A resource without a live subscription is polled instead: changes are slower, not lost, so "degraded".
  const subscriptions = coreDown ? undefined : await subscriptionHealth().catch(() => undefined);
  const anyDown = coreDown || businessCentral.status === 'down' || dataverse.status === 'down' || subscriptions?.status === 'degraded';
  return {
    status: coreDown ? 'unavailable' : anyDown ? 'degraded' : 'ok',
    checkedAt: new Date().toISOString(),
    components: { tables, serviceBus, businessCentral, dataverse },
    ...(subscriptions ? { subscriptions } : {}),
  };
}

export async function health(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const report = await checkHealth(settings());
  if (report.status !== 'ok') context.warn(`health: ${report.status}`, JSON.stringify(report.components));
  return {
    status: report.status === 'unavailable' ? 503 : 200,
    headers: { 'cache-control': 'no-store' },
    jsonBody: report,
  };
}

// Read the settings at load time so a bad configuration stops start-up instead of the first request.
settings();

app.http('health', { route: 'health', methods: ['GET'], authLevel: 'anonymous', handler: health });
