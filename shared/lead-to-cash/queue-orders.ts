import { workQueue } from '../adapters/servicebus/work-queue';
import { OPERATIONAL_QUEUE } from '../queues';
import type { Runtime } from '../runtime';
import { queueSubmittedOrders, salesOrderRequestSchema } from './sales-order';

/**
 * Queues every submitted, uncoupled Sales order on `ops-sales-orders` when automatic creation is on (legacy mode):
 * the auto-create job, and the end of a full synchronization (after it coupled the customers). Returns how many.
 */
export async function queueSalesOrders(runtime: Runtime): Promise<number> {
  const s = runtime.settings;
  if (s.SALES_ORDER_INTEGRATION !== 'legacy' || !s.AUTO_CREATE_SALES_ORDERS) return 0;
  const queue = workQueue(runtime.serviceBus, OPERATIONAL_QUEUE.salesOrders, salesOrderRequestSchema);
  return queueSubmittedOrders(runtime.syncDeps, (messages) => queue.sendAll(messages));
}
