import type { ServiceBusClient, ServiceBusMessage, ServiceBusReceivedMessage } from '@azure/service-bus';
// The SDK's own 64-bit integer type (a dependency of @azure/service-bus): peeks must name where they start.
import Long from 'long';
import { OPERATIONAL_QUEUE } from '../../queues';

/**
 * The dead-letter queues (`<queue>/$deadletterqueue`) of every queue (sync-* and ops-*): list, replay, purge. Messages are
 * settled one at a time (the AMQP client can merge concurrent dispositions, see dev/servicebus/README.md).
 */

/** What a dead-lettered message is, by the queue it came from. */
export type DeadLetterKind = 'change-event' | 'bc-collection' | 'full-sync-item' | 'sales-order';

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
  kind: DeadLetterKind;
  /** Table mapping of a change event or full-sync item, when the body names one. */
  mapping?: string;
  /** One line saying what the message was for (record, run, collection or order), for lists. */
  subject?: string;
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
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
  const mapping = typeof fields.mapping === 'string' ? fields.mapping : undefined;
  const kind = deadLetterKind(queue);
  const subject = subjectOf(kind, fields);
  return {
    queue,
    kind,
    sequenceNumber: m.sequenceNumber?.toString() ?? '',
    ...(m.messageId !== undefined ? { messageId: String(m.messageId) } : {}),
    ...(m.deadLetterReason ? { reason: m.deadLetterReason } : {}),
    ...(m.deadLetterErrorDescription ? { description: m.deadLetterErrorDescription } : {}),
    ...(m.enqueuedTimeUtc ? { enqueuedAt: m.enqueuedTimeUtc.toISOString() } : {}),
    ...(m.deliveryCount !== undefined ? { deliveryCount: m.deliveryCount } : {}),
    replayCount: Number(m.applicationProperties?.[REPLAY_COUNT_PROPERTY] ?? 0) || 0,
    ...(mapping ? { mapping } : {}),
    ...(subject ? { subject } : {}),
    body,
  };
}

export function deadLetterKind(queue: string): DeadLetterKind {
  switch (queue.toLowerCase()) {
    case OPERATIONAL_QUEUE.bcCollection:
      return 'bc-collection';
    case OPERATIONAL_QUEUE.fullSync:
      return 'full-sync-item';
    case OPERATIONAL_QUEUE.salesOrders:
      return 'sales-order';
    default:
      return 'change-event';
  }
}

function subjectOf(kind: DeadLetterKind, b: Record<string, unknown>): string | undefined {
  const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
  const text = (() => {
    switch (kind) {
      case 'change-event':
        return [str(b.source), str(b.changeType), str(b.recordId)].filter(Boolean).join(' ');
      case 'full-sync-item':
        return [
          str(b.runId) && `run ${str(b.runId)}`,
          str(b.mapping),
          b.pass !== undefined && `pass ${str(b.pass)}`,
          b.page !== undefined && `page ${str(b.page)}`,
        ]
          .filter(Boolean)
          .join(', ');
      case 'bc-collection':
        return [
          str(b.entitySet),
          Array.isArray(b.mappings) ? `(${b.mappings.map(str).join(', ')})` : '',
          str(b.modifiedSince) && `since ${str(b.modifiedSince)}`,
        ]
          .filter(Boolean)
          .join(' ');
      case 'sales-order':
        return str(b.salesOrderId) && `sales order ${str(b.salesOrderId)}`;
    }
  })();
  return text ? text.slice(0, 200) : undefined;
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
