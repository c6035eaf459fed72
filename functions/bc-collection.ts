import { app } from '@azure/functions';
import { collectionWorkSchema, expandCollection } from '../shared/capture/bc-collection';
import { captureDeps } from '../shared/capture/context';
import { OPERATIONAL_QUEUE } from '../shared/queues';
import { queueWorker } from './lib/servicebus';

/**
 * Expands a BC `collection` notification (queued by the BC webhook) into one change event per changed record.
 * A failure throws: the message is retried and dead-lettered after maxDeliveryCount; re-publishing events that
 * were already sent is harmless (deterministic message ids, handlers read current state).
 */
export const bcCollection = queueWorker(OPERATIONAL_QUEUE.bcCollection, collectionWorkSchema, async (work, context) => {
  const results = await expandCollection(await captureDeps(), work);
  context.log(
    `BC collection ${work.entitySet}: ${results.map((r) => `${r.mapping} ${r.changed} changed / ${r.deleted} deleted`).join(', ')}`,
  );
});

app.serviceBusQueue('bcCollection', {
  connection: 'SERVICEBUS_CONNECTION',
  queueName: OPERATIONAL_QUEUE.bcCollection,
  handler: bcCollection,
});
