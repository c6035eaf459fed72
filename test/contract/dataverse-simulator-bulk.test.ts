import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DataverseSimulator } from '../../dev/dataverse-simulator';
import { until } from '../support/until';
import { call, control, registerStep, startSim, WebhookReceiver } from './dataverse-simulator-helpers';

let sim: DataverseSimulator;
let receiver: WebhookReceiver;
beforeAll(async () => {
  sim = await startSim({ seed: 'empty' });
  receiver = await new WebhookReceiver().start();
});
afterAll(async () => {
  await sim.stop();
  await receiver.stop();
});
beforeEach(async () => {
  await control(sim, 'POST', 'reset', { seed: 'empty' });
  await control(sim, 'POST', 'limits', { enabled: false, rowCostMs: 0 });
  receiver.posts.length = 0;
});

const ACCOUNT = 'Microsoft.Dynamics.CRM.account';
const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const accounts = (n: number, from = 1) =>
  Array.from({ length: n }, (_, i) => ({ '@odata.type': ACCOUNT, accountid: id(from + i), name: `Bulk ${from + i}` }));

async function count(): Promise<number> {
  const r = await call(sim, 'accounts?$select=accountid');
  return r.body.value.length;
}

describe('CreateMultiple', () => {
  it('creates every target in one request and answers their Ids', async () => {
    const r = await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', { method: 'POST', body: { Targets: accounts(3) } });
    expect(r.status).toBe(200);
    expect(r.body['@odata.context']).toBe(`${sim.apiBase}/$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse`);
    expect(r.body.Ids).toEqual([id(1), id(2), id(3)]);
    const row = await call(sim, `accounts(${id(2)})?$select=name`);
    expect(row.body.name).toBe('Bulk 2');
    // One request toward the service protection count.
    const counters = await control(sim, 'GET', 'counters');
    expect(counters.body.byMethod.POST).toBe(1);
  });

  it('generates ids for targets without one', async () => {
    const r = await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
      method: 'POST',
      body: { Targets: [{ '@odata.type': ACCOUNT, name: 'No id' }] },
    });
    expect(r.status).toBe(200);
    expect(r.body.Ids[0]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('is all-or-nothing on a standard table: one bad row rolls every row back with that row’s error', async () => {
    const targets = [...accounts(2), { '@odata.type': ACCOUNT, accountid: id(3), name: 'x'.repeat(161) }];
    const r = await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', { method: 'POST', body: { Targets: targets } });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/exceeded the maximum allowed length/);
    expect(await count()).toBe(0);
  });

  it('refuses a primary key already used with "Cannot insert duplicate key."', async () => {
    await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', { method: 'POST', body: { Targets: accounts(1) } });
    const r = await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', { method: 'POST', body: { Targets: accounts(2) } });
    expect(r.status).toBe(412);
    expect(r.body.error.message).toBe('Cannot insert duplicate key.');
    expect(await count()).toBe(1);
  });

  it('needs @odata.type on every target, of the entity set’s table', async () => {
    const missing = await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
      method: 'POST',
      body: { Targets: [{ name: 'untyped' }] },
    });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/@odata.type/);
    const wrong = await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
      method: 'POST',
      body: { Targets: [{ '@odata.type': 'Microsoft.Dynamics.CRM.contact', lastname: 'x' }] },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.message).toMatch(/same table/);
  });

  it('refuses an empty or missing Targets, and other methods', async () => {
    const empty = await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', { method: 'POST', body: { Targets: [] } });
    expect(empty.status).toBe(400);
    const none = await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', { method: 'POST', body: { Records: [] } });
    expect(none.status).toBe(400);
    const get = await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple');
    expect(get.status).toBe(405);
  });

  it('is refused on a table whose reference does not list the message', async () => {
    const r = await call(sim, 'pricelevels/Microsoft.Dynamics.CRM.CreateMultiple', {
      method: 'POST',
      body: { Targets: [{ '@odata.type': 'Microsoft.Dynamics.CRM.pricelevel', name: 'P' }] },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/does not support entities of type 'pricelevel'/);
  });

  it('fires the Create webhook step once per row, after the commit, and none when the request fails', async () => {
    await registerStep(sim, { url: receiver.url, message: 'Create', entity: 'account' });
    const ok = await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', { method: 'POST', body: { Targets: accounts(3) } });
    expect(ok.status).toBe(200);
    await until('three Create posts', () => receiver.posts.length >= 3, 10_000);
    expect(receiver.posts.map((p) => p.body.MessageName)).toEqual(['Create', 'Create', 'Create']);
    expect(new Set(receiver.posts.map((p) => p.body.PrimaryEntityId))).toEqual(new Set([id(1), id(2), id(3)]));
    receiver.posts.length = 0;
    const bad = await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
      method: 'POST',
      body: { Targets: [...accounts(1, 10), { '@odata.type': ACCOUNT, accountid: id(1), name: 'dup' }] },
    });
    expect(bad.status).toBe(412);
    // A later good write's post arrives; the failed request's row never does.
    await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', { method: 'POST', body: { Targets: accounts(1, 20) } });
    await until('the later Create post', () => receiver.posts.length >= 1, 10_000);
    expect(receiver.posts.map((p) => p.body.PrimaryEntityId)).toEqual([id(20)]);
  });
});

describe('UpdateMultiple', () => {
  it('updates every target (204) and fires Update per row', async () => {
    await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', { method: 'POST', body: { Targets: accounts(2) } });
    await registerStep(sim, { url: receiver.url, message: 'Update', entity: 'account' });
    const r = await call(sim, 'accounts/Microsoft.Dynamics.CRM.UpdateMultiple', {
      method: 'POST',
      body: {
        Targets: [
          { '@odata.type': ACCOUNT, accountid: id(1), telephone1: '1' },
          { '@odata.type': ACCOUNT, accountid: id(2), telephone1: '2' },
        ],
      },
    });
    expect(r.status).toBe(204);
    expect((await call(sim, `accounts(${id(2)})?$select=telephone1`)).body.telephone1).toBe('2');
    await until('two Update posts', () => receiver.posts.length >= 2, 10_000);
    expect(receiver.posts.map((p) => p.body.MessageName)).toEqual(['Update', 'Update']);
  });

  it('rolls back when a target does not exist ("<Table> With Ids = … Do Not Exist")', async () => {
    await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', { method: 'POST', body: { Targets: accounts(1) } });
    const r = await call(sim, 'accounts/Microsoft.Dynamics.CRM.UpdateMultiple', {
      method: 'POST',
      body: {
        Targets: [
          { '@odata.type': ACCOUNT, accountid: id(1), telephone1: 'changed' },
          { '@odata.type': ACCOUNT, accountid: id(9), telephone1: 'x' },
        ],
      },
    });
    expect(r.status).toBe(404);
    expect(r.body.error.message).toBe(`Account With Ids = ${id(9)} Do Not Exist`);
    expect((await call(sim, `accounts(${id(1)})?$select=telephone1`)).body.telephone1).toBeNull();
  });
});

describe('UpsertMultiple', () => {
  it('updates existing targets, creates the others, and says which', async () => {
    await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', { method: 'POST', body: { Targets: accounts(1) } });
    const r = await call(sim, 'accounts/Microsoft.Dynamics.CRM.UpsertMultiple', {
      method: 'POST',
      body: { Targets: [{ ...accounts(1)[0], name: 'Renamed' }, ...accounts(1, 2)] },
    });
    expect(r.status).toBe(200);
    expect(r.body.Results.map((x: { RecordCreated: boolean }) => x.RecordCreated)).toEqual([false, true]);
    expect((await call(sim, `accounts(${id(1)})?$select=name`)).body.name).toBe('Renamed');
    expect(await count()).toBe(2);
  });
});

describe('service protection', () => {
  it('counts one request and charges the per-row execution time', async () => {
    await control(sim, 'POST', 'limits', { enabled: true, rowCostMs: 20, windowMs: 60_000 });
    const r = await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', { method: 'POST', body: { Targets: accounts(10) } });
    expect(r.status).toBe(200);
    const usage = (await control(sim, 'GET', 'limits')).body.usage;
    const mine = Object.values(usage)[0] as { requests: number; executionMs: number };
    expect(mine.requests).toBe(1);
    expect(mine.executionMs).toBeGreaterThanOrEqual(200);
  });

  it('refuses the next request once the rows used up the execution-time budget (0x80072321)', async () => {
    await control(sim, 'POST', 'limits', { enabled: true, rowCostMs: 10, executionMs: 100, windowMs: 60_000 });
    const first = await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', { method: 'POST', body: { Targets: accounts(15) } });
    expect(first.status).toBe(200);
    const second = await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
      method: 'POST',
      body: { Targets: accounts(1, 100) },
    });
    expect(second.status).toBe(429);
    expect(second.body.error.code).toBe('0x80072321');
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('answers a Retry-After that lasts until the execution time is under the budget again, not until the oldest request leaves', async () => {
    // "a value indicating the duration before any new requests from the user can be processed" (api-limits.md).
    await control(sim, 'POST', 'clock', { set: '2026-01-01T00:00:00Z' });
    await control(sim, 'POST', 'limits', { enabled: true, rowCostMs: 20, executionMs: 100, windowMs: 60_000 });
    try {
      expect((await call(sim, 'accounts?$top=1')).status).toBe(200); // a few ms, the window's oldest
      await control(sim, 'POST', 'clock', { advanceMs: 20_000 });
      const bulk = await call(sim, 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
        method: 'POST',
        body: { Targets: accounts(10, 200) },
      });
      expect(bulk.status).toBe(200); // 200 ms: alone over the 100 ms budget
      const refused = await call(sim, 'accounts?$top=1');
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('0x80072321');
      // The first request leaves the window in 40 s, but only the bulk request's leaving (60 s) frees the budget.
      expect(Number(refused.headers.get('retry-after'))).toBe(60);
      await control(sim, 'POST', 'clock', { advanceMs: 45_000 });
      expect((await call(sim, 'accounts?$top=1')).status).toBe(429);
      await control(sim, 'POST', 'clock', { advanceMs: 16_000 });
      expect((await call(sim, 'accounts?$top=1')).status).toBe(200);
    } finally {
      await control(sim, 'POST', 'clock', { unfreeze: true });
    }
  });
});
