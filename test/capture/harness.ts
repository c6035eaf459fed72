import path from 'node:path';
import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import type { RunningAzurite } from '../../dev/azurite';
import type { BcSimulator, BcSimulatorOptions } from '../../dev/bc-simulator';
import type { DataverseSimulator, DataverseSimulatorOptions } from '../../dev/dataverse-simulator';
import type { LocalFunctionsHost } from '../../dev/local-host/host';
import type { ServiceBusEmulator } from '../../dev/servicebus';
import { buildStack } from '../support/stack';

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
  logs: Array<{ level: string; message: string }>;
  stop(): Promise<void>;
}

/**
 * Change capture's preset of the one stack builder (`test/support/stack.ts`): demo-seeded simulators (either may be
 * left out), timers off (a timer firing on the minute next to a test's runTimer would make counts depend on the
 * clock; runOnStartup still runs, and tests drive timers with runTimer), capture logs kept, one SDK client. The
 * runtime's clock is the BC simulator's, so moving the simulator's clock moves ours.
 */
export async function startStack(opts: {
  functions: string[];
  bc?: BcSimulatorOptions | false;
  dv?: DataverseSimulatorOptions | false;
  publishTimeoutMs?: number;
  serviceBusTriggers?: boolean;
}): Promise<Stack> {
  const built = await buildStack({
    functions: opts.functions,
    bc: opts.bc === false ? false : { seed: 'demo', webhookDelayMs: 50, ...(opts.bc ?? {}) },
    dataverse: opts.dv === false ? false : { seed: 'demo', webhookDelayMs: 20, ...(opts.dv ?? {}) },
    env: ({ dataverse }) => ({
      TABLE_PREFIX: `cap${Math.random().toString(36).slice(2, 10)}`,
      BC_STATIC_TOKEN: 'bc-test-token',
      BC_WEBHOOK_SECRET: BC_SECRET,
      DATAVERSE_STATIC_TOKEN: 'dv-integration-token',
      DATAVERSE_WEBHOOK_KEY: DV_KEY,
      DATAVERSE_INTEGRATION_USER_ID: dataverse?.integrationUserId ?? '00000000-0000-0000-0000-0000000000aa',
      // Never fires during a test: runOnStartup and runTimer drive it.
      SUBSCRIPTION_RENEWAL_SCHEDULE: '0 0 3 1 1 *',
    }),
    runtime: 'clockFromBc',
    capturePublishTimeoutMs: opts.publishTimeoutMs ?? 2_000,
    serviceBusTriggers: opts.serviceBusTriggers ?? true,
    timerSchedules: false,
  });
  const sbClient = new ServiceBusClient(built.serviceBus.connectionString, {
    retryOptions: { maxRetries: 3, retryDelayInMs: 100, timeoutInMs: 5_000 },
  });
  return {
    azurite: built.azurite,
    sb: built.serviceBus,
    sbClient,
    bc: built.bc,
    dv: built.dataverse,
    host: built.host,
    logs: built.logs,
    async stop() {
      await sbClient.close();
      await built.stop();
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
