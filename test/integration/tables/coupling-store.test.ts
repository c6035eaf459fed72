import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAzurite, startAzurite } from '../../../dev/azurite';
import { isHashedSnapshotValue, snapshotValueEquals } from '../../../shared/adapters/tables/coupling-rows';
import { TableCouplingStore } from '../../../shared/adapters/tables/coupling-store';
import { type Coupling, CouplingConflictError } from '../../../shared/domain/ports';
import { SyncError } from '../../../shared/errors';
import { COUPLING_ENV, collect, freshTable, guid, newCoupling } from './fixture';

const ENV = COUPLING_ENV;

const coupling = newCoupling;

describe('TableCouplingStore (Azurite)', () => {
  let azurite: RunningAzurite;
  let store: TableCouplingStore;

  beforeAll(async () => {
    azurite = await startAzurite({ port: 0 });
    store = new TableCouplingStore(await freshTable(azurite.connectionString, 'Couplings'));
  });
  afterAll(async () => {
    await azurite.stop();
  });

  it('couples and finds the coupling from either side, with both ids normalised to lower case', async () => {
    const created = await store.couple({
      ...coupling(1),
      bcId: guid(1, 1).toUpperCase(),
      bcModifiedOn: '2024-05-01T10:00:00.000Z',
      fingerprintToDataverse: 'abc',
      snapshot: { bc: { name: 'Adatum' }, dataverse: { name: 'Adatum' } },
    });
    expect(created).toMatchObject({ bcId: guid(1, 1), failureCount: 0, skipped: false, environment: ENV });
    const byBc = await store.getByBcId('CUSTOMER', guid(1, 1).toUpperCase());
    const byDv = await store.getByDataverseId('CUSTOMER', guid(1, 2));
    for (const c of [byBc, byDv]) {
      expect(c).toMatchObject({
        mapping: 'CUSTOMER',
        bcId: guid(1, 1),
        dataverseId: guid(1, 2),
        bcModifiedOn: '2024-05-01T10:00:00.000Z',
        fingerprintToDataverse: 'abc',
        snapshot: { bc: { name: 'Adatum' }, dataverse: { name: 'Adatum' } },
      });
    }
    expect(await store.getByBcId('VENDOR', guid(1, 1))).toBeUndefined();
    expect(await store.getByDataverseId('CUSTOMER', guid(999, 2))).toBeUndefined();
  });

  it('lets exactly one of many concurrent couplers of one BC record win', async () => {
    for (let round = 0; round < 5; round++) {
      const bcId = guid(100 + round, 1);
      const attempts = Array.from({ length: 12 }, (_, k) =>
        store.couple(coupling(0, { bcId, dataverseId: guid(1000 * (round + 1) + k, 3) })),
      );
      const results = await Promise.allSettled(attempts);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(11);
      const winner = (won[0] as PromiseFulfilledResult<Coupling>).value;
      for (const l of lost) {
        expect(l.reason).toBeInstanceOf(CouplingConflictError);
        expect((l.reason as CouplingConflictError).existing?.dataverseId).toBe(winner.dataverseId);
      }
      // Only the winner's Dataverse row is coupled; the losers left nothing behind.
      for (let k = 0; k < 12; k++) {
        const dv = guid(1000 * (round + 1) + k, 3);
        expect((await store.getByDataverseId('CUSTOMER', dv))?.bcId).toBe(dv === winner.dataverseId ? bcId : undefined);
      }
    }
  });

  it('lets exactly one of many concurrent couplers of one Dataverse row win', async () => {
    const dataverseId = guid(77, 4);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, k) => store.couple(coupling(0, { bcId: guid(500 + k, 5), dataverseId }))),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof CouplingConflictError)).toHaveLength(9);
  });

  it('refuses to couple a Dataverse row that is already coupled to another BC record, naming it', async () => {
    await store.couple(coupling(2));
    const err = await store.couple(coupling(2, { bcId: guid(3, 1) })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CouplingConflictError);
    expect((err as CouplingConflictError).message).toContain(`already coupled to BC record ${guid(2, 1)}`);
    expect((err as CouplingConflictError).existing?.bcId).toBe(guid(2, 1));
    expect(await store.getByBcId('CUSTOMER', guid(3, 1))).toBeUndefined();
    // The same ids in another mapping are independent.
    await expect(store.couple(coupling(2, { mapping: 'VENDOR', bcId: guid(3, 1) }))).resolves.toMatchObject({ mapping: 'VENDOR' });
  });

  it('updates with the ETag read from either side and refuses a stale one', async () => {
    const c = await store.couple(coupling(4));
    const viaDv = (await store.getByDataverseId('CUSTOMER', c.dataverseId))!;
    const updated = await store.update(viaDv, { lastResult: 'modified', dataverseModifiedOn: '2024-06-01T00:00:00.000Z' });
    expect(updated.lastResult).toBe('modified');
    expect((await store.getByBcId('CUSTOMER', c.bcId))?.dataverseModifiedOn).toBe('2024-06-01T00:00:00.000Z');
    // Both the original token (bc row) and the dv-side token are stale now.
    for (const stale of [c, viaDv]) {
      const err = await store.update(stale, { lastResult: 'failed' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CouplingConflictError);
      expect((err as CouplingConflictError).existing?.lastResult).toBe('modified');
    }
    const again = await store.update(updated, { lastResult: 'failed', failureCount: 1, lastError: 'boom', skipped: true });
    expect(await store.getByDataverseId('CUSTOMER', c.dataverseId)).toMatchObject({
      lastResult: 'failed',
      failureCount: 1,
      skipped: true,
      etag: expect.any(String),
    });
    expect(again.etag).not.toBe(updated.etag);
  });

  it('lets exactly one of many concurrent updates with the same ETag win', async () => {
    const c = await store.couple(coupling(10));
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, k) => store.update(c, { failureCount: k + 1 })));
    const won = results.filter((r): r is PromiseFulfilledResult<Coupling> => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof CouplingConflictError)).toHaveLength(7);
    expect((await store.getByDataverseId('CUSTOMER', c.dataverseId))?.failureCount).toBe(won[0]!.value.failureCount);
  });

  it('uncouples both rows, after which both records can be coupled again', async () => {
    const c = await store.couple(coupling(5));
    await store.uncouple('CUSTOMER', c.bcId.toUpperCase());
    expect(await store.getByBcId('CUSTOMER', c.bcId)).toBeUndefined();
    expect(await store.getByDataverseId('CUSTOMER', c.dataverseId)).toBeUndefined();
    const rows = await collect(store.client.listEntities({ queryOptions: { filter: `PartitionKey eq 'CUSTOMER'` } }));
    expect(rows.filter((r) => String(r.rowKey).endsWith(c.bcId.slice(-12)) || String(r.rowKey).endsWith(c.dataverseId.slice(-12)))).toEqual(
      [],
    );
    await store.uncouple('CUSTOMER', c.bcId); // nothing coupled: no error
    const stale = await store.update(c, { lastResult: 'failed' }).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(CouplingConflictError);
    await expect(store.couple(coupling(5))).resolves.toMatchObject({ bcId: c.bcId });
    await store.uncoupleByDataverseId('CUSTOMER', c.dataverseId);
    expect(await store.getByBcId('CUSTOMER', c.bcId)).toBeUndefined();
  });

  it('keeps both index rows consistent under a storm of concurrent couple, update and uncouple calls', async () => {
    const s = new TableCouplingStore(await freshTable(azurite.connectionString, 'Storm'));
    // A tiny id space so operations collide constantly. Deterministic pseudo-random choices.
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const ops = Array.from({ length: 240 }, () => ({ op: rnd(4), bc: guid(rnd(4), 1), dv: guid(rnd(4), 2) }));
    let coupled = 0;
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = w; i < ops.length; i += 8) {
          const { op, bc, dv } = ops[i]!;
          try {
            if (op === 0) {
              await s.couple({ mapping: 'M', bcId: bc, dataverseId: dv, environment: ENV });
              coupled++;
            } else if (op === 1) await s.uncouple('M', bc);
            else if (op === 2) await s.uncoupleByDataverseId('M', dv);
            else {
              const c = await s.getByBcId('M', bc);
              if (c) await s.update(c, { failureCount: c.failureCount + 1 });
            }
          } catch (err) {
            if (!(err instanceof CouplingConflictError)) throw err;
          }
        }
      }),
    );
    expect(coupled).toBeGreaterThan(0);
    // The protocol's invariants: every Dataverse row names a BC row that names it back, and every BC row that is
    // not pending has its Dataverse row (so no half-coupling counts); pending rows may only be crash leftovers.
    const rows = await collect(s.client.listEntities<Record<string, unknown>>());
    const bcRows = new Map(rows.filter((r) => String(r.rowKey).startsWith('bc_')).map((r) => [String(r.bcId), r]));
    const dvRows = new Map(rows.filter((r) => String(r.rowKey).startsWith('dv_')).map((r) => [String(r.dataverseId), r]));
    for (const d of dvRows.values()) expect(bcRows.get(String(d.bcId))?.dataverseId, `BC row of ${String(d.rowKey)}`).toBe(d.dataverseId);
    const live = [...bcRows.values()].filter((r) => r.pending === false);
    for (const b of live) expect(dvRows.get(String(b.dataverseId))?.bcId, `Dataverse row of ${String(b.rowKey)}`).toBe(b.bcId);
    expect([...bcRows.values()].filter((r) => r.pending !== false)).toEqual([]);
    expect(await s.count('M')).toBe(live.length);
  });

  it('pages over more than 1,000 couplings with continuation tokens and counts them', async () => {
    const paging = new TableCouplingStore(await freshTable(azurite.connectionString, 'Paging'));
    const total = 1234;
    const seeded = Array.from({ length: total }, (_, i) => coupling(i, { mapping: 'CONTACT', skipped: i >= 20 && i < 70 }));
    const out = await paging.coupleMany(seeded);
    expect(out.filter((c) => c instanceof Error)).toEqual([]);
    const seen = new Set<string>();
    let continuation: string | undefined;
    let pages = 0;
    do {
      const page = await paging.list('CONTACT', { pageSize: 500, continuation });
      expect(page.items.length).toBeLessThanOrEqual(500);
      for (const c of page.items) seen.add(c.bcId);
      continuation = page.continuation;
      pages++;
    } while (continuation);
    expect(seen.size).toBe(total);
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(await paging.count('CONTACT')).toBe(total);
    const skipped = await paging.list('CONTACT', { filter: { skipped: true } });
    expect(skipped.items).toHaveLength(50);
    expect(skipped.items.every((c) => c.skipped)).toBe(true);
    expect(await paging.count('NOTHING')).toBe(0);
  });

  it('lists failed couplings', async () => {
    const s = new TableCouplingStore(await freshTable(azurite.connectionString, 'Failed'));
    const a = await s.couple(coupling(1));
    await s.couple(coupling(2));
    await s.update(a, { lastResult: 'failed', failureCount: 1 });
    const failed = await s.list('CUSTOMER', { filter: { failed: true } });
    expect(failed.items.map((c) => c.bcId)).toEqual([a.bcId]);
    expect((await s.list('CUSTOMER', { filter: { failed: false } })).items.map((c) => c.bcId)).toEqual([guid(2, 1)]);
  });

  it('detects couplings written for another environment', async () => {
    const table = await freshTable(azurite.connectionString, 'Env');
    const s = new TableCouplingStore(table);
    await s.couple(coupling(1));
    await expect(s.assertEnvironment(ENV)).resolves.toBeUndefined();
    const copied = 'bc:contoso.onmicrosoft.com/sandbox/11111111-1111-4111-8111-111111111111|dv:contoso-sandbox.crm.dynamics.com';
    const err = await s.assertEnvironment(copied).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SyncError);
    expect((err as SyncError).code).toBe('COUPLE.ENVIRONMENT_MISMATCH');
    expect((err as SyncError).message).toContain(guid(1, 1));
    // A store bound to the expected environment refuses to hand out the foreign coupling.
    const bound = new TableCouplingStore(table, { expectedEnvironment: copied });
    await expect(bound.getByBcId('CUSTOMER', guid(1, 1))).rejects.toMatchObject({ code: 'COUPLE.ENVIRONMENT_MISMATCH' });
    await expect(s.assertEnvironment(copied, { mapping: 'VENDOR' })).resolves.toBeUndefined();
  });

  it('stores large snapshots compressed, and oversized ones with hashed values', async () => {
    const big = 'x'.repeat(50_000);
    const c = await store.couple({ ...coupling(8), snapshot: { bc: { notes: big, n: 1 }, dataverse: { notes: big } } });
    expect((await store.getByBcId('CUSTOMER', c.bcId))?.snapshot?.bc.notes).toBe(big);
    // Random text does not compress: past the budget, long values are kept as hashes only.
    const noise = Array.from({ length: 40_000 }, (_, i) => ((i * 2654435761) >>> 0).toString(36)).join('');
    const updated = await store.update(c, { snapshot: { bc: { notes: noise, n: 2 }, dataverse: { notes: noise } } });
    const read = (await store.getByDataverseId('CUSTOMER', updated.dataverseId))!;
    expect(read.snapshot?.bc.n).toBe(2);
    expect(isHashedSnapshotValue(read.snapshot?.bc.notes)).toBe(true);
    expect(snapshotValueEquals(read.snapshot?.bc.notes, noise)).toBe(true);
    expect(snapshotValueEquals(read.snapshot?.bc.notes, `${noise}!`)).toBe(false);
  });

  it('refuses an invalid coupling with a clear message', async () => {
    await expect(store.couple({ ...coupling(9), bcId: '' })).rejects.toThrow(/invalid coupling/);
  });

  it('reports an unreachable store as STORE.UNAVAILABLE', async () => {
    const other = await startAzurite({ port: 0 });
    const s = new TableCouplingStore(await freshTable(other.connectionString, 'Down', { retryOptions: { maxRetries: 0 } }));
    await other.stop();
    await expect(s.getByBcId('CUSTOMER', guid(1, 1))).rejects.toMatchObject({ code: 'STORE.UNAVAILABLE' });
  });
});
