import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TableCreationClaims } from '../../shared/adapters/tables';
import type { ChangeEvent } from '../../shared/domain/change-event';
import type { Clock } from '../../shared/domain/ports';
import { type SyncDeps, syncRecord } from '../../shared/domain/sync/sync-record';
import { SyncError } from '../../shared/errors';
import { bulkCouple } from '../../shared/operations/couplings';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { type Stack, startStack } from '../support/stack';

/** Match-based coupling pages past coupled candidates; a retried BC create finds what a lost attempt created. */
let stack: Stack;
let rt: Runtime;
const bcHeaders = { Authorization: 'Bearer test', 'Content-Type': 'application/json' };
const dvHeaders = { Authorization: '', 'Content-Type': 'application/json', Accept: 'application/json', Prefer: 'return=representation' };
const event = (e: Pick<ChangeEvent, 'mapping' | 'source' | 'recordId'> & Partial<ChangeEvent>): ChangeEvent => ({
  v: 1,
  changeType: 'updated',
  origin: 'manual',
  correlationId: `match-${Math.random().toString(36).slice(2)}`,
  observedAt: new Date().toISOString(),
  deferrals: 0,
  ...e,
});
const createAccount = async (name: string, accountid?: string): Promise<string> => {
  const res = await fetch(`${stack.dataverse.apiBase}/accounts`, {
    method: 'POST',
    headers: { ...dvHeaders, Authorization: `Bearer ${stack.dataverse.adminUserToken}` },
    body: JSON.stringify({ name, customertypecode: 3, ...(accountid ? { accountid } : {}) }),
  });
  expect(res.status).toBe(201);
  return String(((await res.json()) as { accountid: string }).accountid);
};
const createCustomer = async (displayName: string): Promise<string> => {
  const res = await fetch(`${stack.bc.apiBase()}/customers`, { method: 'POST', headers: bcHeaders, body: JSON.stringify({ displayName }) });
  expect(res.status).toBe(201);
  return String(((await res.json()) as { id: string }).id);
};
const bcCustomersNamed = async (name: string) => {
  const res = await fetch(`${stack.bc.apiBase()}/customers?$filter=${encodeURIComponent(`displayName eq '${name}'`)}`, {
    headers: bcHeaders,
  });
  return ((await res.json()) as { value: Array<{ id: string }> }).value;
};
/**
 * `n` accounts named `name`, all but the last already coupled to other (fictitious) BC customers. The uncoupled one
 * is created last and has the highest id, so it comes after the coupled ones in insertion and in key order.
 */
const twins = async (name: string, n: number): Promise<string> => {
  let last = '';
  for (let i = 0; i < n; i++) {
    const tail = randomUUID().slice(-12);
    last = await createAccount(name, i < n - 1 ? `00000000-0000-4000-8000-${tail}` : `ffffffff-ffff-4fff-8fff-${tail}`);
    if (i < n - 1) {
      await rt.stores.couplings.couple({
        mapping: 'CUSTOMER',
        bcId: randomUUID(),
        dataverseId: last,
        lastResult: 'coupled',
        environment: rt.syncDeps.options.environment,
      });
    }
  }
  return last;
};

beforeAll(async () => {
  stack = await startStack({ functions: [] });
  rt = await getRuntime();
  const customer = await rt.stores.mappings.get('CUSTOMER');
  if (!customer) throw new Error('CUSTOMER mapping missing');
  await rt.stores.mappings.put({
    ...customer,
    couplingRules: {
      ...customer.couplingRules,
      matchFields: [{ bcField: 'displayName', dataverseColumn: 'name', priority: 0, caseSensitive: false }],
    },
  });
});
afterAll(async () => {
  await stack?.stop();
});

it('couples to the one uncoupled match behind more than a page of coupled ones, instead of creating a duplicate', async () => {
  const free = await twins('Twin Traders', 61);
  const bcId = await createCustomer('Twin Traders');
  const out = await syncRecord(event({ mapping: 'CUSTOMER', source: 'bc', recordId: bcId }), rt.syncDeps);
  expect(out.result, out.message).toBe('coupled');
  expect(out.dataverseId).toBe(free);
});

it('match-based bulk coupling does the same', async () => {
  const free = await twins('Twin Bulk', 61);
  const bcId = await createCustomer('Twin Bulk');
  const out = await bulkCouple(rt.syncDeps, { mapping: 'CUSTOMER', bcIds: [bcId] });
  expect(out.coupled).toBe(1);
  expect(out.results[0]).toMatchObject({ result: 'coupled', dataverseId: free });
});

it('adopts the BC record a create whose response was lost made, once the claim is stale, instead of creating another', async () => {
  const name = 'Lost Response Ltd';
  const accountId = await createAccount(name);
  // The first attempt's POST reaches BC, but its response is lost (a timeout): a transient failure.
  const bc = Object.create(rt.syncDeps.bc) as SyncDeps['bc'];
  bc.create = async (target, values, options) => {
    await rt.syncDeps.bc.create(target, values, options);
    throw new SyncError('BC.UNAVAILABLE', 'The request to Business Central timed out.');
  };
  // No coupling criteria: nothing but the lost attempt's own trace can find the record it made.
  const base = await rt.syncDeps.mappings.get('CUSTOMER');
  if (!base) throw new Error('CUSTOMER mapping missing');
  const unmatched = { ...base, couplingRules: { ...base.couplingRules, matchFields: [] } };
  const mappings = {
    all: () => rt.syncDeps.mappings.all(),
    get: async (n: string) => (n === 'CUSTOMER' ? unmatched : rt.syncDeps.mappings.get(n)),
  };
  const lossy: SyncDeps = { ...rt.syncDeps, mappings, bc };
  await expect(syncRecord(event({ mapping: 'CUSTOMER', source: 'dataverse', recordId: accountId }), lossy)).rejects.toThrow(/timed out/);
  expect(await bcCustomersNamed(name)).toHaveLength(1);

  // The retry comes after the claim went stale (its worker looks dead).
  const later: Clock = { now: () => new Date(Date.now() + 10 * 60_000) };
  const retryDeps: SyncDeps = { ...rt.syncDeps, mappings, claims: new TableCreationClaims(rt.stores.checkpoints, later) };
  const retry = await syncRecord(event({ mapping: 'CUSTOMER', source: 'dataverse', recordId: accountId }), retryDeps);
  expect(retry.result, retry.message).toBe('inserted');
  const customers = await bcCustomersNamed(name);
  expect(customers).toHaveLength(1);
  expect(retry.bcId).toBe(customers[0]?.id);
  expect((await rt.stores.couplings.getByDataverseId('CUSTOMER', accountId))?.bcId).toBe(customers[0]?.id);
});

it('adopts the BC record a lost-response create made on the very next delivery, while its claim is still fresh', async () => {
  const name = 'Lost Response Fresh Ltd';
  const accountId = await createAccount(name);
  // The first attempt's POST reaches BC, but its response is lost (a timeout): a transient failure.
  const bc = Object.create(rt.syncDeps.bc) as SyncDeps['bc'];
  bc.create = async (target, values, options) => {
    await rt.syncDeps.bc.create(target, values, options);
    throw new SyncError('BC.UNAVAILABLE', 'The request to Business Central timed out.');
  };
  // No coupling criteria: nothing but the lost attempt's own trace can find the record it made.
  const base = await rt.syncDeps.mappings.get('CUSTOMER');
  if (!base) throw new Error('CUSTOMER mapping missing');
  const unmatched = { ...base, couplingRules: { ...base.couplingRules, matchFields: [] } };
  const mappings = {
    all: () => rt.syncDeps.mappings.all(),
    get: async (n: string) => (n === 'CUSTOMER' ? unmatched : rt.syncDeps.mappings.get(n)),
  };
  const lossy: SyncDeps = { ...rt.syncDeps, mappings, bc };
  await expect(syncRecord(event({ mapping: 'CUSTOMER', source: 'dataverse', recordId: accountId }), lossy)).rejects.toThrow(/timed out/);
  expect(await bcCustomersNamed(name)).toHaveLength(1);

  // The broker redelivers the event at once: the claim is fresh and records no created id.
  const retryDeps: SyncDeps = { ...rt.syncDeps, mappings };
  const retry = await syncRecord(event({ mapping: 'CUSTOMER', source: 'dataverse', recordId: accountId }), retryDeps);
  expect(retry.result, retry.message).toBe('inserted');
  const customers = await bcCustomersNamed(name);
  expect(customers).toHaveLength(1);
  expect(retry.bcId).toBe(customers[0]?.id);
  expect((await rt.stores.couplings.getByDataverseId('CUSTOMER', accountId))?.bcId).toBe(customers[0]?.id);
});
