import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../shared/domain/change-event';
import type { DeletionConflictResolution, TableMapping } from '../../shared/domain/mappings/schema';
import { bcTarget, dataverseTarget } from '../../shared/domain/mappings/targets';
import type { SyncErrorStore } from '../../shared/domain/ports';
import { syncRecord } from '../../shared/domain/sync/sync-record';
import type { SyncDeps } from '../../shared/domain/sync/types';
import { SyncError } from '../../shared/errors';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { eventBuilder } from '../support/events';
import { type Stack, startStack } from '../support/stack';

/**
 * The outcome recorder: every path of the engine is booked the same way (counters, history, error resolution),
 * whichever side was deleted, and a dry run books nothing it did not do. A success reads the error store only
 * when the coupling says an error may be open.
 */
describe('engine bookkeeping', () => {
  let stack: Stack;
  let rt: Runtime;
  let customer: TableMapping;
  const bc = { Authorization: 'Bearer t', 'Content-Type': 'application/json' };
  const event = eventBuilder('book');

  const policy = async (deletionConflictResolution: DeletionConflictResolution) => {
    const m = await rt.stores.mappings.get('CUSTOMER', { fresh: true });
    if (!m) throw new Error('no CUSTOMER');
    await rt.stores.mappings.put({ ...m, deletionConflictResolution });
    rt.stores.mappings.invalidate();
  };
  const newCustomer = async (name: string) => {
    const res = await fetch(`${stack.bc.apiBase()}/customers`, {
      method: 'POST',
      headers: bc,
      body: JSON.stringify({ displayName: name, salespersonCode: 'PS' }),
    });
    expect(res.status).toBe(201);
    return String(((await res.json()) as { id: string }).id);
  };
  const cityTo = async (bcId: string, city: string) => {
    const row = (await (await fetch(`${stack.bc.apiBase()}/customers(${bcId})`, { headers: bc })).json()) as { '@odata.etag': string };
    const res = await fetch(`${stack.bc.apiBase()}/customers(${bcId})`, {
      method: 'PATCH',
      headers: { ...bc, 'If-Match': row['@odata.etag'] },
      body: JSON.stringify({ city }),
    });
    expect(res.status).toBe(200);
  };
  /** A BC customer coupled to a new account. */
  const coupledPair = async (name: string) => {
    const bcId = await newCustomer(name);
    const out = await syncRecord(event({ mapping: 'CUSTOMER', source: 'bc', recordId: bcId, origin: 'manual' }), rt.syncDeps);
    expect(out.result, out.message).toBe('inserted');
    return { bcId, dvId: String(out.dataverseId) };
  };
  const deleteAccount = async (dvId: string) => {
    const row = await rt.syncDeps.dataverse.get(dataverseTarget(customer), dvId);
    if (!row) throw new Error(`no account ${dvId}`);
    await rt.syncDeps.dataverse.delete(dataverseTarget(customer), dvId, row.etag);
  };
  const deleteCustomer = async (bcId: string) => {
    const row = await rt.syncDeps.bc.get(bcTarget(customer), bcId);
    if (!row) throw new Error(`no customer ${bcId}`);
    await rt.syncDeps.bc.delete(bcTarget(customer), bcId, row.etag);
  };
  const bcExists = async (bcId: string) => Boolean(await rt.syncDeps.bc.get(bcTarget(customer), bcId));
  const dvExists = async (dvId: string) => Boolean(await rt.syncDeps.dataverse.get(dataverseTarget(customer), dvId));
  const historyOf = async (e: ChangeEvent, key: { bcId?: string; dataverseId?: string }) =>
    (await rt.stores.history.forRecord('CUSTOMER', key)).filter((h) => h.correlationId === e.correlationId);
  const counts = async () => rt.stores.counters.get('CUSTOMER');
  const dryRun = (): SyncDeps => ({ ...rt.syncDeps, options: { ...rt.syncDeps.options, dryRun: true } });
  /** The sync deps with `errors.resolve` counted. */
  const countingResolves = () => {
    const calls: Array<{ bcId?: string; dataverseId?: string }> = [];
    const errors: SyncErrorStore = Object.create(rt.syncDeps.errors);
    errors.resolve = async (mapping, key) => {
      calls.push(key);
      return rt.syncDeps.errors.resolve(mapping, key);
    };
    return { deps: { ...rt.syncDeps, errors }, calls };
  };
  const openErrorsOf = async (bcId: string) =>
    (await rt.stores.syncErrors.list({ mapping: 'CUSTOMER', status: 'open', pageSize: 1000 })).items.filter((e) => e.bcId === bcId);

  beforeAll(async () => {
    stack = await startStack({ functions: [] });
    rt = await getRuntime();
    const m = await rt.stores.mappings.get('CUSTOMER');
    if (!m) throw new Error('no CUSTOMER');
    customer = m;
  });
  afterAll(async () => {
    await stack?.stop();
  });

  describe('deletions', () => {
    it('RemoveCoupling writes the deletion to history whichever side was deleted', async () => {
      await policy('RemoveCoupling');
      const a = await coupledPair('Book Uncouple Source Co');
      await deleteCustomer(a.bcId);
      const bySource = event({ mapping: 'CUSTOMER', source: 'bc', recordId: a.bcId, changeType: 'deleted' });
      expect((await syncRecord(bySource, rt.syncDeps)).result).toBe('deleted');
      expect(await historyOf(bySource, { bcId: a.bcId })).toMatchObject([{ result: 'deleted' }]);

      const b = await coupledPair('Book Uncouple Destination Co');
      await deleteAccount(b.dvId);
      await cityTo(b.bcId, 'Uncoupleton');
      const byDestination = event({ mapping: 'CUSTOMER', source: 'bc', recordId: b.bcId });
      const out = await syncRecord(byDestination, rt.syncDeps);
      expect(out.result, out.message).toBe('deleted');
      expect(await rt.stores.couplings.getByBcId('CUSTOMER', b.bcId)).toBeUndefined();
      expect(await historyOf(byDestination, { bcId: b.bcId })).toMatchObject([{ result: 'deleted', dataverseId: b.dvId }]);
    });

    it('PropagateDelete of a deleted destination writes history as well as counting', async () => {
      await policy('PropagateDelete');
      const p = await coupledPair('Book Propagate Destination Co');
      await deleteAccount(p.dvId);
      await cityTo(p.bcId, 'Propagateton');
      const before = (await counts()).deleted;
      const e = event({ mapping: 'CUSTOMER', source: 'bc', recordId: p.bcId });
      expect((await syncRecord(e, rt.syncDeps)).result).toBe('deleted');
      expect(await bcExists(p.bcId)).toBe(false);
      expect((await counts()).deleted).toBe(before + 1);
      expect(await historyOf(e, { bcId: p.bcId })).toMatchObject([{ result: 'deleted' }]);
    });

    it('IgnoreAndReport of a deleted destination writes history as well as counting', async () => {
      await policy('IgnoreAndReport');
      const p = await coupledPair('Book Ignore Destination Co');
      await deleteAccount(p.dvId);
      await cityTo(p.bcId, 'Ignoreton');
      const before = (await counts()).skipped;
      const e = event({ mapping: 'CUSTOMER', source: 'bc', recordId: p.bcId });
      expect((await syncRecord(e, rt.syncDeps)).result).toBe('skipped');
      expect((await counts()).skipped).toBe(before + 1);
      expect(await historyOf(e, { bcId: p.bcId })).toMatchObject([{ result: 'skipped' }]);
    });

    it('a dry-run PropagateDelete counts no delete and deletes nothing, whichever side was deleted', async () => {
      await policy('PropagateDelete');
      const a = await coupledPair('Book Dry Propagate Source Co');
      await deleteCustomer(a.bcId);
      const before = (await counts()).deleted;
      const bySource = event({ mapping: 'CUSTOMER', source: 'bc', recordId: a.bcId, changeType: 'deleted' });
      expect((await syncRecord(bySource, dryRun())).result).toBe('deleted');
      expect((await counts()).deleted).toBe(before);
      expect(await dvExists(a.dvId)).toBe(true);
      expect(await rt.stores.couplings.getByBcId('CUSTOMER', a.bcId)).toBeDefined();
      expect(await historyOf(bySource, { bcId: a.bcId })).toMatchObject([{ result: 'deleted', dryRun: true }]);

      const b = await coupledPair('Book Dry Propagate Destination Co');
      await deleteAccount(b.dvId);
      await cityTo(b.bcId, 'Dryton');
      const byDestination = event({ mapping: 'CUSTOMER', source: 'bc', recordId: b.bcId });
      expect((await syncRecord(byDestination, dryRun())).result).toBe('deleted');
      expect((await counts()).deleted).toBe(before);
      expect(await bcExists(b.bcId)).toBe(true);
      expect(await rt.stores.couplings.getByBcId('CUSTOMER', b.bcId)).toBeDefined();
    });
  });

  describe('open sync errors', () => {
    /** Hooks that refuse every write, as a destination refusing the record's data would. */
    const refusing = (): SyncDeps => ({
      ...rt.syncDeps,
      hooks: {
        ...rt.syncDeps.hooks,
        beforeWrite: async () => {
          throw new SyncError('DV.VALIDATION', 'refused by the test');
        },
      },
    });

    it('a success with no open error leaves the error store alone', async () => {
      await policy('None');
      const p = await coupledPair('Book No Error Co');
      expect((await rt.stores.couplings.getByBcId('CUSTOMER', p.bcId))?.openError).toBe(false);
      await cityTo(p.bcId, 'Quietville');
      const { deps, calls } = countingResolves();
      expect((await syncRecord(event({ mapping: 'CUSTOMER', source: 'bc', recordId: p.bcId }), deps)).result).toBe('modified');
      expect(calls).toEqual([]);
    });

    it('a failure of a coupled pair is resolved by its next success', async () => {
      await policy('None');
      const p = await coupledPair('Book Failing Co');
      await cityTo(p.bcId, 'Failton');
      const failed = await syncRecord(event({ mapping: 'CUSTOMER', source: 'bc', recordId: p.bcId }), refusing());
      expect(failed.result).toBe('failed');
      expect(await openErrorsOf(p.bcId)).toHaveLength(1);
      expect((await rt.stores.couplings.getByBcId('CUSTOMER', p.bcId))?.openError).toBe(true);

      const { deps, calls } = countingResolves();
      const out = await syncRecord(event({ mapping: 'CUSTOMER', source: 'bc', recordId: p.bcId }), deps);
      expect(out.result, out.message).toBe('modified');
      expect(calls).toHaveLength(1);
      expect(await openErrorsOf(p.bcId)).toEqual([]);
      expect((await rt.stores.couplings.getByBcId('CUSTOMER', p.bcId))?.openError).toBe(false);
    });

    it('a failure before the record was coupled (a refused create) is resolved when it is created', async () => {
      await policy('None');
      const bcId = await newCustomer('Book Refused Create Co');
      const failed = await syncRecord(event({ mapping: 'CUSTOMER', source: 'bc', recordId: bcId, origin: 'manual' }), refusing());
      expect(failed.result).toBe('failed');
      expect(await openErrorsOf(bcId)).toHaveLength(1);
      const out = await syncRecord(event({ mapping: 'CUSTOMER', source: 'bc', recordId: bcId, origin: 'manual' }), rt.syncDeps);
      expect(out.result, out.message).toBe('inserted');
      expect(await openErrorsOf(bcId)).toEqual([]);
    });

    it('a create whose sync fails after the coupling was stored still resolves the earlier error on the retry', async () => {
      await policy('None');
      const bcId = await newCustomer('Book Interrupted Create Co');
      const e = event({ mapping: 'CUSTOMER', source: 'bc', recordId: bcId, origin: 'manual' });
      expect((await syncRecord(e, refusing())).result).toBe('failed');
      expect(await openErrorsOf(bcId)).toHaveLength(1);
      // The queueing of referrers, after the coupling is stored and before the outcome is booked, fails transiently.
      const interrupted: SyncDeps = {
        ...rt.syncDeps,
        mappings: {
          get: (name) => rt.syncDeps.mappings.get(name),
          all: async () => {
            throw new SyncError('QUEUE.UNAVAILABLE', 'the queue is down (test)');
          },
        },
      };
      await expect(syncRecord(e, interrupted)).rejects.toMatchObject({ code: 'QUEUE.UNAVAILABLE' });
      expect(await rt.stores.couplings.getByBcId('CUSTOMER', bcId)).toMatchObject({ openError: true });
      const retried = await syncRecord(e, rt.syncDeps);
      expect(['unchanged', 'modified']).toContain(retried.result);
      expect(await openErrorsOf(bcId)).toEqual([]);
    });
  });
});
