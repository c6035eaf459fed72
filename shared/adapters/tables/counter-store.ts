import { odata, type TableClient } from '@azure/data-tables';
import { type CounterStore, SYNC_RESULTS, type SyncResult } from '../../domain/ports';
import { SyncError } from '../../errors';
import { encodeKey, hasStatus, storeCall } from './common';

/**
 * Counters per mapping (table `<prefix>Counters`).
 *
 * Every worker of a mapping increments the same counters, so one row per mapping would be a hot spot where
 * most ETag-checked writes lose. Instead the counters of a mapping are spread over `shards` rows
 * (`PartitionKey` = mapping, `RowKey` = `shard_NN`): an increment picks a shard at random and does a
 * read–modify–write with If-Match, retrying on 412/409; a read sums the shards. Exact under concurrency.
 */

export { SYNC_RESULTS };

export interface TableCounterStoreOptions {
  /** Rows each mapping's counters are spread over. Default 8. */
  shards?: number;
  /** Attempts per increment before giving up with STORE.UNAVAILABLE. Default 50. */
  maxAttempts?: number;
}

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') return Number(v);
  if (typeof v === 'object' && v !== null && 'value' in v) return Number((v as { value: unknown }).value);
  return 0;
}

function int64(n: number): { value: string; type: 'Int64' } {
  return { value: String(n), type: 'Int64' };
}

export class TableCounterStore implements CounterStore {
  private readonly shards: number;
  private readonly maxAttempts: number;

  constructor(
    readonly client: TableClient,
    options: TableCounterStoreOptions = {},
  ) {
    this.shards = Math.max(1, options.shards ?? 8);
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 50);
  }

  async increment(mapping: string, result: SyncResult, by = 1): Promise<void> {
    if (!SYNC_RESULTS.includes(result)) throw new SyncError('EVENT.INVALID', `unknown counter ${String(result)}`);
    if (!Number.isSafeInteger(by) || by < 0)
      throw new SyncError('EVENT.INVALID', `counter increment must be a non-negative integer, got ${by}`);
    if (by === 0) return;
    const partitionKey = encodeKey(mapping);
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      // A new shard on every attempt spreads retries away from the row that just lost.
      const rowKey = `shard_${String(Math.floor(Math.random() * this.shards)).padStart(2, '0')}`;
      try {
        await storeCall('incrementing a counter', async () => {
          let current: Record<string, unknown> | undefined;
          try {
            current = await this.client.getEntity<Record<string, unknown>>(partitionKey, rowKey);
          } catch (err) {
            if (!hasStatus(err, 404)) throw err;
          }
          if (!current) {
            await this.client.createEntity({ partitionKey, rowKey, [result]: int64(by) });
          } else {
            const value = toNumber(current[result]) + by;
            await this.client.updateEntity({ partitionKey, rowKey, [result]: int64(value) }, 'Merge', { etag: String(current.etag) });
          }
        });
        return;
      } catch (err) {
        if (!hasStatus(err, 409, 412)) throw err;
      }
    }
    throw new SyncError('STORE.UNAVAILABLE', `counter ${mapping}/${result}: too much contention after ${this.maxAttempts} attempts`);
  }

  async get(mapping: string): Promise<Record<SyncResult, number>> {
    const totals = Object.fromEntries(SYNC_RESULTS.map((r) => [r, 0])) as Record<SyncResult, number>;
    await storeCall('reading counters', async () => {
      for await (const row of this.client.listEntities<Record<string, unknown>>({
        queryOptions: { filter: odata`PartitionKey eq ${encodeKey(mapping)}` },
      })) {
        for (const r of SYNC_RESULTS) totals[r] += toNumber(row[r]);
      }
    });
    return totals;
  }
}
