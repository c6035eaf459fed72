import { describe, expect, it } from 'vitest';
import type { Side } from '../../../shared/domain/direction';
import type { DeletionConflictResolution } from '../../../shared/domain/mappings/schema';
import { syncRecord } from '../../../shared/domain/sync/sync-record';
import { coupledPair, nameOf, other, passOf, widgetMapping } from './world';

/**
 * Deletion policies (BC's Deletion-Conflict Resolution plus ours) × which side was deleted × direction × dry run,
 * with in-memory ports. Every delete path writes history; a dry run writes nothing, keeps the coupling and counts
 * nothing (its history entries are marked as a dry run).
 */

/** What a path counts: nothing in a dry run. */
const counted = (dryRun: boolean, c: Record<string, number>) => (dryRun ? {} : c);

const sides: Side[] = ['bc', 'dataverse'];

describe.each(sides)('the %s record of a coupled pair was deleted; its change event arrives', (deleted) => {
  const survivor = other(deleted);

  describe.each([false, true])('dry run %s', (dryRun) => {
    const setUp = async (deletion: DeletionConflictResolution) => {
      const p = await coupledPair(widgetMapping({ deletion }), { dryRun });
      p.remove(deleted);
      const out = await syncRecord(p.event(deleted, { changeType: 'deleted' }), p.deps);
      const coupling = await p.couplings.getByBcId('WIDGET', p.ids.bc);
      return { p, out, coupling };
    };

    it('None: a deletion conflict is recorded, the survivor stays', async () => {
      const { p, out, coupling } = await setUp('None');
      expect(out).toMatchObject({ result: 'failed', code: 'SYNC.DELETION_CONFLICT' });
      expect(p.exists(survivor)).toBe(true);
      expect(p.writes()).toEqual([]);
      expect(p.errors.open()).toEqual([expect.objectContaining({ code: 'SYNC.DELETION_CONFLICT', direction: passOf(deleted), ...p.keys })]);
      expect(coupling).toMatchObject({ lastResult: 'failed', failureCount: 1 });
      expect(p.history.entries).toEqual([]);
      if (!dryRun) expect(p.counters.nonZero('WIDGET')).toEqual({ failed: 1 });
    });

    it('RemoveCoupling: the coupling goes, the survivor stays', async () => {
      const { p, out, coupling } = await setUp('RemoveCoupling');
      expect(out).toMatchObject({ result: 'deleted', ...p.keys });
      expect(p.exists(survivor)).toBe(true);
      expect(p.writes()).toEqual([]);
      if (dryRun) expect(coupling).toBeDefined();
      else expect(coupling).toBeUndefined();
      expect(p.history.entries).toEqual([
        expect.objectContaining({ result: 'deleted', direction: passOf(deleted), ...p.keys, dryRun: dryRun ? true : undefined }),
      ]);
      expect(p.errors.open()).toEqual([]);
      expect(p.counters.nonZero('WIDGET')).toEqual(counted(dryRun, { deleted: 1 }));
    });

    it('PropagateDelete: the survivor is deleted too', async () => {
      const { p, out, coupling } = await setUp('PropagateDelete');
      expect(out).toMatchObject({ result: 'deleted', ...p.keys });
      expect(p.exists(survivor)).toBe(dryRun);
      expect(p.writes()).toEqual(dryRun ? [] : [{ side: survivor, op: 'delete', id: p.ids[survivor] }]);
      if (dryRun) expect(coupling).toBeDefined();
      else expect(coupling).toBeUndefined();
      expect(p.history.entries).toEqual([
        expect.objectContaining({ result: 'deleted', direction: passOf(deleted), ...p.keys, dryRun: dryRun ? true : undefined }),
      ]);
      expect(p.counters.nonZero('WIDGET')).toEqual(counted(dryRun, { deleted: 1 }));
    });

    it('RestoreRecords: the deleted record is made again from the survivor and coupled', async () => {
      const { p, out } = await setUp('RestoreRecords');
      expect(out.result).toBe('inserted');
      const gw = deleted === 'bc' ? p.bc : p.dataverse;
      expect(gw.writes.map((x) => x.op)).toEqual(dryRun ? [] : ['create']);
      expect(p.writes()).toHaveLength(dryRun ? 0 : 1);
      expect(p.history.entries).toEqual([
        expect.objectContaining({ result: 'inserted', direction: passOf(survivor), dryRun: dryRun ? true : undefined }),
      ]);
      if (dryRun) {
        expect(await p.couplings.getByBcId('WIDGET', p.ids.bc)).toBeDefined();
        expect(p.counters.nonZero('WIDGET')).toEqual({});
        return;
      }
      const restoredId = gw.writes[0]?.id as string;
      const coupling =
        deleted === 'bc' ? await p.couplings.getByDataverseId('WIDGET', p.ids.dataverse) : await p.couplings.getByBcId('WIDGET', p.ids.bc);
      expect(coupling?.[deleted === 'bc' ? 'bcId' : 'dataverseId']).toBe(restoredId);
      const restored = deleted === 'bc' ? p.bc.peek({ side: 'bc', kind: 'apiV2', entitySet: 'customers' }, restoredId) : undefined;
      if (restored) expect(restored.values[nameOf('bc')]).toBe('Widget Co');
      expect(p.counters.nonZero('WIDGET')).toEqual({ inserted: 1 });
    });

    it('IgnoreAndReport: nothing changes, the skip is reported', async () => {
      const { p, out, coupling } = await setUp('IgnoreAndReport');
      expect(out).toMatchObject({ result: 'skipped', ...p.keys });
      expect(p.exists(survivor)).toBe(true);
      expect(p.writes()).toEqual([]);
      expect(coupling).toBeDefined();
      expect(p.history.entries).toEqual([
        expect.objectContaining({ result: 'skipped', direction: passOf(deleted), ...p.keys, dryRun: dryRun ? true : undefined }),
      ]);
      expect(p.counters.nonZero('WIDGET')).toEqual(counted(dryRun, { skipped: 1 }));
    });
  });
});

describe.each(sides)('a change on the %s side of a pair whose other record was deleted', (source) => {
  const deleted = other(source);

  describe.each([false, true])('dry run %s', (dryRun) => {
    const setUp = async (deletion: DeletionConflictResolution) => {
      const p = await coupledPair(widgetMapping({ deletion }), { dryRun });
      p.remove(deleted);
      // A person's change (a row the integration user wrote last and nobody touched since is our own echo).
      p.edit(source, { [nameOf(source)]: 'Renamed Co' });
      const out = await syncRecord(p.event(source), p.deps);
      const coupling = await p.couplings.getByBcId('WIDGET', p.ids.bc);
      return { p, out, coupling };
    };

    it('None: a deletion conflict is recorded, the source stays', async () => {
      const { p, out, coupling } = await setUp('None');
      expect(out).toMatchObject({ result: 'failed', code: 'SYNC.DELETION_CONFLICT' });
      expect(p.exists(source)).toBe(true);
      expect(p.writes()).toEqual([]);
      expect(p.errors.open()).toEqual([expect.objectContaining({ code: 'SYNC.DELETION_CONFLICT', direction: passOf(source) })]);
      expect(coupling).toMatchObject({ lastResult: 'failed', failureCount: 1 });
      if (!dryRun) expect(p.counters.nonZero('WIDGET')).toEqual({ failed: 1 });
    });

    it('RemoveCoupling: the coupling goes, the source stays', async () => {
      const { p, out, coupling } = await setUp('RemoveCoupling');
      expect(out).toMatchObject({ result: 'deleted', ...p.keys });
      expect(p.exists(source)).toBe(true);
      expect(p.writes()).toEqual([]);
      if (dryRun) expect(coupling).toBeDefined();
      else expect(coupling).toBeUndefined();
      expect(p.history.entries).toEqual([
        expect.objectContaining({ result: 'deleted', direction: passOf(source), ...p.keys, dryRun: dryRun ? true : undefined }),
      ]);
      expect(p.counters.nonZero('WIDGET')).toEqual(counted(dryRun, { deleted: 1 }));
    });

    it('PropagateDelete: the source is deleted too', async () => {
      const { p, out, coupling } = await setUp('PropagateDelete');
      expect(out).toMatchObject({ result: 'deleted', ...p.keys });
      expect(p.exists(source)).toBe(dryRun);
      expect(p.writes()).toEqual(dryRun ? [] : [{ side: source, op: 'delete', id: p.ids[source] }]);
      if (dryRun) expect(coupling).toBeDefined();
      else expect(coupling).toBeUndefined();
      expect(p.history.entries).toEqual([
        expect.objectContaining({ result: 'deleted', direction: passOf(source), ...p.keys, dryRun: dryRun ? true : undefined }),
      ]);
      expect(p.counters.nonZero('WIDGET')).toEqual(counted(dryRun, { deleted: 1 }));
    });

    it('RestoreRecords: the deleted record is made again from the source and coupled', async () => {
      const { p, out } = await setUp('RestoreRecords');
      expect(out.result).toBe('inserted');
      const gw = deleted === 'bc' ? p.bc : p.dataverse;
      expect(p.writes().map((x) => [x.side, x.op])).toEqual(dryRun ? [] : [[deleted, 'create']]);
      expect(p.history.entries).toEqual([
        expect.objectContaining({ result: 'inserted', direction: passOf(source), dryRun: dryRun ? true : undefined }),
      ]);
      if (dryRun) {
        expect(await p.couplings.getByBcId('WIDGET', p.ids.bc)).toBeDefined();
        expect(p.counters.nonZero('WIDGET')).toEqual({});
        return;
      }
      const restoredId = gw.writes[0]?.id as string;
      const coupling =
        source === 'bc' ? await p.couplings.getByBcId('WIDGET', p.ids.bc) : await p.couplings.getByDataverseId('WIDGET', p.ids.dataverse);
      expect(coupling?.[deleted === 'bc' ? 'bcId' : 'dataverseId']).toBe(restoredId);
      expect(p.counters.nonZero('WIDGET')).toEqual({ inserted: 1 });
    });

    it('IgnoreAndReport: nothing changes, the skip is reported', async () => {
      const { p, out, coupling } = await setUp('IgnoreAndReport');
      expect(out).toMatchObject({ result: 'skipped', ...p.keys });
      expect(p.exists(source)).toBe(true);
      expect(p.writes()).toEqual([]);
      expect(coupling).toBeDefined();
      expect(p.history.entries).toEqual([
        expect.objectContaining({ result: 'skipped', direction: passOf(source), ...p.keys, dryRun: dryRun ? true : undefined }),
      ]);
      expect(p.counters.nonZero('WIDGET')).toEqual(counted(dryRun, { skipped: 1 }));
    });
  });
});
