import type { TableServiceClient } from '@azure/data-tables';
import type { ServiceBusClient, ServiceBusReceiver } from '@azure/service-bus';
import { createServiceBusClient, serviceBusConnectionFromSettings } from '../adapters/servicebus/client';
import { createTableServiceClient } from '../adapters/tables/client';
import type { Settings } from '../config';
import { OPERATIONAL_QUEUE } from '../queues';
import { getRuntime } from '../runtime';
import { captureDeps } from './context';
import { type SubscriptionHealth, subscriptionHealthFrom } from './subscriptions';

/**
 * The service's health, as `/api/health` reports it: answered from a cached state, never by probing per request.
 *
 * - Core (Table Storage, Service Bus, the BC subscription state): refreshed at most every {@link CORE_MAX_AGE_MS},
 *   one refresh at a time however many callers wait for it, through clients built once per settings (no new
 *   credential or AMQP connection per request).
 * - BC and Dataverse: only refreshed by {@link refreshHealth} — the health timer and the keyed deep check — through
 *   the runtime's own clients, so the calls share their token cache and concurrency limit. An anonymous caller
 *   can never make the service call BC or Dataverse (audit finding 5: 25 anonymous calls made 50 upstream requests).
 */

export type ComponentStatus = 'ok' | 'down' | 'unknown';

export interface ComponentHealth {
  /** `unknown`: not checked yet since the process started (BC and Dataverse wait for the timer or a deep check). */
  status: ComponentStatus;
  latencyMs?: number;
  /** When this component was last checked (ISO). */
  checkedAt?: string;
  /** Why it is down (an error message or HTTP status); never a secret. */
  detail?: string;
}

export interface HealthReport {
  /** `ok` all up; `degraded` BC or Dataverse down; `unavailable` Table Storage or Service Bus down (HTTP 503). */
  status: 'ok' | 'degraded' | 'unavailable';
  /** When the oldest component in this answer was checked (ISO). */
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

/** How old the core state may be before an anonymous request waits for a refresh. */
export const CORE_MAX_AGE_MS = 10_000;
/** How long one probe may take before it counts as down. */
export const PROBE_TIMEOUT_MS = 5_000;

/** A queue every installation has; peeking it proves the namespace answers and our queues exist. */
const PROBE_QUEUE = OPERATIONAL_QUEUE.bcCollection;

interface Probes {
  settings: Settings;
  tables: TableServiceClient;
  serviceBus: ServiceBusClient;
  receiver: ServiceBusReceiver;
}

interface CoreState {
  at: number;
  tables: ComponentHealth;
  serviceBus: ComponentHealth;
  subscriptions?: SubscriptionHealth;
}

interface UpstreamState {
  businessCentral: ComponentHealth;
  dataverse: ComponentHealth;
}

let probes: Probes | undefined;
let core: CoreState | undefined;
let upstream: UpstreamState | undefined;
let coreRefresh: Promise<void> | undefined;
let upstreamRefresh: Promise<void> | undefined;

/** The probe clients for these settings: built on first use and kept; new settings (tests) replace them. */
function probesFor(s: Settings): Probes {
  if (probes?.settings === s) return probes;
  const old = probes;
  if (old) void old.serviceBus.close().catch(() => undefined);
  const serviceBus = createServiceBusClient(serviceBusConnectionFromSettings(s), {
    retryOptions: { maxRetries: 0, timeoutInMs: PROBE_TIMEOUT_MS },
  });
  const noRetry = { retryOptions: { maxRetries: 0 } };
  probes = {
    settings: s,
    tables: createTableServiceClient(s, noRetry),
    serviceBus,
    receiver: serviceBus.createReceiver(PROBE_QUEUE),
  };
  core = undefined;
  upstream = undefined;
  return probes;
}

async function probe(run: () => Promise<unknown>): Promise<ComponentHealth> {
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
      }),
    ]);
    return { status: 'ok', latencyMs: Date.now() - started, checkedAt: new Date().toISOString() };
  } catch (err) {
    return { status: 'down', latencyMs: Date.now() - started, checkedAt: new Date().toISOString(), detail: shortError(err) };
  } finally {
    clearTimeout(timer);
  }
}

function shortError(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  const firstLine = message.split('\n')[0] ?? message;
  const text = typeof code === 'string' && !firstLine.includes(code) ? `${code}: ${firstLine}` : firstLine;
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

/** One refresh at a time: concurrent callers share the one in flight. */
function singleFlight(
  current: Promise<void> | undefined,
  start: () => Promise<void>,
  set: (p: Promise<void> | undefined) => void,
): Promise<void> {
  if (current) return current;
  const p = start().finally(() => set(undefined));
  set(p);
  return p;
}

function refreshCore(s: Settings): Promise<void> {
  const p = probesFor(s);
  return singleFlight(
    coreRefresh,
    async () => {
      const [tables, serviceBus] = await Promise.all([
        probe(() => p.tables.listTables().byPage({ maxPageSize: 1 }).next()),
        probe(() => p.receiver.peekMessages(1)),
      ]);
      const coreDown = tables.status === 'down' || serviceBus.status === 'down';
      // A resource without a live subscription is polled instead: changes are slower, not lost.
      const subscriptions = coreDown ? undefined : await subscriptionHealth().catch(() => undefined);
      core = { at: Date.now(), tables, serviceBus, ...(subscriptions ? { subscriptions } : {}) };
    },
    (v) => {
      coreRefresh = v;
    },
  );
}

/**
 * BC webhook subscription state: what the subscription manager last recorded (no BC call). `degraded` when a
 * mapped resource has no live subscription; its table is then polled, so changes are delayed, not lost.
 */
export async function subscriptionHealth(): Promise<SubscriptionHealth> {
  // The runtime's checkpoint store and clock (tests move the clock with the BC simulator's). The runtime is built
  // once per process, by whichever function runs first; building it reads BC and Dataverse once, never per request.
  const deps = await captureDeps();
  return subscriptionHealthFrom(deps.checkpoints, deps.clock);
}

function refreshUpstream(): Promise<void> {
  return singleFlight(
    upstreamRefresh,
    async () => {
      let runtime: Awaited<ReturnType<typeof getRuntime>>;
      try {
        runtime = await getRuntime();
      } catch (err) {
        const down: ComponentHealth = {
          status: 'unknown',
          checkedAt: new Date().toISOString(),
          detail: `not checked: the service could not start (${shortError(err)})`,
        };
        upstream = { businessCentral: down, dataverse: down };
        return;
      }
      const [businessCentral, dataverse] = await Promise.all([
        probe(() => runtime.bc.companies()),
        probe(() => runtime.dataverse.whoAmI()),
      ]);
      upstream = { businessCentral, dataverse };
    },
    (v) => {
      upstreamRefresh = v;
    },
  );
}

function report(): HealthReport {
  const unknown: ComponentHealth = { status: 'unknown', detail: 'not checked yet (health timer or GET /api/health/deep)' };
  const c = core;
  const tables = c?.tables ?? unknown;
  const serviceBus = c?.serviceBus ?? unknown;
  const businessCentral = upstream?.businessCentral ?? unknown;
  const dataverse = upstream?.dataverse ?? unknown;
  const coreDown = tables.status !== 'ok' || serviceBus.status !== 'ok';
  const anyDown = coreDown || businessCentral.status === 'down' || dataverse.status === 'down' || c?.subscriptions?.status === 'degraded';
  const times = [tables, serviceBus, businessCentral, dataverse].map((x) => x.checkedAt).filter((t): t is string => t !== undefined);
  return {
    status: coreDown ? 'unavailable' : anyDown ? 'degraded' : 'ok',
    checkedAt: times.sort()[0] ?? new Date().toISOString(),
    components: { tables, serviceBus, businessCentral, dataverse },
    ...(c?.subscriptions ? { subscriptions: c.subscriptions } : {}),
  };
}

/** The anonymous answer: the cached state, with the core part refreshed first when older than {@link CORE_MAX_AGE_MS}. */
export async function cachedHealth(s: Settings): Promise<HealthReport> {
  probesFor(s);
  if (!core || Date.now() - core.at > CORE_MAX_AGE_MS) await refreshCore(s);
  return report();
}

/** Checks everything now, BC and Dataverse included (the health timer and the keyed deep check), and caches it. */
export async function refreshHealth(s: Settings): Promise<HealthReport> {
  await Promise.all([refreshCore(s), refreshUpstream()]);
  return report();
}

/** Forgets the cached state and closes the probe clients (tests, shutdown). */
export async function resetHealth(): Promise<void> {
  const p = probes;
  probes = undefined;
  core = undefined;
  upstream = undefined;
  await p?.serviceBus.close().catch(() => undefined);
}
