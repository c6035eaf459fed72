import { randomUUID } from 'node:crypto';
import type { ServiceBusClient, ServiceBusMessage, ServiceBusSender } from '@azure/service-bus';
import { type ChangeEvent, changeEventMessageId } from '../../domain/change-event';
import { queueNameFor } from '../../domain/mappings/queue';
import type { ChangePublisher } from '../../domain/ports';
import { SyncError } from '../../errors';

/** Resolves the queue of a table mapping (its own, or its header's for line mappings). */
export type QueueOf = (mapping: string) => Promise<string>;

/** Change events onto the Service Bus queue of their table mapping; resolves only once the broker accepted them. */
export class ServiceBusChangePublisher implements ChangePublisher {
  private readonly senders = new Map<string, ServiceBusSender>();

  constructor(
    private readonly client: ServiceBusClient,
    private readonly queueOf: QueueOf = async (m) => queueNameFor(m),
  ) {}

  private sender(queue: string): ServiceBusSender {
    let s = this.senders.get(queue);
    if (!s) {
      s = this.client.createSender(queue);
      this.senders.set(queue, s);
    }
    return s;
  }

  async publish(events: ChangeEvent[], options: { scheduledAt?: Date } = {}): Promise<void> {
    const byQueue = new Map<string, ServiceBusMessage[]>();
    for (const e of events) {
      const queue = await this.queueOf(e.mapping);
      const list = byQueue.get(queue) ?? [];
      list.push(toMessage(e, options.scheduledAt));
      byQueue.set(queue, list);
    }
    try {
      for (const [queue, messages] of byQueue) {
        const sender = this.sender(queue);
        if (options.scheduledAt) await sender.scheduleMessages(messages, options.scheduledAt);
        else {
          // sendMessages splits nothing: keep batches well under the broker's maximum message size.
          for (let i = 0; i < messages.length; i += 100) await sender.sendMessages(messages.slice(i, i + 100));
        }
      }
    } catch (err) {
      throw new SyncError('QUEUE.UNAVAILABLE', `Service Bus did not accept ${events.length} change event(s): ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.senders.values()].map((s) => s.close()));
    this.senders.clear();
  }
}

/**
 * Origins that are someone's deliberate request to synchronize (an admin, a retry, a parent that got coupled, a
 * full sync): each must run even when an identical event was sent minutes ago, so it gets a nonce if its sender
 * gave none. Notifications (webhook, collection, poll, reconcile) keep their deterministic ids, so a repeated
 * notification is dropped by duplicate detection.
 */
const DELIBERATE_ORIGINS: ReadonlySet<ChangeEvent['origin']> = new Set(['manual', 'replay', 'dependency', 'full-sync']);

export function toMessage(event: ChangeEvent, scheduledAt?: Date): ServiceBusMessage {
  const e = event.nonce === undefined && DELIBERATE_ORIGINS.has(event.origin) ? { ...event, nonce: randomUUID() } : event;
  return {
    body: e,
    contentType: 'application/json',
    // A rescheduled copy must not look like a duplicate of the message it replaces.
    messageId: changeEventMessageId(e, scheduledAt ? [`at${scheduledAt.getTime()}`] : []),
    correlationId: e.correlationId,
    subject: e.mapping,
    applicationProperties: { mapping: e.mapping, source: e.source, recordId: e.recordId, changeType: e.changeType, origin: e.origin },
  };
}
