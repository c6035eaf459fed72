import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../shared/adapters/servicebus/dead-letters';
import { queueNameFor } from '../../shared/domain/mappings/queue';
import { OPERATIONAL_QUEUE, QUEUE_SETTINGS } from '../../shared/queues';
import { getRuntime } from '../../shared/runtime';
import { type Stack, startStack, TEST_LOCAL_KEY } from '../support/stack';
import { until } from '../support/until';
import { adminClient } from './helpers';

/**
 * One policy for a message its queue's schema refuses, on every Service Bus trigger (functions/lib/servicebus.ts):
 * never completed, so nothing is dropped; dead-lettered by the broker after the last delivery, intact, on the admin
 * page's dead-letter list; and an EVENT.INVALID error row saying why.
 */
let stack: Stack;
let sb: ServiceBusClient;
let admin: ReturnType<typeof adminClient>;

beforeAll(async () => {
  stack = await startStack({
    functions: ['admin-api', 'bc-collection', 'full-sync', 'sales-orders', 'sync'],
    bc: { seed: 'empty' },
    dataverse: { seed: 'empty' },
  });
  sb = new ServiceBusClient(stack.serviceBus.connectionString);
  admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
});

afterAll(async () => {
  await sb?.close();
  await stack?.stop();
});

const BAD: Array<[queue: string, body: unknown, contentType: string]> = [
  // A collection work item without its mappings, subscription and resource.
  [OPERATIONAL_QUEUE.bcCollection, { v: 1, entitySet: 'customers' }, 'application/json'],
  // A full-sync item whose run id is a number.
  [OPERATIONAL_QUEUE.fullSync, { runId: 42, mapping: 'CUSTOMER' }, 'application/json'],
  // A sales order request whose id is not a GUID.
  [OPERATIONAL_QUEUE.salesOrders, { salesOrderId: 'SO-1001' }, 'application/json'],
  // Text that is not JSON at all.
  [OPERATIONAL_QUEUE.salesOrders, 'create order SO-1002', 'text/plain'],
  // A change event whose record id is not a GUID.
  [
    queueNameFor('CUSTOMER'),
    {
      mapping: 'CUSTOMER',
      source: 'bc',
      recordId: 'CUST-10000',
      changeType: 'updated',
      origin: 'webhook',
      correlationId: 'bad-1',
      observedAt: '2026-01-01T00:00:00Z',
    },
    'application/json',
  ],
];

describe('a message its queue cannot read', () => {
  it.each(BAD.map(([queue, body, contentType], i) => ({ queue, body, contentType, messageId: `bad-message-${i}` })))(
    'on $queue ($messageId) is dead-lettered intact, listed, and recorded as EVENT.INVALID',
    async ({ queue, body, contentType, messageId }) => {
      const sender = sb.createSender(queue);
      await sender.sendMessages({ body, contentType, messageId });
      await sender.close();

      const listed = await until(
        `${messageId} on the dead-letter list of ${queue}`,
        async () => (await admin.ok<DeadLetter[]>('GET', `dead-letters?queue=${queue}`)).find((d) => d.messageId === messageId),
        30_000,
      );
      // The broker's own reason: every delivery was abandoned, none completed.
      expect(listed).toMatchObject({ reason: 'MaxDeliveryCountExceeded', deliveryCount: QUEUE_SETTINGS.maxDeliveryCount });
      expect(listed.body).toEqual(body);
      expect(stack.serviceBus.stats(queue).active).toBe(0);

      const rt = await getRuntime();
      const row = await until(`the EVENT.INVALID row of ${messageId}`, async () =>
        (await rt.stores.syncErrors.list({ code: 'EVENT.INVALID' })).items.find((e) =>
          e.message.includes(`Message ${messageId} on ${queue}`),
        ),
      );
      expect(row.category).toBe('data');
      expect(row.values).toMatchObject({ queue });
      expect(row.message).toContain('dead-lettered');
    },
  );
});
