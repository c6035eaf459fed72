import path from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFunctionsHost } from '../../dev/local-host/host';
import { ServiceBusEmulator } from '../../dev/servicebus';
import { until } from '../support/until';
import { fixture } from './fixture';

const fixtures = path.join(__dirname, 'fixtures');

describe('local Functions host: Service Bus triggers and outputs over the real SDK and endpoint', () => {
  let sb: ServiceBusEmulator;
  let host: LocalFunctionsHost;
  let client: ServiceBusClient;

  beforeAll(async () => {
    sb = new ServiceBusEmulator({
      port: 0,
      queues: [
        { name: 'orders', maxDeliveryCount: 5 },
        { name: 'orders-forwarded' },
        { name: 'poison', maxDeliveryCount: 3 },
        { name: 'http-out' },
      ],
    });
    await sb.start();
    host = await new LocalFunctionsHost({
      modules: [path.join(fixtures, 'servicebus-functions.ts'), path.join(fixtures, 'http-functions.ts')],
      port: 0,
      env: { SERVICEBUS_CONNECTION: sb.connectionString, ORDERS_QUEUE: 'orders' },
      log: () => undefined,
    }).start();
    client = new ServiceBusClient(sb.connectionString);
  });
  afterAll(async () => {
    await client?.close();
    await host?.stop();
    await sb?.stop();
  });

  it('declares every queue its functions trigger on or send to', () => {
    expect(host.queueNames().sort()).toEqual(['http-out', 'orders', 'orders-forwarded', 'poison']);
  });

  it('runs the trigger for a message sent with the SDK, completes it and fills triggerMetadata', async () => {
    const { received } = await fixture<typeof import('./fixtures/servicebus-functions')>('servicebus-functions.ts');
    const sender = client.createSender('orders');
    await sender.sendMessages({
      body: { orderId: 'SO-1001', amount: 12.5 },
      messageId: 'msg-1',
      correlationId: 'corr-1',
      contentType: 'application/json',
      subject: 'order-created',
      applicationProperties: { source: 'bc', attempt: 1 },
    });
    await sender.close();

    const seen = await until('the trigger to run', () => received.find((r) => (r.message as { orderId?: string }).orderId === 'SO-1001'));
    expect(seen.message).toEqual({ orderId: 'SO-1001', amount: 12.5 });
    expect(seen.metadata).toMatchObject({
      messageId: 'msg-1',
      deliveryCount: 1,
      correlationId: 'corr-1',
      contentType: 'application/json',
      subject: 'order-created',
      label: 'order-created',
      applicationProperties: { source: 'bc', attempt: 1 },
      userProperties: { source: 'bc', attempt: 1 },
      lockToken: expect.stringMatching(/^[0-9a-f-]{36}$/),
      enqueuedTimeUtc: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });
    expect(typeof seen.metadata?.sequenceNumber).toBe('number');

    // Completed: nothing active, locked or dead-lettered on the trigger queue.
    await until('the message to be completed', () => {
      const s = sb.stats('orders');
      return s.active === 0 && s.locked === 0 ? s : undefined;
    });
    expect(sb.stats('orders')).toMatchObject({ active: 0, locked: 0, deadLettered: 0 });

    // The $return output binding forwarded the message.
    const receiver = client.createReceiver('orders-forwarded', { receiveMode: 'receiveAndDelete' });
    const [forwarded] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    await receiver.close();
    expect(forwarded?.body).toEqual({ forwarded: { orderId: 'SO-1001', amount: 12.5 } });
  });

  it('abandons on a throw until the broker dead-letters with MaxDeliveryCountExceeded', async () => {
    const { poisonAttempts } = await fixture<typeof import('./fixtures/servicebus-functions')>('servicebus-functions.ts');
    const sender = client.createSender('poison');
    await sender.sendMessages({ body: 'not processable', messageId: 'poison-1' });
    await sender.close();

    await until('the message to reach the dead-letter queue', () => (sb.stats('poison').deadLettered === 1 ? true : undefined));
    expect(poisonAttempts).toEqual([1, 2, 3]);
    expect(sb.stats('poison')).toMatchObject({ active: 0, locked: 0, deadLettered: 1 });
    expect(host.invocations('poisonHandler').map((r) => r.succeeded)).toEqual([false, false, false]);

    const dlq = client.createReceiver('poison', { subQueueType: 'deadLetter', receiveMode: 'receiveAndDelete' });
    const [dead] = await dlq.receiveMessages(1, { maxWaitTimeInMs: 5_000 });
    await dlq.close();
    expect(dead?.messageId).toBe('poison-1');
    expect(dead?.deadLetterReason).toBe('MaxDeliveryCountExceeded');
  });

  it('sends extraOutputs of an HTTP function, one message per array element', async () => {
    const res = await fetch(host.apiUrl('enqueue'), { method: 'POST', body: JSON.stringify({ orderId: 'SO-7' }) });
    expect(res.status).toBe(202);
    const receiver = client.createReceiver('http-out', { receiveMode: 'receiveAndDelete' });
    const bodies: unknown[] = [];
    await until('both output messages', async () => {
      for (const m of await receiver.receiveMessages(2, { maxWaitTimeInMs: 500 })) bodies.push(m.body);
      return bodies.length >= 2 ? true : undefined;
    });
    await receiver.close();
    expect(bodies).toEqual([
      { orderId: 'SO-7', n: 1 },
      { orderId: 'SO-7', n: 2 },
    ]);
  });
});
