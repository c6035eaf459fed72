import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeEventSchema } from '../../shared/domain/change-event';
import { getRuntime } from '../../shared/runtime';
import { until } from '../support/until';
import { activeCount, fn, receiveAll, type Stack, startStack } from './harness';

/**
 * BC → Service Bus through the real pieces: the BC simulator's webhook sender, the local Functions host running
 * functions/bc-webhook.ts, bc-subscriptions.ts (run on start-up) and bc-collection.ts, the Service Bus endpoint and Azurite.
 */
describe('BC webhooks into change events', () => {
  let s: Stack;
  let bcUrl: string;
  /** Records the collection test published, in the state they still have. */
  const firstBurst = new Set<string>();

  beforeAll(async () => {
    s = await startStack({
      functions: [fn('bc-webhook'), fn('bc-subscriptions'), fn('bc-collection')],
      dv: false,
      // BC retries after 1, 1, 1, 10, 100 minutes; scaled down so the outage test takes a second.
      bc: { webhookDelayMs: 50, retrySchedule: [400, 400, 400, 400, 400] },
    });
    const bc = s.bc;
    if (!bc) throw new Error('no BC simulator');
    bcUrl = bc.apiBase();
    // runOnStartup subscribed every mapped resource that supports webhooks.
    await until('the customers subscription', () =>
      bc.webhooks
        .list()
        .find((sub) => sub.resource.endsWith('/customers') && sub.notificationUrl === `${process.env.PUBLIC_BASE_URL}/api/webhooks/bc`),
    );
  });
  afterAll(async () => {
    await s?.stop();
  });

  const anyCustomerId = async (): Promise<string> => {
    const res = await fetch(`${bcUrl}/customers?$top=1&$select=id`, { headers: { Authorization: 'Bearer t' } });
    const body = (await res.json()) as { value: Array<{ id: string }> };
    const id = body.value[0]?.id;
    if (!id) throw new Error('the demo company has no customer');
    return id;
  };
  const quiet = () => until('BC to deliver everything pending', () => (s.bc?.webhooks.pendingCount() === 0 ? true : undefined));

  it('turns one customer change into exactly one event on the CUSTOMER queue, answered 202', async () => {
    const id = await anyCustomerId();
    const res = await fetch(`${s.bc?.url}/_sim/as-user`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ method: 'PATCH', entitySet: 'customers', id, body: { displayName: 'Changed by a BC user' } }),
    });
    expect(res.status).toBe(200);
    const [message] = await receiveAll(s.sbClient, 'sync-customer', 1);
    const event = changeEventSchema.parse(message?.body);
    expect(event).toMatchObject({
      mapping: 'CUSTOMER',
      source: 'bc',
      recordId: id.toLowerCase(),
      changeType: 'updated',
      origin: 'webhook',
    });
    expect(event.modifiedOn).toBeDefined();
    await quiet();
    const delivery = s.bc?.webhooks.deliveries.find((d) => d.body.value.some((v) => v.resource.includes(id)));
    expect(delivery?.status).toBe(202);
    expect(activeCount(s.sb, 'sync-customer')).toBe(0);
  });

  it('expands a collection notification (more than 1,000 changes) into one event per changed record', async () => {
    const bc = s.bc;
    if (!bc) throw new Error('no BC simulator');
    const ids = new Set<string>();
    // One synchronous burst lands in one 50 ms notification window: BC sends a single `collection` item.
    for (let i = 0; i < 1_050; i++)
      ids.add(String(bc.store.insert(bc.companyId, 'customer', { displayName: `Burst ${i}` }, 'user').data.id).toLowerCase());
    const messages = await receiveAll(s.sbClient, 'sync-customer', ids.size, 30_000);
    const delivery = bc.webhooks.deliveries.find((d) => d.body.value.some((v) => v.changeType === 'collection'));
    expect(delivery?.body.value).toHaveLength(1);
    expect(delivery?.body.value[0]?.resource).toContain('$filter=lastModifiedDateTime');
    expect(delivery?.status).toBe(202);
    const events = messages.map((m) => changeEventSchema.parse(m.body));
    expect(new Set(events.map((e) => e.recordId))).toEqual(ids);
    expect(events.every((e) => e.origin === 'collection' && e.mapping === 'CUSTOMER')).toBe(true);
    for (const id of ids) firstBurst.add(id);
    await quiet();
    expect(activeCount(s.sb, 'sync-customer')).toBe(0);
  });

  it('re-reads the whole collection when a delete was in the burst: deletions of coupled records, unchanged coupled records skipped', async () => {
    const bc = s.bc;
    if (!bc) throw new Error('no BC simulator');
    await until('earlier notifications to be delivered', () => (bc.webhooks.pendingCount() === 0 ? true : undefined));
    const runtime = await getRuntime();
    const res = await fetch(`${bcUrl}/customers?$select=id,lastModifiedDateTime&$top=2`, { headers: { Authorization: 'Bearer t' } });
    const [kept, deleted] = ((await res.json()) as { value: Array<{ id: string; lastModifiedDateTime: string }> }).value;
    if (!kept || !deleted) throw new Error('need two customers');
    // Both were synced in their current state.
    for (const [i, c] of [kept, deleted].entries())
      await runtime.stores.couplings.couple({
        mapping: 'CUSTOMER',
        bcId: c.id,
        dataverseId: `0000000${i}-0000-4000-8000-000000000000`,
        bcModifiedOn: c.lastModifiedDateTime,
        environment: runtime.environment,
      });
    bc.webhooks.deliveries.length = 0;
    // A delete among the changes makes BC drop the filter (api-contracts.md D.4).
    bc.store.delete(bc.companyId, 'customer', deleted.id, 'user');
    for (let i = 0; i < 1_050; i++) bc.store.insert(bc.companyId, 'customer', { displayName: `Second burst ${i}` }, 'user');
    const listed = await fetch(`${bcUrl}/customers?$select=id`, {
      headers: { Authorization: 'Bearer t', Prefer: 'odata.maxpagesize=20000' },
    });
    const all = ((await listed.json()) as { value: Array<{ id: string }> }).value.map((c) => c.id.toLowerCase());
    // Every customer but the unchanged coupled one, plus the deletion. The first burst's records were published
    // by the previous test in the state they still have, with the same message ids: duplicate detection (on, as
    // in Azure) drops those repeats, and nothing is lost because the first copies were enqueued.
    const republished = all.filter((id) => id !== kept.id.toLowerCase() && !firstBurst.has(id));
    const expected = republished.length + 1;
    const messages = await receiveAll(s.sbClient, 'sync-customer', expected, 30_000);
    const delivery = bc.webhooks.deliveries.find((d) => d.body.value.some((v) => v.changeType === 'collection'));
    expect(delivery?.body.value[0]?.resource).not.toContain('$filter');
    const events = messages.map((m) => changeEventSchema.parse(m.body));
    expect(events).toHaveLength(expected);
    expect(events.filter((e) => e.changeType === 'deleted').map((e) => e.recordId)).toEqual([deleted.id.toLowerCase()]);
    expect(events.some((e) => e.recordId === kept.id.toLowerCase())).toBe(false);
    expect(new Set(events.filter((e) => e.changeType !== 'deleted').map((e) => e.recordId))).toEqual(new Set(republished));
    expect(s.sb.queueProperties('sync-customer').duplicatesDropped).toBeGreaterThanOrEqual(firstBurst.size);
    await until('BC to deliver everything pending', () => (bc.webhooks.pendingCount() === 0 ? true : undefined));
    expect(activeCount(s.sb, 'sync-customer')).toBe(0);
  });

  it('answers 503 while Service Bus is down, and BC’s retry delivers the change once it is back', async () => {
    const bc = s.bc;
    if (!bc) throw new Error('no BC simulator');
    const id = await anyCustomerId();
    bc.webhooks.deliveries.length = 0;
    await s.sb.stop();
    try {
      bc.store.modify(bc.companyId, 'customer', id, { displayName: 'Changed during an outage' }, 'user');
      await until('a 503 answer to BC', () => (bc.webhooks.deliveries.some((d) => d.status === 503) ? true : undefined));
    } finally {
      await s.sb.start();
    }
    const delivered = await until('BC to retry successfully', () => bc.webhooks.deliveries.find((d) => d.status === 202), 30_000);
    expect(delivered.attempt).toBeGreaterThan(0);
    // The subscription survived: a 503 never deletes it (api-contracts.md D.5).
    expect(bc.webhooks.list().some((sub) => sub.resource.endsWith('/customers'))).toBe(true);
    expect(bc.webhooks.deliveries.every((d) => d.status === undefined || d.status === 202 || d.status === 503)).toBe(true);
    const messages = await receiveAll(s.sbClient, 'sync-customer', 1);
    const event = changeEventSchema.parse(messages[0]?.body);
    expect(event.recordId).toBe(id.toLowerCase());
    // A send that timed out may still land after the endpoint is back; it carries the same message id, which
    // Service Bus duplicate detection collapses in Azure.
    const more = await receiveAll(s.sbClient, 'sync-customer', 10, 500);
    for (const m of more) expect(m.messageId).toBe(messages[0]?.messageId);
  });
});
