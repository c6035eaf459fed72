import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BcSimulator, BcSimulatorOptions } from '../../dev/bc-simulator';
import { until } from '../support/until';
import { call, Receiver, startSim } from './bc-simulator-helpers';

let sim: BcSimulator;
let rx: Receiver;

async function setup(opts: BcSimulatorOptions = {}): Promise<void> {
  sim = await startSim({ webhookDelayMs: 300, retrySchedule: [50, 50, 50, 50, 50], ...opts });
  rx = await new Receiver().start();
}

beforeEach(async () => {
  await setup();
});
afterEach(async () => {
  await sim.stop();
  await rx.stop();
});

const customersResource = () => `/api/v2.0/companies(${sim.companyId})/customers`;

async function subscribe(resource = customersResource(), clientState = 'someClientState') {
  return call(`${sim.apiRoot()}/subscriptions`, { method: 'POST', body: { notificationUrl: rx.url, resource, clientState } });
}

async function customerByNumber(no: string) {
  return (await call(`${sim.apiBase()}/customers?$filter=number eq '${no}'`)).body.value[0];
}

describe('subscriptions and the handshake', () => {
  it('creates a subscription only after the validation handshake', async () => {
    const r = await subscribe();
    expect(r.status).toBe(201);
    const hs = rx.handshakes();
    expect(hs).toHaveLength(1);
    expect(hs[0]?.method).toBe('POST');
    expect(hs[0]?.headers.clientstate).toBe('someClientState');
    expect(hs[0]?.headers['content-length']).toBe('0');
    expect(hs[0]?.url).toMatch(/^\/hook\?validationToken=[0-9a-f]+$/);
    const keys = [
      '@odata.context',
      '@odata.etag',
      'subscriptionId',
      'notificationUrl',
      'resource',
      'timestamp',
      'userId',
      'lastModifiedDateTime',
      'clientState',
      'expirationDateTime',
      'systemCreatedAt',
      'systemCreatedBy',
      'systemModifiedAt',
      'systemModifiedBy',
    ];
    expect(Object.keys(r.body)).toEqual(keys);
    expect(r.body.subscriptionId).toMatch(/^[0-9a-f]{32}$/);
    expect(r.body.notificationUrl).toBe(rx.url);
    expect(r.body.resource).toBe(customersResource());
    const expires = Date.parse(r.body.expirationDateTime) - Date.parse(r.body.lastModifiedDateTime);
    expect(Math.abs(expires - 3 * 24 * 3600_000)).toBeLessThanOrEqual(1000);
    expect(r.body.expirationDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const list = await call(`${sim.apiRoot()}/subscriptions`);
    expect(list.body.value).toHaveLength(1);
    const one = await call(`${sim.apiRoot()}/subscriptions('${r.body.subscriptionId}')`);
    expect(one.body.subscriptionId).toBe(r.body.subscriptionId);
  });

  it('appends the token with & when the notification URL has a query', async () => {
    const r = await call(`${sim.apiRoot()}/subscriptions`, {
      method: 'POST',
      body: { notificationUrl: `${rx.url}?code=abc`, resource: customersResource() },
    });
    expect(r.status).toBe(201);
    expect(rx.handshakes()[0]?.url).toMatch(/^\/hook\?code=abc&validationToken=/);
  });

  it('refuses the subscription when the token is not echoed, or not within the deadline', async () => {
    rx.respond = (r) => (r.url.includes('validationToken') ? { status: 200, body: 'wrong' } : undefined);
    const wrong = await subscribe();
    expect(wrong.status).toBe(400);
    expect((await call(`${sim.apiRoot()}/subscriptions`)).body.value).toHaveLength(0);
    await sim.stop();
    await rx.stop();
    await setup({ handshakeTimeoutMs: 200 });
    rx.respond = (r) => {
      const token = new URL(r.url, 'http://x').searchParams.get('validationToken') ?? '';
      return { status: 200, body: token, delayMs: 1000 };
    };
    const slow = await subscribe();
    expect(slow.status).toBe(400);
    expect((await call(`${sim.apiRoot()}/subscriptions`)).body.value).toHaveLength(0);
  });

  it('refuses resources without webhook support and non-loopback URLs', async () => {
    const lines = await subscribe(`/api/v2.0/companies(${sim.companyId})/salesOrderLines`);
    expect(lines.status).toBe(400);
    const contacts = await subscribe(`/api/v2.0/companies(${sim.companyId})/contacts`);
    expect(contacts.status).toBe(400);
    const remote = await call(`${sim.apiRoot()}/subscriptions`, {
      method: 'POST',
      body: { notificationUrl: 'https://contoso.com/myCallbacks', resource: customersResource() },
    });
    expect(remote.status).toBe(400);
    expect(rx.handshakes()).toHaveLength(0);
  });

  it('lists webhookSupportedResources, with contacts and salespeople only when enabled', async () => {
    const url = `${sim.url}/v2.0/${sim.tenantId}/${sim.environmentName}/api/microsoft/runtime/beta/companies(${sim.companyId})/webhookSupportedResources?$filter=resource eq 'v2.0*'`;
    const r = await call(url);
    const names = r.body.value.map((v: { resource: string }) => v.resource);
    expect(names).toEqual(expect.arrayContaining(['v2.0/customers', 'v2.0/items', 'v2.0/salesOrders', 'v2.0/currencies']));
    expect(names).not.toContain('v2.0/contacts');
    expect(names).not.toContain('v2.0/salespeoplePurchasers');
    expect(names.every((n: string) => n.startsWith('v2.0/'))).toBe(true);
    await sim.stop();
    await rx.stop();
    await setup({ webhookContactsAndSalespeople: true });
    const url2 = url.replace(/\/\/127\.0\.0\.1:\d+/, sim.url.replace('http:', ''));
    const names2 = (await call(url2)).body.value.map((v: { resource: string }) => v.resource);
    expect(names2).toEqual(expect.arrayContaining(['v2.0/contacts', 'v2.0/salespeoplePurchasers']));
    expect((await subscribe(`/api/v2.0/companies(${sim.companyId})/contacts`)).status).toBe(201);
  });

  it('enforces the maximum number of subscriptions', async () => {
    await call(`${sim.url}/_sim/settings`, { method: 'POST', body: { maxSubscriptions: 2 } });
    expect((await subscribe()).status).toBe(201);
    expect((await subscribe()).status).toBe(201);
    const third = await subscribe();
    expect(third.status).toBe(400);
  });

  it('renews with PATCH + If-Match (repeating the handshake) and deletes with If-Match', async () => {
    const s = (await subscribe()).body;
    const url = `${sim.apiRoot()}/subscriptions('${s.subscriptionId}')`;
    expect((await call(url, { method: 'PATCH', body: { clientState: 'x' } })).status).toBe(400);
    await call(`${sim.url}/_sim/clock`, { method: 'POST', body: { advanceMs: 24 * 3600_000 } });
    const renewed = await call(url, {
      method: 'PATCH',
      headers: { 'If-Match': s['@odata.etag'] },
      body: { notificationUrl: rx.url, resource: s.resource, clientState: 'renewed' },
    });
    expect(renewed.status).toBe(200);
    expect(rx.handshakes()).toHaveLength(2);
    expect(rx.handshakes()[1]?.headers.clientstate).toBe('renewed');
    expect(Date.parse(renewed.body.expirationDateTime) - Date.parse(s.expirationDateTime)).toBeGreaterThanOrEqual(24 * 3600_000 - 1000);
    const stale = await call(url, { method: 'DELETE', headers: { 'If-Match': s['@odata.etag'] } });
    expect(stale.status).toBe(412);
    expect((await call(url, { method: 'DELETE' })).status).toBe(400);
    const del = await call(url, { method: 'DELETE', headers: { 'If-Match': renewed.body['@odata.etag'] } });
    expect(del.status).toBe(204);
    expect((await call(url)).status).toBe(404);
  });

  it('refuses a renewal whose handshake fails and keeps the old expiry', async () => {
    const s = (await subscribe()).body;
    rx.respond = (r) => (r.url.includes('validationToken') ? { status: 500 } : undefined);
    const url = `${sim.apiRoot()}/subscriptions('${s.subscriptionId}')`;
    const r = await call(url, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { clientState: 'x' } });
    expect(r.status).toBe(400);
    expect((await call(url)).body.expirationDateTime).toBe(s.expirationDateTime);
  });

  it('expires subscriptions after three days on the simulator clock', async () => {
    const s = (await subscribe()).body;
    await call(`${sim.url}/_sim/clock`, { method: 'POST', body: { advanceMs: 3 * 24 * 3600_000 + 1000 } });
    expect((await call(`${sim.apiRoot()}/subscriptions`)).body.value).toHaveLength(0);
    expect((await call(`${sim.apiRoot()}/subscriptions('${s.subscriptionId}')`)).status).toBe(404);
    const c = await customerByNumber('10000');
    await call(`${sim.apiBase()}/customers(${c.id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { city: 'Late' } });
    await call(`${sim.url}/_sim/webhooks/flush`, { method: 'POST' });
    expect(rx.notifications()).toHaveLength(0);
  });
});

describe('notifications', () => {
  it('sends a single change by itself once the batching delay has passed', async () => {
    await subscribe();
    const c = await customerByNumber('10000');
    await call(`${sim.apiBase()}/customers(${c.id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { city: 'Timer' } });
    const [n] = await until('notification', () => (rx.notifications().length > 0 ? rx.notifications() : undefined), 5000);
    expect(n?.json.value).toHaveLength(1);
    expect(n?.json.value[0]?.changeType).toBe('updated');
  });

  it('sends created/updated/deleted in one batched POST with the documented shape and headers', async () => {
    const s = (await subscribe()).body;
    await call(`${sim.url}/_sim/settings`, { method: 'POST', body: { webhookDelayMs: 60_000 } });
    const created = await call(`${sim.apiBase()}/customers`, { method: 'POST', body: { displayName: 'Webhook Co' } });
    const c = await customerByNumber('20000');
    const u1 = await call(`${sim.apiBase()}/customers(${c.id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { city: 'A' } });
    const u2 = await call(`${sim.apiBase()}/customers(${c.id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { city: 'B' } });
    expect(u2.body.lastModifiedDateTime >= u1.body.lastModifiedDateTime).toBe(true);
    await call(`${sim.apiBase()}/customers(${created.body.id})`, { method: 'DELETE', headers: { 'If-Match': '*' } });
    await call(`${sim.url}/_sim/webhooks/flush`, { method: 'POST' });
    const [n] = rx.notifications();
    if (!n) throw new Error('no notification');
    expect(n.headers['content-type']).toBe('application/json');
    expect(n.headers.clientrequestid).toMatch(/^[0-9a-f-]{36}$/);
    expect(n.headers['x-ms-correlation-id']).toBe(n.headers.clientrequestid);
    expect(n.body.charCodeAt(0)).not.toBe(0xfeff);
    const items = n.json.value;
    expect(items.map((i) => i.changeType)).toEqual(['created', 'updated', 'deleted']);
    for (const i of items) {
      expect(Object.keys(i)).toEqual([
        'subscriptionId',
        'clientState',
        'expirationDateTime',
        'resource',
        'changeType',
        'lastModifiedDateTime',
      ]);
      expect(i.subscriptionId).toBe(s.subscriptionId);
      expect(i.clientState).toBe('someClientState');
      expect(i.expirationDateTime).toBe(s.expirationDateTime);
    }
    expect(items[0]?.resource).toBe(`${customersResource()}(${created.body.id})`);
    // Repeated updates of one record merge and carry the latest time.
    expect(items[1]?.resource).toBe(`${customersResource()}(${c.id})`);
    expect(items[1]?.lastModifiedDateTime).toBe(u2.body.lastModifiedDateTime);
    expect(rx.notifications()).toHaveLength(1);
  });

  it('aggregates every subscription of one notificationUrl into one POST', async () => {
    const a = (await subscribe()).body;
    const b = (await subscribe(`/api/v2.0/companies(${sim.companyId})/items`, 'items')).body;
    await call(`${sim.url}/_sim/settings`, { method: 'POST', body: { webhookDelayMs: 60_000 } });
    const c = await customerByNumber('10000');
    const item = (await call(`${sim.apiBase()}/items?$top=1`)).body.value[0];
    await call(`${sim.apiBase()}/customers(${c.id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { city: 'X' } });
    await call(`${sim.apiBase()}/items(${item.id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { unitPrice: 1.5 } });
    await call(`${sim.url}/_sim/webhooks/flush`, { method: 'POST' });
    const [n] = rx.notifications();
    expect(rx.notifications()).toHaveLength(1);
    const ids = n?.json.value.map((i) => i.subscriptionId).sort();
    expect(ids).toEqual([a.subscriptionId, b.subscriptionId].sort());
  });

  it('sends one collection notification above the threshold, without a filter when a delete is among the changes', async () => {
    await sim.stop();
    await rx.stop();
    await setup({ collectionThreshold: 3, webhookDelayMs: 60_000 });
    const s = (await subscribe()).body;
    const customers = (await call(`${sim.apiBase()}/customers`)).body.value;
    const start = Date.now();
    for (const c of customers.slice(0, 5))
      await call(`${sim.apiBase()}/customers(${c.id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { website: 'www.x.com' } });
    await call(`${sim.url}/_sim/webhooks/flush`, { method: 'POST' });
    const first = rx.notifications()[0]?.json.value;
    expect(first).toHaveLength(1);
    expect(first?.[0]?.changeType).toBe('collection');
    expect(first?.[0]?.subscriptionId).toBe(s.subscriptionId);
    const m = /^(.*)\?\$filter=lastModifiedDateTime%20gt%20(.*)$/.exec(first?.[0]?.resource ?? '');
    expect(m?.[1]).toBe(customersResource());
    expect(Date.parse(m?.[2] ?? '')).toBeLessThanOrEqual(start);
    for (const c of customers.slice(0, 3))
      await call(`${sim.apiBase()}/customers(${c.id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { website: 'www.y.com' } });
    const extra = await call(`${sim.apiBase()}/customers`, { method: 'POST', body: { displayName: 'Gone soon' } });
    await call(`${sim.apiBase()}/customers(${extra.body.id})`, { method: 'DELETE', headers: { 'If-Match': '*' } });
    await call(`${sim.url}/_sim/webhooks/flush`, { method: 'POST' });
    const second = rx.notifications()[1]?.json.value;
    expect(second?.[0]?.changeType).toBe('collection');
    expect(second?.[0]?.resource).toBe(customersResource());
  });

  it('notifies the header subscription when a document line changes', async () => {
    await subscribe(`/api/v2.0/companies(${sim.companyId})/salesOrders`);
    const order = (await call(`${sim.apiBase()}/salesOrders?$top=1&$expand=salesOrderLines`)).body.value[0];
    const line = order.salesOrderLines[0];
    await call(`${sim.apiBase()}/salesOrders(${order.id})/salesOrderLines(${line.id})`, {
      method: 'PATCH',
      headers: { 'If-Match': line['@odata.etag'] },
      body: { description: 'Changed line text' },
    });
    const [n] = await until('a notification', () => (rx.notifications().length > 0 ? rx.notifications() : undefined), 5000);
    expect(n?.json.value).toHaveLength(1);
    expect(n?.json.value[0]).toMatchObject({
      changeType: 'updated',
      resource: `/api/v2.0/companies(${sim.companyId})/salesOrders(${order.id})`,
    });
  });

  it('retries on 503/408/429/no answer and deletes the subscription on any other status', async () => {
    const s = (await subscribe()).body;
    let failures = 2;
    rx.respond = (r) => {
      if (r.url.includes('validationToken')) return undefined;
      if (failures-- > 0) return { status: failures === 1 ? 503 : 429 };
      return { status: 200 };
    };
    const c = await customerByNumber('10000');
    await call(`${sim.apiBase()}/customers(${c.id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { city: 'Retry' } });
    await until('three deliveries', () => rx.notifications().length >= 3, 5000);
    const bodies = rx.notifications().map((n) => n.json.value[0]?.resource);
    expect(new Set(bodies).size).toBe(1);
    expect((await call(`${sim.apiRoot()}/subscriptions('${s.subscriptionId}')`)).status).toBe(200);
    rx.respond = (r) => (r.url.includes('validationToken') ? undefined : { status: 404 });
    await call(`${sim.apiBase()}/customers(${c.id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { city: 'Gone' } });
    await until('deletion', async () => (await call(`${sim.apiRoot()}/subscriptions('${s.subscriptionId}')`)).status === 404, 5000);
    const deliveries = (await call(`${sim.url}/_sim/webhooks/deliveries`)).body.value;
    expect(deliveries.at(-1).status).toBe(404);
  });

  it('gives up and deletes the subscription after the maximum number of attempts', async () => {
    const s = (await subscribe()).body;
    rx.respond = (r) => (r.url.includes('validationToken') ? undefined : { status: 500 });
    const c = await customerByNumber('10000');
    await call(`${sim.apiBase()}/customers(${c.id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { city: 'Down' } });
    await until('deletion', async () => (await call(`${sim.apiRoot()}/subscriptions('${s.subscriptionId}')`)).status === 404, 10_000);
    expect(rx.notifications()).toHaveLength(6);
  });

  it('counts changes made by any caller, including a user in the client', async () => {
    await subscribe();
    const c = await customerByNumber('30000');
    const r = await call(`${sim.url}/_sim/as-user`, {
      method: 'POST',
      body: { method: 'PATCH', entitySet: 'customers', id: c.id, body: { city: 'Edited in BC' } },
    });
    expect(r.status).toBe(200);
    const [n] = await until('a notification', () => (rx.notifications().length > 0 ? rx.notifications() : undefined), 5000);
    expect(n?.json.value[0]?.resource).toBe(`${customersResource()}(${c.id})`);
  });

  it('can drop or duplicate deliveries as injected faults', async () => {
    await subscribe();
    await call(`${sim.url}/_sim/faults`, { method: 'POST', body: { duplicateWebhookRate: 1 } });
    const c = await customerByNumber('10000');
    await call(`${sim.apiBase()}/customers(${c.id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { city: 'Twice' } });
    await until('duplicate', () => rx.notifications().length === 2, 5000);
    expect(rx.notifications()[0]?.body).toBe(rx.notifications()[1]?.body);
    await call(`${sim.url}/_sim/faults`, { method: 'POST', body: { duplicateWebhookRate: 0, dropWebhookRate: 1 } });
    await call(`${sim.apiBase()}/customers(${c.id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { city: 'Never' } });
    await call(`${sim.url}/_sim/webhooks/flush`, { method: 'POST' });
    const deliveries = (await call(`${sim.url}/_sim/webhooks/deliveries`)).body.value;
    expect(deliveries.at(-1).dropped).toBe(true);
    expect(rx.notifications()).toHaveLength(2);
  });
});
