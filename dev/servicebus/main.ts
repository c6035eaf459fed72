/**
 * Runs the Service Bus emulator on its own:
 *
 *   node dist/dev/servicebus/main.js [queues.json]
 *
 * Settings (environment):
 * - `SERVICEBUS_PORT`    TCP port, default 5672 (0 = ephemeral).
 * - `SERVICEBUS_HOST`    loopback address, default 127.0.0.1.
 * - `SERVICEBUS_QUEUES`  used when no file argument is given: either a path to a JSON file, or inline
 *                        JSON. The JSON is an array of queue options (`[{"name":"bc-changes"}]`) or an
 *                        object `{ "queues": [...], "autoCreateQueues": true }`.
 *
 * Prints one `ready` line with the connection string once it listens; stops cleanly on SIGINT/SIGTERM.
 */
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { ServiceBusEmulator } from './emulator';
import { DEFAULT_PORT, type ServiceBusEmulatorOptions } from './options';

const envSchema = z.object({
  SERVICEBUS_PORT: z.coerce.number().int().min(0).max(65_535).default(DEFAULT_PORT),
  SERVICEBUS_HOST: z.string().min(1).optional(),
  SERVICEBUS_QUEUES: z.string().min(1).optional(),
});

const queueFileSchema = z.union([
  z.array(z.unknown()).transform((queues) => ({ queues, autoCreateQueues: undefined })),
  z.looseObject({ queues: z.array(z.unknown()), autoCreateQueues: z.boolean().optional() }),
]);

function loadQueueConfig(source: string | undefined): { queues: unknown[]; autoCreateQueues?: boolean } {
  if (source === undefined) return { queues: [] };
  const trimmed = source.trim();
  const isInline = trimmed.startsWith('[') || trimmed.startsWith('{');
  if (!isInline && !existsSync(source)) throw new Error(`Queue file '${source}' does not exist.`);
  const text = isInline ? trimmed : readFileSync(source, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`Queue config ${isInline ? '(inline)' : `'${source}'`} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = queueFileSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`Queue config must be an array of queues or { queues: [...] }:\n${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

async function main(): Promise<void> {
  const env = envSchema.safeParse(process.env);
  if (!env.success) throw new Error(`Invalid settings:\n${z.prettifyError(env.error)}`);
  const config = loadQueueConfig(process.argv[2] ?? env.data.SERVICEBUS_QUEUES);
  // The emulator validates every queue entry and names each bad field.
  const emulator = new ServiceBusEmulator({
    host: env.data.SERVICEBUS_HOST,
    port: env.data.SERVICEBUS_PORT,
    queues: config.queues,
    autoCreateQueues: config.autoCreateQueues,
  } as ServiceBusEmulatorOptions);
  await emulator.start();
  const names = config.queues.map((q) => (q as { name: string }).name);
  console.log(
    `servicebus ready on ${env.data.SERVICEBUS_HOST ?? '127.0.0.1'}:${emulator.port} ` +
      `queues=[${names.join(', ')}]${config.autoCreateQueues ? ' (auto-create on)' : ''} ` +
      `connection string: ${emulator.connectionString}`,
  );
  const shutdown = (): void => {
    emulator.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
