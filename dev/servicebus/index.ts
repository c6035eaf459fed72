/**
 * Service Bus-compatible AMQP endpoint for dev and tests. See emulator.ts for what it speaks.
 *
 * ```ts
 * const sb = new ServiceBusEmulator({ port: 0, queues: [{ name: 'bc-changes', maxDeliveryCount: 3 }] });
 * await sb.start();
 * const client = new ServiceBusClient(sb.connectionString);
 * ```
 */
export { type QueueStats, ServiceBusEmulator } from './emulator';
export type { QueueOptions, ServiceBusEmulatorOptions } from './options';
