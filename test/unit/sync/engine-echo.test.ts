import { describe, expect, it } from 'vitest';
import type { Side } from '../../../shared/domain/direction';
import { syncRecord } from '../../../shared/domain/sync/sync-record';
import { CITY, cityOf, coupledPair, NAME, nameOf, other, widgetMapping } from './world';

/** Our own writes come back as change events (webhooks fire for the integration user too): no loops, nothing lost. */

const sides: Side[] = ['bc', 'dataverse'];

describe.each(sides)('the engine wrote a change from the %s side', (source) => {
  const dest = other(source);

  it.each([false, true])('its echo from the other side writes nothing (dry run %s)', async (dryRun) => {
    const p = await coupledPair(widgetMapping());
    p.edit(source, { [cityOf(source)]: 'Bergen' });
    expect((await syncRecord(p.event(source), p.deps)).result).toBe('modified');
    p.forget();
    p.deps.options = { ...p.deps.options, dryRun };

    const echo = await syncRecord(p.event(dest), p.deps);

    expect(echo.result).toBe('unchanged');
    expect(p.writes()).toEqual([]);
    expect(p.history.entries).toEqual([]);
    expect(p.errors.open()).toEqual([]);
    expect(p.counters.nonZero('WIDGET')).not.toHaveProperty('modified');
    expect(p.values(source)?.[cityOf(source)]).toBe('Bergen');
  });

  it("a person's change to the written record after our write is carried back, not taken for our echo", async () => {
    const p = await coupledPair(widgetMapping());
    p.edit(source, { [cityOf(source)]: 'Bergen' });
    await syncRecord(p.event(source), p.deps);
    p.forget();
    p.edit(dest, { [nameOf(dest)]: 'Renamed Co' });

    const back = await syncRecord(p.event(dest), p.deps);

    expect(back.result).toBe('modified');
    expect(back.changes).toEqual({ [NAME]: ['Widget Co', 'Renamed Co'] });
    expect(p.values(source)).toMatchObject({ [nameOf(source)]: 'Renamed Co', [cityOf(source)]: 'Bergen' });
    expect(p.counters.nonZero('WIDGET')).toEqual({ modified: 1 });
  });

  it('our write that lands on a row a person changed first is not an echo: the person’s change still goes back', async () => {
    const p = await coupledPair(widgetMapping({ update: 'FieldMerge' }));
    p.edit(source, { [cityOf(source)]: 'Bergen' });
    const race = p.editBeforeNextWrite(dest, { [nameOf(dest)]: 'Renamed Co' });
    const out = await syncRecord(p.event(source), p.deps);
    expect(race.happened()).toBe(true);
    expect(out).toMatchObject({ result: 'modified', changes: { [CITY]: ['Oslo', 'Bergen'] } });
    p.forget();

    // The row was modified last by the integration user, yet holds the person's name: it must go to the source.
    const back = await syncRecord(p.event(dest), p.deps);

    expect(back.result).toBe('modified');
    expect(back.changes).toEqual({ [NAME]: ['Widget Co', 'Renamed Co'] });
    expect(p.values(source)).toMatchObject({ [nameOf(source)]: 'Renamed Co', [cityOf(source)]: 'Bergen' });
  });
});
