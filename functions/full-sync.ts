import { app } from '@azure/functions';
import { queueSalesOrders } from '../shared/lead-to-cash/queue-orders';
import { fullSyncDeps } from '../shared/operations/context';
import { fullSyncWorkItemSchema, processFullSyncItem } from '../shared/operations/full-sync';
import { OPERATIONAL_QUEUE } from '../shared/queues';
import { getRuntime } from '../shared/runtime';
import { queueWorker } from './lib/servicebus';

/**
 * Full-sync work items ("continue mapping M from page P, offset O"). A throw abandons the item so the broker
 * redelivers it; re-processing is idempotent (see shared/operations/full-sync.ts).
 */
export const fullSyncWorker = queueWorker(OPERATIONAL_QUEUE.fullSync, fullSyncWorkItemSchema, async (item, context, delivery) => {
  const runtime = await getRuntime();
  const { processed, runEnded } = await processFullSyncItem(fullSyncDeps(runtime), item, delivery);
  context.log(`full sync ${item.runId} ${item.mapping}: ${processed} records`);
  // Submitted Sales orders wait for their customers: the end of a full synchronization is when they can be created.
  if (runEnded) context.log(`full sync ${item.runId} ended: ${await queueSalesOrders(runtime)} submitted sales order(s) queued`);
});

app.serviceBusQueue('full-sync', {
  connection: 'SERVICEBUS_CONNECTION',
  queueName: OPERATIONAL_QUEUE.fullSync,
  handler: fullSyncWorker,
});
