import { randomBytes } from 'node:crypto';
import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { SyncDirectionSchema } from '../../domain/direction';
import type { HistoryEntry, HistoryStore } from '../../domain/ports';
import { SyncError } from '../../errors';
import { encodeKey, invertedTime, jsonProperties, normalizeId, readJsonProperty, storeCall, ValueTooLargeError } from './common';
import { type PurgeResult, purgeRows } from './purge';

/**
 * Per-record history of applied changes (table `<prefix>History`).
 *
 * PartitionKey = `<mapping>|bc_<BC id>` and/or `<mapping>|dv_<Dataverse id>`: an entry naming both ids is
 * written to both partitions, so the history of a record is one partition query from either side.
 * RowKey = inverted timestamp + random suffix, so a partition reads newest first.
 */

const syncResult = z.enum(['inserted', 'modified', 'unchanged', 'skipped', 'failed', 'coupled', 'deleted', 'deferred']);

const entrySchema = z.object({
  mapping: z.string().min(1).max(100),
  bcId: z.string().min(1).optional(),
  dataverseId: z.string().min(1).optional(),
  at: z.iso.datetime({ offset: true }),
  direction: SyncDirectionSchema,
  result: syncResult,
  changes: z.record(z.string(), z.tuple([z.unknown(), z.unknown()])),
  correlationId: z.string().optional(),
  dryRun: z.boolean().optional(),
});

const rowSchema = z.looseObject({
  rowKey: z.string(),
  mapping: z.string(),
  bcId: z.string().optional(),
  dataverseId: z.string().optional(),
  at: z.string(),
  direction: SyncDirectionSchema,
  result: syncResult,
  correlationId: z.string().optional(),
  dryRun: z.boolean().optional(),
});

/** Budget for the changes of one entry; a bigger change set keeps the field names only. */
const MAX_CHANGES_BYTES = 256 * 1024;

function partition(mapping: string, side: 'bc' | 'dv', id: string): string {
  return `${encodeKey(mapping)}|${side}_${encodeKey(normalizeId(id))}`;
}

export class TableHistoryStore implements HistoryStore {
  constructor(readonly client: TableClient) {}

  async append(entry: HistoryEntry): Promise<void> {
    const parsed = entrySchema.safeParse(entry);
    if (!parsed.success) throw new SyncError('EVENT.INVALID', `invalid history entry: ${z.prettifyError(parsed.error)}`);
    if (!entry.bcId && !entry.dataverseId) throw new SyncError('EVENT.INVALID', 'invalid history entry: bcId or dataverseId is required');
    const rowKey = `${invertedTime(entry.at)}_${randomBytes(4).toString('hex')}`;
    const columns: Record<string, unknown> = {
      mapping: entry.mapping,
      at: entry.at,
      direction: entry.direction,
      result: entry.result,
      ...changesColumns(entry.changes),
    };
    if (entry.bcId) columns.bcId = normalizeId(entry.bcId);
    if (entry.dataverseId) columns.dataverseId = normalizeId(entry.dataverseId);
    if (entry.correlationId !== undefined) columns.correlationId = entry.correlationId;
    if (entry.dryRun !== undefined) columns.dryRun = entry.dryRun;
    const partitions = [
      entry.bcId ? partition(entry.mapping, 'bc', entry.bcId) : undefined,
      entry.dataverseId ? partition(entry.mapping, 'dv', entry.dataverseId) : undefined,
    ].filter((p): p is string => p !== undefined);
    await storeCall('recording history', () =>
      Promise.all(partitions.map((partitionKey) => this.client.upsertEntity({ partitionKey, rowKey, ...columns }, 'Replace'))),
    );
  }

  /** The newest entries first; with both ids given, the entries found under either, once each. */
  async forRecord(
    mapping: string,
    key: { bcId?: string; dataverseId?: string },
    options: { limit?: number } = {},
  ): Promise<HistoryEntry[]> {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 1000);
    const partitions = [
      key.bcId ? partition(mapping, 'bc', key.bcId) : undefined,
      key.dataverseId ? partition(mapping, 'dv', key.dataverseId) : undefined,
    ].filter((p): p is string => p !== undefined);
    const rows = await storeCall('reading history', () =>
      Promise.all(
        partitions.map(async (pk) => {
          const out: Record<string, unknown>[] = [];
          for await (const page of this.client
            .listEntities<Record<string, unknown>>({ queryOptions: { filter: odata`PartitionKey eq ${pk}` } })
            .byPage({ maxPageSize: limit })) {
            out.push(...page);
            if (out.length >= limit) break;
          }
          return out;
        }),
      ),
    );
    const byKey = new Map<string, Record<string, unknown>>();
    for (const r of rows.flat()) byKey.set(String(r.rowKey), r);
    return [...byKey.keys()]
      .sort()
      .slice(0, limit)
      .map((k) => toEntry(byKey.get(k)!));
  }

  /** Deletes entries recorded before `cutoff`, at most `maxRows` rows (retention; an entry has one or two rows). */
  async purgeBefore(cutoff: Date, maxRows: number): Promise<PurgeResult> {
    // Older entries have a larger inverted time; `_~` sorts after every random suffix of the cutoff's own millisecond.
    return purgeRows(this.client, odata`RowKey gt ${`${invertedTime(cutoff)}_~`}`, { maxRows, what: 'history rows' });
  }
}

function changesColumns(changes: HistoryEntry['changes']): Record<string, unknown> {
  try {
    return jsonProperties('changes', changes, MAX_CHANGES_BYTES);
  } catch (err) {
    if (!(err instanceof ValueTooLargeError)) throw err;
    // Keep which fields changed; their values were too large to keep.
    return {
      changes: JSON.stringify(Object.fromEntries(Object.keys(changes).map((f) => [f, ['(too large)', '(too large)']]))).slice(0, 30_000),
    };
  }
}

function toEntry(raw: Record<string, unknown>): HistoryEntry {
  const row = rowSchema.parse(raw);
  const entry: HistoryEntry = {
    mapping: row.mapping,
    at: row.at,
    direction: row.direction,
    result: row.result,
    changes: z.record(z.string(), z.tuple([z.unknown(), z.unknown()])).parse(readJsonProperty(raw, 'changes') ?? {}),
  };
  if (row.bcId !== undefined) entry.bcId = row.bcId;
  if (row.dataverseId !== undefined) entry.dataverseId = row.dataverseId;
  if (row.correlationId !== undefined) entry.correlationId = row.correlationId;
  if (row.dryRun !== undefined) entry.dryRun = row.dryRun;
  return entry;
}
