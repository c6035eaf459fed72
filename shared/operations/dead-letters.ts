import type { ServiceBusClient } from '@azure/service-bus';
import {
  type DeadLetter,
  type DeadLetterSelector,
  type Disposition,
  matches,
  peekDeadLetters,
  settleDeadLetters,
} from '../adapters/servicebus/dead-letters';
import { changeEventSchema } from '../domain/change-event';
import { allQueueNames, OPERATIONAL_QUEUES } from '../queues';
import { messageSchemaOf } from './queue-messages';

/**
 * Dead-letter operations over every queue — the sync-* queues and the operational ops-* ones: list, replay (by
 * id, reason or mapping), purge, and the timer's automatic re-drive with backoff per reason.
 *
 * Re-driving is safe on every queue because each message's handler is idempotent and reads current state:
 * - sync-*: a change event is a hint; the engine reads both sides and does nothing when they already agree.
 * - ops-bc-collection: expansion re-reads BC and publishes change events (same ids for the same state, so the
 *   broker drops the repeats); a lost expansion would lose BC deletions, so it must come back.
 * - ops-full-sync: a work item is a position; `processFullSyncItem` ignores an item whose run or mapping is no
 *   longer running, or that lies behind the checkpoint, so a stale one is a no-op and a live one lets the run go on.
 * - ops-sales-orders: creating a BC order is exactly-once (the coupling is checked first and the BC order gets a
 *   SystemId derived from the Dataverse order).
 * What limits the timer is the reason: only broker exhaustion (`MaxDeliveryCountExceeded`, transient outages)
 * and expiry are re-driven, with backoff and a cap; anything dead-lettered on purpose needs a person.
 */

export interface RetryPolicy {
  /** Re-drives per message before it is left for an admin. */
  maxReplays: number;
  /** Delay of the first re-drive; doubles with every further one, capped at `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/**
 * Per dead-letter reason. Transient exhaustion (`MaxDeliveryCountExceeded`: BC/Dataverse down or throttled for
 * all ten deliveries) and expiry are worth re-driving with backoff; anything dead-lettered on purpose (a reason
 * code of ours) needs a person.
 */
export const DEFAULT_RETRY_POLICIES: Record<string, RetryPolicy> = {
  MaxDeliveryCountExceeded: { maxReplays: 5, baseDelayMs: 60_000, maxDelayMs: 3_600_000 },
  TTLExpiredException: { maxReplays: 2, baseDelayMs: 0, maxDelayMs: 0 },
};

/**
 * Every queue whose dead letters are listed, replayed and re-driven. The ops-* queues come first: one of their
 * dead letters holds up a whole run or collection, so a capped list must not leave it out.
 */
export function deadLetterQueues(): string[] {
  const ops: readonly string[] = OPERATIONAL_QUEUES;
  return [...OPERATIONAL_QUEUES, ...allQueueNames().filter((q) => !ops.includes(q))];
}

/** The body to re-send: a change event is marked `origin: replay` and observed now; anything else is re-sent as is. */
export function replayBody(body: unknown, now: Date): unknown {
  const parsed = changeEventSchema.safeParse(body);
  if (!parsed.success) return body;
  return { ...parsed.data, origin: 'replay', deferrals: 0, observedAt: now.toISOString() };
}

/**
 * What the retry timer does with one dead letter. A body its queue's worker cannot read is left for a person
 * whatever the reason: it was dead-lettered after every delivery refused it, and a re-drive is read the same way.
 */
export function retryDisposition(d: DeadLetter, now: Date, policies: Record<string, RetryPolicy> = DEFAULT_RETRY_POLICIES): Disposition {
  const policy = d.reason ? policies[d.reason] : undefined;
  if (!policy || d.replayCount >= policy.maxReplays) return { action: 'leave' };
  if (messageSchemaOf(d.queue)?.safeParse(d.body).success === false) return { action: 'leave' };
  const delay = Math.min(policy.baseDelayMs * 2 ** d.replayCount, policy.maxDelayMs);
  return { action: 'replay', scheduledAt: new Date(now.getTime() + delay), body: replayBody(d.body, now) };
}

export async function listDeadLetters(
  client: ServiceBusClient,
  options: { queue?: string; max?: number; selector?: DeadLetterSelector } = {},
): Promise<DeadLetter[]> {
  const queues = options.queue ? [options.queue] : deadLetterQueues();
  const max = options.max ?? 100;
  const out: DeadLetter[] = [];
  for (const q of queues) {
    if (out.length >= max) break;
    const items = await peekDeadLetters(client, q, max - out.length);
    out.push(...items.filter((d) => !options.selector || matches(d, options.selector)));
  }
  return out;
}

export async function replayDeadLetters(
  client: ServiceBusClient,
  selector: DeadLetterSelector & { queue?: string },
  options: { max?: number; now?: () => Date } = {},
): Promise<{ replayed: number; left: number; items: DeadLetter[] }> {
  const now = options.now ?? (() => new Date());
  return settleAll(client, selector, options.max, (d) =>
    matches(d, selector) ? { action: 'replay', body: replayBody(d.body, now()) } : { action: 'leave' },
  );
}

export async function purgeDeadLetters(
  client: ServiceBusClient,
  selector: DeadLetterSelector & { queue?: string },
  options: { max?: number } = {},
): Promise<{ purged: number; left: number; items: DeadLetter[] }> {
  const r = await settleAll(client, selector, options.max, (d) => (matches(d, selector) ? { action: 'purge' } : { action: 'leave' }));
  return { purged: r.replayed, left: r.left, items: r.items };
}

/** The retry timer: every queue's dead letters re-driven by policy (see the header for why that is safe); the rest stay visible. */
export async function retryDeadLetters(
  client: ServiceBusClient,
  options: { policies?: Record<string, RetryPolicy>; max?: number; now?: () => Date } = {},
): Promise<{ replayed: number; left: number }> {
  const now = options.now ?? (() => new Date());
  let replayed = 0;
  let left = 0;
  for (const q of deadLetterQueues()) {
    if ((await peekDeadLetters(client, q, 1)).length === 0) continue;
    const settled = await settleDeadLetters(client, q, (d) => retryDisposition(d, now(), options.policies), {
      max: options.max ?? 500,
    });
    for (const s of settled)
      if (s.action === 'replay') replayed++;
      else left++;
  }
  return { replayed, left };
}

async function settleAll(
  client: ServiceBusClient,
  selector: DeadLetterSelector & { queue?: string },
  max: number | undefined,
  decide: (d: DeadLetter) => Disposition,
): Promise<{ replayed: number; left: number; items: DeadLetter[] }> {
  const queues = selector.queue ? [selector.queue] : deadLetterQueues();
  let done = 0;
  let left = 0;
  const items: DeadLetter[] = [];
  for (const q of queues) {
    // Peek first: most queues have no dead letters, and a receive waits for its timeout.
    const peeked = await peekDeadLetters(client, q, 1);
    if (peeked.length === 0) continue;
    const settled = await settleDeadLetters(client, q, decide, { max: max ?? 1000 });
    for (const s of settled) {
      if (s.action === 'leave') left++;
      else {
        done++;
        const { action: _a, ...d } = s;
        items.push(d);
      }
    }
  }
  return { replayed: done, left, items };
}

export type { DeadLetter, DeadLetterSelector };
