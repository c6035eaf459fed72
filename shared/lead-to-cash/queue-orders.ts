import { OPERATIONAL_QUEUE } from '../queues';
import type { Runtime } from '../runtime';
import { queueSubmittedOrders } from './sales-order';

/**
 * Queues every submitted, uncoupled Sales order on `ops-sales-orders` when automatic creation is on (legacy mode):
 * the auto-create job, and the end of a full synchronization (after it coupled the customers). Returns how many.
 */
export async function queueSalesOrders(runtime: Runtime): Promise<number> {
  const s = runtime.settings;
  if (s.SALES_ORDER_INTEGRATION !== 'legacy' || !s.AUTO_CREATE_SALES_ORDERS) return 0;
  const sender = runtime.serviceBus.createSender(OPERATIONAL_QUEUE.salesOrders);
  try {
    return await queueSubmittedOrders(runtime.syncDeps, (messages) => sender.sendMessages(messages));
  } finally {
    await sender.close();
  }
}
