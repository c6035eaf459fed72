/**
 * Azurite Table upsert throughput through `@azure/data-tables`, for comparing runs over time (not a claim about
 * Azure Table Storage). Each figure uses its own table in one in-process Azurite on an ephemeral port.
 */
import { TableClient, type TableEntity, type TransactionAction } from '@azure/data-tables';
import { startAzurite } from '../dev/azurite';

interface Counts {
  sequential: number;
  concurrent: number;
  concurrency: number;
  transactions: number;
}

// Quick mode stays around a few seconds on a 2-core machine.
const QUICK: Counts = { sequential: 300, concurrent: 600, concurrency: 16, transactions: 10 };
const FULL: Counts = { sequential: 2_000, concurrent: 4_000, concurrency: 16, transactions: 60 };
const TRANSACTION_SIZE = 100;

/** A coupling-sized row (~120 bytes of properties), like the service's own tables. */
function entity(partitionKey: string, i: number): TableEntity<{ bcId: string; dataverseId: string; version: number; syncedAt: Date }> {
  return {
    partitionKey,
    rowKey: `row-${String(i).padStart(7, '0')}`,
    bcId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    dataverseId: `11111111-1111-4111-8111-${String(i).padStart(12, '0')}`,
    version: i,
    syncedAt: new Date(Date.UTC(2026, 0, 1)),
  };
}

function perSecond(count: number, startedAt: bigint): number {
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  return Math.round(count / seconds);
}

export async function benchTables(opts: { quick: boolean }): Promise<Array<{ name: string; value: number; unit: string }>> {
  const counts = opts.quick ? QUICK : FULL;
  const azurite = await startAzurite({ port: 0 });
  const table = async (name: string) => {
    const client = TableClient.fromConnectionString(azurite.connectionString, name, { allowInsecureConnection: true });
    await client.createTable();
    // One warm-up call so connection set-up is not counted.
    await client.upsertEntity(entity('warmup', 0), 'Replace');
    return client;
  };
  try {
    const sequential = await table('benchsequential');
    let t = process.hrtime.bigint();
    for (let i = 0; i < counts.sequential; i++) await sequential.upsertEntity(entity('p', i), 'Replace');
    const sequentialRate = perSecond(counts.sequential, t);

    const concurrent = await table('benchconcurrent');
    let next = 0;
    t = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: counts.concurrency }, async () => {
        for (let i = next++; i < counts.concurrent; i = next++) await concurrent.upsertEntity(entity(`p${i % 8}`, i), 'Replace');
      }),
    );
    const concurrentRate = perSecond(counts.concurrent, t);

    const batched = await table('benchtransactions');
    t = process.hrtime.bigint();
    for (let b = 0; b < counts.transactions; b++) {
      const actions: TransactionAction[] = [];
      for (let i = 0; i < TRANSACTION_SIZE; i++) actions.push(['upsert', entity(`p${b}`, i), 'Replace']);
      await batched.submitTransaction(actions);
    }
    const transactionRate = perSecond(counts.transactions * TRANSACTION_SIZE, t);

    return [
      { name: 'azurite table: sequential upsertEntity', value: sequentialRate, unit: 'entities/s' },
      { name: `azurite table: ${counts.concurrency} concurrent upsertEntity`, value: concurrentRate, unit: 'entities/s' },
      { name: `azurite table: submitTransaction of ${TRANSACTION_SIZE} upserts`, value: transactionRate, unit: 'entities/s' },
    ];
  } finally {
    await azurite.stop();
  }
}

if (require.main === module) {
  benchTables({ quick: process.argv.includes('--quick') }).then(
    (figures) => {
      for (const f of figures) process.stdout.write(`${f.name.padEnd(50)} ${String(f.value).padStart(8)} ${f.unit}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
