import { app, type InvocationContext } from '@azure/functions';
import { z } from 'zod';
import { queueSalesOrders } from '../shared/lead-to-cash/queue-orders';
import { fullSyncDeps } from '../shared/operations/context';
import { fullSyncWorkItemSchema, processFullSyncItem } from '../shared/operations/full-sync';
import { OPERATIONAL_QUEUE, QUEUE_SETTINGS } from '../shared/queues';
import { getRuntime } from '../shared/runtime';

/**
 * Full-sync work items ("continue mapping M from page P, offset O"). A throw abandons the item so the broker
 * redelivers it; re-processing is idempotent (see shared/operations/full-sync.ts).
 */
export async function fullSyncWorker(message: unknown, context: InvocationContext): Promise<void> {
  const body = typeof message === 'string' ? JSON.parse(message) : message;
  const parsed = fullSyncWorkItemSchema.safeParse(body);
  if (!parsed.success) {
    // Completed, not retried: a malformed item can never succeed. Logged so it is visible.
    context.error(`ignoring an invalid full-sync work item: ${z.prettifyError(parsed.error)}`);
    return;
  }
  const runtime = await getRuntime();
  const { processed, runEnded } = await processFullSyncItem(fullSyncDeps(runtime), parsed.data, {
    deliveryCount: Number(context.triggerMetadata?.deliveryCount ?? 1),
    maxDeliveryCount: QUEUE_SETTINGS.maxDeliveryCount,
  });
  context.log(`full sync ${parsed.data.runId} ${parsed.data.mapping}: ${processed} records`);
  // Submitted Sales orders wait for their customers: the end of a full synchronization is when they can be created.
  if (runEnded) context.log(`full sync ${parsed.data.runId} ended: ${await queueSalesOrders(runtime)} submitted sales order(s) queued`);
}

app.serviceBusQueue('full-sync', {
  connection: 'SERVICEBUS_CONNECTION',
  queueName: OPERATIONAL_QUEUE.fullSync,
  handler: fullSyncWorker,
});
