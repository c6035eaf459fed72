/**
 * Coupling store throughput against a fresh in-process Azurite: how fast the sync engine can couple records
 * and find couplings from either side. Figures are for comparing runs over time on the same machine.
 */
import { startAzurite } from '../dev/azurite';
import { ensureTable } from '../shared/adapters/tables/common';
import { TableCouplingStore } from '../shared/adapters/tables/coupling-store';
import { createTableClient } from '../shared/adapters/tables/table-client';

export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
}

/** Concurrent requests in flight, about what one Functions instance runs against Table Storage. */
const CONCURRENCY = 16;

function id(i: number, side: number): string {
  return `00000000-0000-4000-800${side}-${i.toString(16).padStart(12, '0')}`;
}

async function pool(total: number, run: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < total) await run(next++);
    }),
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return Math.round(total / seconds);
}

export async function benchCoupling(opts: { quick: boolean }): Promise<BenchFigure[]> {
  const couples = opts.quick ? 150 : 1_500;
  const lookups = opts.quick ? 600 : 6_000;
  const updates = opts.quick ? 100 : 1_000;
  const azurite = await startAzurite({ port: 0 });
  try {
    const client = createTableClient({ TABLES_CONNECTION: azurite.connectionString }, 'benchCouplings');
    await ensureTable(client);
    const store = new TableCouplingStore(client);
    const snapshot = {
      bc: { displayName: 'Adatum Corporation', city: 'Oslo' },
      dataverse: { name: 'Adatum Corporation', address1_city: 'Oslo' },
    };
    const coupleRate = await pool(couples, (i) =>
      store.couple({ mapping: 'CUSTOMER', bcId: id(i, 1), dataverseId: id(i, 2), environment: 'bench', snapshot }),
    );
    const byBcRate = await pool(lookups, async (i) => {
      if (!(await store.getByBcId('CUSTOMER', id(i % couples, 1)))) throw new Error('coupling missing');
    });
    const byDvRate = await pool(lookups, async (i) => {
      if (!(await store.getByDataverseId('CUSTOMER', id(i % couples, 2)))) throw new Error('coupling missing');
    });
    const updateRate = await pool(updates, async (i) => {
      const c = await store.getByBcId('CUSTOMER', id(i, 1));
      await store.update(c!, { lastResult: 'modified', lastSyncedAt: new Date().toISOString() });
    });
    return [
      { name: 'coupling: couple (two-step protocol, 3 writes)', value: coupleRate, unit: 'ops/s' },
      { name: 'coupling: lookup by BC id', value: byBcRate, unit: 'lookups/s' },
      { name: 'coupling: lookup by Dataverse id', value: byDvRate, unit: 'lookups/s' },
      { name: 'coupling: read + ETag update', value: updateRate, unit: 'ops/s' },
    ];
  } finally {
    await azurite.stop();
  }
}
