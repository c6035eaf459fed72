import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeletionConflictResolution } from '../../shared/domain/mappings/schema';
import { syncRecord } from '../../shared/domain/sync/sync-record';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { eventBuilder } from '../support/events';
import { type Stack, startStack } from '../support/stack';

/** Deletion policies (BC's Deletion-Conflict Resolution plus ours), and dry runs, against both simulators. */
describe('deletions and dry runs', () => {
  let stack: Stack;
  let rt: Runtime;
  const bc = { Authorization: 'Bearer t', 'Content-Type': 'application/json' };
  const dv = () => ({ Authorization: `Bearer ${stack.dataverse.adminUserToken}`, Accept: 'application/json' });
  const event = eventBuilder('del', { mapping: 'CUSTOMER' });
  const policy = async (deletionConflictResolution: DeletionConflictResolution) => {
    const m = await rt.stores.mappings.get('CUSTOMER', { fresh: true });
    if (!m) throw new Error('no CUSTOMER');
    await rt.stores.mappings.put({ ...m, deletionConflictResolution });
    rt.stores.mappings.invalidate();
  };
  /** A BC customer coupled to a new account. */
  const coupledPair = async (name: string) => {
    const res = await fetch(`${stack.bc.apiBase()}/customers`, {
      method: 'POST',
      headers: bc,
      body: JSON.stringify({ displayName: name, salespersonCode: 'PS' }),
    });
    const customer = (await res.json()) as { id: string; '@odata.etag': string };
    const out = await syncRecord(event({ source: 'bc', recordId: customer.id, origin: 'manual' }), rt.syncDeps);
    expect(out.result, out.message).toBe('inserted');
    return { bcId: customer.id, etag: customer['@odata.etag'], dvId: String(out.dataverseId) };
  };
  const deleteBc = async (id: string) => {
    const row = (await (await fetch(`${stack.bc.apiBase()}/customers(${id})`, { headers: bc })).json()) as { '@odata.etag': string };
    const res = await fetch(`${stack.bc.apiBase()}/customers(${id})`, {
      method: 'DELETE',
      headers: { ...bc, 'If-Match': row['@odata.etag'] },
    });
    expect(res.status).toBe(204);
  };
  const dvExists = async (id: string) => (await fetch(`${stack.dataverse.apiBase}/accounts(${id})`, { headers: dv() })).status === 200;

  beforeAll(async () => {
    stack = await startStack({ functions: [] });
    rt = await getRuntime();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('None: a deleted BC customer leaves the account and records a deletion conflict', async () => {
    await policy('None');
    const p = await coupledPair('Delete None Co');
    await deleteBc(p.bcId);
    const out = await syncRecord(event({ source: 'bc', recordId: p.bcId, changeType: 'deleted' }), rt.syncDeps);
    expect(out.result).toBe('failed');
    expect(out.code).toBe('SYNC.DELETION_CONFLICT');
    expect(await dvExists(p.dvId)).toBe(true);
    const open = await rt.stores.syncErrors.list({ mapping: 'CUSTOMER', status: 'open', code: 'SYNC.DELETION_CONFLICT' });
    expect(open.items.some((e) => e.bcId === p.bcId)).toBe(true);
  });

  it('RemoveCoupling: the coupling goes, both records stay as they are', async () => {
    await policy('RemoveCoupling');
    const p = await coupledPair('Delete Uncouple Co');
    await deleteBc(p.bcId);
    const out = await syncRecord(event({ source: 'bc', recordId: p.bcId, changeType: 'deleted' }), rt.syncDeps);
    expect(out.result).toBe('deleted');
    expect(await rt.stores.couplings.getByBcId('CUSTOMER', p.bcId)).toBeUndefined();
    expect(await dvExists(p.dvId)).toBe(true);
  });

  it('PropagateDelete: the account is deleted too', async () => {
    await policy('PropagateDelete');
    const p = await coupledPair('Delete Propagate Co');
    await deleteBc(p.bcId);
    const out = await syncRecord(event({ source: 'bc', recordId: p.bcId, changeType: 'deleted' }), rt.syncDeps);
    expect(out.result).toBe('deleted');
    expect(await dvExists(p.dvId)).toBe(false);
    expect(await rt.stores.couplings.getByBcId('CUSTOMER', p.bcId)).toBeUndefined();
  });

  it('RestoreRecords: the deleted BC customer is re-created from the account and coupled again', async () => {
    await policy('RestoreRecords');
    const p = await coupledPair('Delete Restore Co');
    await deleteBc(p.bcId);
    const out = await syncRecord(event({ source: 'bc', recordId: p.bcId, changeType: 'deleted' }), rt.syncDeps);
    expect(out.result, out.message).toBe('inserted');
    const coupling = await rt.stores.couplings.getByDataverseId('CUSTOMER', p.dvId);
    expect(coupling?.bcId).toBeDefined();
    expect(coupling?.bcId).not.toBe(p.bcId);
    const restored = (await (await fetch(`${stack.bc.apiBase()}/customers(${coupling?.bcId})`, { headers: bc })).json()) as {
      displayName: string;
    };
    expect(restored.displayName).toBe('Delete Restore Co');
  });

  it('IgnoreAndReport: nothing changes, the skip is counted', async () => {
    await policy('IgnoreAndReport');
    const p = await coupledPair('Delete Ignore Co');
    const before = (await rt.stores.counters.get('CUSTOMER')).skipped;
    await deleteBc(p.bcId);
    const out = await syncRecord(event({ source: 'bc', recordId: p.bcId, changeType: 'deleted' }), rt.syncDeps);
    expect(out.result).toBe('skipped');
    expect((await rt.stores.counters.get('CUSTOMER')).skipped).toBe(before + 1);
    expect(await dvExists(p.dvId)).toBe(true);
  });

  it('dry run computes the change and records it in history without writing', async () => {
    await policy('None');
    const p = await coupledPair('Dry Run Co');
    const row = (await (await fetch(`${stack.bc.apiBase()}/customers(${p.bcId})`, { headers: bc })).json()) as { '@odata.etag': string };
    await fetch(`${stack.bc.apiBase()}/customers(${p.bcId})`, {
      method: 'PATCH',
      headers: { ...bc, 'If-Match': row['@odata.etag'] },
      body: JSON.stringify({ city: 'Dryden' }),
    });
    const out = await syncRecord(event({ source: 'bc', recordId: p.bcId }), {
      ...rt.syncDeps,
      options: { ...rt.syncDeps.options, dryRun: true },
    });
    expect(out.result).toBe('modified');
    expect(out.changes?.['city -> address1_city']?.[1]).toBe('Dryden');
    const account = (await (
      await fetch(`${stack.dataverse.apiBase}/accounts(${p.dvId})?$select=address1_city`, { headers: dv() })
    ).json()) as { address1_city: string | null };
    expect(account.address1_city).not.toBe('Dryden');
    const history = await rt.stores.history.forRecord('CUSTOMER', { bcId: p.bcId });
    expect(history[0]).toMatchObject({ result: 'modified', dryRun: true });
  });
});
