import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { SyncDirectionSchema } from '../../domain/direction';
import {
  type Clock,
  type Coupling,
  CouplingConflictError,
  type NewCoupling,
  type Side,
  SYNC_RESULTS,
  type SyncedSnapshot,
} from '../../domain/ports';
import { SyncError } from '../../errors';
import { encodeKey, jsonProperties, normalizeId, readEntity, readJsonProperty, sha256, ValueTooLargeError } from './common';

/**
 * The couplings table's rows (layout in {@link TableCouplingStore}): row keys, the columns a coupling is stored as and
 * read back from, snapshots that fit an entity, and the concurrency token that names the row it came from.
 */

export const BC = 'bc_';
export const DV = 'dv_';

/**
 * Hex characters of the id's SHA-256 that pick its bucket: 1 = 16 partitions per mapping and side. One partition per
 * mapping held every coupling behind one partition's throughput (Table Storage targets up to 2,000 entities/s per
 * partition: learn.microsoft.com/azure/storage/tables/scalability-targets). More buckets spread a full-sync wave's
 * range reads and transactions over more requests; in Azurite every query reads the whole table.
 */
const BUCKET_CHARS = 1;

/** A half-written or half-removed pair older than this is garbage a reader or coupler may delete. */
export const PENDING_GRACE_MS = 60_000;

/** The partition of a coupling row: `<mapping>|bc|<bucket>` or `<mapping>|dv|<bucket>`, the bucket from the row's own id. */
export function partitionOf(mapping: string, prefix: typeof BC | typeof DV, normalizedId: string): string {
  return `${encodeKey(mapping)}|${prefix.slice(0, 2)}|${sha256(normalizedId).slice(0, BUCKET_CHARS)}`;
}

/** The key range of every partition of one mapping and side (`mapping eq` still has to be checked: names may hold '|'). */
export function partitionRange(mapping: string, prefix: typeof BC | typeof DV): { from: string; to: string } {
  const from = `${encodeKey(mapping)}|${prefix.slice(0, 2)}|`;
  return { from, to: `${from}\uffff` };
}

/** Where a pair's rows are: the BC row holds the whole coupling, the Dataverse row only points at it. */
export function bcKey(c: Pick<Coupling, 'mapping' | 'bcId'>): { partitionKey: string; rowKey: string } {
  return { partitionKey: partitionOf(c.mapping, BC, c.bcId), rowKey: BC + encodeKey(c.bcId) };
}

export function dvKey(c: Pick<Coupling, 'mapping' | 'dataverseId'>): { partitionKey: string; rowKey: string } {
  return { partitionKey: partitionOf(c.mapping, DV, c.dataverseId), rowKey: DV + encodeKey(c.dataverseId) };
}

/** The Dataverse row of a pair: an index naming the BC record; never changed after it is written. */
export function dvIndexRow(c: Coupling, now: string): Record<string, unknown> & { partitionKey: string; rowKey: string } {
  return { ...dvKey(c), mapping: c.mapping, bcId: c.bcId, dataverseId: c.dataverseId, environment: c.environment, writtenAt: now };
}

/** The BC row of a pair as the first couple step writes it: pending until the Dataverse row exists. */
export function pendingBcRow(c: Coupling, now: string): Record<string, unknown> & { partitionKey: string; rowKey: string } {
  return { ...bcKey(c), ...couplingColumns(c), pending: true, pendingSince: now };
}

/** True when a pending row was marked longer ago than the grace period (a crashed couple or uncouple). */
export function pendingExpired(row: Record<string, unknown>, now: Date): boolean {
  const since = Date.parse(String(row.pendingSince ?? row.writtenAt ?? ''));
  return !Number.isFinite(since) || now.getTime() - since > PENDING_GRACE_MS;
}

/** Replaces a snapshot value when the snapshot is too large to store whole (see {@link snapshotForm}). */
export const HASHED_VALUE_KEY = '$sha256';

export function hashSnapshotValue(value: unknown): { [HASHED_VALUE_KEY]: string } {
  return { [HASHED_VALUE_KEY]: sha256(JSON.stringify(value ?? null)) };
}

export function isHashedSnapshotValue(value: unknown): value is { [HASHED_VALUE_KEY]: string } {
  return typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>)[HASHED_VALUE_KEY] === 'string';
}

/** Compares a current value with a stored snapshot value, which may be in hashed form. */
export function snapshotValueEquals(stored: unknown, current: unknown): boolean {
  if (isHashedSnapshotValue(stored)) return stored[HASHED_VALUE_KEY] === hashSnapshotValue(current)[HASHED_VALUE_KEY];
  return JSON.stringify(stored ?? null) === JSON.stringify(current ?? null);
}

const couplingRowSchema = z.looseObject({
  mapping: z.string(),
  bcId: z.string(),
  dataverseId: z.string(),
  bcModifiedOn: z.string().optional(),
  dataverseModifiedOn: z.string().optional(),
  fingerprintToDataverse: z.string().optional(),
  fingerprintToBc: z.string().optional(),
  dataverseWrittenEtag: z.string().optional(),
  initialDirection: SyncDirectionSchema.optional(),
  snapshotForm: z.enum(['full', 'hashed', 'omitted']).optional(),
  lastResult: z.union([z.enum(SYNC_RESULTS), z.literal('')]).optional(),
  lastSyncedAt: z.string().optional(),
  lastError: z.string().optional(),
  openError: z.boolean().optional(),
  failureCount: z.number().int(),
  skipped: z.boolean(),
  environment: z.string(),
  createdAt: z.string(),
  tombstone: z.boolean().optional(),
  pending: z.boolean().optional(),
  etag: z.string(),
});

const snapshotSchema = z.object({ bc: z.record(z.string(), z.unknown()), dataverse: z.record(z.string(), z.unknown()) });

const newCouplingSchema = z.object({
  mapping: z.string().min(1).max(100),
  bcId: z.string().min(1).max(400),
  dataverseId: z.string().min(1).max(400),
  environment: z.string().max(1000),
});

/** Budget for one row's snapshot; up to 100 rows go in one transaction (4 MiB) and each entity holds 1 MiB. */
const SNAPSHOT_MAX_BYTES = 256 * 1024;
/** Error texts are kept whole up to this length; a longer text is cut (the errors table keeps the details). */
const MAX_ERROR_CHARS = 8_000;

/** A coupling's concurrency token names the index row it was read from: `bc:<etag>` or `dv:<etag>`. */
const TOKEN_PREFIX = { bc: 'bc', dataverse: 'dv' } as const satisfies Record<Side, string>;

export function token(side: Side, etag: string): string {
  return `${TOKEN_PREFIX[side]}:${etag}`;
}

export function parseToken(t: string): { side: Side; etag: string } {
  const prefix = t.slice(0, 2);
  if ((prefix !== TOKEN_PREFIX.bc && prefix !== TOKEN_PREFIX.dataverse) || t[2] !== ':')
    throw new Error(`not a coupling concurrency token: ${t}`);
  return { side: prefix === TOKEN_PREFIX.bc ? 'bc' : 'dataverse', etag: t.slice(3) };
}

/** A new coupling as it is first stored, or `EVENT.INVALID` naming what is wrong with the input. */
export function prepareCoupling(input: NewCoupling, clock: Clock): Coupling | SyncError {
  const parsed = newCouplingSchema.safeParse(input);
  if (!parsed.success) return new SyncError('EVENT.INVALID', `invalid coupling: ${z.prettifyError(parsed.error)}`);
  return {
    ...input,
    bcId: normalizeId(input.bcId),
    dataverseId: normalizeId(input.dataverseId),
    failureCount: input.failureCount ?? 0,
    skipped: input.skipped ?? false,
    createdAt: clock.now().toISOString(),
    etag: '',
  };
}

/** One index row, tombstone or not; undefined when there is none. */
export function readCouplingRow(client: TableClient, pk: string, rk: string): Promise<Record<string, unknown> | undefined> {
  return readEntity(client, 'reading a coupling', pk, rk);
}

/** A token for a coupling written without an ETag in the answer: the BC row's, read again. */
export async function freshToken(client: TableClient, c: Coupling): Promise<string> {
  const { partitionKey, rowKey } = bcKey(c);
  const row = await readCouplingRow(client, partitionKey, rowKey);
  if (!row) throw new CouplingConflictError(`The coupling of ${c.mapping} BC record ${c.bcId} was removed meanwhile.`);
  return token('bc', String(row.etag));
}

export function couplingColumns(c: Coupling): Record<string, unknown> {
  const out: Record<string, unknown> = {
    mapping: c.mapping,
    bcId: c.bcId,
    dataverseId: c.dataverseId,
    lastResult: c.lastResult ?? '',
    // Stored (not derived at query time) so list filters are plain equality on a column every row has.
    failed: c.lastResult === 'failed',
    failureCount: c.failureCount,
    skipped: c.skipped,
    environment: c.environment,
    createdAt: c.createdAt,
    // Written on every row (a filter on a missing property matches nothing): true while the pair is half-written.
    pending: false,
  };
  const optional = [
    'bcModifiedOn',
    'dataverseModifiedOn',
    'fingerprintToDataverse',
    'fingerprintToBc',
    'dataverseWrittenEtag',
    'initialDirection',
    'lastSyncedAt',
    'openError',
  ] as const;
  for (const k of optional) if (c[k] !== undefined) out[k] = c[k];
  if (c.lastError !== undefined) out.lastError = c.lastError.slice(0, MAX_ERROR_CHARS);
  if (c.snapshot !== undefined) Object.assign(out, snapshotColumns(c.snapshot));
  return out;
}

export function toCoupling(entity: Record<string, unknown>, side: Side): Coupling {
  const row = couplingRowSchema.parse(entity);
  const snapshot = readJsonProperty(entity, 'snapshot');
  const c: Coupling = {
    mapping: row.mapping,
    bcId: row.bcId,
    dataverseId: row.dataverseId,
    failureCount: row.failureCount,
    skipped: row.skipped,
    environment: row.environment,
    createdAt: row.createdAt,
    etag: token(side, row.etag),
  };
  if (row.bcModifiedOn !== undefined) c.bcModifiedOn = row.bcModifiedOn;
  if (row.dataverseModifiedOn !== undefined) c.dataverseModifiedOn = row.dataverseModifiedOn;
  if (row.fingerprintToDataverse !== undefined) c.fingerprintToDataverse = row.fingerprintToDataverse;
  if (row.fingerprintToBc !== undefined) c.fingerprintToBc = row.fingerprintToBc;
  if (row.dataverseWrittenEtag !== undefined) c.dataverseWrittenEtag = row.dataverseWrittenEtag;
  if (row.initialDirection !== undefined) c.initialDirection = row.initialDirection;
  if (row.lastResult) c.lastResult = row.lastResult;
  if (row.lastSyncedAt !== undefined) c.lastSyncedAt = row.lastSyncedAt;
  if (row.lastError !== undefined) c.lastError = row.lastError;
  if (row.openError !== undefined) c.openError = row.openError;
  if (snapshot !== undefined) c.snapshot = snapshotSchema.parse(snapshot);
  return c;
}

/**
 * The snapshot in the smallest faithful form that fits: whole (plain or gzipped chunks); else every value
 * longer than 64 characters of JSON replaced by its SHA-256 ({@link snapshotValueEquals} still tells
 * changed from unchanged); else omitted, which makes the next sync treat every field as changed.
 */
function snapshotColumns(snapshot: SyncedSnapshot): Record<string, unknown> {
  try {
    return { snapshotForm: 'full', ...jsonProperties('snapshot', snapshot, SNAPSHOT_MAX_BYTES) };
  } catch (err) {
    if (!(err instanceof ValueTooLargeError)) throw err;
  }
  const hashSide = (values: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(values).map(([k, v]) => [k, JSON.stringify(v ?? null).length > 64 ? hashSnapshotValue(v) : v]));
  try {
    return {
      snapshotForm: 'hashed',
      ...jsonProperties('snapshot', { bc: hashSide(snapshot.bc), dataverse: hashSide(snapshot.dataverse) }, SNAPSHOT_MAX_BYTES),
    };
  } catch (err) {
    if (!(err instanceof ValueTooLargeError)) throw err;
    return { snapshotForm: 'omitted' };
  }
}
