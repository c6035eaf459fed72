import type { ServiceBusReceivedMessage } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../support/until';
import { startEmulator } from './helpers';

describe('Service Bus emulator: settlement, dead-lettering, deferral and scheduling', () => {
  let env: Awaited<ReturnType<typeof startEmulator>>;
  beforeAll(async () => {
    env = await startEmulator([
      { name: 'abandon', maxDeliveryCount: 5 },
      { name: 'poison', maxDeliveryCount: 3 },
      { name: 'explicit-dlq' },
      { name: 'dlq-settle' },
      { name: 'deferral' },
      { name: 'scheduling' },
      { name: 'scheduling-annotated' },
      { name: 'expiring', defaultMessageTtlMs: 150, deadLetteringOnMessageExpiration: true },
      { name: 'expiring-drop' },
    ]);
  });
  afterAll(async () => {
    await env.close();
  });

  async function receiveOne(queue: string, subQueueType?: 'deadLetter'): Promise<ServiceBusReceivedMessage> {
    const receiver = env.client.createReceiver(queue, subQueueType ? { subQueueType } : {});
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    if (!m) throw new Error(`no message on ${queue}${subQueueType ? ' (dead-letter)' : ''}`);
    return m;
  }

  it('abandon makes the message available again with a higher delivery count and modified properties', async () => {
    await env.client.createSender('abandon').sendMessages({ body: 'again', applicationProperties: { attempt: 'first' } });
    const receiver = env.client.createReceiver('abandon');
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
      if (!m) throw new Error('message not redelivered');
      counts.push(m.deliveryCount ?? -1);
      if (i < 2) await receiver.abandonMessage(m, { attempt: `after-${i}` });
      else {
        expect(m.applicationProperties).toEqual({ attempt: 'after-1' });
        await receiver.completeMessage(m);
      }
    }
    expect(counts).toEqual([0, 1, 2]);
    expect(env.emulator.stats('abandon')).toMatchObject({ active: 0, deadLettered: 0 });
  });

  it('moves a message to the dead-letter queue after maxDeliveryCount deliveries', async () => {
    await env.client.createSender('poison').sendMessages({ body: 'poison', messageId: 'p-1' });
    const receiver = env.client.createReceiver('poison');
    let deliveries = 0;
    while (env.emulator.stats('poison').deadLettered === 0) {
      const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2000 });
      if (!m) break;
      deliveries++;
      await receiver.abandonMessage(m);
    }
    expect(deliveries).toBe(3);
    expect(env.emulator.stats('poison')).toMatchObject({ active: 0, deadLettered: 1 });
    const dead = await receiveOne('poison', 'deadLetter');
    expect(dead).toMatchObject({
      body: 'poison',
      messageId: 'p-1',
      deadLetterReason: 'MaxDeliveryCountExceeded',
      deadLetterSource: 'poison',
    });
    expect(dead.deadLetterErrorDescription).toMatch(/3 delivery attempts/);
  });

  it('dead-letters with reason and description, readable from both dead-letter addresses and by peek', async () => {
    await env.client.createSender('explicit-dlq').sendMessages([{ body: 'bad-1' }, { body: 'bad-2' }]);
    const receiver = env.client.createReceiver('explicit-dlq');
    const got = await receiver.receiveMessages(2, { maxWaitTimeInMs: 5000 });
    for (const m of got) {
      await receiver.deadLetterMessage(m, { deadLetterReason: 'MappingFailed', deadLetterErrorDescription: `no map for ${m.body}` });
    }
    expect(env.emulator.stats('explicit-dlq')).toMatchObject({ active: 0, deadLettered: 2 });

    const peeked = await env.client.createReceiver('explicit-dlq', { subQueueType: 'deadLetter' }).peekMessages(10);
    expect(peeked.map((m) => [m.body, m.deadLetterReason])).toEqual([
      ['bad-1', 'MappingFailed'],
      ['bad-2', 'MappingFailed'],
    ]);

    const viaSubQueue = await receiveOne('explicit-dlq', 'deadLetter');
    expect(viaSubQueue).toMatchObject({ body: 'bad-1', deadLetterReason: 'MappingFailed', deadLetterErrorDescription: 'no map for bad-1' });
    const byPath = env.client.createReceiver('explicit-dlq/$deadletterqueue');
    const [viaPath] = await byPath.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    expect(viaPath).toMatchObject({ body: 'bad-2', deadLetterErrorDescription: 'no map for bad-2' });
  });

  it('completes and re-dead-letters messages received from the dead-letter queue (replay tooling)', async () => {
    await env.client.createSender('dlq-settle').sendMessages([{ body: 'replayed' }, { body: 'still-bad' }]);
    const receiver = env.client.createReceiver('dlq-settle');
    for (const m of await receiver.receiveMessages(2, { maxWaitTimeInMs: 5000 })) {
      await receiver.deadLetterMessage(m, { deadLetterReason: 'First', deadLetterErrorDescription: 'first failure' });
    }
    const dlq = env.client.createReceiver('dlq-settle', { subQueueType: 'deadLetter' });
    const [replayed, stillBad] = await dlq.receiveMessages(2, { maxWaitTimeInMs: 5000 });
    if (!replayed || !stillBad) throw new Error('expected two dead-lettered messages');
    expect(env.emulator.stats('dlq-settle').deadLettered).toBe(2);
    await dlq.completeMessage(replayed);
    await dlq.deadLetterMessage(stillBad, { deadLetterReason: 'Second', deadLetterErrorDescription: 'replay failed' });
    expect(env.emulator.stats('dlq-settle').deadLettered).toBe(1);
    const [again] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    expect(again).toMatchObject({ body: 'still-bad', deadLetterReason: 'Second', deadLetterErrorDescription: 'replay failed' });
  });

  it('defers a message, peeks it as deferred, receives it by sequence number and completes it via $management', async () => {
    await env.client.createSender('deferral').sendMessages([{ body: 'later' }, { body: 'now' }]);
    const receiver = env.client.createReceiver('deferral');
    const [later] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    if (!later?.sequenceNumber) throw new Error('no message');
    await receiver.deferMessage(later);
    expect(env.emulator.stats('deferral')).toMatchObject({ active: 1, deferred: 1, locked: 0 });

    // The deferred message is skipped by normal receives.
    const [now] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    expect(now?.body).toBe('now');
    if (now) await receiver.completeMessage(now);

    const peeked = await receiver.peekMessages(5);
    expect(peeked.map((m) => [m.body, m.state])).toEqual([['later', 'deferred']]);

    const [deferred] = await receiver.receiveDeferredMessages([later.sequenceNumber]);
    expect(deferred).toMatchObject({ body: 'later', state: 'deferred', deliveryCount: 1 });
    expect(deferred?.lockToken).toMatch(/^[0-9a-f-]{36}$/);
    expect(env.emulator.stats('deferral')).toMatchObject({ deferred: 1, locked: 1 });
    if (deferred) await receiver.completeMessage(deferred);
    expect(env.emulator.stats('deferral')).toMatchObject({ active: 0, deferred: 0, locked: 0 });
    await expect(receiver.receiveDeferredMessages([later.sequenceNumber])).rejects.toMatchObject({ code: 'MessageNotFound' });
  });

  it('holds scheduled messages until their time and cancels scheduled messages', async () => {
    const sender = env.client.createSender('scheduling');
    const at = new Date(Date.now() + 600);
    const [kept, cancelled] = await sender.scheduleMessages([{ body: 'kept' }, { body: 'cancelled' }], at);
    if (!kept || !cancelled) throw new Error('no sequence numbers');
    expect(env.emulator.stats('scheduling')).toMatchObject({ scheduled: 2, active: 0 });
    const peeked = await env.client.createReceiver('scheduling').peekMessages(5);
    expect(peeked.map((m) => m.state)).toEqual(['scheduled', 'scheduled']);

    await sender.cancelScheduledMessages(cancelled);
    expect(env.emulator.stats('scheduling').scheduled).toBe(1);
    await expect(sender.cancelScheduledMessages(cancelled)).rejects.toMatchObject({ code: 'MessageNotFound' });

    const [m] = await env.client.createReceiver('scheduling').receiveMessages(1, { maxWaitTimeInMs: 10_000 });
    expect(m?.body).toBe('kept');
    expect(m?.sequenceNumber?.toNumber()).toBe(kept.toNumber());
    expect(m?.enqueuedTimeUtc?.getTime()).toBeGreaterThanOrEqual(at.getTime());
    expect(m?.scheduledEnqueueTimeUtc?.getTime()).toBe(at.getTime());
  });

  it('schedules through the x-opt-scheduled-enqueue-time annotation on a plain send', async () => {
    const at = new Date(Date.now() + 300);
    await env.client.createSender('scheduling-annotated').sendMessages({ body: 'annotated', scheduledEnqueueTimeUtc: at });
    expect(env.emulator.stats('scheduling-annotated')).toMatchObject({ scheduled: 1, active: 0 });
    await until('scheduled message to activate', () => env.emulator.stats('scheduling-annotated').active === 1);
    expect(Date.now()).toBeGreaterThanOrEqual(at.getTime());
  });

  it('dead-letters expired messages when the queue asks for it, and drops them otherwise', async () => {
    await env.client.createSender('expiring').sendMessages({ body: 'stale' });
    await env.client.createSender('expiring-drop').sendMessages({ body: 'stale', timeToLive: 100 });
    await until('expiry to dead-letter', () => env.emulator.stats('expiring').deadLettered === 1);
    const dead = await receiveOne('expiring', 'deadLetter');
    expect(dead).toMatchObject({ body: 'stale', deadLetterReason: 'TTLExpiredException' });
    await until('expiry to drop', () => env.emulator.stats('expiring-drop').active === 0);
    expect(env.emulator.stats('expiring-drop').deadLettered).toBe(0);
  });
});
