import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAzurite, startAzurite } from '../../../dev/azurite';
import { partitionOf } from '../../../shared/adapters/tables/coupling-rows';
import { TableCouplingStore } from '../../../shared/adapters/tables/coupling-store';
import { type Coupling, CouplingConflictError, type NewCoupling } from '../../../shared/domain/ports';
import { freshTable, guid, newCoupling } from './fixture';

/** A coupling as a full sync writes it: with its result and time. */
const coupling = (i: number, overrides: Partial<NewCoupling> = {}): NewCoupling =>
  newCoupling(i, { lastResult: 'inserted', lastSyncedAt: '2026-01-01T00:00:00.000Z', ...overrides });

describe('TableCouplingStore bulk calls (Azurite)', () => {
  let azurite: RunningAzurite;
  let store: TableCouplingStore;

  beforeAll(async () => {
    azurite = await startAzurite({ port: 0 });
    store = new TableCouplingStore(await freshTable(azurite.connectionString, 'BulkCouplings'));
  });
  afterAll(async () => {
    await azurite.stop();
  });

  it('couples many pairs in transactions, each readable from both sides', async () => {
    const inputs = Array.from({ length: 120 }, (_, i) => coupling(i + 1));
    const out = await store.coupleMany(inputs);
    expect(out.every((c) => !(c instanceof Error) && c.etag !== '')).toBe(true);
    expect(await store.count('CUSTOMER')).toBe(120);
    const byDv = await store.getByDataverseId('CUSTOMER', guid(77, 2));
    expect(byDv?.bcId).toBe(guid(77, 1));
    // The returned token is a working concurrency token.
    const updated = await store.update(out[4] as Coupling, { lastResult: 'modified' });
    expect(updated.lastResult).toBe('modified');
  });

  it('reports a pair already coupled as its own conflict and couples the others of its transaction', async () => {
    const out = await store.coupleMany([coupling(201), coupling(202, { bcId: guid(1, 1) }), coupling(203)]);
    expect(out[0]).not.toBeInstanceOf(Error);
    expect(out[1]).toBeInstanceOf(CouplingConflictError);
    expect(out[2]).not.toBeInstanceOf(Error);
    expect((await store.getByBcId('CUSTOMER', guid(203, 1)))?.dataverseId).toBe(guid(203, 2));
    expect(await store.getByDataverseId('CUSTOMER', guid(202, 2))).toBeUndefined();
  });

  it('learns which ids of a set are coupled with one range query, with their last result and time', async () => {
    const ids = [guid(6, 1), guid(9999, 1), guid(50, 1).toUpperCase()];
    // The range from the smallest to the largest id holds the ~45 couplings between them: allow that many rows.
    const { found, complete } = await store.couplingsIn('CUSTOMER', 'bc', ids, 200);
    expect(complete).toBe(true);
    expect([...found.keys()].sort()).toEqual([guid(6, 1), guid(50, 1)].sort());
    expect(found.get(guid(6, 1))).toEqual({ lastSyncedAt: '2026-01-01T00:00:00.000Z', lastResult: 'inserted' });
    const dv = await store.couplingsIn('CUSTOMER', 'dataverse', [guid(5, 2)]);
    expect([...dv.found.keys()]).toEqual([guid(5, 2)]);
  });

  it('says when the range held more rows than it was allowed to read', async () => {
    // Two coupled ids of one bucket partition: their range holds at least both rows.
    const first = guid(1, 1);
    const other = Array.from({ length: 119 }, (_, i) => guid(i + 2, 1)).find(
      (id) => partitionOf('CUSTOMER', 'bc_', id) === partitionOf('CUSTOMER', 'bc_', first),
    );
    expect(other).toBeDefined();
    expect((await store.couplingsIn('CUSTOMER', 'bc', [first, other as string], 1)).complete).toBe(false);
    expect((await store.couplingsIn('CUSTOMER', 'bc', [first, other as string], 200)).complete).toBe(true);
  });
});
