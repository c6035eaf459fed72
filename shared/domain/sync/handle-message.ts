import { SyncError, toSyncError } from '../../errors';
import type { ChangeEvent } from '../change-event';
import { passOf } from '../direction';
import { markOpenError } from './record-outcome';
import { syncRecord } from './sync-record';
import type { SyncDeps, SyncOutcome } from './types';

export interface DeliveryInfo {
  /** Prior deliveries of this message (Service Bus `deliveryCount` as the Functions host reports it, 1-based). */
  deliveryCount: number;
  /** The queue's max delivery count: the delivery that reaches it is the last before the dead-letter queue. */
  maxDeliveryCount: number;
  messageId?: string;
}

/**
 * What a Service Bus-triggered sync function does with one change event (its message already parsed by the trigger's
 * one bad-message policy, `parseMessage`). Returns normally to complete the message; throws to abandon it, so the
 * broker redelivers it and finally dead-letters it.
 *
 * - Throttled: a copy is scheduled for Retry-After and the message completed, instead of holding its lock.
 * - Other transient failures: thrown; on the last delivery the error is recorded first, so the dead letter has a
 *   row saying why.
 * - Data and configuration failures: recorded by `syncRecord` and completed.
 */
export async function handleChangeMessage(event: ChangeEvent, delivery: DeliveryInfo, deps: SyncDeps): Promise<SyncOutcome | undefined> {
  try {
    return await syncRecord(event, deps);
  } catch (err) {
    const error = toSyncError(err);
    if (error.code === 'BC.THROTTLED' || error.code === 'DV.THROTTLED') {
      const wait = Math.max(1_000, error.retryAfterMs ?? 30_000);
      await deps.publisher.publish([event], { scheduledAt: new Date(deps.clock.now().getTime() + wait) });
      return {
        result: 'deferred',
        mapping: event.mapping,
        message: `throttled; rescheduled in ${Math.round(wait / 1000)} s`,
        code: error.code,
      };
    }
    if (delivery.deliveryCount >= delivery.maxDeliveryCount) {
      await deps.errors.record({
        mapping: event.mapping,
        bcId: event.source === 'bc' ? event.recordId : undefined,
        dataverseId: event.source === 'dataverse' ? event.recordId : undefined,
        direction: passOf(event.source, event.direction),
        code: error.code,
        category: error.category,
        message: `${error.message} (dead-lettered after ${delivery.deliveryCount} deliveries)`,
        correlationId: event.correlationId,
        event,
      });
      // So the record's next success resolves this error (the coupling says whether one may be open); a store
      // that fails here fails the same way for the error just recorded.
      await markOpenError(deps, event.mapping, event.source === 'bc' ? { bcId: event.recordId } : { dataverseId: event.recordId }).catch(
        () => undefined,
      );
    }
    throw error instanceof SyncError ? error : new SyncError('INTERNAL', String(err));
  }
}
