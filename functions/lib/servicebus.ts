import type { InvocationContext } from '@azure/functions';
import type { z } from 'zod';
import { InvalidMessageError, parseMessage } from '../../shared/adapters/servicebus/message';
import { QUEUE_SETTINGS } from '../../shared/queues';
import { getRuntime } from '../../shared/runtime';

/** Where a message is in its delivery attempts (Service Bus trigger metadata). */
export interface Delivery {
  /** 1 on the first delivery. */
  deliveryCount: number;
  /** The queue's max delivery count: the delivery that reaches it is the last before the dead-letter queue. */
  maxDeliveryCount: number;
  messageId: string | undefined;
}

export function deliveryOf(context: InvocationContext): Delivery {
  const meta = context.triggerMetadata ?? {};
  return {
    deliveryCount: Number(meta.deliveryCount ?? 1),
    maxDeliveryCount: QUEUE_SETTINGS.maxDeliveryCount,
    messageId: typeof meta.messageId === 'string' ? meta.messageId : undefined,
  };
}

/**
 * A Service Bus trigger handler for `queue`: reads the body with {@link parseMessage}, then calls `work`.
 *
 * A message its schema refuses gets the same treatment on every queue: it is never completed (that would drop
 * it) but abandoned, so the broker dead-letters it after maxDeliveryCount deliveries. It stays in the dead-letter
 * queue as it was sent, listed on the admin page's Dead letters for replay or purge. Each delivery logs why; the
 * last also records an `EVENT.INVALID` sync error with the body (secrets redacted by the store), so the admin
 * page's Errors says why a dead letter is there, the same rule a change that keeps failing follows.
 * (A trigger cannot dead-letter a message itself: the Functions host completes or abandons it.)
 */
export function queueWorker<T>(
  queue: string,
  schema: z.ZodType<T>,
  work: (item: T, context: InvocationContext, delivery: Delivery) => Promise<void>,
): (message: unknown, context: InvocationContext) => Promise<void> {
  return async (message, context) => {
    const delivery = deliveryOf(context);
    let item: T;
    try {
      item = parseMessage(schema, message);
    } catch (err) {
      if (!(err instanceof InvalidMessageError)) throw err;
      const last = delivery.deliveryCount >= delivery.maxDeliveryCount;
      context.error(
        `${queue}: message ${delivery.messageId ?? '(no id)'} refused (delivery ${delivery.deliveryCount} of ${delivery.maxDeliveryCount}${last ? ', dead-lettered next' : ''}): ${err.message}`,
      );
      if (last)
        await recordInvalid(queue, err, delivery).catch((e) => context.error(`${queue}: the error row was not written: ${String(e)}`));
      throw err;
    }
    await work(item, context, delivery);
  };
}

async function recordInvalid(queue: string, err: InvalidMessageError, delivery: Delivery): Promise<void> {
  const raw = (typeof err.body === 'object' && err.body !== null && !Array.isArray(err.body) ? err.body : { body: err.body }) as Record<
    string,
    unknown
  >;
  const text = (v: unknown) => (typeof v === 'string' && v ? v.slice(0, 100) : undefined);
  // The error row is keyed by a record; a message too broken to name one is keyed by its message id.
  const key = text(raw.recordId) ?? `message:${delivery.messageId ?? 'unknown'}`;
  const fromDataverse = raw.source === 'dataverse';
  const runtime = await getRuntime();
  await runtime.syncDeps.errors.record({
    mapping: text(raw.mapping) ?? '(unknown)',
    ...(fromDataverse ? { dataverseId: key } : { bcId: key }),
    direction: fromDataverse ? 'FromIntegrationTable' : 'ToIntegrationTable',
    code: err.code,
    category: err.category,
    message: `Message ${delivery.messageId ?? ''} on ${queue} is dead-lettered after ${delivery.deliveryCount} deliveries: ${err.message}`,
    values: { queue, body: raw },
  });
}
