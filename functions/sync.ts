import { app, type InvocationContext } from '@azure/functions';
import { handleChangeMessage } from '../shared/domain/sync/handle-message';
import { allQueueNames, QUEUE_SETTINGS } from '../shared/queues';
import { getRuntime } from '../shared/runtime';

/**
 * One Service Bus-triggered function per table-mapping queue (`sync-customer`, `sync-item-product`, …). All of
 * them call the same `syncRecord` use case through `handleChangeMessage`, which decides complete vs retry.
 */
export async function syncChange(message: unknown, context: InvocationContext): Promise<void> {
  const runtime = await getRuntime();
  const meta = context.triggerMetadata ?? {};
  const outcome = await handleChangeMessage(
    message,
    {
      deliveryCount: Number(meta.deliveryCount ?? 1),
      maxDeliveryCount: QUEUE_SETTINGS.maxDeliveryCount,
      messageId: typeof meta.messageId === 'string' ? meta.messageId : undefined,
    },
    runtime.syncDeps,
  );
  if (outcome) context.log(`${outcome.mapping}: ${outcome.result}${outcome.message ? ` — ${outcome.message}` : ''}`);
}

for (const queueName of allQueueNames().filter((q) => q.startsWith('sync-'))) {
  app.serviceBusQueue(queueName, {
    connection: 'SERVICEBUS_CONNECTION',
    queueName,
    handler: syncChange,
  });
}
