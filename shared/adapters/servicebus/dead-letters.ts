import type { ServiceBusClient, ServiceBusMessage, ServiceBusReceivedMessage } from '@azure/service-bus';
// The SDK's own 64-bit integer type (a dependency of @azure/service-bus): peeks must name where they start.
import Long from 'long';

/**
 * The dead-letter queues (`<queue>/$deadletterqueue`) of the sync queues: list, replay, purge. Messages are
 * settled one at a time (the AMQP client can merge concurrent dispositions, see dev/servicebus/README.md).
 */

/** Application property counting how often a message was re-driven from the dead-letter queue. */
export const REPLAY_COUNT_PROPERTY = 'replayCount';

export interface DeadLetter {
  queue: string;
  sequenceNumber: string;
  messageId?: string;
  reason?: string;
  description?: string;
  enqueuedAt?: string;
  deliveryCount?: number;
  replayCount: number;
  /** Table mapping of a change event, when the body is one. */
  mapping?: string;
  body: unknown;
}

export interface DeadLetterSelector {
  /** Sequence numbers as listed (strings; they are 64-bit). */
  sequenceNumbers?: string[];
  reason?: string;
  mapping?: string;
  messageId?: string;
}

export function toDeadLetter(queue: string, m: ServiceBusReceivedMessage): DeadLetter {
  const body = m.body instanceof Uint8Array ? tryJson(Buffer.from(m.body).toString('utf8')) : m.body;
  const mapping =
    typeof body === 'object' && body !== null && typeof (body as { mapping?: unknown }).mapping === 'string'
      ? (body as { mapping: string }).mapping
      : undefined;
  return {
    queue,
    sequenceNumber: m.sequenceNumber?.toString() ?? '',
    ...(m.messageId !== undefined ? { messageId: String(m.messageId) } : {}),
    ...(m.deadLetterReason ? { reason: m.deadLetterReason } : {}),
    ...(m.deadLetterErrorDescription ? { description: m.deadLetterErrorDescription } : {}),
    ...(m.enqueuedTimeUtc ? { enqueuedAt: m.enqueuedTimeUtc.toISOString() } : {}),
    ...(m.deliveryCount !== undefined ? { deliveryCount: m.deliveryCount } : {}),
    replayCount: Number(m.applicationProperties?.[REPLAY_COUNT_PROPERTY] ?? 0) || 0,
    ...(mapping ? { mapping } : {}),
    body,
  };
}

export function matches(d: DeadLetter, s: DeadLetterSelector): boolean {
  if (s.sequenceNumbers && !s.sequenceNumbers.includes(d.sequenceNumber)) return false;
  if (s.reason !== undefined && d.reason !== s.reason) return false;
  if (s.mapping !== undefined && d.mapping !== s.mapping) return false;
  if (s.messageId !== undefined && d.messageId !== s.messageId) return false;
  return true;
}

/** Peeks (without locking) up to `max` dead letters of a queue. */
export async function peekDeadLetters(client: ServiceBusClient, queue: string, max = 100): Promise<DeadLetter[]> {
  const receiver = client.createReceiver(queue, { subQueueType: 'deadLetter' });
  try {
    const out: DeadLetter[] = [];
    // Without a start the SDK continues after the last message any receiver of this client peeked.
    let from: Long = Long.fromNumber(0);
    while (out.length < max) {
      const batch = await receiver.peekMessages(Math.min(100, max - out.length), { fromSequenceNumber: from });
      if (batch.length === 0) break;
      for (const m of batch) out.push(toDeadLetter(queue, m));
      const last = batch[batch.length - 1]?.sequenceNumber;
      if (!last) break;
      from = last.add(1);
    }
    return out;
  } finally {
    await receiver.close();
  }
}

export interface Disposition {
  /** Send a copy to the main queue (optionally scheduled) and remove the dead letter. */
  action: 'replay' | 'purge' | 'leave';
  scheduledAt?: Date;
  /** New body for the copy (e.g. the event with origin `replay`). Default: the original body. */
  body?: unknown;
}

/**
 * Receives the dead letters of a queue in peek-lock and settles each as `decide` says: replayed (copied to the
 * queue, then completed), purged (completed) or left (abandoned, so it stays visible). At most `max` messages.
 */
export async function settleDeadLetters(
  client: ServiceBusClient,
  queue: string,
  decide: (d: DeadLetter) => Disposition,
  options: { max?: number; waitMs?: number } = {},
): Promise<Array<DeadLetter & { action: Disposition['action'] }>> {
  const max = options.max ?? 1000;
  const receiver = client.createReceiver(queue, { subQueueType: 'deadLetter', receiveMode: 'peekLock' });
  const sender = client.createSender(queue);
  const held: ServiceBusReceivedMessage[] = [];
  const out: Array<DeadLetter & { action: Disposition['action'] }> = [];
  try {
    while (out.length < max) {
      // The first receive also opens the link: give it time; later ones only drain what is left.
      const wait = out.length === 0 && held.length === 0 ? (options.waitMs ?? 5_000) : 500;
      const batch = await receiver.receiveMessages(Math.min(100, max - out.length), { maxWaitTimeInMs: wait });
      if (batch.length === 0) break;
      for (const m of batch) {
        const d = toDeadLetter(queue, m);
        const decision = decide(d);
        if (decision.action === 'leave') {
          // Held until the end so the next receive does not hand it back to us.
          held.push(m);
        } else {
          if (decision.action === 'replay') {
            const copy: ServiceBusMessage = {
              body: decision.body ?? d.body,
              contentType: m.contentType ?? 'application/json',
              messageId: `${String(m.messageId ?? d.sequenceNumber).slice(0, 100)}|r${d.replayCount + 1}|${Date.now().toString(36)}`,
              applicationProperties: { ...(m.applicationProperties ?? {}), [REPLAY_COUNT_PROPERTY]: d.replayCount + 1 },
              ...(m.correlationId ? { correlationId: m.correlationId } : {}),
            };
            if (decision.scheduledAt && decision.scheduledAt.getTime() > Date.now())
              await sender.scheduleMessages(copy, decision.scheduledAt);
            else await sender.sendMessages(copy);
          }
          await receiver.completeMessage(m);
        }
        out.push({ ...d, action: decision.action });
      }
    }
  } finally {
    for (const m of held) await receiver.abandonMessage(m).catch(() => undefined);
    await sender.close().catch(() => undefined);
    await receiver.close().catch(() => undefined);
  }
  return out;
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
