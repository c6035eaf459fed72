import { afterAll, beforeAll, expect, it } from 'vitest';
import { syncRecord } from '../../shared/domain/sync/sync-record';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { eventBuilder } from '../support/events';
import { matchCustomersByName } from '../support/mappings';
import { type Stack, startStack } from '../support/stack';

/**
 * The audit's finding 3 on the local stack: a user edits the account in Dataverse; before the user's event is
 * handled, our BC → Dataverse write lands on the same row, so the row's last modifier is the integration user.
 * The user's event must still carry the edit to BC; a plain echo of our own write is still recognised.
 */
let stack: Stack;
let rt: Runtime;
const bcHeaders = { Authorization: 'Bearer test', 'Content-Type': 'application/json' };
const bcCustomer = async (id: string) => {
  const res = await fetch(`${stack.bc.apiBase()}/customers(${id})`, { headers: bcHeaders });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
};
const bcPatch = async (id: string, body: Record<string, unknown>) => {
  const row = await bcCustomer(id);
  const res = await fetch(`${stack.bc.apiBase()}/customers(${id})`, {
    method: 'PATCH',
    headers: { ...bcHeaders, 'If-Match': String(row['@odata.etag']) },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
};
const dvUserPatch = async (id: string, body: Record<string, unknown>) => {
  const res = await fetch(`${stack.dataverse.apiBase}/accounts(${id})`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}`, 'Content-Type': 'application/json', 'If-Match': '*' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(204);
};
const event = eventBuilder('echo');

beforeAll(async () => {
  stack = await startStack({ functions: [] });
  rt = await getRuntime();
  await matchCustomersByName(rt, { updateConflictResolution: 'FieldMerge' });
});
afterAll(async () => {
  await stack?.stop();
});

it("carries a user's Dataverse edit to BC although our own write landed on the row after it", { timeout: 60_000 }, async () => {
  const res = await fetch(`${stack.bc.apiBase()}/customers?$filter=displayName eq 'Relecloud'`, { headers: bcHeaders });
  const bcId = String(((await res.json()) as { value: Array<{ id: string }> }).value[0]?.id);
  const coupled = await syncRecord(event({ mapping: 'CUSTOMER', source: 'bc', recordId: bcId, origin: 'manual' }), rt.syncDeps);
  expect(coupled.result, coupled.message).toBe('coupled');
  const dvId = String(coupled.dataverseId);

  // 1. The user edits the phone in Dataverse (event not handled yet).
  await dvUserPatch(dvId, { telephone1: '+44 20 7946 0555' });
  // 2. Meanwhile BC changes the address and our BC → Dataverse write lands on the row.
  await bcPatch(bcId, { addressLine1: '7 Race Street' });
  const ours = await syncRecord(event({ mapping: 'CUSTOMER', source: 'bc', recordId: bcId }), rt.syncDeps);
  expect(ours.result, ours.message).toBe('modified');
  // 3. The user's event is handled now: the row's last modifier is us, but the phone is the user's.
  const users = await syncRecord(event({ mapping: 'CUSTOMER', source: 'dataverse', recordId: dvId }), rt.syncDeps);
  expect(users.result, users.message).toBe('modified');
  expect((await bcCustomer(bcId)).phoneNumber).toBe('+44 20 7946 0555');
  expect((await bcCustomer(bcId)).addressLine1).toBe('7 Race Street');

  // A plain echo of our own write is still recognised and writes nothing.
  await bcPatch(bcId, { addressLine1: '8 Race Street' });
  expect((await syncRecord(event({ mapping: 'CUSTOMER', source: 'bc', recordId: bcId }), rt.syncDeps)).result).toBe('modified');
  const echo = await syncRecord(event({ mapping: 'CUSTOMER', source: 'dataverse', recordId: dvId }), rt.syncDeps);
  expect(echo).toMatchObject({ result: 'unchanged', message: 'changed by the integration user (our own write)' });
});
