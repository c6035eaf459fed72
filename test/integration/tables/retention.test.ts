import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAzurite, startAzurite } from '../../../dev/azurite';
import { createStores, type Stores } from '../../../shared/adapters/tables';
import type { StatePort } from '../../../shared/operations/ports';
import { purgeExpired, retentionStatus } from '../../../shared/operations/retention';
import { guid } from './fixture';

/**
 * Retention against Azurite: history entries, synchronization-log hours and closed errors older than the
 * setting go, open errors and newer rows stay, and a run is bounded (transactions of ≤ 100 rows of a partition,
 * at most `maxRowsPerTable` rows; the next run takes the rest).
 */
describe('retention (Azurite)', () => {
  let azurite: RunningAzurite;
  let stores: Stores;
  let nowMs = Date.parse('2026-10-01T10:15:00Z');
  const clock = { now: () => new Date(nowMs) };
  const day = 86_400_000;

  beforeAll(async () => {
    azurite = await startAzurite({ port: 0 });
    stores = await createStores({ TABLES_CONNECTION: azurite.connectionString, TABLE_PREFIX: 'retention' }, { clock });
  });
  afterAll(async () => {
    await azurite?.stop();
  });

  it('deletes what is older than the setting, closed errors only, in bounded runs', { timeout: 60_000 }, async () => {
    const old = new Date(nowMs).toISOString();
    // 130 old history entries of one record (one partition: more than one transaction of 100) and 20 of others.
    for (let i = 0; i < 130; i++)
      await stores.history.append({
        mapping: 'CUSTOMER',
        bcId: guid(1),
        at: new Date(nowMs + i).toISOString(),
        direction: 'ToIntegrationTable',
        result: 'modified',
        changes: { name: ['a', `b${i}`] },
      });
    for (let i = 0; i < 20; i++)
      await stores.history.append({
        mapping: 'VENDOR',
        bcId: guid(100 + i),
        dataverseId: guid(200 + i),
        at: old,
        direction: 'FromIntegrationTable',
        result: 'inserted',
        changes: {},
      });
    await stores.counters.increment('CUSTOMER', 'modified', 3);
    await stores.counters.increment('CUSTOMER', 'failed');
    const resolvedOld = await stores.syncErrors.record(errorOf(guid(300)));
    await stores.syncErrors.resolve('CUSTOMER', { bcId: guid(300) });
    const openOld = await stores.syncErrors.record(errorOf(guid(301)));

    // 40 days later: new rows of each kind.
    nowMs += 40 * day;
    const recent = new Date(nowMs - day).toISOString();
    await stores.history.append({
      mapping: 'CUSTOMER',
      bcId: guid(1),
      at: recent,
      direction: 'ToIntegrationTable',
      result: 'modified',
      changes: { name: ['b', 'c'] },
    });
    await stores.counters.increment('CUSTOMER', 'inserted');
    const resolvedNew = await stores.syncErrors.record(errorOf(guid(302)));
    await stores.syncErrors.dismiss(resolvedNew.id);

    // The last 24 hours by default; the old hour is within 41 days.
    expect((await stores.counters.runs({ mapping: 'CUSTOMER' })).map((r) => r.counters.inserted)).toEqual([1]);
    const runsBefore = await stores.counters.runs({ mapping: 'CUSTOMER', hours: 41 * 24 });
    expect(runsBefore.map((r) => r.counters)).toMatchObject([{ inserted: 1 }, { modified: 3, failed: 1 }]);
    expect(runsBefore[1]?.startedAt).toBe('2026-10-01T10:15:00.000Z');

    const state = memoryState();
    // Bounded: 100 rows per table this run (130 + 40 old history rows exist).
    const first = await purgeExpired({ stores, state }, { days: 30, now: clock.now, maxRowsPerTable: 100 });
    expect(first.history).toEqual({ deleted: 100, more: true });
    expect(first.cutoff).toBe(new Date(nowMs - 30 * day).toISOString());
    const second = await purgeExpired({ stores, state }, { days: 30, now: clock.now, maxRowsPerTable: 100 });
    expect(second.history).toEqual({ deleted: 70, more: false });
    expect(first.syncErrors.deleted + second.syncErrors.deleted).toBe(1);
    expect(first.runLog.deleted + second.runLog.deleted).toBeGreaterThanOrEqual(1);

    // What stays: the recent history entry, the open error however old, the recent dismissed one, the recent hour.
    expect((await stores.history.forRecord('CUSTOMER', { bcId: guid(1) }, { limit: 500 })).map((e) => e.at)).toEqual([recent]);
    expect(await stores.history.forRecord('VENDOR', { dataverseId: guid(200) })).toEqual([]);
    expect(await stores.syncErrors.get(resolvedOld.id)).toBeUndefined();
    expect((await stores.syncErrors.get(openOld.id))?.status).toBe('open');
    expect((await stores.syncErrors.get(resolvedNew.id))?.status).toBe('dismissed');
    expect((await stores.counters.runs({ mapping: 'CUSTOMER', hours: 41 * 24 })).map((r) => r.counters.inserted)).toEqual([1]);
    // Cumulative counters are never purged.
    expect(await stores.counters.get('CUSTOMER')).toMatchObject({ modified: 3, failed: 1, inserted: 1 });

    const status = await retentionStatus({ state }, 30, '0 30 2 * * *');
    expect(status).toMatchObject({ days: 30, lastRun: { history: { deleted: 70, more: false } } });
  });
});

function errorOf(bcId: string) {
  return {
    mapping: 'CUSTOMER',
    bcId,
    direction: 'ToIntegrationTable' as const,
    code: 'BC.VALIDATION',
    category: 'data' as const,
    message: 'bad',
  };
}

function memoryState(): StatePort {
  const m = new Map<string, { key: string; value: unknown; etag: string; updatedAt: string }>();
  return {
    get: async <T>(key: string) => m.get(key) as { key: string; value: T; etag: string; updatedAt: string } | undefined,
    put: async <T>(key: string, value: T) => {
      const s = { key, value, etag: String(m.size), updatedAt: new Date().toISOString() };
      m.set(key, s);
      return s;
    },
    list: async () => [],
    delete: async (key: string) => m.delete(key),
  };
}
