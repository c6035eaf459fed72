import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAzurite, startAzurite } from '../../../dev/azurite';
import { TableCounterStore } from '../../../shared/adapters/tables/counter-store';
import { TableHistoryStore } from '../../../shared/adapters/tables/history-store';
import type { HistoryEntry } from '../../../shared/domain/ports';
import { freshTable, guid } from './fixture';

function entry(minute: number, overrides: Partial<HistoryEntry> = {}): HistoryEntry {
  return {
    mapping: 'CUSTOMER',
    bcId: guid(1, 1),
    dataverseId: guid(1, 2),
    at: new Date(Date.UTC(2024, 4, 1, 8, minute)).toISOString(),
    direction: 'ToIntegrationTable',
    result: 'modified',
    changes: { name: [`old ${minute}`, `new ${minute}`] },
    correlationId: `corr-${minute}`,
    ...overrides,
  };
}

describe('TableHistoryStore (Azurite)', () => {
  let azurite: RunningAzurite;
  let store: TableHistoryStore;

  beforeAll(async () => {
    azurite = await startAzurite({ port: 0 });
    store = new TableHistoryStore(await freshTable(azurite.connectionString, 'History'));
  });
  afterAll(async () => {
    await azurite.stop();
  });

  it('returns a record history newest first from either id, each entry once', async () => {
    // Appended out of order on purpose: the row key, not the write order, sorts.
    for (const m of [3, 1, 4, 2]) await store.append(entry(m));
    await store.append(entry(5, { dataverseId: undefined, direction: 'ToIntegrationTable', result: 'inserted' }));
    await store.append(entry(6, { bcId: undefined, direction: 'FromIntegrationTable', changes: { city: [null, 'Oslo'] } }));
    await store.append(entry(7, { bcId: guid(2, 1), dataverseId: guid(2, 2) }));

    const byBc = await store.forRecord('CUSTOMER', { bcId: guid(1, 1) });
    expect(byBc.map((e) => e.correlationId)).toEqual(['corr-5', 'corr-4', 'corr-3', 'corr-2', 'corr-1']);
    expect(byBc[1]).toEqual(entry(4));
    const byDv = await store.forRecord('CUSTOMER', { dataverseId: guid(1, 2).toUpperCase() });
    expect(byDv.map((e) => e.correlationId)).toEqual(['corr-6', 'corr-4', 'corr-3', 'corr-2', 'corr-1']);
    const both = await store.forRecord('CUSTOMER', { bcId: guid(1, 1), dataverseId: guid(1, 2) }, { limit: 3 });
    expect(both.map((e) => e.correlationId)).toEqual(['corr-6', 'corr-5', 'corr-4']);
    expect(await store.forRecord('VENDOR', { bcId: guid(1, 1) })).toEqual([]);
  });

  it('keeps entries with the same timestamp apart and records dry runs', async () => {
    const at = '2024-05-02T00:00:00.000Z';
    await Promise.all([1, 2, 3].map((i) => store.append(entry(0, { bcId: guid(3, 1), at, correlationId: `same-${i}`, dryRun: true }))));
    const h = await store.forRecord('CUSTOMER', { bcId: guid(3, 1) });
    expect(h.map((e) => e.correlationId).sort()).toEqual(['same-1', 'same-2', 'same-3']);
    expect(h.every((e) => e.dryRun === true)).toBe(true);
  });

  it('keeps large changes (compressed)', async () => {
    const big = 'y'.repeat(100_000);
    await store.append(entry(9, { bcId: guid(4, 1), changes: { description: ['', big] } }));
    expect((await store.forRecord('CUSTOMER', { bcId: guid(4, 1) }))[0]?.changes.description?.[1]).toBe(big);
  });

  it('refuses an entry without ids or with a bad timestamp', async () => {
    await expect(store.append(entry(1, { bcId: undefined, dataverseId: undefined }))).rejects.toThrow(/bcId or dataverseId/);
    await expect(store.append(entry(1, { at: 'yesterday' }))).rejects.toThrow(/invalid history entry/);
  });
});

describe('TableCounterStore (Azurite)', () => {
  let azurite: RunningAzurite;

  beforeAll(async () => {
    azurite = await startAzurite({ port: 0 });
  });
  afterAll(async () => {
    await azurite.stop();
  });

  it('counts per mapping and result', async () => {
    const store = new TableCounterStore(await freshTable(azurite.connectionString, 'Counters'));
    await store.increment('CUSTOMER', 'inserted');
    await store.increment('CUSTOMER', 'inserted', 4);
    await store.increment('CUSTOMER', 'failed', 2);
    await store.increment('VENDOR', 'modified');
    expect(await store.get('CUSTOMER')).toEqual({
      inserted: 5,
      modified: 0,
      unchanged: 0,
      skipped: 0,
      failed: 2,
      coupled: 0,
      deleted: 0,
      deferred: 0,
    });
    expect((await store.get('VENDOR')).modified).toBe(1);
    expect((await store.get('NONE')).inserted).toBe(0);
    await expect(store.increment('CUSTOMER', 'inserted', -1)).rejects.toThrow(/non-negative/);
  });

  it('loses no increment under heavy concurrency from several workers', async () => {
    const table = await freshTable(azurite.connectionString, 'CountersRace');
    // Two shards only, so most writes collide and the ETag retry path is exercised.
    const workers = [
      new TableCounterStore(table, { shards: 2, maxAttempts: 500 }),
      new TableCounterStore(table, { shards: 2, maxAttempts: 500 }),
    ];
    const n = 150;
    await Promise.all(Array.from({ length: n }, (_, i) => workers[i % 2]!.increment('CUSTOMER', i % 3 === 0 ? 'coupled' : 'modified', 1)));
    const totals = await workers[0]!.get('CUSTOMER');
    expect(totals.coupled).toBe(50);
    expect(totals.modified).toBe(100);
  });
});
