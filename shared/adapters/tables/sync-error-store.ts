import { randomBytes } from 'node:crypto';
import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { changeEventSchema } from '../../domain/change-event';
import { type SyncDirection, SyncDirectionSchema } from '../../domain/direction';
import { type Clock, type Page, type SyncErrorRecord, type SyncErrorStore, systemClock } from '../../domain/ports';
import { SyncError } from '../../errors';
import {
  decodeKey,
  encodeKey,
  hasStatus,
  invertedTime,
  jsonProperties,
  normalizeId,
  prefixEnd,
  readEntity,
  readJsonProperty,
  storeCall,
  ValueTooLargeError,
} from './common';
import { type PurgeResult, purgeRows } from './purge';
import { redact, redactText } from './redact';

/**
 * "Coupled Data Synchronization Errors" in Table Storage (table `<prefix>SyncErrors`).
 *
 * PartitionKey = mapping name. Two kinds of rows:
 * - `err_<inverted first-seen>_<random>`: the error itself, newest first; kept after it is resolved or
 *   dismissed so the history of failures stays visible.
 * - `open_<direction>_<bc|dv>_<record id>`: the pointer that makes "one open error per record and direction"
 *   hold; it exists exactly while its error row is open, and both change in one transaction.
 *
 * Error ids are `<mapping>:<error row key>`.
 */

const ERR = 'err_';
const OPEN = 'open_';
/** Enough of a message to diagnose; the rest of a huge text (an HTML error page) is noise. */
const MAX_MESSAGE_CHARS = 8_000;
/** Budget for the values and the event of one error row. */
const MAX_VALUES_BYTES = 256 * 1024;

type NewSyncError = Omit<SyncErrorRecord, 'id' | 'attempts' | 'firstSeen' | 'lastSeen' | 'status'>;

const newErrorSchema = z.object({
  mapping: z.string().min(1).max(100),
  bcId: z.string().min(1).optional(),
  dataverseId: z.string().min(1).optional(),
  direction: SyncDirectionSchema,
  code: z.string().min(1).max(100),
  category: z.enum(['transient', 'data', 'configuration']),
  message: z.string(),
});

const errorRowSchema = z.looseObject({
  partitionKey: z.string(),
  rowKey: z.string(),
  etag: z.string(),
  mapping: z.string(),
  bcId: z.string().optional(),
  dataverseId: z.string().optional(),
  direction: SyncDirectionSchema,
  code: z.string(),
  category: z.enum(['transient', 'data', 'configuration']),
  message: z.string(),
  attempts: z.number().int(),
  firstSeen: z.string(),
  lastSeen: z.string(),
  correlationId: z.string().optional(),
  status: z.enum(['open', 'resolved', 'dismissed']),
  pointer: z.string(),
});

const pointerSchema = z.looseObject({ etag: z.string(), errorRowKey: z.string() });

function pointerKey(direction: SyncDirection, side: 'bc' | 'dv', id: string): string {
  return `${OPEN}${direction}_${side}_${encodeKey(normalizeId(id))}`;
}

/** The source record of the direction identifies the failure; the other id is a fallback when it is unknown. */
function pointerKeys(direction: SyncDirection, key: { bcId?: string; dataverseId?: string }): string[] {
  const bc = key.bcId ? pointerKey(direction, 'bc', key.bcId) : undefined;
  const dv = key.dataverseId ? pointerKey(direction, 'dv', key.dataverseId) : undefined;
  const ordered = direction === 'ToIntegrationTable' ? [bc, dv] : [dv, bc];
  return ordered.filter((k): k is string => k !== undefined);
}

export function syncErrorId(mapping: string, rowKey: string): string {
  return `${mapping}:${rowKey}`;
}

function parseId(id: string): { pk: string; rk: string } | undefined {
  const at = id.lastIndexOf(`:${ERR}`);
  if (at <= 0) return undefined;
  return { pk: encodeKey(id.slice(0, at)), rk: id.slice(at + 1) };
}

export class TableSyncErrorStore implements SyncErrorStore {
  private readonly clock: Clock;

  constructor(
    readonly client: TableClient,
    options: { clock?: Clock } = {},
  ) {
    this.clock = options.clock ?? systemClock;
  }

  async record(input: NewSyncError): Promise<SyncErrorRecord> {
    const parsed = newErrorSchema.safeParse(input);
    if (!parsed.success) throw new SyncError('EVENT.INVALID', `invalid sync error: ${z.prettifyError(parsed.error)}`);
    if (!input.bcId && !input.dataverseId) throw new SyncError('EVENT.INVALID', 'invalid sync error: bcId or dataverseId is required');
    const pk = encodeKey(input.mapping);
    const keys = pointerKeys(input.direction, input);
    for (let attempt = 0; ; attempt++) {
      const now = this.clock.now().toISOString();
      const existing = await this.findOpen(pk, keys);
      try {
        if (existing) {
          const { row } = existing;
          const next: SyncErrorRecord = {
            ...this.toRecord(row),
            ...stripUndefined({ bcId: input.bcId, dataverseId: input.dataverseId, correlationId: input.correlationId }),
            code: input.code,
            category: input.category,
            message: input.message,
            attempts: row.attempts + 1,
            lastSeen: now,
          };
          if (input.values !== undefined) next.values = input.values;
          if (input.event !== undefined) next.event = input.event;
          await storeCall('recording a sync error', () =>
            this.client.updateEntity({ partitionKey: pk, rowKey: row.rowKey, ...this.columns(next, row.pointer) }, 'Replace', {
              etag: row.etag,
            }),
          );
          return asStored(next);
        }
        const rowKey = `${ERR}${invertedTime(now)}_${randomBytes(4).toString('hex')}`;
        const rec: SyncErrorRecord = {
          ...input,
          ...(input.bcId ? { bcId: normalizeId(input.bcId) } : {}),
          ...(input.dataverseId ? { dataverseId: normalizeId(input.dataverseId) } : {}),
          id: syncErrorId(input.mapping, rowKey),
          attempts: 1,
          firstSeen: now,
          lastSeen: now,
          status: 'open',
        };
        const pointer = keys[0]!;
        await storeCall('recording a sync error', () =>
          this.client.submitTransaction([
            ['create', { partitionKey: pk, rowKey: pointer, errorRowKey: rowKey }],
            ['create', { partitionKey: pk, rowKey, ...this.columns(rec, pointer) }],
          ]),
        );
        return asStored(rec);
      } catch (err) {
        // 409: another worker opened the error first; 412/404: it was bumped or resolved meanwhile. Re-read.
        if (!hasStatus(err, 409, 412, 404) || attempt >= 8) throw err;
      }
    }
  }

  /**
   * Resolves the open errors of a record: of one direction when given, else of both (a successful sync
   * proves the pair is healthy again).
   */
  async resolve(mapping: string, recordKey: { bcId?: string; dataverseId?: string }, direction?: SyncDirection): Promise<void> {
    await this.close(mapping, recordKey, 'resolved', direction);
  }

  async get(id: string): Promise<SyncErrorRecord | undefined> {
    const key = parseId(id);
    if (!key) return undefined;
    const row = await this.readRow(key.pk, key.rk);
    return row ? this.toRecord(row) : undefined;
  }

  async list(
    filter: { mapping?: string; status?: SyncErrorRecord['status']; code?: string; pageSize?: number; continuation?: string } = {},
  ): Promise<Page<SyncErrorRecord>> {
    const pageSize = Math.min(Math.max(filter.pageSize ?? 100, 1), 1000);
    let query = odata`RowKey ge ${ERR} and RowKey lt ${prefixEnd(ERR)}`;
    if (filter.mapping !== undefined) query = odata`PartitionKey eq ${encodeKey(filter.mapping)} and ` + query;
    if (filter.status !== undefined) query += odata` and status eq ${filter.status}`;
    if (filter.code !== undefined) query += odata` and code eq ${filter.code}`;
    return storeCall('listing sync errors', async () => {
      const pages = this.client
        .listEntities<Record<string, unknown>>({ queryOptions: { filter: query } })
        .byPage({ maxPageSize: pageSize, continuationToken: filter.continuation });
      for await (const page of pages) {
        if (page.length > 0 || !page.continuationToken) {
          return { items: page.map((e) => this.toRecord(errorRowSchema.parse(e))), continuation: page.continuationToken };
        }
      }
      return { items: [] };
    });
  }

  /**
   * Deletes errors resolved or dismissed before `cutoff`, at most `maxRows` rows (retention). Open errors are never
   * purged, however old: they still need an admin. Their pointer rows went when they closed.
   */
  async purgeClosedBefore(cutoff: Date, maxRows: number): Promise<PurgeResult> {
    const filter = odata`RowKey ge ${ERR} and RowKey lt ${prefixEnd(ERR)} and status ne ${'open'} and closedAt lt ${cutoff.toISOString()}`;
    return purgeRows(this.client, filter, { maxRows, what: 'closed sync errors' });
  }

  /** Hides an error without a successful sync (BC's "Delete" on the errors page); the row is kept as dismissed. */
  async dismiss(id: string): Promise<void> {
    const key = parseId(id);
    if (!key) throw new SyncError('EVENT.INVALID', `not a sync error id: ${id}`);
    for (let attempt = 0; ; attempt++) {
      const row = await this.readRow(key.pk, key.rk);
      if (!row) throw new SyncError('EVENT.INVALID', `no sync error ${id}`);
      if (row.status !== 'open') return;
      try {
        await this.closeRow(key.pk, row, 'dismissed');
        return;
      } catch (err) {
        if (!hasStatus(err, 412, 404) || attempt >= 5) throw err;
      }
    }
  }

  private async close(mapping: string, recordKey: { bcId?: string; dataverseId?: string }, status: 'resolved', direction?: SyncDirection) {
    const pk = encodeKey(mapping);
    const directions: SyncDirection[] = direction ? [direction] : ['ToIntegrationTable', 'FromIntegrationTable'];
    for (const d of directions) {
      for (let attempt = 0; ; attempt++) {
        const open = await this.findOpen(pk, pointerKeys(d, recordKey));
        if (!open) break;
        try {
          await this.closeRow(pk, open.row, status);
        } catch (err) {
          if (!hasStatus(err, 412, 404) || attempt >= 5) throw err;
        }
      }
    }
  }

  private async closeRow(pk: string, row: z.infer<typeof errorRowSchema>, status: 'resolved' | 'dismissed'): Promise<void> {
    const now = this.clock.now().toISOString();
    await storeCall('closing a sync error', () =>
      this.client.submitTransaction([
        ['update', { partitionKey: pk, rowKey: row.rowKey, status, closedAt: now }, 'Merge', { etag: row.etag }],
        ['delete', { partitionKey: pk, rowKey: row.pointer }],
      ]),
    );
  }

  private async findOpen(pk: string, keys: string[]): Promise<{ row: z.infer<typeof errorRowSchema> } | undefined> {
    for (const k of keys) {
      const raw = await this.readRaw(pk, k);
      if (!raw) continue;
      const pointer = pointerSchema.parse(raw);
      const row = await this.readRow(pk, pointer.errorRowKey);
      if (row && row.status === 'open') return { row };
      // A pointer without an open error cannot be produced by this store's transactions; heal it anyway.
      await storeCall('removing a stale error pointer', () => this.client.deleteEntity(pk, k, { etag: pointer.etag })).catch((err) => {
        if (!hasStatus(err, 404, 412)) throw err;
      });
    }
    return undefined;
  }

  private readRaw(pk: string, rk: string): Promise<Record<string, unknown> | undefined> {
    return readEntity(this.client, 'reading a sync error', pk, rk);
  }

  private async readRow(pk: string, rk: string): Promise<z.infer<typeof errorRowSchema> | undefined> {
    const raw = await this.readRaw(pk, rk);
    return raw ? errorRowSchema.parse(raw) : undefined;
  }

  private columns(rec: SyncErrorRecord, pointer: string): Record<string, unknown> {
    const cols: Record<string, unknown> = {
      mapping: rec.mapping,
      direction: rec.direction,
      code: rec.code,
      category: rec.category,
      message: redactText(rec.message).slice(0, MAX_MESSAGE_CHARS),
      attempts: rec.attempts,
      firstSeen: rec.firstSeen,
      lastSeen: rec.lastSeen,
      status: rec.status,
      pointer,
      ...stripUndefined({ bcId: rec.bcId, dataverseId: rec.dataverseId, correlationId: rec.correlationId }),
    };
    Object.assign(cols, boundedJson('values', rec.values === undefined ? undefined : redact(rec.values)));
    Object.assign(cols, boundedJson('event', rec.event));
    return cols;
  }

  private toRecord(row: z.infer<typeof errorRowSchema>): SyncErrorRecord {
    const rec: SyncErrorRecord = {
      id: syncErrorId(decodeKey(row.partitionKey), row.rowKey),
      mapping: row.mapping,
      direction: row.direction,
      code: row.code,
      category: row.category,
      message: row.message,
      attempts: row.attempts,
      firstSeen: row.firstSeen,
      lastSeen: row.lastSeen,
      status: row.status,
    };
    if (row.bcId !== undefined) rec.bcId = row.bcId;
    if (row.dataverseId !== undefined) rec.dataverseId = row.dataverseId;
    if (row.correlationId !== undefined) rec.correlationId = row.correlationId;
    const values = readJsonProperty(row, 'values');
    if (values !== undefined) rec.values = z.record(z.string(), z.unknown()).parse(values);
    const event = readJsonProperty(row, 'event');
    if (event !== undefined) rec.event = changeEventSchema.parse(event);
    return rec;
  }
}

/** The record as a later read returns it: message and values redacted and bounded. */
function asStored(rec: SyncErrorRecord): SyncErrorRecord {
  const out: SyncErrorRecord = { ...rec, message: redactText(rec.message).slice(0, MAX_MESSAGE_CHARS) };
  if (rec.values !== undefined) out.values = redact(rec.values);
  return out;
}

function boundedJson(name: string, value: unknown): Record<string, unknown> {
  try {
    return jsonProperties(name, value, MAX_VALUES_BYTES);
  } catch (err) {
    if (!(err instanceof ValueTooLargeError)) throw err;
    // Never drop silently: keep which fields were involved and say that the values were too large.
    const keys = typeof value === 'object' && value !== null ? Object.keys(value).slice(0, 200) : [];
    return jsonProperties(name, { $tooLarge: `${err.bytes} bytes compressed`, fields: keys });
  }
}

function stripUndefined<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
