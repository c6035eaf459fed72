import { describe, expect, it } from 'vitest';
import type { Side } from '../../../shared/domain/direction';
import type { UpdateConflictResolution } from '../../../shared/domain/mappings/schema';
import { syncRecord } from '../../../shared/domain/sync/sync-record';
import { eventBuilder } from '../../support/events';
import { fakeDeps } from '../../support/fakes';
import { BC, CITY, cityOf, coupledPair, DV, NAME, nameOf, other, passOf, widgetMapping } from './world';

/** The engine's update paths with in-memory ports: direction × table direction, conflict policy, dry run, create. */

const sides: Side[] = ['bc', 'dataverse'];

describe.each(sides)('a change on the %s side of a coupled pair', (source) => {
  const dest = other(source);

  it.each([false, true])('is carried to the other side (dry run %s)', async (dryRun) => {
    const p = await coupledPair(widgetMapping(), { dryRun });
    await p.errors.record({
      mapping: 'WIDGET',
      ...p.keys,
      direction: passOf(source),
      code: 'BC.VALIDATION',
      category: 'data',
      message: 'earlier',
    });
    // As a recorded failure leaves it: the coupling says an error of the pair is open.
    const coupling = await p.couplings.getByBcId('WIDGET', p.ids.bc);
    if (coupling) await p.couplings.update(coupling, { openError: true });
    p.edit(source, { [cityOf(source)]: 'Bergen' });

    const out = await syncRecord(p.event(source), p.deps);

    expect(out).toMatchObject({ result: 'modified', bcId: p.ids.bc, dataverseId: p.ids.dataverse });
    expect(out.changes).toEqual({ [CITY]: ['Oslo', 'Bergen'] });
    expect(p.values(dest)?.[cityOf(dest)]).toBe(dryRun ? 'Oslo' : 'Bergen');
    expect(p.writes()).toEqual(dryRun ? [] : [{ side: dest, op: 'update', id: p.ids[dest] }]);
    expect(p.history.entries).toEqual([
      expect.objectContaining({
        result: 'modified',
        direction: passOf(source),
        ...p.keys,
        changes: { [CITY]: ['Oslo', 'Bergen'] },
        dryRun: dryRun ? true : undefined,
      }),
    ]);
    expect(p.counters.nonZero('WIDGET')).toEqual(dryRun ? {} : { modified: 1 });
    // A success closes the record's open error; a dry run synchronized nothing, so it stays open.
    expect(p.errors.open()).toHaveLength(dryRun ? 1 : 0);
  });

  it.each([
    ['Bidirectional', 'modified'],
    [passOf(source), 'modified'],
    [passOf(dest), 'unchanged'],
  ] as const)('with the table mapping %s: %s', async (direction, result) => {
    const p = await coupledPair(widgetMapping({ direction }));
    p.edit(source, { [cityOf(source)]: 'Bergen' });
    const out = await syncRecord(p.event(source), p.deps);
    expect(out.result).toBe(result);
    expect(p.values(dest)?.[cityOf(dest)]).toBe(result === 'modified' ? 'Bergen' : 'Oslo');
    expect(p.writes()).toHaveLength(result === 'modified' ? 1 : 0);
  });

  /**
   * Both sides changed the same bidirectional field since the last sync, the destination first. What happens is
   * the conflict policy's (BC 3.6), seen from this pass.
   */
  const winner = (policy: UpdateConflictResolution): 'source' | 'dest' | 'none' => {
    if (policy === 'None') return 'none';
    if (policy === 'FieldMerge') return 'source'; // changed last
    const bcWins = policy === 'SendUpdateToIntegration';
    return (source === 'bc') === bcWins ? 'source' : 'dest';
  };
  describe.each(['None', 'SendUpdateToIntegration', 'GetUpdateFromIntegration', 'FieldMerge'] as const)(
    'update conflict, policy %s',
    (policy) => {
      it.each([false, true])('dry run %s', async (dryRun) => {
        const p = await coupledPair(widgetMapping({ update: policy }), { dryRun });
        p.edit(dest, { [cityOf(dest)]: 'Dest City' });
        p.edit(source, { [cityOf(source)]: 'Source City' });

        const out = await syncRecord(p.event(source), p.deps);
        const coupling = await p.couplings.getByBcId('WIDGET', p.ids.bc);
        const w = winner(policy);

        expect(out.result).toBe(w === 'none' ? 'failed' : w === 'source' ? 'modified' : 'skipped');
        expect(p.values(dest)?.[cityOf(dest)]).toBe(w === 'source' && !dryRun ? 'Source City' : 'Dest City');
        expect(p.writes()).toHaveLength(w === 'source' && !dryRun ? 1 : 0);
        if (w === 'none') {
          expect(out.code).toBe('SYNC.UPDATE_CONFLICT');
          expect(p.errors.open()).toEqual([
            expect.objectContaining({ code: 'SYNC.UPDATE_CONFLICT', category: 'data', direction: passOf(source), ...p.keys }),
          ]);
          expect(coupling).toMatchObject({ lastResult: 'failed', failureCount: 1 });
          expect(p.history.entries).toEqual([]);
        } else {
          expect(p.errors.open()).toEqual([]);
          expect(coupling?.failureCount).toBe(0);
        }
        if (w === 'source') {
          expect(p.history.entries).toEqual([
            expect.objectContaining({
              result: 'modified',
              changes: { [CITY]: ['Dest City', 'Source City'] },
              dryRun: dryRun ? true : undefined,
            }),
          ]);
          expect(p.counters.nonZero('WIDGET')).toEqual(dryRun ? {} : { modified: 1 });
        }
        if (w === 'dest' && !dryRun) expect(p.counters.nonZero('WIDGET')).toEqual({ skipped: 1 });
        if (w === 'none' && !dryRun) expect(p.counters.nonZero('WIDGET')).toEqual({ failed: 1 });
      });
    },
  );

  it('FieldMerge writes the field only the source changed and keeps the one only the destination changed', async () => {
    const p = await coupledPair(widgetMapping({ update: 'FieldMerge' }));
    p.edit(dest, { [cityOf(dest)]: 'Dest City' });
    p.edit(source, { [nameOf(source)]: 'Renamed Co' });
    const out = await syncRecord(p.event(source), p.deps);
    expect(out.result).toBe('modified');
    expect(out.changes).toEqual({ [NAME]: ['Widget Co', 'Renamed Co'] });
    expect(p.values(dest)).toMatchObject({ [nameOf(dest)]: 'Renamed Co', [cityOf(dest)]: 'Dest City' });
  });

  it('a destination changed between the read and the write (stale ETag, 412) is read again, not overwritten', async () => {
    const p = await coupledPair(widgetMapping({ update: 'FieldMerge' }));
    p.edit(source, { [cityOf(source)]: 'Bergen' });
    const race = p.editBeforeNextWrite(dest, { [nameOf(dest)]: 'Meanwhile Co' });
    const out = await syncRecord(p.event(source), p.deps);
    expect(race.happened()).toBe(true);
    expect(out.result).toBe('modified');
    // The person's change survives: the retry started from the fresh row.
    expect(p.values(dest)).toMatchObject({ [nameOf(dest)]: 'Meanwhile Co', [cityOf(dest)]: 'Bergen' });
    expect(p.writes()).toEqual([{ side: dest, op: 'update', id: p.ids[dest] }]);
  });
});

describe.each(sides)('an uncoupled %s record', (source) => {
  const dest = other(source);
  const ev = eventBuilder('unit-create');
  const mapping = { ...widgetMapping(), synchOnlyCoupledRecords: false };

  it.each([false, true])('is created on the other side and coupled (dry run %s)', async (dryRun) => {
    const w = fakeDeps([mapping], { dryRun });
    const rec =
      source === 'bc'
        ? w.bc.seed(BC, { displayName: 'New Co', city: 'Oslo' })
        : w.dataverse.seed(DV, { name: 'New Co', address1_city: 'Oslo' });
    const out = await syncRecord(ev({ mapping: 'WIDGET', source, recordId: rec.id }), w.deps);

    expect(out.result).toBe('inserted');
    expect(out.changes).toEqual({ [NAME]: [null, 'New Co'], [CITY]: [null, 'Oslo'] });
    const destGw = dest === 'bc' ? w.bc : w.dataverse;
    expect(destGw.writes.map((x) => x.op)).toEqual(dryRun ? [] : ['create']);
    const coupling = source === 'bc' ? await w.couplings.getByBcId('WIDGET', rec.id) : await w.couplings.getByDataverseId('WIDGET', rec.id);
    if (dryRun) expect(coupling).toBeUndefined();
    else {
      const created = destGw.writes[0]?.id;
      expect(coupling).toMatchObject(source === 'bc' ? { bcId: rec.id, dataverseId: created } : { dataverseId: rec.id, bcId: created });
      expect((destGw.writes[0] as { values?: unknown } | undefined)?.values).toMatchObject({
        [nameOf(dest)]: 'New Co',
        [cityOf(dest)]: 'Oslo',
      });
    }
    expect(w.history.entries).toEqual([
      expect.objectContaining({ result: 'inserted', direction: passOf(source), dryRun: dryRun ? true : undefined }),
    ]);
    expect(w.counters.nonZero('WIDGET')).toEqual(dryRun ? {} : { inserted: 1 });
    // A BC create is claimed while it runs; the claim goes once the coupling is stored.
    expect(w.claims.held()).toEqual([]);
  });

  it('is skipped when the mapping synchronizes only coupled records', async () => {
    const w = fakeDeps([widgetMapping()]);
    const rec = source === 'bc' ? w.bc.seed(BC, { displayName: 'New Co' }) : w.dataverse.seed(DV, { name: 'New Co' });
    const out = await syncRecord(ev({ mapping: 'WIDGET', source, recordId: rec.id }), w.deps);
    expect(out.result).toBe('skipped');
    expect([...w.bc.writes, ...w.dataverse.writes]).toEqual([]);
    expect(await w.couplings.count('WIDGET')).toBe(0);
  });
});

describe('the fakes refuse what the real parts refuse', () => {
  it('a Dataverse create with an id that exists answers 412 (If-None-Match: *)', async () => {
    const w = fakeDeps([widgetMapping()]);
    const row = w.dataverse.seed(DV, { name: 'A' });
    await expect(w.dataverse.create(DV, { name: 'B' }, { id: row.id })).rejects.toMatchObject({
      code: 'DV.CONCURRENCY',
      details: { status: 412 },
    });
  });

  it('an update with a stale ETag answers 412', async () => {
    const w = fakeDeps([widgetMapping()]);
    const rec = w.bc.seed(BC, { displayName: 'A' });
    w.bc.edit(BC, rec.id, { displayName: 'B' });
    await expect(w.bc.update(BC, rec.id, { displayName: 'C' }, rec.etag)).rejects.toMatchObject({ code: 'BC.CONCURRENCY' });
    expect(w.bc.peek(BC, rec.id)?.values.displayName).toBe('B');
  });

  it('coupling a record twice is a CouplingConflictError', async () => {
    const w = fakeDeps([widgetMapping()]);
    const base = { mapping: 'WIDGET', environment: 'test-env' };
    await w.couplings.couple({ ...base, bcId: 'a', dataverseId: 'b' });
    await expect(w.couplings.couple({ ...base, bcId: 'a', dataverseId: 'c' })).rejects.toMatchObject({ name: 'CouplingConflictError' });
    await expect(w.couplings.couple({ ...base, bcId: 'd', dataverseId: 'b' })).rejects.toMatchObject({ name: 'CouplingConflictError' });
  });

  it('a filter the simulators refuse is refused', async () => {
    const w = fakeDeps([widgetMapping()]);
    await expect(w.bc.listPage(BC, { filter: 'displayName eq' })).rejects.toThrow();
  });
});
