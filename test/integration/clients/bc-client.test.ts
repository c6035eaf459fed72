import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type BcSimulator, startBcSimulator } from '../../../dev/bc-simulator';
import { BcClient } from '../../../shared/adapters/bc/client';
import { BcGateway } from '../../../shared/adapters/bc/gateway';
import { StaticTokenSource } from '../../../shared/adapters/credentials';
import { RequestCounter } from '../../../shared/adapters/http/counters';
import type { BcEntityTarget } from '../../../shared/domain/ports';
import { SyncError } from '../../../shared/errors';
import { control, startHandshakeReceiver } from './support';

const customers: BcEntityTarget = { side: 'bc', kind: 'apiV2', entitySet: 'customers' };

let sim: BcSimulator;
let counter: RequestCounter;
let client: BcClient;
let gateway: BcGateway;

function newClient(overrides: Partial<ConstructorParameters<typeof BcClient>[0]> = {}): BcClient {
  return new BcClient({
    apiUrl: sim.url,
    tenantId: sim.tenantId,
    environment: sim.environmentName,
    companyId: sim.companyId,
    tokens: new StaticTokenSource('bc-integration-user'),
    hooks: counter,
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
    ...overrides,
  });
}

async function rejection(p: Promise<unknown>): Promise<SyncError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SyncError);
  return err as SyncError;
}

beforeAll(async () => {
  sim = await startBcSimulator({ port: 0, webhookDelayMs: 60_000, handshakeTimeoutMs: 2_000 });
});

afterAll(async () => {
  await sim?.stop();
});

beforeEach(async () => {
  counter = new RequestCounter();
  client = newClient();
  gateway = new BcGateway(client);
  await control(sim.url, 'POST', '/_sim/limits', { enforce: false, latencyMs: 0, requestsPerWindow: 6000, windowMs: 300_000 });
  await control(sim.url, 'POST', '/_sim/faults', { errorRate: 0, timeoutRate: 0 });
});

describe('BC client against the simulator', () => {
  it('lists companies and finds the configured one', async () => {
    const companies = await client.companies();
    expect(companies.map((c) => c.id)).toContain(sim.companyId);
    expect(companies.find((c) => c.id === sim.companyId)?.name).toBe(sim.companyName);
  });

  it('creates, reads, updates with If-Match, refuses a stale ETag and deletes', async () => {
    const created = await gateway.create(customers, { displayName: 'Client Test Ltd.', city: 'Atlanta' });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.etag).toMatch(/^W\//);
    expect(created.values.displayName).toBe('Client Test Ltd.');
    expect(Date.parse(created.modifiedOn)).not.toBeNaN();

    const read = await gateway.get(customers, created.id, ['displayName']);
    expect(read?.etag).toBe(created.etag);
    expect(read?.values.displayName).toBe('Client Test Ltd.');

    const updated = await gateway.update(customers, created.id, { city: 'Chicago' }, created.etag);
    expect(updated.values.city).toBe('Chicago');
    expect(updated.etag).not.toBe(created.etag);

    const stale = await rejection(gateway.update(customers, created.id, { city: 'Miami' }, created.etag));
    expect(stale.code).toBe('BC.CONCURRENCY');
    expect(stale.details.status).toBe(412);
    expect(stale.message).toContain('Request_EntityChanged');

    await gateway.delete(customers, created.id, updated.etag);
    expect(await gateway.get(customers, created.id)).toBeUndefined();
    // Deleting what is already gone is not an error (the port's contract).
    await gateway.delete(customers, created.id);
  });

  it('classifies validation and not-found errors with BC codes', async () => {
    const invalid = await rejection(gateway.create(customers, { city: 'Nowhere' }));
    expect(invalid.code).toBe('BC.VALIDATION');
    expect(invalid.category).toBe('data');
    expect(invalid.message).toContain('displayName');

    const missing = await rejection(gateway.update(customers, '11111111-2222-3333-4444-555555555555', { city: 'X' }, '*'));
    expect(missing.code).toBe('BC.NOT_FOUND');

    const unknownSet = await rejection(client.listPage({ side: 'bc', kind: 'apiV2', entitySet: 'noSuchThings' }));
    expect(unknownSet.code).toBe('BC.NOT_FOUND');
    expect(unknownSet.message).toContain('noSuchThings');
  });

  it('lists only records modified after an instant (lastModifiedDateTime gt)', async () => {
    const before = await gateway.create(customers, { displayName: 'Before Filter' });
    await control(sim.url, 'POST', '/_sim/clock', { advanceMs: 5_000 });
    const after = await gateway.create(customers, { displayName: 'After Filter' });
    const ids: string[] = [];
    for await (const page of gateway.list(customers, { modifiedSince: before.modifiedOn, select: ['displayName'] })) {
      ids.push(...page.map((r) => r.id));
    }
    expect(ids).toContain(after.id);
    expect(ids).not.toContain(before.id);
  });

  it('pages through more than 20,000 customers at the maximum page size', async () => {
    await control(sim.url, 'POST', '/_sim/seed?customers=20500');
    const seen = new Set<string>();
    let pages = 0;
    for await (const page of gateway.list(customers, { select: ['number'] })) {
      pages++;
      expect(page.length).toBeLessThanOrEqual(20_000);
      for (const r of page) seen.add(r.id);
    }
    expect(seen.size).toBeGreaterThan(20_500);
    expect(pages).toBe(2);
    expect(counter.byMethod.get('GET')).toBe(2);

    // Page by page, with the continuation the port hands out.
    const first = await gateway.listPage(customers, { pageSize: 7, select: ['number'] });
    expect(first.items).toHaveLength(7);
    const second = await gateway.listPage(customers, { pageSize: 7, continuation: first.continuation });
    expect(second.items.map((r) => r.id)).not.toContain(first.items[0]?.id);
  });

  it('sends $batch in chunks of at most 100 and reports each operation', async () => {
    await control(sim.url, 'DELETE', '/_sim/counters');
    const ops = Array.from({ length: 150 }, (_, i) => ({
      method: 'POST' as const,
      url: 'customers',
      body: i === 42 ? { city: 'no name' } : { displayName: `Batch ${i}` },
    }));
    const results = await client.batch(ops);
    expect(results).toHaveLength(150);
    expect(results.filter((r) => r.status === 201)).toHaveLength(149);
    expect(results[42]?.error?.code).toBe('BC.VALIDATION');
    const counters = (await control(sim.url, 'GET', '/_sim/counters')) as { byMethodAndEntitySet: Record<string, number> };
    expect(counters.byMethodAndEntitySet['POST $batch']).toBe(2);

    const created = results[0]?.body as { id: string; '@odata.etag': string };
    const [patched, read] = await client.batch([
      { method: 'PATCH', url: `customers(${created.id})`, ifMatch: created['@odata.etag'], body: { city: 'Boston' } },
      { method: 'GET', url: `customers(${created.id})` },
    ]);
    expect(patched?.status).toBe(200);
    expect(read?.body).toMatchObject({ city: 'Boston' });
  });

  it('honours 429 + Retry-After from the operational limits and eventually succeeds', async () => {
    const records = (await gateway.listPage(customers, { pageSize: 4, select: ['number'] })).items;
    await control(sim.url, 'DELETE', '/_sim/counters');
    counter.reset();
    await control(sim.url, 'POST', '/_sim/limits', { enforce: true, requestsPerWindow: 2, windowMs: 1_000 });
    const got = [];
    for (const r of records) got.push(await gateway.get(customers, r.id));
    expect(got.map((r) => r?.id)).toEqual(records.map((r) => r.id));
    // The simulator answered 429 at least once and the client came back: more attempts than calls, and the
    // simulator processed exactly one successful request per call.
    expect(counter.status(429)).toBeGreaterThanOrEqual(1);
    expect(counter.requests).toBe(records.length + counter.status(429));
    const counters = (await control(sim.url, 'GET', '/_sim/counters')) as { byMethodAndEntitySet: Record<string, number> };
    expect(counters.byMethodAndEntitySet['GET customers']).toBe(records.length);
  });

  it('gives up with retryAfterMs when the wait exceeds the budget', async () => {
    const impatient = newClient({ retry: { budgetMs: 100 } });
    await control(sim.url, 'POST', '/_sim/limits', { enforce: true, requestsPerWindow: 1, windowMs: 60_000 });
    await impatient.listPage(customers, { pageSize: 1 });
    const err = await rejection(impatient.listPage(customers, { pageSize: 1 }));
    expect(err.code).toBe('BC.THROTTLED');
    expect(err.retryAfterMs).toBeGreaterThanOrEqual(1_000);
  });

  it('never has more than 5 requests in flight', async () => {
    const records = (await gateway.listPage(customers, { pageSize: 40, select: ['number'] })).items;
    counter.reset();
    await control(sim.url, 'POST', '/_sim/limits', { latencyMs: 20 });
    await Promise.all(records.map((r) => gateway.get(customers, r.id)));
    expect(counter.requests).toBe(40);
    expect(counter.peakInFlight).toBe(5);
    expect(client.http.limiter.peakInFlight).toBe(5);
    expect(() => newClient({ maxConcurrency: 6 })).toThrow(/at most 5/);
  });

  it('retries 5xx on reads and classifies what remains as BC.UNAVAILABLE', async () => {
    await control(sim.url, 'POST', '/_sim/faults', { errorRate: 1, errorStatus: 503 });
    const c = newClient({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2, budgetMs: 60_000 } });
    // The simulator's 503 carries Retry-After: 1, which the client honours, so 3 attempts take about 2 s.
    const err = await rejection(c.listPage(customers, { pageSize: 1 }));
    expect(err.code).toBe('BC.UNAVAILABLE');
    expect(err.transient).toBe(true);
    expect(counter.requests).toBe(3);
  });

  it('manages webhook subscriptions and lists supported resources', async () => {
    const receiver = await startHandshakeReceiver();
    try {
      const resource = `/api/v2.0/companies(${sim.companyId})/customers`;
      const created = await client.createSubscription({ notificationUrl: receiver.url, resource, clientState: 'state-123' });
      expect(receiver.handshakes).toBe(1);
      expect(created.subscriptionId).toBeTruthy();
      expect(Date.parse(created.expirationDateTime)).toBeGreaterThan(Date.now());
      const fetched = await client.getSubscription(created.subscriptionId);
      expect(fetched?.clientState).toBe('state-123');
      expect((await client.listSubscriptions()).map((s) => s.subscriptionId)).toContain(created.subscriptionId);
      const etag = fetched?.['@odata.etag'];
      expect(etag).toBeTruthy();
      const renewed = await client.renewSubscription(created.subscriptionId, etag ?? '*', {
        notificationUrl: receiver.url,
        resource,
        clientState: 'state-123',
      });
      expect(receiver.handshakes).toBe(2);
      expect(renewed.subscriptionId).toBe(created.subscriptionId);
      expect(await client.deleteSubscription(created.subscriptionId, renewed['@odata.etag'] ?? '*')).toBe(true);
      expect(await client.getSubscription(created.subscriptionId)).toBeUndefined();
      expect(await client.deleteSubscription(created.subscriptionId)).toBe(false);
    } finally {
      await receiver.stop();
    }
    const resources = await client.webhookSupportedResources();
    expect(resources).toContain('v2.0/customers');
    expect(resources).not.toContain('v2.0/contacts');
  });

  it('reads custom API pages and knows field types', async () => {
    const agents = await client.listPage({ side: 'bc', kind: 'customApi', entitySet: 'shippingAgents' });
    expect(agents.value.length).toBeGreaterThan(0);
    expect(agents.value[0]).toHaveProperty('@odata.etag');

    expect((await client.bcField({ kind: 'apiV2', entitySet: 'customers' }, 'displayName'))?.type).toBe('Edm.String');
    expect((await client.bcField({ kind: 'apiV2', entitySet: 'customers' }, 'currencyId'))?.type).toBe('Edm.Guid');
    expect(await client.bcField({ kind: 'apiV2', entitySet: 'customers' }, 'noSuchField')).toBeUndefined();
    expect(await client.bcField({ kind: 'apiV2', entitySet: 'noSuchThings' }, 'id')).toBeUndefined();
  });

  it('refuses a token-less request with BC.AUTH', async () => {
    const res = await fetch(`${client.apiRoot()}/companies`);
    expect(res.status).toBe(401);
    const anon = newClient({ tokens: { getToken: async () => '' } });
    const err = await rejection(anon.companies());
    expect(err.code).toBe('BC.AUTH');
    expect(err.category).toBe('configuration');
  });
});
