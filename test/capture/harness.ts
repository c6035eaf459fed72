import path from 'node:path';
import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import { type RunningAzurite, startAzurite } from '../../dev/azurite';
import { type BcSimulator, type BcSimulatorOptions, startBcSimulator } from '../../dev/bc-simulator';
import { type DataverseSimulator, type DataverseSimulatorOptions, startDataverseSimulator } from '../../dev/dataverse-simulator';
import { LocalFunctionsHost } from '../../dev/local-host/host';
import { ServiceBusEmulator } from '../../dev/servicebus';
import { configureCapture } from '../../shared/capture/context';
import type { CaptureLogLevel } from '../../shared/capture/deps';
import { resetSettingsCache } from '../../shared/config';
import { emulatorQueueDeclarations } from '../../shared/queues';
import { configureRuntime, resetRuntime } from '../../shared/runtime';
import { freePort } from '../support/free-port';

/** Secrets of the test installation (test values, not secrets). */
export const BC_SECRET = 'test-bc-webhook-secret-0123456789';
export const DV_KEY = 'test-dataverse-webhook-key-0123456789';

const root = path.join(__dirname, '..', '..');
export const fn = (name: string) => path.join(root, 'functions', `${name}.ts`);

export interface Stack {
  azurite: RunningAzurite;
  sb: ServiceBusEmulator;
  sbClient: ServiceBusClient;
  bc?: BcSimulator;
  dv?: DataverseSimulator;
  host: LocalFunctionsHost;
  logs: Array<{ level: CaptureLogLevel; message: string }>;
  stop(): Promise<void>;
}

/**
 * The whole local stack for one test file: Azurite, the Service Bus endpoint with every queue, the simulators
 * asked for, and the local Functions host serving the given function modules with settings pointing at them.
 * The runtime's clock is the BC simulator's, so moving the simulator's clock moves ours.
 */
export async function startStack(opts: {
  functions: string[];
  bc?: BcSimulatorOptions | false;
  dv?: DataverseSimulatorOptions | false;
  publishTimeoutMs?: number;
  serviceBusTriggers?: boolean;
}): Promise<Stack> {
  // Schedules off: a timer firing on the minute next to a test's runTimer would make counts depend on the clock.
  // runOnStartup still runs, and tests drive timers with runTimer.
  const azurite = await startAzurite({ port: 0 });
  const sb = new ServiceBusEmulator({ port: 0, queues: emulatorQueueDeclarations() });
  await sb.start();
  const bc = opts.bc === false ? undefined : await startBcSimulator({ port: 0, seed: 'demo', webhookDelayMs: 50, ...(opts.bc ?? {}) });
  const dv =
    opts.dv === false ? undefined : await startDataverseSimulator({ port: 0, seed: 'demo', webhookDelayMs: 20, ...(opts.dv ?? {}) });
  const port = await freePort();
  const env: Record<string, string> = {
    SERVICEBUS_CONNECTION: sb.connectionString,
    TABLES_CONNECTION: azurite.connectionString,
    TABLE_PREFIX: `cap${Math.random().toString(36).slice(2, 10)}`,
    BC_API_URL: bc?.url ?? 'http://127.0.0.1:9',
    BC_TENANT_ID: bc?.tenantId ?? '7f3c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f',
    BC_ENVIRONMENT: bc?.environmentName ?? 'production',
    BC_COMPANY_ID: bc?.companyId ?? '11111111-2222-3333-4444-555555555555',
    BC_AUTH: 'static-token',
    BC_STATIC_TOKEN: 'bc-test-token',
    BC_WEBHOOK_SECRET: BC_SECRET,
    DATAVERSE_URL: dv?.url ?? 'http://127.0.0.1:9',
    DATAVERSE_AUTH: 'static-token',
    DATAVERSE_STATIC_TOKEN: 'dv-integration-token',
    DATAVERSE_WEBHOOK_KEY: DV_KEY,
    DATAVERSE_INTEGRATION_USER_ID: dv?.integrationUserId ?? '00000000-0000-0000-0000-0000000000aa',
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    // Never fires during a test: runOnStartup and runTimer drive it.
    SUBSCRIPTION_RENEWAL_SCHEDULE: '0 0 3 1 1 *',
  };
  Object.assign(process.env, env);
  resetSettingsCache();
  await resetRuntime();
  configureRuntime(bc ? { clock: { now: () => new Date(bc.clock.now()) } } : {});
  const logs: Stack['logs'] = [];
  configureCapture({ publishTimeoutMs: opts.publishTimeoutMs ?? 2_000, log: (level, message) => logs.push({ level, message }) });
  const host = await new LocalFunctionsHost({
    modules: opts.functions,
    port,
    env: process.env,
    serviceBusTriggers: opts.serviceBusTriggers ?? true,
    timerSchedules: false,
    log: () => undefined,
  }).start();
  const sbClient = new ServiceBusClient(sb.connectionString, { retryOptions: { maxRetries: 3, retryDelayInMs: 100, timeoutInMs: 5_000 } });
  return {
    azurite,
    sb,
    sbClient,
    bc,
    dv,
    host,
    logs,
    async stop() {
      await host.stop();
      await sbClient.close();
      await resetRuntime();
      await bc?.stop();
      await dv?.stop();
      await sb.stop();
      await azurite.stop();
    },
  };
}

/** Receives (and completes) every message on a queue until `count` arrived or the deadline passed. */
export async function receiveAll(
  client: ServiceBusClient,
  queue: string,
  count: number,
  timeoutMs = 20_000,
): Promise<ServiceBusReceivedMessage[]> {
  const receiver = client.createReceiver(queue);
  const out: ServiceBusReceivedMessage[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (out.length < count && Date.now() < deadline) {
      const batch = await receiver.receiveMessages(Math.min(500, count - out.length), { maxWaitTimeInMs: 200 });
      await Promise.all(batch.map((m) => receiver.completeMessage(m)));
      out.push(...batch);
    }
  } finally {
    await receiver.close();
  }
  return out;
}

/** Active messages on a queue right now (the endpoint's own count: no receiver needed). */
export function activeCount(sb: ServiceBusEmulator, queue: string): number {
  return sb.stats(queue).active;
}
