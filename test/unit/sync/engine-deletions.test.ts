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

/** How the engine learns of the deletion: the deleted record's own event, or a person's change to the survivor. */
const triggers = ['its own deletion event', 'a change to the survivor'] as const;

describe.each(sides)('the %s record of a coupled pair was deleted', (deleted) => {
  const survivor = other(deleted);

  describe.each(triggers)('the engine learns it from %s', (trigger) => {
    const by: Side = trigger === 'its own deletion event' ? deleted : survivor;
    const pass = passOf(by);

    describe.each([false, true])('dry run %s', (dryRun) => {
      const setUp = async (deletion: DeletionConflictResolution) => {
        const p = await coupledPair(widgetMapping({ deletion }), { dryRun });
        p.remove(deleted);
        let event = p.event(deleted, { changeType: 'deleted' });
        if (by === survivor) {
          // A person's change (a row the integration user wrote last and nobody touched since is our own echo).
          p.edit(survivor, { [nameOf(survivor)]: 'Renamed Co' });
          event = p.event(survivor);
        }
        const out = await syncRecord(event, p.deps);
        const coupling = await p.couplings.getByBcId('WIDGET', p.ids.bc);
        return { p, out, coupling };
      };

      it('None: a deletion conflict is recorded, the survivor stays', async () => {
        const { p, out, coupling } = await setUp('None');
        expect(out).toMatchObject({ result: 'failed', code: 'SYNC.DELETION_CONFLICT' });
        expect(p.exists(survivor)).toBe(true);
        expect(p.writes()).toEqual([]);
        expect(p.errors.open()).toEqual([expect.objectContaining({ code: 'SYNC.DELETION_CONFLICT', direction: pass, ...p.keys })]);
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
          expect.objectContaining({ result: 'deleted', direction: pass, ...p.keys, dryRun: dryRun ? true : undefined }),
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
          expect.objectContaining({ result: 'deleted', direction: pass, ...p.keys, dryRun: dryRun ? true : undefined }),
        ]);
        expect(p.counters.nonZero('WIDGET')).toEqual(counted(dryRun, { deleted: 1 }));
      });

      it('RestoreRecords: the deleted record is made again from the survivor and coupled', async () => {
        const { p, out } = await setUp('RestoreRecords');
        expect(out.result).toBe('inserted');
        const gw = deleted === 'bc' ? p.bc : p.dataverse;
        expect(p.writes().map((x) => [x.side, x.op])).toEqual(dryRun ? [] : [[deleted, 'create']]);
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
          survivor === 'bc'
            ? await p.couplings.getByBcId('WIDGET', p.ids.bc)
            : await p.couplings.getByDataverseId('WIDGET', p.ids.dataverse);
        expect(coupling?.[deleted === 'bc' ? 'bcId' : 'dataverseId']).toBe(restoredId);
        const restored = deleted === 'bc' ? p.bc.peek({ side: 'bc', kind: 'apiV2', entitySet: 'customers' }, restoredId) : undefined;
        if (restored) expect(restored.values[nameOf('bc')]).toBe(by === survivor ? 'Renamed Co' : 'Widget Co');
        expect(p.counters.nonZero('WIDGET')).toEqual({ inserted: 1 });
      });

      it('IgnoreAndReport: nothing changes, the skip is reported', async () => {
        const { p, out, coupling } = await setUp('IgnoreAndReport');
        expect(out).toMatchObject({ result: 'skipped', ...p.keys });
        expect(p.exists(survivor)).toBe(true);
        expect(p.writes()).toEqual([]);
        expect(coupling).toBeDefined();
        expect(p.history.entries).toEqual([
          expect.objectContaining({ result: 'skipped', direction: pass, ...p.keys, dryRun: dryRun ? true : undefined }),
        ]);
        expect(p.counters.nonZero('WIDGET')).toEqual(counted(dryRun, { skipped: 1 }));
      });
    });
  });
});
