import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BcSimulator } from '../../dev/bc-simulator';
import { call, startSim } from './bc-simulator-helpers';

let sim: BcSimulator;

beforeEach(async () => {
  sim = await startSim();
});
afterEach(async () => {
  await sim.stop();
});

const ctl = (path: string, body?: unknown, method = 'POST') => call(`${sim.url}/_sim/${path}`, { method, body, auth: false });

describe('operational limits', () => {
  it('answers 429 with BC error body and Retry-After once the per-user window is used up', async () => {
    await ctl('limits', { enforce: true, requestsPerWindow: 3, windowMs: 60_000 });
    for (let i = 0; i < 3; i++) expect((await call(`${sim.apiBase()}/currencies`)).status).toBe(200);
    const r = await call(`${sim.apiBase()}/currencies`);
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('Application_TooManyRequests');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    // The limit is per user: another token still gets through.
    expect((await call(`${sim.apiBase()}/currencies`, { headers: { Authorization: 'Bearer other-user' } })).status).toBe(200);
  });

  it('queues requests above the concurrency limit and refuses when the queue is full', async () => {
    await ctl('limits', { enforce: true, maxConcurrent: 2, maxQueue: 1, latencyMs: 300 });
    const results = await Promise.all(Array.from({ length: 4 }, () => call(`${sim.apiBase()}/currencies`)));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 429]);
  });
});

describe('faults', () => {
  it('injects 5xx responses with Retry-After, then recovers', async () => {
    await ctl('faults', { errorRate: 1, errorStatus: 503 });
    const r = await call(`${sim.apiBase()}/customers`);
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(r.body.error.message).toMatch(/CorrelationId/);
    await ctl('faults', { errorRate: 0 });
    expect((await call(`${sim.apiBase()}/customers`)).status).toBe(200);
  });

  it('injects gateway timeouts after a hold', async () => {
    await ctl('faults', { timeoutRate: 1, timeoutMs: 50 });
    const r = await call(`${sim.apiBase()}/customers`);
    expect(r.status).toBe(504);
  });

  it('rejects invalid control bodies with a clear message', async () => {
    const r = await ctl('faults', { errorRate: 2 });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain('errorRate');
    expect((await ctl('limits', { nonsense: true })).status).toBe(400);
    expect((await ctl('nothing')).status).toBe(404);
  });
});

describe('control API', () => {
  it('counts requests by method and entity set', async () => {
    await call(`${sim.apiBase()}/customers`);
    await call(`${sim.apiBase()}/customers`);
    const c = (await call(`${sim.apiBase()}/customers?$top=1`)).body.value[0];
    await call(`${sim.apiBase()}/customers(${c.id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { city: 'Counted' } });
    await call(`${sim.apiBase()}/items`);
    const r = await ctl('counters', undefined, 'GET');
    expect(r.body.byMethodAndEntitySet).toMatchObject({ 'GET customers': 3, 'PATCH customers': 1, 'GET items': 1 });
    expect(r.body.byMethod.GET).toBe(4);
    expect(r.body.total).toBe(5);
    expect((await ctl('counters', undefined, 'DELETE')).status).toBe(204);
    expect((await ctl('counters', undefined, 'GET')).body.total).toBe(0);
  });

  it('sets and advances the clock, which stamps lastModifiedDateTime', async () => {
    await ctl('clock', { set: '2030-05-01T10:00:00Z' });
    const c = (await call(`${sim.apiBase()}/customers?$top=1`)).body.value[0];
    const r = await call(`${sim.apiBase()}/customers(${c.id})`, {
      method: 'PATCH',
      headers: { 'If-Match': '*' },
      body: { city: 'Future' },
    });
    expect(r.body.lastModifiedDateTime.startsWith('2030-05-01T10:00')).toBe(true);
    await ctl('clock', { advanceMs: 86_400_000 });
    expect((await ctl('clock', undefined, 'GET')).body.now.startsWith('2030-05-02')).toBe(true);
    expect((await ctl('clock', { set: 'not a date' })).status).toBe(400);
  });

  it('seeds generated records fast and resets to the demo company', async () => {
    const seeded = await ctl('seed?customers=2000&items=500');
    expect(seeded.body.created).toEqual({ customer: 2000, item: 500 });
    const count = await call(`${sim.apiBase()}/customers/$count`);
    expect(count.body).toBe('2006');
    const item = (await call(`${sim.apiBase()}/items?$filter=number eq 'GI0000001'`)).body.value[0];
    expect(item.baseUnitOfMeasureCode).toBe('PCS');
    await ctl('reset');
    expect((await call(`${sim.apiBase()}/customers/$count`)).body).toBe('6');
    await ctl('reset?seed=empty');
    expect((await call(`${sim.apiBase()}/customers`)).body.value).toEqual([]);
  });

  it('keeps demo ids deterministic across runs', async () => {
    const other = await startSim();
    try {
      const a = (await call(`${sim.apiBase()}/customers?$select=id,number`)).body.value;
      const b = (await call(`${other.apiBase()}/customers?$select=id,number`)).body.value;
      expect(a.map((x: { id: string }) => x.id)).toEqual(b.map((x: { id: string }) => x.id));
      expect(other.companyId).toBe(sim.companyId);
    } finally {
      await other.stop();
    }
  });

  it('reports its URLs', async () => {
    const r = await ctl('info', undefined, 'GET');
    expect(r.body).toMatchObject({ companyId: sim.companyId, apiBase: sim.apiBase(), customApiBase: sim.customApiBase() });
  });
});
