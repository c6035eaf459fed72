import { odata, type TableClient } from '@azure/data-tables';
import { type Clock, type CounterStore, SYNC_RESULTS, type SyncResult, systemClock } from '../../domain/ports';
import { SyncError } from '../../errors';
import { decodeKey, encodeKey, hasStatus, invertedTime, prefixEnd, storeCall } from './common';
import { type PurgeResult, purgeRows } from './purge';

/**
 * Counters per mapping (table `<prefix>Counters`).
 *
 * Every worker of a mapping increments the same counters, so one row per mapping would be a hot spot where
 * most ETag-checked writes lose. Instead the counters of a mapping are spread over `shards` rows
 * (`PartitionKey` = mapping, `RowKey` = `shard_NN`): an increment picks a shard at random and does a
 * read–modify–write with If-Match, retrying on 412/409; a read sums the shards. Exact under concurrency.
 *
 * The synchronization log (BC's "Integration Synch. Jobs": one row per job run with its inserted / modified /
 * failed counts) is kept the same way per hour: BC runs a mapping's job every 30 minutes, we sync each change
 * as it comes, so an hour of a mapping's syncs is one run. Its rows sit in the mapping's partition under
 * `run_<inverted hour>_<shard>` (newest first), carry the first and last sync time, and are deleted by the
 * retention timer; the cumulative `shard_` rows are never purged.
 */

export { SYNC_RESULTS };

export interface TableCounterStoreOptions {
  /** Rows each mapping's counters are spread over. Default 8. */
  shards?: number;
  /** Attempts per increment before giving up with STORE.UNAVAILABLE. Default 50. */
  maxAttempts?: number;
  /** Clock of the run log's hours. Default the system clock. */
  clock?: Clock;
}

/** One hour of a mapping's synchronizations (a row of the synchronization log). */
export interface SyncRun {
  mapping: string;
  /** Start of the hour, ISO. */
  hour: string;
  /** First and last synchronization counted in the hour. */
  startedAt: string;
  finishedAt: string;
  counters: Record<SyncResult, number>;
}

const SHARD = 'shard_';
const RUN = 'run_';
const RUN_SHARDS = 4;

function hourStart(at: Date): Date {
  return new Date(Math.floor(at.getTime() / 3_600_000) * 3_600_000);
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
  private readonly clock: Clock;

  constructor(
    readonly client: TableClient,
    options: TableCounterStoreOptions = {},
  ) {
    this.shards = Math.max(1, options.shards ?? 8);
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 50);
    this.clock = options.clock ?? systemClock;
  }

  async increment(mapping: string, result: SyncResult, by = 1): Promise<void> {
    if (!SYNC_RESULTS.includes(result)) throw new SyncError('EVENT.INVALID', `unknown counter ${String(result)}`);
    if (!Number.isSafeInteger(by) || by < 0)
      throw new SyncError('EVENT.INVALID', `counter increment must be a non-negative integer, got ${by}`);
    if (by === 0) return;
    const partitionKey = encodeKey(mapping);
    const now = this.clock.now();
    const hour = hourStart(now);
    const shard = (n: number) => String(Math.floor(Math.random() * n)).padStart(2, '0');
    await Promise.all([
      this.bump(partitionKey, () => `${SHARD}${shard(this.shards)}`, result, by, {}, `${mapping}/${result}`),
      this.bump(
        partitionKey,
        () => `${RUN}${invertedTime(hour)}_${shard(RUN_SHARDS)}`,
        result,
        by,
        { hour: hour.toISOString(), firstAt: now.toISOString(), lastAt: now.toISOString() },
        `${mapping}/${result} run log`,
      ),
    ]);
  }

  /** Read–modify–write of one shard row with If-Match; `extra` is written on create (`lastAt` on every update). */
  private async bump(
    partitionKey: string,
    rowKeyOf: () => string,
    result: SyncResult,
    by: number,
    extra: Record<string, string>,
    what: string,
  ): Promise<void> {
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      // A new shard on every attempt spreads retries away from the row that just lost.
      const rowKey = rowKeyOf();
      try {
        await storeCall('incrementing a counter', async () => {
          let current: Record<string, unknown> | undefined;
          try {
            current = await this.client.getEntity<Record<string, unknown>>(partitionKey, rowKey);
          } catch (err) {
            if (!hasStatus(err, 404)) throw err;
          }
          if (!current) {
            await this.client.createEntity({ partitionKey, rowKey, ...extra, [result]: int64(by) });
          } else {
            const value = toNumber(current[result]) + by;
            const last = extra.lastAt ? { lastAt: extra.lastAt } : {};
            await this.client.updateEntity({ partitionKey, rowKey, ...last, [result]: int64(value) }, 'Merge', {
              etag: String(current.etag),
            });
          }
        });
        return;
      } catch (err) {
        if (!hasStatus(err, 409, 412)) throw err;
      }
    }
    throw new SyncError('STORE.UNAVAILABLE', `counter ${what}: too much contention after ${this.maxAttempts} attempts`);
  }

  async get(mapping: string): Promise<Record<SyncResult, number>> {
    const totals = Object.fromEntries(SYNC_RESULTS.map((r) => [r, 0])) as Record<SyncResult, number>;
    await storeCall('reading counters', async () => {
      // The run log shares the partition; only the cumulative shards count here.
      for await (const row of this.client.listEntities<Record<string, unknown>>({
        queryOptions: {
          filter: odata`PartitionKey eq ${encodeKey(mapping)} and RowKey ge ${SHARD} and RowKey lt ${prefixEnd(SHARD)}`,
        },
      })) {
        for (const r of SYNC_RESULTS) totals[r] += toNumber(row[r]);
      }
    });
    return totals;
  }

  /**
   * The synchronization log, newest hour first: one run per mapping and hour of the last `hours` (default 24, at
   * most a year). `mapping` narrows it to one mapping; at most `limit` runs (default 50, max 500). The hours are
   * a row-key range, so a read never scans the whole retained log.
   */
  async runs(options: { mapping?: string; limit?: number; hours?: number } = {}): Promise<SyncRun[]> {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
    const hours = Math.min(Math.max(options.hours ?? 24, 1), 366 * 24);
    const newest = hourStart(this.clock.now());
    const oldest = new Date(newest.getTime() - (hours - 1) * 3_600_000);
    // Newer hours have smaller inverted times: from this hour's first shard to the oldest hour's last.
    const range = odata`RowKey ge ${`${RUN}${invertedTime(newest)}`} and RowKey lt ${`${RUN}${invertedTime(oldest)}_~`}`;
    const filter = options.mapping ? `PartitionKey eq '${encodeKey(options.mapping).replace(/'/g, "''")}' and ${range}` : range;
    const runs = new Map<string, SyncRun>();
    await storeCall('reading the synchronization log', async () => {
      for await (const page of this.client
        .listEntities<Record<string, unknown>>({ queryOptions: { filter } })
        .byPage({ maxPageSize: 1000 })) {
        for (const row of page) {
          const mapping = decodeKey(String(row.partitionKey));
          const hour = String(row.hour ?? '');
          const key = `${hour}|${mapping}`;
          const run = runs.get(key) ?? {
            mapping,
            hour,
            startedAt: String(row.firstAt ?? hour),
            finishedAt: String(row.lastAt ?? hour),
            counters: Object.fromEntries(SYNC_RESULTS.map((r) => [r, 0])) as Record<SyncResult, number>,
          };
          if (String(row.firstAt ?? '') && String(row.firstAt) < run.startedAt) run.startedAt = String(row.firstAt);
          if (String(row.lastAt ?? '') > run.finishedAt) run.finishedAt = String(row.lastAt);
          for (const r of SYNC_RESULTS) run.counters[r] += toNumber(row[r]);
          runs.set(key, run);
        }
        // Rows come newest hour first within a partition; enough hours read once the limit is passed well.
        if (options.mapping && runs.size > limit) break;
      }
    });
    return [...runs.values()].sort((a, b) => b.hour.localeCompare(a.hour) || a.mapping.localeCompare(b.mapping)).slice(0, limit);
  }

  /** Deletes run-log hours that started before `cutoff`, at most `maxRows` rows (retention). */
  async purgeRunsBefore(cutoff: Date, maxRows: number): Promise<PurgeResult> {
    // Hours before the cutoff have a larger inverted time; `_~` sorts after every shard of the cutoff's own hour.
    const filter = odata`RowKey gt ${`${RUN}${invertedTime(hourStart(cutoff))}_~`} and RowKey lt ${prefixEnd(RUN)}`;
    return purgeRows(this.client, filter, { maxRows, what: 'synchronization log rows' });
  }
}
