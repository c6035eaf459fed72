import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ServiceBusEmulator } from '../../dev/servicebus';
import { resolveQueueOptions } from '../../dev/servicebus/options';
import { MessageEntity } from '../../dev/servicebus/queue';
import { startEmulator } from './helpers';

/**
 * Duplicate detection as Service Bus does it (learn.microsoft.com/azure/service-bus-messaging/duplicate-detection,
 * enable-duplicate-detection): per queue, by MessageId only, scheduled messages included, the sender sees success
 * and the duplicate is silently dropped; 10-minute default window, 20 s .. 7 days.
 */
describe('Service Bus endpoint: duplicate detection with the real SDK', () => {
  let env: Awaited<ReturnType<typeof startEmulator>>;
  beforeAll(async () => {
    env = await startEmulator([
      { name: 'plain' },
      { name: 'dedup', requiresDuplicateDetection: true },
      { name: 'dedup-batch', requiresDuplicateDetection: true },
      { name: 'dedup-scheduled', requiresDuplicateDetection: true },
      { name: 'dedup-other', requiresDuplicateDetection: true },
      { name: 'dedup-consumed', requiresDuplicateDetection: true, maxDeliveryCount: 1 },
    ]);
  });
  afterAll(async () => {
    await env.close();
  });

  /** Receives `expected` messages, then checks the broker holds nothing else (no wait needed for that). */
  async function drain(queue: string, expected: number): Promise<ServiceBusReceivedMessage[]> {
    const receiver = env.client.createReceiver(queue, { receiveMode: 'receiveAndDelete' });
    try {
      const out: ServiceBusReceivedMessage[] = [];
      while (out.length < expected) {
        const batch = await receiver.receiveMessages(expected - out.length, { maxWaitTimeInMs: 5000 });
        if (batch.length === 0) break;
        out.push(...batch);
      }
      expect(env.emulator.stats(queue)).toMatchObject({ active: 0, scheduled: 0 });
      return out;
    } finally {
      await receiver.close();
    }
  }

  it('is off unless the queue asks for it (the Service Bus default)', async () => {
    const sender = env.client.createSender('plain');
    await sender.sendMessages({ body: 'a', messageId: 'same' });
    await sender.sendMessages({ body: 'b', messageId: 'same' });
    expect((await drain('plain', 2)).map((m) => m.body)).toEqual(['a', 'b']);
    expect(env.emulator.queueProperties('plain')).toMatchObject({ requiresDuplicateDetection: false, duplicatesDropped: 0 });
    await sender.close();
  });

  it('accepts a repeated MessageId and drops it silently; other parts of the message do not count', async () => {
    const sender = env.client.createSender('dedup');
    await sender.sendMessages({ body: 'first', messageId: 'order-1' });
    // The second send succeeds for the sender, with a different body and properties.
    await expect(sender.sendMessages({ body: 'second', messageId: 'order-1', subject: 'other' })).resolves.toBeUndefined();
    await sender.sendMessages({ body: 'third', messageId: 'order-2' });
    const got = await drain('dedup', 2);
    expect(got.map((m) => [m.messageId, m.body])).toEqual([
      ['order-1', 'first'],
      ['order-2', 'third'],
    ]);
    expect(env.emulator.queueProperties('dedup')).toMatchObject({
      requiresDuplicateDetection: true,
      duplicateDetectionHistoryTimeWindowMs: 600_000,
      duplicatesDropped: 1,
    });
    await sender.close();
  });

  it('keeps only the first of two messages with one id inside a batch', async () => {
    const sender = env.client.createSender('dedup-batch');
    await sender.sendMessages([
      { body: 1, messageId: 'x' },
      { body: 2, messageId: 'x' },
      { body: 3, messageId: 'y' },
    ]);
    expect((await drain('dedup-batch', 2)).map((m) => m.body)).toEqual([1, 3]);
    await sender.close();
  });

  it('includes scheduled messages, in both orders', async () => {
    const sender = env.client.createSender('dedup-scheduled');
    const soon = new Date(Date.now() + 500);
    const [seq] = await sender.scheduleMessages({ body: 'scheduled first', messageId: 's1' }, soon);
    expect(seq).toBeDefined();
    await sender.sendMessages({ body: 'plain duplicate', messageId: 's1' });
    await sender.sendMessages({ body: 'plain first', messageId: 's2' });
    // The scheduling call succeeds, but nothing is scheduled: cancelling its number finds no message.
    const [dropped] = await sender.scheduleMessages({ body: 'scheduled duplicate', messageId: 's2' }, soon);
    await expect(sender.cancelScheduledMessages(dropped as never)).rejects.toMatchObject({ code: 'MessageNotFound' });
    expect((await drain('dedup-scheduled', 2)).map((m) => m.body).sort()).toEqual(['plain first', 'scheduled first']);
    await sender.close();
  });

  it('is scoped to the queue: the same id on another queue is a different message', async () => {
    const a = env.client.createSender('dedup-other');
    const b = env.client.createSender('dedup');
    await a.sendMessages({ body: 'a', messageId: 'shared-id' });
    await b.sendMessages({ body: 'b', messageId: 'shared-id' });
    expect((await drain('dedup-other', 1)).map((m) => m.body)).toEqual(['a']);
    expect((await drain('dedup', 1)).map((m) => m.body)).toEqual(['b']);
    await a.close();
    await b.close();
  });

  it('remembers ids of messages already consumed or dead-lettered: a re-send with the old id is dropped', async () => {
    const sender = env.client.createSender('dedup-consumed');
    await sender.sendMessages({ body: 'v1', messageId: 'consumed' });
    expect((await drain('dedup-consumed', 1)).map((m) => m.body)).toEqual(['v1']);
    await sender.sendMessages({ body: 'v2', messageId: 'consumed' });
    expect(await drain('dedup-consumed', 0)).toEqual([]);

    // A dead letter re-sent with its own id (a naive replay) is dropped too; the dead-letter queue itself keeps it.
    await sender.sendMessages({ body: 'dl', messageId: 'dead' });
    const receiver = env.client.createReceiver('dedup-consumed');
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 3000 });
    if (!m) throw new Error('no message');
    await receiver.deadLetterMessage(m, { deadLetterReason: 'Test', deadLetterErrorDescription: 'test' });
    await receiver.close();
    await sender.sendMessages({ body: 'dl replay', messageId: 'dead' });
    expect(await drain('dedup-consumed', 0)).toEqual([]);
    expect(env.emulator.stats('dedup-consumed').deadLettered).toBe(1);
    await sender.sendMessages({ body: 'dl replay', messageId: 'dead|replay-1' });
    expect((await drain('dedup-consumed', 1)).map((m) => m.body)).toEqual(['dl replay']);
    await sender.close();
  });
});

describe('Service Bus endpoint: duplicate detection window and settings', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('forgets an id once the history window has passed', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
    const options = resolveQueueOptions({ name: 'q', requiresDuplicateDetection: true, duplicateDetectionHistoryTimeWindowMs: 20_000 });
    const deadLetters = new MessageEntity('q/$deadletterqueue', () => options, undefined);
    const queue = new MessageEntity('q', () => options, deadLetters);
    queue.enqueue({ message_id: 'm', body: 1 });
    vi.setSystemTime(new Date('2026-01-01T00:00:19.999Z'));
    queue.enqueue({ message_id: 'm', body: 2 });
    expect(queue.stats().active).toBe(1);
    expect(queue.duplicatesDropped).toBe(1);
    // The dropped duplicate did not restart the window: it runs from the first send.
    vi.setSystemTime(new Date('2026-01-01T00:00:20.001Z'));
    queue.enqueue({ message_id: 'm', body: 3 });
    expect(queue.stats().active).toBe(2);
    // Ids of different AMQP types are different ids.
    queue.enqueue({ message_id: Buffer.from('m'), body: 4 });
    expect(queue.stats().active).toBe(3);
  });

  it('keeps the documented window bounds and refuses to switch detection on an existing queue', () => {
    expect(() => new ServiceBusEmulator({ queues: [{ name: 'q', duplicateDetectionHistoryTimeWindowMs: 19_999 }] })).toThrow(
      /duplicateDetectionHistoryTimeWindowMs/,
    );
    expect(
      () => new ServiceBusEmulator({ queues: [{ name: 'q', duplicateDetectionHistoryTimeWindowMs: 7 * 24 * 3_600_000 + 1 }] }),
    ).toThrow(/duplicateDetectionHistoryTimeWindowMs/);
    const emulator = new ServiceBusEmulator({ queues: [{ name: 'q', requiresDuplicateDetection: true }] });
    expect(() => emulator.declareQueue({ name: 'q', requiresDuplicateDetection: false })).toThrow(/cannot be changed/);
    // The window may change (az servicebus queue update --duplicate-detection-history-time-window).
    emulator.declareQueue({ name: 'q', requiresDuplicateDetection: true, duplicateDetectionHistoryTimeWindowMs: 60_000 });
    expect(emulator.queueProperties('q').duplicateDetectionHistoryTimeWindowMs).toBe(60_000);
  });
});
