import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAzurite, startAzurite } from '../../../dev/azurite';
import { encodeKey } from '../../../shared/adapters/tables/common';
import { PENDING_GRACE_MS, partitionOf } from '../../../shared/adapters/tables/coupling-rows';
import { TableCouplingStore } from '../../../shared/adapters/tables/coupling-store';
import { CouplingConflictError } from '../../../shared/domain/ports';
import { COUPLING_ENV, collect, freshTable, guid, newCoupling } from './fixture';

/** The two-step couple / uncouple protocol over bucket partitions: crashes between the steps, and old-layout tables. */

const ENV = COUPLING_ENV;
const coupling = newCoupling;

/** A client whose writes of the given kind fail as a crash of the process would leave them: not done. */
function crashing(client: TableClient, op: 'createEntity' | 'deleteEntity', rowPrefix: 'bc_' | 'dv_'): TableClient {
  return new Proxy(client, {
    get(target, prop, receiver) {
      const real = Reflect.get(target, prop, receiver);
      if (prop !== op) return typeof real === 'function' ? real.bind(target) : real;
      return (...args: unknown[]) => {
        const rowKey = op === 'createEntity' ? (args[0] as { rowKey: string }).rowKey : (args[1] as string);
        if (rowKey.startsWith(rowPrefix)) return Promise.reject(new Error('process crashed'));
        return (real as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

describe('TableCouplingStore two-step protocol (Azurite)', () => {
  let azurite: RunningAzurite;
  const later = { now: () => new Date(Date.now() + PENDING_GRACE_MS + 1_000) };

  beforeAll(async () => {
    azurite = await startAzurite({ port: 0 });
  });
  afterAll(async () => {
    await azurite.stop();
  });

  it('spreads a mapping over bucket partitions per side', async () => {
    const s = new TableCouplingStore(await freshTable(azurite.connectionString, 'Buckets'));
    await s.coupleMany(Array.from({ length: 200 }, (_, i) => coupling(i)));
    const rows = await collect(s.client.listEntities<Record<string, unknown>>({ queryOptions: { select: ['PartitionKey', 'RowKey'] } }));
    const partitions = new Set(rows.map((r) => String(r.partitionKey)));
    expect(rows).toHaveLength(400);
    expect(partitions.size).toBe(32);
    for (const r of rows) expect(String(r.partitionKey)).toMatch(/^CUSTOMER\|(bc|dv)\|[0-9a-f]$/);
  });

  it('leaves no visible half-coupling when a couple stops after its first step, and repairs it after the grace period', async () => {
    const table = await freshTable(azurite.connectionString, 'CrashCouple');
    const crashed = new TableCouplingStore(crashing(table, 'createEntity', 'dv_'));
    await expect(crashed.couple(coupling(1))).rejects.toThrow();
    const s = new TableCouplingStore(table);
    // The BC row exists, pending: neither side reads as coupled, nor is it listed or counted.
    expect(await collect(table.listEntities({ queryOptions: { filter: `RowKey eq 'bc_${guid(1, 1)}'` } }))).toHaveLength(1);
    expect(await s.getByBcId('CUSTOMER', guid(1, 1))).toBeUndefined();
    expect(await s.getByDataverseId('CUSTOMER', guid(1, 2))).toBeUndefined();
    expect(await s.count('CUSTOMER')).toBe(0);
    expect((await s.couplingsIn('CUSTOMER', 'dataverse', [guid(1, 2)])).found.size).toBe(0);
    // The Dataverse row was never claimed: another BC record can take it at once.
    await expect(s.couple(coupling(2, { dataverseId: guid(1, 2) }))).resolves.toMatchObject({ bcId: guid(2, 1) });
    // Within the grace period the BC record may still be mid-couple elsewhere, so it is refused, not doubled.
    await expect(s.couple(coupling(1, { dataverseId: guid(11, 2) }))).rejects.toBeInstanceOf(CouplingConflictError);
    // After it, the leftover is garbage: the next couple removes it and wins.
    const repaired = new TableCouplingStore(table, { clock: later });
    await expect(repaired.couple(coupling(1, { dataverseId: guid(11, 2) }))).resolves.toMatchObject({ dataverseId: guid(11, 2) });
    expect((await s.getByDataverseId('CUSTOMER', guid(11, 2)))?.bcId).toBe(guid(1, 1));
    expect(await s.count('CUSTOMER')).toBe(2);
  });

  it('a reader deletes an expired half-coupling it meets', async () => {
    const table = await freshTable(azurite.connectionString, 'CrashRead');
    await expect(new TableCouplingStore(crashing(table, 'createEntity', 'dv_')).couple(coupling(3))).rejects.toThrow();
    expect(await new TableCouplingStore(table, { clock: later }).getByBcId('CUSTOMER', guid(3, 1))).toBeUndefined();
    expect(await collect(table.listEntities())).toEqual([]);
  });

  it('leaves no visible coupling when an uncouple stops before deleting the BC row, and both records couple again', async () => {
    const table = await freshTable(azurite.connectionString, 'CrashUncouple');
    const s = new TableCouplingStore(table);
    await s.couple(coupling(4));
    await expect(new TableCouplingStore(crashing(table, 'deleteEntity', 'bc_')).uncouple('CUSTOMER', guid(4, 1))).rejects.toThrow();
    expect(await s.getByBcId('CUSTOMER', guid(4, 1))).toBeUndefined();
    expect(await s.getByDataverseId('CUSTOMER', guid(4, 2))).toBeUndefined();
    expect(await s.count('CUSTOMER')).toBe(0);
    await expect(s.couple(coupling(5, { dataverseId: guid(4, 2) }))).resolves.toMatchObject({ bcId: guid(5, 1) });
    await expect(new TableCouplingStore(table, { clock: later }).couple(coupling(4, { dataverseId: guid(44, 2) }))).resolves.toMatchObject({
      dataverseId: guid(44, 2),
    });
  });

  it('keeps a coupling whole when an uncouple stops before deleting the Dataverse row; uncoupling again finishes it', async () => {
    const table = await freshTable(azurite.connectionString, 'CrashUncoupleDv');
    const s = new TableCouplingStore(table);
    await s.couple(coupling(6));
    await expect(new TableCouplingStore(crashing(table, 'deleteEntity', 'dv_')).uncouple('CUSTOMER', guid(6, 1))).rejects.toThrow();
    expect((await s.getByDataverseId('CUSTOMER', guid(6, 2)))?.bcId).toBe(guid(6, 1));
    await expect(s.couple(coupling(7, { dataverseId: guid(6, 2) }))).rejects.toBeInstanceOf(CouplingConflictError);
    await s.uncoupleByDataverseId('CUSTOMER', guid(6, 2));
    expect(await collect(table.listEntities())).toEqual([]);
  });

  it('rolls back its own BC row when the Dataverse row turns out coupled elsewhere', async () => {
    const table = await freshTable(azurite.connectionString, 'Rollback');
    const s = new TableCouplingStore(table);
    await s.couple(coupling(8));
    const err = await s.couple(coupling(9, { dataverseId: guid(8, 2) })).catch((e: unknown) => e);
    expect((err as CouplingConflictError).existing?.bcId).toBe(guid(8, 1));
    expect(await collect(table.listEntities({ queryOptions: { filter: `RowKey eq 'bc_${guid(9, 1)}'` } }))).toEqual([]);
  });

  it('lets exactly one of two workers win for the same BC record and for the same Dataverse row, in rounds', async () => {
    const table = await freshTable(azurite.connectionString, 'TwoWorkers');
    const a = new TableCouplingStore(table);
    const b = new TableCouplingStore(table);
    for (let round = 0; round < 20; round++) {
      const sameBc = await Promise.allSettled([
        a.couple(coupling(0, { bcId: guid(round, 7), dataverseId: guid(round, 8) })),
        b.couple(coupling(0, { bcId: guid(round, 7), dataverseId: guid(round, 9) })),
      ]);
      const sameDv = await Promise.allSettled([
        a.couple(coupling(0, { bcId: guid(round, 10), dataverseId: guid(round, 11) })),
        b.couple(coupling(0, { bcId: guid(round, 12), dataverseId: guid(round, 11) })),
      ]);
      for (const results of [sameBc, sameDv]) {
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof CouplingConflictError)).toHaveLength(1);
      }
      const winner = (await a.getByBcId('CUSTOMER', guid(round, 7)))?.dataverseId;
      for (const dv of [guid(round, 8), guid(round, 9)])
        expect((await a.getByDataverseId('CUSTOMER', dv))?.bcId).toBe(dv === winner ? guid(round, 7) : undefined);
      const holder = (await a.getByDataverseId('CUSTOMER', guid(round, 11)))?.bcId;
      expect([guid(round, 10), guid(round, 12)]).toContain(holder);
      for (const bc of [guid(round, 10), guid(round, 12)])
        expect((await a.getByBcId('CUSTOMER', bc))?.dataverseId).toBe(bc === holder ? guid(round, 11) : undefined);
    }
    expect(await a.count('CUSTOMER')).toBe(40);
  });

  it('moves an old single-partition table to the bucketed layout on first use, dropping tombstones', async () => {
    const table = await freshTable(azurite.connectionString, 'Legacy');
    const cols = (i: number, extra: Record<string, unknown> = {}) => ({
      mapping: 'CONTACT',
      bcId: guid(i, 1),
      dataverseId: guid(i, 2),
      lastResult: 'modified',
      lastSyncedAt: '2026-01-01T00:00:00.000Z',
      failed: false,
      failureCount: 0,
      skipped: false,
      environment: ENV,
      createdAt: '2025-01-01T00:00:00.000Z',
      tombstone: false,
      ...extra,
    });
    const legacy = Array.from({ length: 260 }, (_, i) => i);
    for (let at = 0; at < legacy.length; at += 50) {
      await table.submitTransaction(
        legacy.slice(at, at + 50).flatMap((i) => {
          const c = cols(i, i === 0 ? { tombstone: true } : {});
          return [
            ['create', { partitionKey: 'CONTACT', rowKey: `bc_${c.bcId}`, ...c }] as const,
            ['create', { partitionKey: 'CONTACT', rowKey: `dv_${c.dataverseId}`, ...c }] as const,
          ];
        }),
      );
    }
    const s = new TableCouplingStore(table);
    expect(await s.count('CONTACT')).toBe(259);
    expect(await s.getByBcId('CONTACT', guid(0, 1))).toBeUndefined();
    expect(await s.getByDataverseId('CONTACT', guid(17, 2))).toMatchObject({
      bcId: guid(17, 1),
      createdAt: '2025-01-01T00:00:00.000Z',
      lastResult: 'modified',
    });
    expect(await collect(table.listEntities({ queryOptions: { filter: `PartitionKey eq '${encodeKey('CONTACT')}'` } }))).toEqual([]);
    const bucket = partitionOf('CONTACT', 'bc_', guid(17, 1));
    expect(
      await collect(table.listEntities({ queryOptions: { filter: `PartitionKey eq '${bucket}' and RowKey eq 'bc_${guid(17, 1)}'` } })),
    ).toHaveLength(1);
    // A second store (another process) finds nothing left to move.
    expect(await new TableCouplingStore(table).count('CONTACT')).toBe(259);
  });
});
