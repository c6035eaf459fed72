import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { TableClient } from '@azure/data-tables';
import { idKey } from '../../domain/ids';
import { SyncError } from '../../errors';

/**
 * Shared Table Storage plumbing: key encoding, status classification, JSON properties that survive the
 * 64 KiB property limit, and one-time table creation.
 */

/** GUIDs compare case-insensitively in both BC and Dataverse; one spelling keeps index rows unique. */
export const normalizeId = idKey;

/**
 * PartitionKey/RowKey may not contain `/ \ # ?` or control characters. `%` is escaped too so encoding is
 * reversible, and escaping is per character so `encodeKey(prefix)` is a prefix of `encodeKey(prefix + x)`
 * (range queries over key prefixes keep working).
 */
export function encodeKey(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: those are exactly the characters Table keys forbid.
  return value.replace(/[%/\\#?\u0000-\u001f\u007f-\u009f]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`);
}

export function decodeKey(value: string): string {
  return value.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** The exclusive upper bound of a RowKey range for "starts with prefix". */
export function prefixEnd(prefix: string): string {
  return prefix + '\uffff';
}

const MAX_TIME = 9_999_999_999_999;
/** Row key part that sorts newest first (Table Storage returns rows in ascending key order). */
export function invertedTime(at: Date | string): string {
  const ms = typeof at === 'string' ? Date.parse(at) : at.getTime();
  return String(MAX_TIME - ms).padStart(13, '0');
}

export function statusOf(err: unknown): number | undefined {
  const s = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

export function hasStatus(err: unknown, ...codes: number[]): boolean {
  const s = statusOf(err);
  return s !== undefined && codes.includes(s);
}

/** 5xx, 408, 429 and failures without any HTTP answer (connection refused/reset, DNS, timeouts). */
export function isTransientStoreError(err: unknown): boolean {
  const s = statusOf(err);
  if (s === undefined) {
    const name = (err as { name?: unknown } | null)?.name;
    return name === 'RestError' || name === 'AbortError' || typeof (err as { code?: unknown } | null)?.code === 'string';
  }
  return s >= 500 || s === 408 || s === 429;
}

/** Runs a storage call; transient failures become `STORE.UNAVAILABLE` so the engine retries instead of recording data errors. */
export async function storeCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SyncError) throw err;
    if (isTransientStoreError(err)) {
      const status = statusOf(err);
      throw new SyncError('STORE.UNAVAILABLE', `Table Storage unavailable while ${what}: ${(err as Error).message.split('\n')[0]}`, {
        cause: err,
        details: status === undefined ? {} : { status },
      });
    }
    throw err;
  }
}

/** One entity by its keys, or undefined when there is none (404); other failures as {@link storeCall} maps them. */
export async function readEntity(client: TableClient, what: string, pk: string, rk: string): Promise<Record<string, unknown> | undefined> {
  return storeCall(what, async () => {
    try {
      return await client.getEntity<Record<string, unknown>>(pk, rk);
    } catch (err) {
      if (hasStatus(err, 404)) return undefined;
      throw err;
    }
  });
}

/** A string property may hold 32K UTF-16 units; stay clearly below. */
const MAX_STRING_CHARS = 30_000;
/** A binary property may hold 64 KiB. */
const MAX_BINARY_BYTES = 60 * 1024;

export class ValueTooLargeError extends Error {
  constructor(
    readonly property: string,
    readonly bytes: number,
  ) {
    super(`${property} is ${bytes} bytes compressed, over the budget for one Table Storage entity`);
    this.name = 'ValueTooLargeError';
  }
}

/**
 * Stores a JSON value under `name`: as one readable string while it fits in a property, otherwise gzipped
 * and split over binary properties `name_gz0..n` (`name_gz` holds the count). Entities must then be written
 * in Replace mode so chunks of an older, larger value never linger.
 *
 * @param maxBytes budget for the compressed form; default 512 KiB (an entity holds 1 MiB).
 */
export function jsonProperties(name: string, value: unknown, maxBytes = 512 * 1024): Record<string, unknown> {
  if (value === undefined) return {};
  const json = JSON.stringify(value);
  if (json.length <= MAX_STRING_CHARS) return { [name]: json };
  const gz = gzipSync(Buffer.from(json, 'utf8'));
  if (gz.length > maxBytes) throw new ValueTooLargeError(name, gz.length);
  const out: Record<string, unknown> = {};
  let n = 0;
  for (let offset = 0; offset < gz.length; offset += MAX_BINARY_BYTES) {
    out[`${name}_gz${n}`] = new Uint8Array(gz.subarray(offset, offset + MAX_BINARY_BYTES));
    n++;
  }
  out[`${name}_gz`] = n;
  return out;
}

/** Reads a value written by {@link jsonProperties}; undefined when absent. */
export function readJsonProperty(entity: Record<string, unknown>, name: string): unknown {
  const plain = entity[name];
  if (typeof plain === 'string') return JSON.parse(plain);
  const count = entity[`${name}_gz`];
  if (typeof count !== 'number') return undefined;
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const part = entity[`${name}_gz${i}`];
    if (!(part instanceof Uint8Array)) throw new Error(`${name}: chunk ${i} of ${count} is missing`);
    parts.push(Buffer.from(part));
  }
  return JSON.parse(gunzipSync(Buffer.concat(parts)).toString('utf8'));
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const ensured = new Map<string, Promise<void>>();

/** Creates the table once per process (createTable ignores "already exists"); a failure is retried next call. */
export function ensureTable(client: TableClient): Promise<void> {
  const key = `${client.url}|${client.tableName}`;
  let pending = ensured.get(key);
  if (!pending) {
    pending = storeCall(`creating table ${client.tableName}`, () => client.createTable()).catch((err: unknown) => {
      ensured.delete(key);
      throw err;
    });
    ensured.set(key, pending);
  }
  return pending;
}

/** Removes OData metadata and key/etag/timestamp properties, leaving the stored columns. */
export function columnsOf(entity: Record<string, unknown>): Record<string, unknown> {
  const { etag: _e, partitionKey: _p, rowKey: _r, timestamp: _t, 'odata.metadata': _m, ...rest } = entity;
  return rest;
}
