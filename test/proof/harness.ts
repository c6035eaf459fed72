import path from 'node:path';
import { type RunningAzurite, startAzurite } from '../../dev/azurite';
import { type BcSimulator, type BcSimulatorOptions, startBcSimulator } from '../../dev/bc-simulator';
import { type DataverseSimulator, type DataverseSimulatorOptions, startDataverseSimulator } from '../../dev/dataverse-simulator';
import { type HostLogEntry, LocalFunctionsHost } from '../../dev/local-host/host';
import { ServiceBusEmulator } from '../../dev/servicebus';
import { configureCapture } from '../../shared/capture/context';
import { resetSettingsCache } from '../../shared/config';
import { emulatorQueueDeclarations } from '../../shared/queues';
import { configureRuntime, resetRuntime } from '../../shared/runtime';
import { freePort } from '../support/free-port';

/**
 * The whole local stack for the proof suites (convergence, security) and the bench pieces that go through the
 * real path: Azurite, the Service Bus endpoint, both simulators, and one or more local Functions hosts ("instances"
 * of the same function app, as Azure scales out) with every host and capture log captured. The first instance
 * listens on the port PUBLIC_BASE_URL names, so webhooks reach it, and it can be restarted on that port.
 */
export interface ProofStack {
  azurite: RunningAzurite;
  serviceBus: ServiceBusEmulator;
  bc: BcSimulator;
  dataverse: DataverseSimulator;
  /** Running instances; index 0 receives the webhooks. */
  hosts: LocalFunctionsHost[];
  /** Every log line of every host and of change capture, in order. */
  logs: Array<{ source: 'host' | 'capture'; level: string; message: string }>;
  env: Record<string, string>;
  /** Responses the integration (not the test's users) received from each simulator, by status. */
  integrationStatuses: { bc: Map<number, number>; dataverse: Map<number, number> };
  /** Stops instance `i` (waiting for its running invocations) and starts a new one with the same modules. */
  restartHost(i: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ProofStackOptions {
  /** Function modules by file name under `functions/`. */
  functions: string[];
  bc?: BcSimulatorOptions;
  dataverse?: DataverseSimulatorOptions;
  /** Hosts running the same function app. Default 1. */
  instances?: number;
  /** Lock duration of every queue; short, so a message held by a stopped instance comes back soon. Default 5 s. */
  lockDurationMs?: number;
  /** Extra settings. */
  env?: Record<string, string>;
  /**
   * Serve only these functions (by name). Default every registered function — in one process that includes
   * functions an earlier stack loaded, so a bench that wants none passes `[]`.
   */
  serve?: string[];
  /** Largest request body the hosts accept. Default the host's 1 MiB. */
  maxRequestBodyBytes?: number;
  /**
   * Loses the response of an integration request after the simulator processed it (a timeout after commit): the
   * client sees a network failure. Asked for every integration request; default never.
   */
  loseResponse?: (request: { side: 'bc' | 'dataverse'; method: string; url: string }) => boolean;
}

/** Test values, not secrets: the security suite checks that none of them ever reaches a log line or an error row. */
export const PROOF_SECRETS = {
  bcToken: 'proof-bc-static-token-7c1e0f',
  bcWebhookSecret: 'proof-bc-webhook-secret-4b9d21aa',
  dataverseWebhookKey: 'proof-dataverse-webhook-key-93ae5f10',
  functionKey: 'proof-function-key-5e7a3c',
  masterKey: 'proof-master-key-0d4f8b',
} as const;

export async function startProofStack(opts: ProofStackOptions): Promise<ProofStack> {
  const azurite = await startAzurite({ port: 0 });
  const serviceBus = new ServiceBusEmulator({
    port: 0,
    queues: emulatorQueueDeclarations().map((q) => ({ ...q, lockDurationMs: opts.lockDurationMs ?? 5_000 })),
  });
  await serviceBus.start();
  const bc = await startBcSimulator({ port: 0, webhookDelayMs: 50, retrySchedule: [200, 200, 200, 500, 1000], ...opts.bc });
  const dataverse = await startDataverseSimulator({ port: 0, webhookDelayMs: 20, ...opts.dataverse });
  const port = await freePort();
  const env: Record<string, string> = {
    SERVICEBUS_CONNECTION: serviceBus.connectionString,
    TABLES_CONNECTION: azurite.connectionString,
    TABLE_PREFIX: `proof${Math.random().toString(36).slice(2, 8)}`,
    BC_API_URL: bc.url,
    BC_TENANT_ID: bc.tenantId,
    BC_ENVIRONMENT: bc.environmentName,
    BC_COMPANY_ID: bc.companyId,
    BC_AUTH: 'static-token',
    BC_STATIC_TOKEN: PROOF_SECRETS.bcToken,
    BC_WEBHOOK_SECRET: PROOF_SECRETS.bcWebhookSecret,
    DATAVERSE_URL: dataverse.url,
    DATAVERSE_AUTH: 'static-token',
    DATAVERSE_STATIC_TOKEN: dataverse.integrationUserToken,
    DATAVERSE_WEBHOOK_KEY: PROOF_SECRETS.dataverseWebhookKey,
    DATAVERSE_INTEGRATION_USER_ID: dataverse.integrationUserId,
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    LOCAL_FUNCTION_KEY: PROOF_SECRETS.functionKey,
    LOCAL_MASTER_KEY: PROOF_SECRETS.masterKey,
    // The renewal timer runs on start-up only; the suites do not run for an hour.
    SUBSCRIPTION_RENEWAL_SCHEDULE: '0 0 3 1 1 *',
    ...opts.env,
  };
  Object.assign(process.env, env);
  resetSettingsCache();
  await resetRuntime();
  configureRuntime({});
  // The clients take the global fetch when the runtime is built (after this), so a wrapper sees every response the
  // integration gets — 429s included, which the simulators do not count.
  const integrationStatuses: ProofStack['integrationStatuses'] = { bc: new Map(), dataverse: new Map() };
  const realFetch = globalThis.fetch;
  const observed: typeof fetch = async (input, init) => {
    const res = await realFetch(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const auth = new Headers(init?.headers).get('authorization') ?? '';
    const side =
      url.startsWith(bc.url) && auth.endsWith(PROOF_SECRETS.bcToken)
        ? 'bc'
        : url.startsWith(dataverse.url) && auth.endsWith(dataverse.integrationUserToken)
          ? 'dataverse'
          : undefined;
    if (side) integrationStatuses[side].set(res.status, (integrationStatuses[side].get(res.status) ?? 0) + 1);
    if (side && res.ok && opts.loseResponse?.({ side, method: (init?.method ?? 'GET').toUpperCase(), url })) {
      await res.arrayBuffer().catch(() => undefined);
      throw new TypeError('fetch failed: the response was lost (injected after the server processed the request)');
    }
    return res;
  };
  globalThis.fetch = observed;
  const logs: ProofStack['logs'] = [];
  configureCapture({ publishTimeoutMs: 3_000, log: (level, message) => logs.push({ source: 'capture', level, message }) });
  // `.ts` under vitest, `.js` when the bench runs from dist.
  const ext = path.extname(__filename);
  const modules = opts.functions.map((f) => path.join(__dirname, '..', '..', 'functions', `${f.replace(/\.(ts|js)$/, '')}${ext}`));
  const newHost = (hostPort: number) =>
    new LocalFunctionsHost({
      modules,
      port: hostPort,
      env: process.env,
      ...(opts.maxRequestBodyBytes ? { maxRequestBodyBytes: opts.maxRequestBodyBytes } : {}),
      ...(opts.serve ? { functions: opts.serve } : {}),
      log: (e: HostLogEntry) => logs.push({ source: 'host', level: e.level, message: e.message }),
    }).start();
  const hosts: LocalFunctionsHost[] = [await newHost(port)];
  for (let i = 1; i < (opts.instances ?? 1); i++) hosts.push(await newHost(0));
  return {
    azurite,
    serviceBus,
    bc,
    dataverse,
    hosts,
    logs,
    env,
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
      if (globalThis.fetch === observed) globalThis.fetch = realFetch;
      await dataverse.stop().catch(() => undefined);
      await bc.stop().catch(() => undefined);
      await serviceBus.stop().catch(() => undefined);
      await azurite.stop().catch(() => undefined);
    },
  };
}

/** Seeded PRNG (mulberry32): the same seed gives the same operations. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
