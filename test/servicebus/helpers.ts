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
