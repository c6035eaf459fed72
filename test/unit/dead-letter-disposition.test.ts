import { describe, expect, it } from 'vitest';
import type { DeadLetter } from '../../shared/adapters/servicebus/dead-letters';
import { retryDisposition } from '../../shared/operations/dead-letters';
import { OPERATIONAL_QUEUE } from '../../shared/queues';

const NOW = new Date('2026-02-01T12:00:00Z');
const POLICIES = { MaxDeliveryCountExceeded: { maxReplays: 5, baseDelayMs: 0, maxDelayMs: 0 } };

function deadLetter(queue: string, body: unknown): DeadLetter {
  return { queue, sequenceNumber: '1', reason: 'MaxDeliveryCountExceeded', replayCount: 0, kind: 'change-event', body };
}

const EVENT = {
  v: 1,
  mapping: 'CUSTOMER',
  source: 'bc',
  recordId: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
  changeType: 'updated',
  origin: 'webhook',
  correlationId: 'c1',
  observedAt: '2026-01-01T00:00:00Z',
  deferrals: 0,
};

describe('the dead-letter timer and a body its worker cannot read', () => {
  it('re-drives an exhausted message its worker can read', () => {
    expect(retryDisposition(deadLetter('sync-customer', EVENT), NOW, POLICIES).action).toBe('replay');
    expect(retryDisposition(deadLetter(OPERATIONAL_QUEUE.salesOrders, { salesOrderId: EVENT.recordId }), NOW, POLICIES).action).toBe(
      'replay',
    );
  });

  it.each([
    ['sync-customer', { ...EVENT, recordId: 'CUST-10000' }],
    [OPERATIONAL_QUEUE.salesOrders, { salesOrderId: 'SO-1001' }],
    [OPERATIONAL_QUEUE.salesOrders, 'create order SO-1002'],
    [OPERATIONAL_QUEUE.fullSync, { runId: 42 }],
    [OPERATIONAL_QUEUE.bcCollection, { v: 1, entitySet: 'customers' }],
  ])('leaves one on %s for a person: %j', (queue, body) => {
    expect(retryDisposition(deadLetter(queue, body), NOW, POLICIES)).toEqual({ action: 'leave' });
  });
});
