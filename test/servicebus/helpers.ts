import { ServiceBusClient } from '@azure/service-bus';
import { type QueueOptions, ServiceBusEmulator } from '../../dev/servicebus';

/** Emulator on an ephemeral port plus one SDK client, so test files can run in parallel. */
export async function startEmulator(
  queues: QueueOptions[],
  extra: { autoCreateQueues?: boolean } = {},
): Promise<{ emulator: ServiceBusEmulator; client: ServiceBusClient; close(): Promise<void> }> {
  const emulator = new ServiceBusEmulator({ port: 0, queues, ...extra });
  await emulator.start();
  // Small retry delays keep reconnect tests quick; the defaults are tuned for the cloud.
  const client = new ServiceBusClient(emulator.connectionString, {
    retryOptions: { maxRetries: 5, retryDelayInMs: 100, timeoutInMs: 10_000 },
  });
  return {
    emulator,
    client,
    async close() {
      await client.close();
      await emulator.stop();
    },
  };
}

/** Polls `probe` until it returns a truthy value; fails with `what` after the deadline. */
export async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
}
