import { app, type InvocationContext } from '@azure/functions';
import { collectionWorkSchema, expandCollection } from '../shared/capture/bc-collection';
import { captureDeps } from '../shared/capture/context';
import { SyncError } from '../shared/errors';
import { OPERATIONAL_QUEUE } from '../shared/queues';

/**
 * Expands a BC `collection` notification (queued by the BC webhook) into one change event per changed record.
 * A failure throws: the message is retried and dead-lettered after maxDeliveryCount; re-publishing events that
 * were already sent is harmless (deterministic message ids, handlers read current state).
 */
export async function bcCollection(message: unknown, context: InvocationContext): Promise<void> {
  const parsed = collectionWorkSchema.safeParse(message);
  if (!parsed.success)
    throw new SyncError('EVENT.INVALID', `ops-bc-collection message is not a collection work item: ${parsed.error.message.slice(0, 300)}`);
  const results = await expandCollection(await captureDeps(), parsed.data);
  context.log(
    `BC collection ${parsed.data.entitySet}: ${results.map((r) => `${r.mapping} ${r.changed} changed / ${r.deleted} deleted`).join(', ')}`,
  );
}

app.serviceBusQueue('bcCollection', {
  connection: 'SERVICEBUS_CONNECTION',
  queueName: OPERATIONAL_QUEUE.bcCollection,
  handler: bcCollection,
});
