import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../support/until';
import { startEmulator } from './helpers';

// Short locks so expiry is observable within a test; the queue default is one minute.
describe('Service Bus emulator: peek-lock expiry and renewal', () => {
  let env: Awaited<ReturnType<typeof startEmulator>>;
  beforeAll(async () => {
    env = await startEmulator([
      { name: 'expiry', lockDurationMs: 600 },
      { name: 'manual-renew', lockDurationMs: 1500 },
      { name: 'auto-renew', lockDurationMs: 1500 },
      { name: 'mixed-outcomes', lockDurationMs: 1500 },
    ]);
  });
  afterAll(async () => {
    await env.close();
  });

  it('expires a lock: a late complete gets MessageLockLost and the message is redelivered', async () => {
    await env.client.createSender('expiry').sendMessages({ body: 'slow', messageId: 'slow-1' });
    const receiver = env.client.createReceiver('expiry', { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    if (!m) throw new Error('no message');
    expect(env.emulator.stats('expiry').locked).toBe(1);
    await until('lock to expire', () => env.emulator.stats('expiry').locked === 0);
    await expect(receiver.completeMessage(m)).rejects.toMatchObject({ code: 'MessageLockLost' });

    const [again] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    expect(again).toMatchObject({ messageId: 'slow-1', deliveryCount: 1 });
    expect(again?.lockToken).not.toBe(m.lockToken);
    if (again) await receiver.completeMessage(again);
    expect(env.emulator.stats('expiry')).toMatchObject({ active: 0, locked: 0 });
  });

  it('renewMessageLock extends the lock past its original expiry', async () => {
    await env.client.createSender('manual-renew').sendMessages({ body: 'long job' });
    const receiver = env.client.createReceiver('manual-renew', { maxAutoLockRenewalDurationInMs: 0 });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    if (!m?.lockedUntilUtc) throw new Error('no message');
    const original = m.lockedUntilUtc.getTime();
    await until('most of the lock to pass', () => Date.now() > original - 300);
    const renewed = await receiver.renewMessageLock(m);
    expect(renewed.getTime()).toBeGreaterThan(original);
    await until('the original lock time to pass', () => Date.now() > original + 200);
    expect(env.emulator.stats('manual-renew').locked).toBe(1);
    await receiver.completeMessage(m);
    expect(env.emulator.stats('manual-renew')).toMatchObject({ active: 0, locked: 0 });
  });

  it("keeps the lock alive through the SDK's automatic lock renewal", async () => {
    await env.client.createSender('auto-renew').sendMessages({ body: 'auto' });
    const receiver = env.client.createReceiver('auto-renew', { maxAutoLockRenewalDurationInMs: 60_000 });
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    if (!m?.lockedUntilUtc) throw new Error('no message');
    const original = m.lockedUntilUtc.getTime();
    // The SDK writes each renewal's new expiry back onto the message.
    await until('two automatic renewals', () => (m.lockedUntilUtc?.getTime() ?? 0) > original + 1000);
    expect(Date.now()).toBeGreaterThan(original);
    await receiver.completeMessage(m);
    expect(env.emulator.stats('auto-renew')).toMatchObject({ active: 0, locked: 0 });
  });

  it('answers each of two same-tick settlements with its own outcome (rhea disposition-merge caveat)', async () => {
    await env.client.createSender('mixed-outcomes').sendMessages([{ body: 'expired' }, { body: 'valid' }]);
    const receiver = env.client.createReceiver('mixed-outcomes', { maxAutoLockRenewalDurationInMs: 0 });
    const [expired, valid] = await receiver.receiveMessages(2, { maxWaitTimeInMs: 5000 });
    if (!expired?.lockedUntilUtc || !valid) throw new Error('expected two messages');
    const lockedUntil = expired.lockedUntilUtc.getTime();
    // Renewing late leaves the second lock well over a second beyond the first one's expiry.
    await until('most of the lock to pass', () => Date.now() > lockedUntil - 300);
    await receiver.renewMessageLock(valid);
    await until('the first lock to expire', () => env.emulator.stats('mixed-outcomes').locked === 1);
    // Consecutive deliveries on one session, settled in the same tick: the emulator must answer
    // lock-lost for one and success for the other, not one merged outcome for both.
    const [lateResult, okResult] = await Promise.allSettled([receiver.completeMessage(expired), receiver.completeMessage(valid)]);
    expect(lateResult).toMatchObject({ status: 'rejected', reason: { code: 'MessageLockLost' } });
    expect(okResult.status).toBe('fulfilled');
    expect(env.emulator.stats('mixed-outcomes')).toMatchObject({ active: 1, locked: 0 });
  });
});
