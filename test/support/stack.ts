import path from 'node:path';
import { type RunningAzurite, startAzurite } from '../../dev/azurite';
import { type BcSimulator, type BcSimulatorOptions, startBcSimulator } from '../../dev/bc-simulator';
import { type DataverseSimulator, type DataverseSimulatorOptions, startDataverseSimulator } from '../../dev/dataverse-simulator';
import { type HostLogEntry, LocalFunctionsHost } from '../../dev/local-host/host';
import { ServiceBusEmulator } from '../../dev/servicebus';
import { configureCapture } from '../../shared/capture/context';
import { resetSettingsCache } from '../../shared/config';
import { emulatorQueueDeclarations, QUEUE_SETTINGS } from '../../shared/queues';
import { configureRuntime, type RuntimeOverrides, resetRuntime } from '../../shared/runtime';
import { freePort } from './free-port';

/**
 * The one builder of the whole local stack for a test file (or a bench piece): Azurite, the Service Bus endpoint
 * with every queue, the simulators asked for, the settings pointing at them, and one or more local Functions hosts
 * ("instances" of the same function app, as Azure scales out) running the given function modules. Nothing is mocked.
 * `startStack` below is the engine and operations suites' preset; `test/capture/harness.ts` and
 * `test/proof/harness.ts` hold the other two presets (only options).
 */
export interface BuiltStack {
  azurite: RunningAzurite;
  serviceBus: ServiceBusEmulator;
  /** Undefined when the preset asked for no simulator on that side. */
  bc: BcSimulator | undefined;
  dataverse: DataverseSimulator | undefined;
  /** The first instance, which receives the webhooks (PUBLIC_BASE_URL names its port). */
  host: LocalFunctionsHost;
  /** Running instances; index 0 is `host`. */
  hosts: LocalFunctionsHost[];
  /** The settings the stack runs with (also in `process.env`). */
  env: Record<string, string>;
  /** With `logs`: every log line of every host and of change capture, in order. */
  logs: Array<{ source: 'host' | 'capture'; level: string; message: string }>;
  /** With `observeIntegration`: responses the integration (not a test's users) got from each simulator, by status. */
  integrationStatuses: { bc: Map<number, number>; dataverse: Map<number, number> };
  /** Stops instance `i` (waiting for its running invocations) and starts a new one with the same modules and port. */
  restartHost(i: number): Promise<void>;
  stop(): Promise<void>;
}

export interface BuildStackOptions {
  /** Function modules: file names under `functions/` (`sync`, `admin-api.ts`) or absolute paths. */
  functions: string[];
  /** Simulator options (port 0 is added), or false for none. */
  bc: BcSimulatorOptions | false;
  dataverse: DataverseSimulatorOptions | false;
  /** Settings on top of the connection settings the builder derives from the parts it started. */
  env: (parts: { bc?: BcSimulator; dataverse?: DataverseSimulator }) => Record<string, string>;
  /** Max delivery count of every queue. Default QUEUE_SETTINGS. */
  maxDeliveryCount?: number;
  /** Lock duration of every queue. Default each queue's own. */
  lockDurationMs?: number;
  /** Hosts running the same function app. Default 1. */
  instances?: number;
  /** Serve only these functions (by name). Default every registered function. */
  serve?: string[];
  /** Largest request body the hosts accept. Default the host's 1 MiB. */
  maxRequestBodyBytes?: number;
  /** Start Service Bus receivers for queue triggers. Default true. */
  serviceBusTriggers?: boolean;
  /** Run timers on their schedules. Default true. */
  timerSchedules?: boolean;
  /** Collect host and change-capture log lines in `logs` (else host logs are dropped). Default false. */
  logs?: boolean;
  /** Change capture's publish timeout; given, capture is configured (and its logs go to `logs`). */
  capturePublishTimeoutMs?: number;
  /** Runtime overrides; `clockFromBc` makes the runtime's clock the BC simulator's. Default none. */
  runtime?: RuntimeOverrides | 'clockFromBc';
  /**
   * Counts the integration's responses by status (`integrationStatuses`), telling its requests by their token, and
   * may lose a response after the simulator processed it (a timeout after commit: the client sees a network error).
   */
  observeIntegration?: {
    bcToken: string;
    loseResponse?: (request: { side: 'bc' | 'dataverse'; method: string; url: string }) => boolean;
  };
}

export async function buildStack(o: BuildStackOptions): Promise<BuiltStack> {
  const azurite = await startAzurite({ port: 0 });
  const serviceBus = new ServiceBusEmulator({
    port: 0,
    queues: emulatorQueueDeclarations().map((q) => ({
      ...q,
      ...(o.maxDeliveryCount !== undefined ? { maxDeliveryCount: o.maxDeliveryCount } : {}),
      ...(o.lockDurationMs !== undefined ? { lockDurationMs: o.lockDurationMs } : {}),
    })),
  });
  await serviceBus.start();
  const bc = o.bc === false ? undefined : await startBcSimulator({ port: 0, ...o.bc });
  const dataverse = o.dataverse === false ? undefined : await startDataverseSimulator({ port: 0, ...o.dataverse });
  const port = await freePort();
  const env: Record<string, string> = {
    SERVICEBUS_CONNECTION: serviceBus.connectionString,
    TABLES_CONNECTION: azurite.connectionString,
    // Without a simulator the settings must still parse: an address nothing listens on.
    BC_API_URL: bc?.url ?? 'http://127.0.0.1:9',
    BC_TENANT_ID: bc?.tenantId ?? '7f3c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f',
    BC_ENVIRONMENT: bc?.environmentName ?? 'production',
    BC_COMPANY_ID: bc?.companyId ?? '11111111-2222-3333-4444-555555555555',
    BC_AUTH: 'static-token',
    DATAVERSE_URL: dataverse?.url ?? 'http://127.0.0.1:9',
    DATAVERSE_AUTH: 'static-token',
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    ...o.env({ ...(bc ? { bc } : {}), ...(dataverse ? { dataverse } : {}) }),
  };
  Object.assign(process.env, env);
  resetSettingsCache();
  await resetRuntime();
  configureRuntime(o.runtime === 'clockFromBc' ? (bc ? { clock: { now: () => new Date(bc.clock.now()) } } : {}) : (o.runtime ?? {}));

  const integrationStatuses: BuiltStack['integrationStatuses'] = { bc: new Map(), dataverse: new Map() };
  const realFetch = globalThis.fetch;
  let observed: typeof fetch | undefined;
  const watch = o.observeIntegration;
  if (watch) {
    // The clients take the global fetch when the runtime is built (after this), so a wrapper sees every response
    // the integration gets — 429s included, which the simulators do not count.
    observed = async (input, init) => {
      const res = await realFetch(input, init);
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      const auth = new Headers(init?.headers).get('authorization') ?? '';
      const side =
        bc && url.startsWith(bc.url) && auth.endsWith(watch.bcToken)
          ? 'bc'
          : dataverse && url.startsWith(dataverse.url) && auth.endsWith(dataverse.integrationUserToken)
            ? 'dataverse'
            : undefined;
      if (side) integrationStatuses[side].set(res.status, (integrationStatuses[side].get(res.status) ?? 0) + 1);
      if (side && res.ok && watch.loseResponse?.({ side, method: (init?.method ?? 'GET').toUpperCase(), url })) {
        await res.arrayBuffer().catch(() => undefined);
        throw new TypeError('fetch failed: the response was lost (injected after the server processed the request)');
      }
      return res;
    };
    globalThis.fetch = observed;
  }

  const logs: BuiltStack['logs'] = [];
  if (o.capturePublishTimeoutMs !== undefined) {
    configureCapture({
      publishTimeoutMs: o.capturePublishTimeoutMs,
      log: (level, message) => logs.push({ source: 'capture', level, message }),
    });
  }
  // `.ts` under vitest, `.js` when a bench runs from dist.
  const ext = path.extname(__filename);
  const modules = o.functions.map((f) =>
    path.isAbsolute(f) ? f : path.join(__dirname, '..', '..', 'functions', `${f.replace(/\.(ts|js)$/, '')}${ext}`),
  );
  const newHost = (hostPort: number) =>
    new LocalFunctionsHost({
      modules,
      port: hostPort,
      env: process.env,
      ...(o.maxRequestBodyBytes ? { maxRequestBodyBytes: o.maxRequestBodyBytes } : {}),
      ...(o.serve ? { functions: o.serve } : {}),
      ...(o.serviceBusTriggers === false ? { serviceBusTriggers: false } : {}),
      ...(o.timerSchedules === false ? { timerSchedules: false } : {}),
      log: o.logs ? (e: HostLogEntry) => logs.push({ source: 'host', level: e.level, message: e.message }) : () => undefined,
    }).start();
  const hosts: LocalFunctionsHost[] = [await newHost(port)];
  for (let i = 1; i < (o.instances ?? 1); i++) hosts.push(await newHost(0));
  return {
    azurite,
    serviceBus,
    bc,
    dataverse,
    get host() {
      return hosts[0] as LocalFunctionsHost;
    },
    hosts,
    env,
    logs,
    integrationStatuses,
    async restartHost(i: number) {
      const old = hosts[i];
      if (!old) throw new Error(`no host instance ${i}`);
      await old.stop();
      hosts[i] = await newHost(i === 0 ? port : 0);
    },
    async stop() {
      await Promise.allSettled(hosts.map((h) => h.stop()));
      await resetRuntime().catch(() => undefined);
      if (observed && globalThis.fetch === observed) globalThis.fetch = realFetch;
      await dataverse?.stop().catch(() => undefined);
      await bc?.stop().catch(() => undefined);
      await serviceBus.stop().catch(() => undefined);
      await azurite.stop().catch(() => undefined);
    },
  };
}

/** A stack with both simulators (every preset but change capture's, which may leave one out). */
export type Stack = BuiltStack & { bc: BcSimulator; dataverse: DataverseSimulator };

export function withBothSimulators(s: BuiltStack): Stack {
  if (!s.bc || !s.dataverse) throw new Error('the stack was started without a simulator');
  return s as Stack;
}

export interface StackOptions {
  /** Function modules by file name under `functions/`. */
  functions: string[];
  bc?: BcSimulatorOptions;
  dataverse?: DataverseSimulatorOptions;
  /** Extra settings. */
  env?: Record<string, string>;
  /** Max delivery count of every queue (small in tests that dead-letter). Default QUEUE_SETTINGS. */
  maxDeliveryCount?: number;
  /** Lock duration of every queue. Default 30 s. */
  lockDurationMs?: number;
}

/** The function key of the local host, and the `Sync.Admin` key of the admin API (SYNC_ADMIN_KEY). */
export const TEST_LOCAL_KEY = 'test-function-key';
/** The `Sync.Reader` key (SYNC_READER_KEY). */
export const TEST_READER_KEY = 'test-reader-key-read-only';
/** The item-availability key (AVAILABILITY_KEY). */
export const TEST_AVAILABILITY_KEY = 'test-availability-key';

/** The engine and operations suites' stack: both simulators with fast webhooks, the test keys, one host. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const built = await buildStack({
    functions: options.functions,
    bc: { webhookDelayMs: 50, retrySchedule: [200, 200, 200], ...options.bc },
    dataverse: { webhookDelayMs: 20, ...options.dataverse },
    // Azure's settings (duplicate detection included), with test-sized delivery counts and locks.
    maxDeliveryCount: options.maxDeliveryCount ?? QUEUE_SETTINGS.maxDeliveryCount,
    lockDurationMs: options.lockDurationMs ?? 30_000,
    env: ({ dataverse }) => ({
      TABLE_PREFIX: 'sync',
      BC_STATIC_TOKEN: 'local-bc-token',
      BC_WEBHOOK_SECRET: 'local-bc-webhook-secret-for-tests',
      DATAVERSE_STATIC_TOKEN: dataverse?.integrationUserToken ?? '',
      DATAVERSE_WEBHOOK_KEY: 'local-dataverse-webhook-key-tests',
      LOCAL_FUNCTION_KEY: TEST_LOCAL_KEY,
      SYNC_ADMIN_KEY: TEST_LOCAL_KEY,
      SYNC_READER_KEY: TEST_READER_KEY,
      AVAILABILITY_KEY: TEST_AVAILABILITY_KEY,
      ...options.env,
    }),
  });
  return withBothSimulators(built);
}
