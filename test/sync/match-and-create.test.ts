import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TableCreationClaims } from '../../shared/adapters/tables';
import type { Clock } from '../../shared/domain/ports';
import { syncRecord } from '../../shared/domain/sync/sync-record';
import type { SyncDeps } from '../../shared/domain/sync/types';
import { SyncError } from '../../shared/errors';
import { bulkCouple } from '../../shared/operations/couplings';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { eventBuilder } from '../support/events';
import { matchCustomersByName } from '../support/mappings';
import { type Stack, startStack } from '../support/stack';

/** Match-based coupling pages past coupled candidates; a retried BC create finds what a lost attempt created. */
let stack: Stack;
let rt: Runtime;
const bcHeaders = { Authorization: 'Bearer test', 'Content-Type': 'application/json' };
const dvHeaders = { Authorization: '', 'Content-Type': 'application/json', Accept: 'application/json', Prefer: 'return=representation' };
const event = eventBuilder('match', { origin: 'manual' });
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
  await matchCustomersByName(rt);
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
  const { accountId, mappings } = await createWithLostResponse(name);

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
  const { accountId, mappings } = await createWithLostResponse(name);

  // The broker redelivers the event at once: the claim is fresh and records no created id.
  const retryDeps: SyncDeps = { ...rt.syncDeps, mappings };
  const retry = await syncRecord(event({ mapping: 'CUSTOMER', source: 'dataverse', recordId: accountId }), retryDeps);
  expect(retry.result, retry.message).toBe('inserted');
  const customers = await bcCustomersNamed(name);
  expect(customers).toHaveLength(1);
  expect(retry.bcId).toBe(customers[0]?.id);
  expect((await rt.stores.couplings.getByDataverseId('CUSTOMER', accountId))?.bcId).toBe(customers[0]?.id);
});

it('a create BC refused with an answer (503) hands its claim over: the next delivery creates the record at once', async () => {
  const name = 'Refused Create Ltd';
  const accountId = await createAccount(name);
  // BC answers 503 to the POST: its request is over and made nothing (the client does not retry a POST on a 5xx).
  const bc = Object.create(rt.syncDeps.bc) as SyncDeps['bc'];
  bc.create = async () => {
    throw new SyncError('BC.UNAVAILABLE', 'Business Central POST customers answered 503: Injected fault.', { details: { status: 503 } });
  };
  await expect(
    syncRecord(event({ mapping: 'CUSTOMER', source: 'dataverse', recordId: accountId }), { ...rt.syncDeps, bc }),
  ).rejects.toThrow(/503/);
  expect(await bcCustomersNamed(name)).toHaveLength(0);

  // The broker redelivers at once, long before the claim would go stale: the record is created, not starved.
  const retry = await syncRecord(event({ mapping: 'CUSTOMER', source: 'dataverse', recordId: accountId }), rt.syncDeps);
  expect(retry.result, retry.message).toBe('inserted');
  const customers = await bcCustomersNamed(name);
  expect(customers).toHaveLength(1);
  expect((await rt.stores.couplings.getByDataverseId('CUSTOMER', accountId))?.bcId).toBe(customers[0]?.id);
});

it('a Dataverse row created for a BC record that got coupled elsewhere meanwhile is deleted, not left as a second row', async () => {
  const name = 'Coupled Meanwhile Ltd';
  const bcId = await createCustomer(name);
  const partner = await createAccount(name);
  // While our create of the account runs, the customer gets coupled to another account (a Dataverse create whose
  // BC response was lost adopting the customer its attempt made).
  const deps: SyncDeps = {
    ...rt.syncDeps,
    hooks: {
      ...rt.syncDeps.hooks,
      afterWrite: async () => {
        await rt.stores.couplings.couple({
          mapping: 'CUSTOMER',
          bcId,
          dataverseId: partner,
          lastResult: 'inserted',
          lastSyncedAt: new Date().toISOString(),
          environment: rt.syncDeps.options.environment,
        });
      },
    },
  };
  const base = await rt.syncDeps.mappings.get('CUSTOMER');
  if (!base) throw new Error('CUSTOMER mapping missing');
  const unmatched = { ...base, synchOnlyCoupledRecords: false, couplingRules: { ...base.couplingRules, matchFields: [] } };
  deps.mappings = {
    all: () => rt.syncDeps.mappings.all(),
    get: async (n: string) => (n === 'CUSTOMER' ? unmatched : rt.syncDeps.mappings.get(n)),
  };
  await syncRecord(event({ mapping: 'CUSTOMER', source: 'bc', recordId: bcId }), deps).catch(() => undefined);
  const res = await fetch(`${stack.dataverse.apiBase}/accounts?$filter=${encodeURIComponent(`name eq '${name}'`)}&$select=accountid`, {
    headers: { ...dvHeaders, Authorization: `Bearer ${stack.dataverse.adminUserToken}` },
  });
  const rows = ((await res.json()) as { value: Array<{ accountid: string }> }).value;
  expect(rows.map((r) => r.accountid.toLowerCase())).toEqual([partner.toLowerCase()]);
  expect((await rt.stores.couplings.getByBcId('CUSTOMER', bcId))?.dataverseId).toBe(partner);
});

/**
 * A Dataverse account whose first sync to BC creates the customer but loses the response (a timeout: transient),
 * under a CUSTOMER mapping without coupling criteria, so nothing but the lost attempt's own trace can find the record.
 */
async function createWithLostResponse(name: string): Promise<{ accountId: string; mappings: SyncDeps['mappings'] }> {
  const accountId = await createAccount(name);
  const bc = Object.create(rt.syncDeps.bc) as SyncDeps['bc'];
  bc.create = async (target, values, options) => {
    await rt.syncDeps.bc.create(target, values, options);
    throw new SyncError('BC.UNAVAILABLE', 'The request to Business Central timed out.');
  };
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
  return { accountId, mappings };
}
