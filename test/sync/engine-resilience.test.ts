import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncRecord } from '../../shared/domain/sync/sync-record';
import type { SyncHooks } from '../../shared/domain/sync/types';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { eventBuilder } from '../support/events';
import { type Stack, startStack } from '../support/stack';
import { until } from '../support/until';

/**
 * Issue 7's guarantees end to end: dependencies coupled first, no duplicates under duplicate/concurrent delivery
 * or a crash between write and coupling, throttling delays but never fails, and validation errors are visible
 * and retryable.
 */
describe('sync engine: dependencies, duplicates, crashes, throttling, errors', () => {
  let stack: Stack;
  let rt: Runtime;
  const bc = { Authorization: 'Bearer test', 'Content-Type': 'application/json' };
  const dv = (token: string) => ({ Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json' });

  const event = eventBuilder('test', { changeType: 'created' });
  const createBcCustomer = async (body: Record<string, unknown>): Promise<string> => {
    const res = await fetch(`${stack.bc.apiBase()}/customers`, { method: 'POST', headers: bc, body: JSON.stringify(body) });
    expect(res.status, await res.clone().text()).toBe(201);
    return String(((await res.json()) as { id: string }).id);
  };
  const accountsNamed = async (name: string) => {
    const res = await fetch(
      `${stack.dataverse.apiBase}/accounts?$select=accountid,_ownerid_value&$filter=${encodeURIComponent(`name eq '${name}'`)}`,
      {
        headers: dv(stack.dataverse.adminUserToken),
      },
    );
    return ((await res.json()) as { value: Array<{ accountid: string; _ownerid_value: string }> }).value;
  };

  beforeAll(async () => {
    stack = await startStack({ functions: ['sync'] });
    rt = await getRuntime();
    // New BC customers create accounts: what an admin chooses after the first full sync (SOCR cleared).
    const customer = await rt.stores.mappings.get('CUSTOMER');
    if (!customer) throw new Error('CUSTOMER mapping missing');
    await rt.stores.mappings.put({ ...customer, synchOnlyCoupledRecords: false });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('couples the salesperson of a new BC customer first, and makes that user the owner', async () => {
    // Otis Falls (OF) is a BC salesperson with no coupled Dataverse user yet; his user exists in Dataverse.
    const created = await fetch(`${stack.dataverse.apiBase}/systemusers`, {
      method: 'POST',
      headers: { ...dv(stack.dataverse.adminUserToken), Prefer: 'return=representation' },
      body: JSON.stringify({
        firstname: 'Otis',
        lastname: 'Falls',
        internalemailaddress: 'otis.falls@cronus-demosite.com',
        isdisabled: false,
        islicensed: true,
        isintegrationuser: false,
      }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const otis = ((await created.json()) as { systemuserid: string }).systemuserid;
    const id = await createBcCustomer({ displayName: 'Dependency Test Ltd', salespersonCode: 'OF', addressLine1: '9 Dep Street' });
    await rt.publisher.publish([event({ mapping: 'CUSTOMER', source: 'bc', recordId: id })]);
    const [account] = await until('the new account', async () => {
      const a = await accountsNamed('Dependency Test Ltd');
      return a.length > 0 ? a : undefined;
    });
    expect(account?._ownerid_value).toBe(otis);
    const coupling = await rt.stores.couplings.getByDataverseId('SALESPEOPLE', otis);
    expect(coupling).toBeDefined();
  });

  it('creates exactly one account when the same event arrives twice, at the same time', async () => {
    const id = await createBcCustomer({ displayName: 'Twice Delivered Inc', salespersonCode: 'PS' });
    const e = event({ mapping: 'CUSTOMER', source: 'bc', recordId: id });
    // Two deliveries racing through the sync function, and two direct calls racing each other.
    await rt.publisher.publish([e]);
    await rt.publisher.publish([{ ...e, observedAt: new Date(Date.now() + 1).toISOString() }]);
    const direct = await Promise.all([syncRecord(e, rt.syncDeps), syncRecord(e, rt.syncDeps)]);
    expect(direct.map((o) => o.result).filter((r) => r === 'failed')).toEqual([]);
    await until('the queue to drain', async () => (await stack.serviceBus.stats('sync-customer')).active === 0);
    expect(await accountsNamed('Twice Delivered Inc')).toHaveLength(1);
    const coupling = await rt.stores.couplings.getByBcId('CUSTOMER', id);
    expect(coupling?.dataverseId).toBe((await accountsNamed('Twice Delivered Inc'))[0]?.accountid);
  });

  it('creates exactly one BC customer when two workers handle the same new account at once', async () => {
    const created = await fetch(`${stack.dataverse.apiBase}/accounts`, {
      method: 'POST',
      headers: { ...dv(stack.dataverse.adminUserToken), Prefer: 'return=representation' },
      body: JSON.stringify({ name: 'Raced Into BC Ltd', customertypecode: 3 }),
    });
    const accountId = ((await created.json()) as { accountid: string }).accountid;
    const e = event({ mapping: 'CUSTOMER', source: 'dataverse', recordId: accountId });
    // Four workers at once; a loser either reuses the winner's record or is told to retry (a transient error).
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => syncRecord(e, rt.syncDeps)));
    for (const r of results) if (r.status === 'rejected') expect((r.reason as { code?: string }).code).toMatch(/^(BC|DV)\.CONCURRENCY$/);
    const again = await syncRecord(e, rt.syncDeps);
    expect(['unchanged', 'modified']).toContain(again.result);
    const res = await fetch(`${stack.bc.apiBase()}/customers?$filter=${encodeURIComponent("displayName eq 'Raced Into BC Ltd'")}`, {
      headers: bc,
    });
    const customers = ((await res.json()) as { value: Array<{ id: string }> }).value;
    expect(customers).toHaveLength(1);
    expect((await rt.stores.couplings.getByDataverseId('CUSTOMER', accountId))?.bcId).toBe(customers[0]?.id);
  });

  it('ends with one record and one coupling after a crash between the write and the coupling', async () => {
    const id = await createBcCustomer({ displayName: 'Crash Window Corp', salespersonCode: 'PS' });
    let crashes = 0;
    const original = rt.syncDeps.hooks;
    const crashing: SyncHooks = {
      ...original,
      afterWrite: async (ctx) => {
        await original?.afterWrite?.(ctx);
        if (ctx.mapping.name === 'CUSTOMER' && ctx.source.id === id && crashes === 0) {
          crashes++;
          throw new Error('simulated crash after the Dataverse write, before the coupling');
        }
      },
    };
    rt.syncDeps.hooks = crashing;
    try {
      await rt.publisher.publish([event({ mapping: 'CUSTOMER', source: 'bc', recordId: id })]);
      // The broker redelivers the abandoned message; the second attempt finds the row the first one made.
      const coupling = await until('the coupling', () => rt.stores.couplings.getByBcId('CUSTOMER', id));
      expect(crashes).toBe(1);
      const accounts = await accountsNamed('Crash Window Corp');
      expect(accounts).toHaveLength(1);
      expect(coupling.dataverseId).toBe(accounts[0]?.accountid);
    } finally {
      rt.syncDeps.hooks = original;
    }
  });

  it('is delayed, never failed, by 429s from Dataverse', async () => {
    const id = await createBcCustomer({ displayName: 'Throttled Traders', salespersonCode: 'PS' });
    await fetch(`${stack.dataverse.url}/_sim/faults`, {
      method: 'POST',
      headers: bc,
      body: JSON.stringify({ failNext: 3, errorStatus: 429 }),
    });
    await rt.publisher.publish([event({ mapping: 'CUSTOMER', source: 'bc', recordId: id })]);
    await until('the throttled account', async () => (await accountsNamed('Throttled Traders')).length === 1);
    const errors = await rt.stores.syncErrors.list({ mapping: 'CUSTOMER', status: 'open' });
    expect(errors.items.filter((e) => e.bcId === id)).toEqual([]);
  });

  it('records a validation error with a clear message, and succeeds on retry once the data is fixed', async () => {
    // A Dataverse account name longer than BC's 100-character customer name.
    const longName = `Too Long ${'x'.repeat(120)}`;
    const id = await createBcCustomer({ displayName: 'Validation Subject', salespersonCode: 'PS' });
    await syncRecord(event({ mapping: 'CUSTOMER', source: 'bc', recordId: id, origin: 'manual' }), rt.syncDeps);
    const coupling = await rt.stores.couplings.getByBcId('CUSTOMER', id);
    if (!coupling) throw new Error('not coupled');
    const patch = await fetch(`${stack.dataverse.apiBase}/accounts(${coupling.dataverseId})`, {
      method: 'PATCH',
      headers: { ...dv(stack.dataverse.adminUserToken), 'If-Match': '*' },
      body: JSON.stringify({ name: longName }),
    });
    expect(patch.status).toBe(204);
    const e = event({ mapping: 'CUSTOMER', source: 'dataverse', recordId: coupling.dataverseId, changeType: 'updated' });
    const failed = await syncRecord(e, rt.syncDeps);
    expect(failed.result).toBe('failed');
    expect(failed.code).toBe('BC.VALIDATION');
    const open = (await rt.stores.syncErrors.list({ mapping: 'CUSTOMER', status: 'open' })).items.find(
      (x) => x.dataverseId === coupling.dataverseId,
    );
    expect(open?.message).toMatch(/displayName|100/);
    // Fix the data in Dataverse, then retry the stored event.
    await fetch(`${stack.dataverse.apiBase}/accounts(${coupling.dataverseId})`, {
      method: 'PATCH',
      headers: { ...dv(stack.dataverse.adminUserToken), 'If-Match': '*' },
      body: JSON.stringify({ name: 'Validation Subject Fixed' }),
    });
    const retried = await syncRecord({ ...(open?.event ?? e), origin: 'replay' }, rt.syncDeps);
    expect(retried.result).toBe('modified');
    const row = await (await fetch(`${stack.bc.apiBase()}/customers(${id})`, { headers: bc })).json();
    expect((row as { displayName: string }).displayName).toBe('Validation Subject Fixed');
    const still = (await rt.stores.syncErrors.list({ mapping: 'CUSTOMER', status: 'open' })).items.find(
      (x) => x.dataverseId === coupling.dataverseId,
    );
    expect(still).toBeUndefined();
  });
});
