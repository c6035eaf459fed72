import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import { describe, expect, it } from 'vitest';
import { ServiceBusEmulator } from '../../dev/servicebus';
import { until } from '../support/until';
import { startEmulator } from './helpers';

describe('Service Bus emulator: subscribe, restart and configuration', () => {
  it('subscribe() with autoComplete: a throwing handler causes a redelivery, success completes', async () => {
    const env = await startEmulator([{ name: 'handler', maxDeliveryCount: 5 }]);
    try {
      await env.client.createSender('handler').sendMessages([{ body: 'a' }, { body: 'b' }, { body: 'c' }]);
      const handled: Array<[unknown, number | undefined]> = [];
      const errors: unknown[] = [];
      const receiver = env.client.createReceiver('handler');
      const subscription = receiver.subscribe(
        {
          async processMessage(m: ServiceBusReceivedMessage) {
            if (m.body === 'b' && m.deliveryCount === 0) throw new Error('transient failure');
            handled.push([m.body, m.deliveryCount]);
          },
          async processError(args) {
            errors.push(args.error);
          },
        },
        // One at a time, as the local Functions host settles (see the rhea caveat in local-stack.md).
        { autoCompleteMessages: true, maxConcurrentCalls: 1 },
      );
      await until('all three messages handled', () => handled.length === 3);
      await until('queue drained', () => {
        const s = env.emulator.stats('handler');
        return s.active === 0 && s.locked === 0;
      });
      await subscription.close();
      expect(handled).toEqual(
        expect.arrayContaining([
          ['a', 0],
          ['c', 0],
          ['b', 1],
        ]),
      );
      // The thrown error is reported to processError, nothing else went wrong.
      expect(errors.map((e) => (e as Error).message)).toEqual(['transient failure']);
      expect(env.emulator.stats('handler').deadLettered).toBe(0);
    } finally {
      await env.close();
    }
  });

  it('keeps messages across stop() and start() on the same port, and SDK clients reconnect', async () => {
    const env = await startEmulator([{ name: 'outage' }]);
    try {
      const sender = env.client.createSender('outage');
      await sender.sendMessages([{ body: 'before-1' }, { body: 'before-2' }]);
      const port = env.emulator.port;
      const received: unknown[] = [];
      const errors: Array<{ code?: string }> = [];
      // A long-lived subscriber, like the Functions host's Service Bus trigger.
      const subscription = env.client.createReceiver('outage').subscribe(
        {
          async processMessage(m) {
            received.push(m.body);
          },
          async processError(args) {
            errors.push(args.error as { code?: string });
          },
        },
        { maxConcurrentCalls: 1 },
      );
      await until('messages from before the outage', () => received.length === 2);

      await env.emulator.stop();
      expect(env.emulator.isRunning()).toBe(false);
      // The client hears about the outage (the emulator closes connections with amqp:connection:forced).
      await until('the subscriber to report the outage', () => errors.length > 0);
      await env.emulator.start();
      expect(env.emulator.isRunning()).toBe(true);
      expect(env.emulator.port).toBe(port);

      // The same client's sender and subscriber carry on over new connections.
      await sender.sendMessages({ body: 'after' });
      await until('the message sent after the outage', () => received.includes('after'));
      await subscription.close();
      expect(received).toEqual(['before-1', 'before-2', 'after']);
      expect(env.emulator.stats('outage')).toMatchObject({ active: 0, locked: 0 });
    } finally {
      await env.close();
    }
  });

  it('keeps unreceived messages across a restart and serves them to a new client', async () => {
    const env = await startEmulator([{ name: 'kept' }]);
    try {
      await env.client.createSender('kept').sendMessages([{ body: 'k1' }, { body: 'k2' }]);
      await env.client.close();
      await env.emulator.stop();
      expect(env.emulator.stats('kept').active).toBe(2);
      await env.emulator.start();
      const fresh = new ServiceBusClient(env.emulator.connectionString);
      try {
        const got = await fresh.createReceiver('kept', { receiveMode: 'receiveAndDelete' }).receiveMessages(2, { maxWaitTimeInMs: 5000 });
        expect(got.map((m) => m.body)).toEqual(['k1', 'k2']);
      } finally {
        await fresh.close();
      }
    } finally {
      await env.emulator.stop();
    }
  });

  it('refuses a taken port with a message naming it', async () => {
    const first = new ServiceBusEmulator({ port: 0, queues: [] });
    await first.start();
    try {
      const second = new ServiceBusEmulator({ port: first.port, queues: [] });
      await expect(second.start()).rejects.toThrow(`port ${first.port} is already in use`);
      expect(second.isRunning()).toBe(false);
    } finally {
      await first.stop();
    }
  });

  it('validates options and names every bad field', () => {
    expect(() => new ServiceBusEmulator({ host: '10.0.0.5', queues: [] })).toThrow(/loopback[\s\S]*at host/);
    expect(() => new ServiceBusEmulator({ queues: [{ name: 'bad name!', maxDeliveryCount: 0 }] })).toThrow(
      /queues\[0\]\.name[\s\S]*queues\[0\]\.maxDeliveryCount/,
    );
    const emulator = new ServiceBusEmulator({ queues: [] });
    expect(() => emulator.declareQueue({ name: 'q', lockDurationMs: -1 })).toThrow(/lockDurationMs/);
  });

  it('declareQueue adds queues at run time and updates options of existing ones', async () => {
    const env = await startEmulator([{ name: 'declared', maxDeliveryCount: 10 }]);
    try {
      env.emulator.declareQueue({ name: 'declared-later' });
      await env.client.createSender('declared-later').sendMessages({ body: 'x' });
      expect(env.emulator.stats('declared-later').active).toBe(1);

      env.emulator.declareQueue({ name: 'declared', maxDeliveryCount: 1 });
      await env.client.createSender('declared').sendMessages({ body: 'once' });
      const receiver = env.client.createReceiver('declared');
      const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
      if (!m) throw new Error('no message');
      await receiver.abandonMessage(m);
      expect(env.emulator.stats('declared')).toMatchObject({ active: 0, deadLettered: 1 });
    } finally {
      await env.close();
    }
  });

  it('reports the emulator-form connection string', () => {
    const emulator = new ServiceBusEmulator({ port: 5999, queues: [] });
    expect(emulator.connectionString).toBe(
      'Endpoint=sb://127.0.0.1:5999;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;',
    );
    expect(emulator.isRunning()).toBe(false);
  });
});
