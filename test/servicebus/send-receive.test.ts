import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from './helpers';

describe('Service Bus emulator: sending and receiving with the real SDK', () => {
  let env: Awaited<ReturnType<typeof startEmulator>>;
  beforeAll(async () => {
    env = await startEmulator([
      { name: 'roundtrip' },
      { name: 'forms' },
      { name: 'ids' },
      { name: 'delete-mode' },
      { name: 'peeking' },
      { name: 'Mixed-Case' },
      { name: 'long-run' },
      { name: 'partial' },
    ]);
  });
  afterAll(async () => {
    await env.close();
  });

  it('round-trips body and properties and sets broker properties on a peek-lock receive', async () => {
    const sender = env.client.createSender('roundtrip');
    const before = Date.now();
    await sender.sendMessages({
      body: { itemNo: '1000', qty: 3 },
      applicationProperties: { entity: 'item', version: 7, flag: true },
      messageId: 'msg-1',
      correlationId: 'corr-1',
      subject: 'item.changed',
      contentType: 'application/json',
      timeToLive: 120_000,
    });
    const receiver = env.client.createReceiver('roundtrip');
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    expect(m).toBeDefined();
    if (!m) return;
    expect(m.body).toEqual({ itemNo: '1000', qty: 3 });
    expect(m.applicationProperties).toEqual({ entity: 'item', version: 7, flag: true });
    expect(m).toMatchObject({
      messageId: 'msg-1',
      correlationId: 'corr-1',
      subject: 'item.changed',
      contentType: 'application/json',
      timeToLive: 120_000,
      deliveryCount: 0,
      state: 'active',
    });
    expect(m.lockToken).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(m.sequenceNumber?.toNumber()).toBe(1);
    expect(m.enqueuedTimeUtc?.getTime()).toBeGreaterThanOrEqual(before - 5);
    // Default lock duration is one minute.
    expect((m.lockedUntilUtc?.getTime() ?? 0) - (m.enqueuedTimeUtc?.getTime() ?? 0)).toBeGreaterThan(50_000);
    expect(env.emulator.stats('roundtrip')).toEqual({ active: 1, scheduled: 0, deferred: 0, locked: 1, deadLettered: 0 });
    await receiver.completeMessage(m);
    expect(env.emulator.stats('roundtrip')).toMatchObject({ active: 0, locked: 0 });
  });

  it('accepts a single message, an array and a ServiceBusMessageBatch, in order', async () => {
    const sender = env.client.createSender('forms');
    await sender.sendMessages({ body: 'single' });
    await sender.sendMessages([{ body: 'array-1' }, { body: 'array-2' }]);
    const batch = await sender.createMessageBatch();
    // The SDK sizes batches from the max_message_size the emulator puts in its attach (256 KiB).
    expect(batch.maxSizeInBytes).toBe(256 * 1024);
    for (const body of ['batch-1', 'batch-2', 'batch-3']) expect(batch.tryAddMessage({ body })).toBe(true);
    await sender.sendMessages(batch);
    expect(env.emulator.stats('forms').active).toBe(6);

    const receiver = env.client.createReceiver('forms');
    const got = await receiver.receiveMessages(6, { maxWaitTimeInMs: 5000 });
    expect(got.map((m) => m.body)).toEqual(['single', 'array-1', 'array-2', 'batch-1', 'batch-2', 'batch-3']);
    expect(got.map((m) => m.sequenceNumber?.toNumber())).toEqual([1, 2, 3, 4, 5, 6]);
    await Promise.all(got.map((m) => receiver.completeMessage(m)));
    expect(env.emulator.stats('forms').active).toBe(0);
  });

  it('assigns a unique message id when the sender gave none', async () => {
    const sender = env.client.createSender('ids');
    await sender.sendMessages([{ body: 1 }, { body: 2 }]);
    const got = await env.client.createReceiver('ids', { receiveMode: 'receiveAndDelete' }).receiveMessages(2, {
      maxWaitTimeInMs: 5000,
    });
    const ids = got.map((m) => m.messageId);
    expect(ids).toHaveLength(2);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(2);
  });

  it('removes messages on receipt in receiveAndDelete mode, without a lock token', async () => {
    await env.client.createSender('delete-mode').sendMessages([{ body: 'a' }, { body: 'b' }, { body: 'c' }]);
    const receiver = env.client.createReceiver('delete-mode', { receiveMode: 'receiveAndDelete' });
    const got = await receiver.receiveMessages(3, { maxWaitTimeInMs: 5000 });
    expect(got.map((m) => m.body)).toEqual(['a', 'b', 'c']);
    expect(got.every((m) => m.lockToken === undefined)).toBe(true);
    expect(env.emulator.stats('delete-mode')).toMatchObject({ active: 0, locked: 0 });
  });

  it('peeks without locking, paging on from the last peeked sequence number', async () => {
    await env.client.createSender('peeking').sendMessages([{ body: 'p1' }, { body: 'p2' }, { body: 'p3' }]);
    const receiver = env.client.createReceiver('peeking');
    const first = await receiver.peekMessages(2);
    const rest = await receiver.peekMessages(5);
    expect(first.map((m) => m.body)).toEqual(['p1', 'p2']);
    expect(rest.map((m) => m.body)).toEqual(['p3']);
    expect(first[0]?.lockToken).toBeUndefined();
    expect(await receiver.peekMessages(5)).toEqual([]);
    expect(env.emulator.stats('peeking')).toMatchObject({ active: 3, locked: 0 });
    const fromStart = await receiver.peekMessages(1, { fromSequenceNumber: first[1]?.sequenceNumber });
    expect(fromStart.map((m) => m.body)).toEqual(['p2']);
  });

  it('keeps one peek-lock receiver going past 2048 deliveries (rhea session buffer)', async () => {
    const total = 2100;
    const sender = env.client.createSender('long-run');
    for (let i = 0; i < total; i += 300) {
      await sender.sendMessages(Array.from({ length: Math.min(300, total - i) }, (_, j) => ({ body: i + j })));
    }
    const receiver = env.client.createReceiver('long-run');
    let received = 0;
    while (received < total) {
      const got = await receiver.receiveMessages(Math.min(300, total - received), { maxWaitTimeInMs: 5000 });
      if (got.length === 0) break;
      await Promise.all(got.map((m) => receiver.completeMessage(m)));
      received += got.length;
    }
    expect(received).toBe(total);
    expect(env.emulator.stats('long-run')).toMatchObject({ active: 0, locked: 0 });
  });

  it('returns what is there when fewer messages than asked for exist, and locks nothing extra', async () => {
    const sender = env.client.createSender('partial');
    await sender.sendMessages([{ body: 'one' }, { body: 'two' }]);
    const receiver = env.client.createReceiver('partial');
    // The SDK drains its unused credit after the wait; the emulator must answer the drain.
    const got = await receiver.receiveMessages(5, { maxWaitTimeInMs: 300 });
    expect(got.map((m) => m.body)).toEqual(['one', 'two']);
    await sender.sendMessages({ body: 'three' });
    // No credit is left over after the drain, so the new message waits unlocked for the next receive.
    expect(env.emulator.stats('partial')).toMatchObject({ active: 3, locked: 2 });
    const next = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    expect(next.map((m) => m.body)).toEqual(['three']);
    await Promise.all([...got, ...next].map((m) => receiver.completeMessage(m)));
    expect(env.emulator.stats('partial')).toMatchObject({ active: 0, locked: 0 });
  });

  it('resolves queue names case-insensitively, like Service Bus', async () => {
    await env.client.createSender('mixed-case').sendMessages({ body: 'x' });
    expect(env.emulator.stats('MIXED-CASE').active).toBe(1);
  });

  it('answers MessagingEntityNotFound for an unknown queue, on send and on receive', async () => {
    await expect(env.client.createSender('no-such-queue').sendMessages({ body: 'x' })).rejects.toMatchObject({
      code: 'MessagingEntityNotFound',
    });
    await expect(env.client.createReceiver('no-such-queue').receiveMessages(1, { maxWaitTimeInMs: 1000 })).rejects.toMatchObject({
      code: 'MessagingEntityNotFound',
    });
    expect(() => env.emulator.stats('no-such-queue')).toThrow(/Unknown queue 'no-such-queue'/);
  });
});

describe('Service Bus emulator: queue auto-creation', () => {
  it('creates an unknown queue on first use when autoCreateQueues is on', async () => {
    const env = await startEmulator([], { autoCreateQueues: true });
    try {
      await env.client.createSender('made-on-demand').sendMessages({ body: 'hello' });
      expect(env.emulator.stats('made-on-demand').active).toBe(1);
      const [m] = await env.client
        .createReceiver('made-on-demand', { receiveMode: 'receiveAndDelete' })
        .receiveMessages(1, { maxWaitTimeInMs: 5000 });
      expect(m?.body).toBe('hello');
    } finally {
      await env.close();
    }
  });
});
