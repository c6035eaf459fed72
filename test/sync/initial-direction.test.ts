import { afterAll, beforeAll, expect, it } from 'vitest';
import { syncRecord } from '../../shared/domain/sync/sync-record';
import { bulkCouple, coupleRecord } from '../../shared/operations/couplings';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { eventBuilder } from '../support/events';
import { matchCustomersByName } from '../support/mappings';
import { type Stack, startStack } from '../support/stack';

/**
 * The first synchronization after coupling existing records (BC's "synchronize after coupling", in a chosen
 * direction): decided when the pair is coupled and applied right away; a change on a pair never synchronized
 * applies it first, or parks the record — it never overwrites the other side wholesale.
 */
let stack: Stack;
let rt: Runtime;
const bcHeaders = { Authorization: 'Bearer test', 'Content-Type': 'application/json' };
/** The BC fields the audit saw overwritten from the Dataverse demo values. */
const GUARDED = ['addressLine1', 'city', 'country', 'postalCode', 'email', 'currencyCode'];
const bcCustomer = async (name: string) => {
  const res = await fetch(`${stack.bc.apiBase()}/customers?$filter=${encodeURIComponent(`displayName eq '${name}'`)}`, {
    headers: bcHeaders,
  });
  const rows = ((await res.json()) as { value: Array<Record<string, unknown>> }).value;
  expect(rows).toHaveLength(1);
  return rows[0] as Record<string, unknown>;
};
const account = async (name: string) => {
  const res = await fetch(
    `${stack.dataverse.apiBase}/accounts?$filter=${encodeURIComponent(`name eq '${name}'`)}&$select=accountid,telephone1`,
    {
      headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}`, Accept: 'application/json' },
    },
  );
  const rows = ((await res.json()) as { value: Array<Record<string, unknown>> }).value;
  expect(rows).toHaveLength(1);
  return rows[0] as Record<string, unknown>;
};
const userEdit = async (id: string, body: Record<string, unknown>) => {
  const res = await fetch(`${stack.dataverse.apiBase}/accounts(${id})`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}`, 'Content-Type': 'application/json', 'If-Match': '*' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(204);
};
const event = eventBuilder('initial');
const pick = (r: Record<string, unknown>) => Object.fromEntries(GUARDED.map((k) => [k, r[k]]));

beforeAll(async () => {
  stack = await startStack({ functions: [] });
  rt = await getRuntime();
  // The demo's set-up: customers couple by name, and new records flow without a prior coupling.
  await matchCustomersByName(rt, { synchOnlyCoupledRecords: false }, { createNewIfNoMatch: true });
});
afterAll(async () => {
  await stack?.stop();
});

it('a Dataverse phone edit that couples Relecloud by name synchronizes it from BC first, never BC from Dataverse', async () => {
  const before = await bcCustomer('Relecloud');
  const dv = await account('Relecloud');
  await userEdit(String(dv.accountid), { telephone1: '+44 20 0000 0001' });
  const out = await syncRecord(event({ mapping: 'CUSTOMER', source: 'dataverse', recordId: String(dv.accountid) }), rt.syncDeps);
  expect(out.result, out.message).toBe('coupled');
  expect(out.message).toMatch(/first synchronization after coupling, ToIntegrationTable/);
  expect(pick(await bcCustomer('Relecloud'))).toEqual(pick(before));
  // BC's values went to Dataverse; the pair is synchronized from now on, change by change.
  expect((await account('Relecloud')).telephone1).toBe(before.phoneNumber || null);
  const coupling = await rt.stores.couplings.getByDataverseId('CUSTOMER', String(dv.accountid));
  expect(coupling?.initialDirection).toBe('ToIntegrationTable');
  expect(coupling?.snapshot).toBeDefined();
});

it('parks a change on a bidirectional pair coupled without a direction and never synchronized, writing nothing', async () => {
  const bc = await bcCustomer('Alpine Ski House');
  const dv = await account('Alpine Ski House');
  await rt.stores.couplings.couple({
    mapping: 'CUSTOMER',
    bcId: String(bc.id),
    dataverseId: String(dv.accountid),
    lastResult: 'coupled',
    environment: rt.syncDeps.options.environment,
  });
  await userEdit(String(dv.accountid), { telephone1: '+43 1 0000 0002' });
  const out = await syncRecord(event({ mapping: 'CUSTOMER', source: 'dataverse', recordId: String(dv.accountid) }), rt.syncDeps);
  expect(out).toMatchObject({ result: 'failed', code: 'SYNC.UPDATE_CONFLICT' });
  expect(out.message).toMatch(/never synchronized/);
  expect(pick(await bcCustomer('Alpine Ski House'))).toEqual(pick(bc));
  const errors = await rt.stores.syncErrors.list({ mapping: 'CUSTOMER', status: 'open' });
  expect(
    errors.items.some(
      (e: { code: string; dataverseId?: string }) => e.code === 'SYNC.UPDATE_CONFLICT' && e.dataverseId === String(dv.accountid),
    ),
  ).toBe(true);
});

it('bulk and single coupling apply the initial direction right away', async () => {
  const bulkPair = await pair('Pair Bulk Ltd');
  const bulk = await bulkCouple(rt.syncDeps, { mapping: 'CUSTOMER', bcIds: [bulkPair.bcId] });
  expect(bulk.coupled, JSON.stringify(bulk.results)).toBe(1);
  const c1 = await rt.stores.couplings.getByBcId('CUSTOMER', bulkPair.bcId);
  expect(c1).toMatchObject({ initialDirection: 'ToIntegrationTable', lastResult: 'modified' });
  expect(c1?.snapshot).toBeDefined();
  expect((await account('Pair Bulk Ltd')).telephone1).toBe('+1 555 0001');

  const single = await pair('Pair Single Ltd');
  const coupled = await coupleRecord(rt.syncDeps, { mapping: 'CUSTOMER', bcId: single.bcId, dataverseId: single.dataverseId });
  expect(coupled.outcome?.result, coupled.outcome?.message).toBe('modified');
  expect(coupled.coupling?.initialDirection).toBe('ToIntegrationTable');
  expect(coupled.coupling?.snapshot).toBeDefined();
  // Then a Dataverse edit writes only what the user changed.
  const before = await bcCustomer('Pair Single Ltd');
  await userEdit(single.dataverseId, { telephone1: '+1 555 0100' });
  const out = await syncRecord(event({ mapping: 'CUSTOMER', source: 'dataverse', recordId: single.dataverseId }), rt.syncDeps);
  expect(out.result, out.message).toBe('modified');
  expect(Object.keys(out.changes ?? {})).toEqual(['phoneNumber -> telephone1']);
  expect(pick(await bcCustomer('Pair Single Ltd'))).toEqual(pick(before));
});

/** A BC customer and a Dataverse account of the same name with different phones and cities, not coupled. */
async function pair(name: string): Promise<{ bcId: string; dataverseId: string }> {
  const bc = await fetch(`${stack.bc.apiBase()}/customers`, {
    method: 'POST',
    headers: bcHeaders,
    body: JSON.stringify({ displayName: name, phoneNumber: '+1 555 0001', city: 'Seattle', addressLine1: '1 BC Way' }),
  });
  expect(bc.status).toBe(201);
  const dv = await fetch(`${stack.dataverse.apiBase}/accounts`, {
    method: 'POST',
    headers: {
      Authorization: `Bearer ${stack.dataverse.adminUserToken}`,
      'Content-Type': 'application/json',
      Accept: 'application/json',
      Prefer: 'return=representation',
    },
    body: JSON.stringify({ name, customertypecode: 3, telephone1: '+1 555 9999', address1_city: 'Elsewhere' }),
  });
  expect(dv.status).toBe(201);
  return {
    bcId: String(((await bc.json()) as { id: string }).id),
    dataverseId: String(((await dv.json()) as { accountid: string }).accountid),
  };
}
