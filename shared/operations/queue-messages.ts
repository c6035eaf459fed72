import type { z } from 'zod';
import { collectionWorkSchema } from '../capture/bc-collection';
import { changeEventSchema } from '../domain/change-event';
import { salesOrderRequestSchema } from '../lead-to-cash/sales-order';
import { OPERATIONAL_QUEUE } from '../queues';
import { fullSyncWorkItemSchema } from './full-sync';

/**
 * The schema of each queue's messages: what its trigger reads (functions/lib/servicebus.ts `queueWorker`), and so
 * what the dead-letter timer can tell will never be read however often it is re-driven.
 */
export function messageSchemaOf(queue: string): z.ZodType | undefined {
  switch (queue) {
    case OPERATIONAL_QUEUE.bcCollection:
      return collectionWorkSchema;
    case OPERATIONAL_QUEUE.fullSync:
      return fullSyncWorkItemSchema;
    case OPERATIONAL_QUEUE.salesOrders:
      return salesOrderRequestSchema;
    default:
      return queue.startsWith('sync-') ? changeEventSchema : undefined;
  }
}
