import { SyncError, toSyncError } from '../../errors';
import { changeEventSchema } from '../change-event';
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
 * What a Service Bus-triggered sync function does with one message. Returns normally to complete the message;
 * throws to abandon it, so the broker redelivers it and finally dead-letters it.
 *
 * - Invalid body: recorded as an EVENT.INVALID sync error (visible, replayable by hand) and completed.
 * - Throttled: a copy is scheduled for Retry-After and the message completed, instead of holding its lock.
 * - Other transient failures: thrown; on the last delivery the error is recorded first, so the dead letter has a
 *   row saying why.
 * - Data and configuration failures: recorded by `syncRecord` and completed.
 */
export async function handleChangeMessage(body: unknown, delivery: DeliveryInfo, deps: SyncDeps): Promise<SyncOutcome | undefined> {
  const parsed = changeEventSchema.safeParse(typeof body === 'string' ? safeJson(body) : body);
  if (!parsed.success) {
    const message = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
    const raw = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    // The error row is keyed by a record; an event too broken to name one is keyed by its message id.
    const key = typeof raw.recordId === 'string' && raw.recordId ? raw.recordId : `message:${delivery.messageId ?? 'unknown'}`;
    await deps.errors.record({
      mapping: typeof raw.mapping === 'string' && raw.mapping ? raw.mapping.slice(0, 100) : '(unknown)',
      ...(raw.source === 'dataverse' ? { dataverseId: key } : { bcId: key }),
      direction: raw.source === 'dataverse' ? 'FromIntegrationTable' : 'ToIntegrationTable',
      code: 'EVENT.INVALID',
      category: 'data',
      message: `Change event ${delivery.messageId ?? ''} is not valid: ${message}`,
      values: { body: raw },
    });
    return undefined;
  }
  const event = parsed.data;
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
        direction: event.direction ?? (event.source === 'bc' ? 'ToIntegrationTable' : 'FromIntegrationTable'),
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

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
