import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import { type Clock, systemClock } from '../../domain/ports';
import { SyncError } from '../../errors';
import type { StatePort } from '../../operations/ports';
import { decodeKey, encodeKey, hasStatus, jsonProperties, prefixEnd, readJsonProperty, storeCall } from './common';

/**
 * Small pieces of state with optimistic concurrency (table `<prefix>Checkpoints`): full-sync checkpoints,
 * reconciliation watermarks, BC webhook subscription state. Keys are free text such as
 * `fullsync/CUSTOMER` or `bc-subscription/customers`; all rows live in one partition so `list(prefix)` is a
 * row-key range query. Values are JSON (gzipped and chunked past one property).
 */

const PK = 'checkpoint';

export interface Checkpoint<T> {
  key: string;
  value: T;
  /** Pass back to `put`/`delete` to change the value only if nobody else did meanwhile. */
  etag: string;
  updatedAt: string;
}

export class CheckpointConflictError extends Error {
  constructor(
    message: string,
    readonly key: string,
  ) {
    super(message);
    this.name = 'CheckpointConflictError';
  }
}

export interface PutCheckpointOptions {
  /** Write only if the stored value still has this ETag (from `get`/`put`). */
  etag?: string;
  /** Write only if there is no value yet (claims a key). */
  ifNotExists?: boolean;
}

const rowSchema = z.looseObject({ rowKey: z.string(), etag: z.string(), updatedAt: z.string() });

export class TableCheckpointStore implements StatePort {
  private readonly clock: Clock;

  constructor(
    readonly client: TableClient,
    options: { clock?: Clock } = {},
  ) {
    this.clock = options.clock ?? systemClock;
  }

  /** The stored value, validated by `schema` when given (a bad stored value throws instead of spreading). */
  async get<T = unknown>(key: string, schema?: z.ZodType<T>): Promise<Checkpoint<T> | undefined> {
    const raw = await storeCall('reading a checkpoint', async () => {
      try {
        return await this.client.getEntity<Record<string, unknown>>(PK, rowKey(key));
      } catch (err) {
        if (hasStatus(err, 404)) return undefined;
        throw err;
      }
    });
    return raw ? toCheckpoint(raw, schema) : undefined;
  }

  /**
   * Writes a value. Without options it overwrites; with `etag` or `ifNotExists` a concurrent change makes
   * it throw `CheckpointConflictError` and nothing is written.
   */
  async put<T>(key: string, value: T, options: PutCheckpointOptions = {}): Promise<Checkpoint<T>> {
    if (value === undefined) throw new SyncError('EVENT.INVALID', `checkpoint ${key}: value is undefined`);
    const updatedAt = this.clock.now().toISOString();
    const entity = { partitionKey: PK, rowKey: rowKey(key), key, updatedAt, ...jsonProperties('value', value) };
    try {
      const res = await storeCall(`writing checkpoint ${key}`, () => {
        if (options.ifNotExists) return this.client.createEntity(entity);
        if (options.etag !== undefined) return this.client.updateEntity(entity, 'Replace', { etag: options.etag });
        return this.client.upsertEntity(entity, 'Replace');
      });
      return { key, value, updatedAt, etag: res.etag ?? '' };
    } catch (err) {
      if (hasStatus(err, 409)) throw new CheckpointConflictError(`checkpoint ${key} already exists`, key);
      if (hasStatus(err, 412, 404)) throw new CheckpointConflictError(`checkpoint ${key} changed or was removed meanwhile`, key);
      throw err;
    }
  }

  /** Removes a value (only if unchanged when `etag` is given). Returns false when there was none. */
  async delete(key: string, etag?: string): Promise<boolean> {
    try {
      await storeCall(`deleting checkpoint ${key}`, () => this.client.deleteEntity(PK, rowKey(key), etag ? { etag } : {}));
      return true;
    } catch (err) {
      if (hasStatus(err, 404)) return false;
      if (hasStatus(err, 412)) throw new CheckpointConflictError(`checkpoint ${key} changed meanwhile`, key);
      throw err;
    }
  }

  /**
   * Writes several values in one entity-group transaction (all rows share one partition; at most 100): each is
   * created (`ifNotExists`), replaced if unchanged (`etag`), overwritten, or deleted (`delete`, unconditionally;
   * a missing row fails the transaction). All or nothing: a conflict on any row throws `CheckpointConflictError` and writes none. Answers the new
   * ETags in order ('' for a delete).
   */
  async transact(ops: Array<{ key: string; value?: unknown; ifNotExists?: boolean; etag?: string; delete?: true }>): Promise<string[]> {
    if (ops.length === 0) return [];
    if (ops.length > 100) throw new SyncError('EVENT.INVALID', 'a checkpoint transaction takes at most 100 operations');
    const updatedAt = this.clock.now().toISOString();
    const actions: TransactionAction[] = ops.map((op) => {
      // A delete inside a transaction carries no ETag (as the service defines it): it is unconditional.
      if (op.delete) return ['delete', { partitionKey: PK, rowKey: rowKey(op.key) }];
      if (op.value === undefined) throw new SyncError('EVENT.INVALID', `checkpoint ${op.key}: value is undefined`);
      const entity = { partitionKey: PK, rowKey: rowKey(op.key), key: op.key, updatedAt, ...jsonProperties('value', op.value) };
      if (op.ifNotExists) return ['create', entity];
      if (op.etag !== undefined) return ['update', entity, 'Replace', { etag: op.etag }];
      return ['upsert', entity, 'Replace'];
    });
    try {
      const res = await storeCall('writing checkpoints', () => this.client.submitTransaction(actions));
      return ops.map((op, i) => (op.delete ? '' : (res.subResponses[i]?.etag ?? '')));
    } catch (err) {
      if (hasStatus(err, 409, 412, 404))
        throw new CheckpointConflictError(`a checkpoint of the transaction exists, changed or was removed meanwhile`, ops[0]?.key ?? '');
      throw err;
    }
  }

  /** Every value whose key starts with `prefix`, in key order. */
  async list<T = unknown>(prefix: string, schema?: z.ZodType<T>): Promise<Array<Checkpoint<T>>> {
    const from = rowKey(prefix);
    const filter = odata`PartitionKey eq ${PK} and RowKey ge ${from} and RowKey lt ${prefixEnd(from)}`;
    return storeCall('listing checkpoints', async () => {
      const out: Array<Checkpoint<T>> = [];
      for await (const raw of this.client.listEntities<Record<string, unknown>>({ queryOptions: { filter } }))
        out.push(toCheckpoint(raw, schema));
      return out;
    });
  }
}

function rowKey(key: string): string {
  if (key.length === 0 || key.length > 500) throw new SyncError('EVENT.INVALID', 'a checkpoint key must have 1 to 500 characters');
  return encodeKey(key);
}

function toCheckpoint<T>(raw: Record<string, unknown>, schema?: z.ZodType<T>): Checkpoint<T> {
  const row = rowSchema.parse(raw);
  const key = decodeKey(row.rowKey);
  const stored = readJsonProperty(raw, 'value');
  let value: T;
  if (schema) {
    const parsed = schema.safeParse(stored);
    if (!parsed.success)
      throw new SyncError('CONFIG.INVALID', `checkpoint ${key} holds an invalid value: ${z.prettifyError(parsed.error)}`);
    value = parsed.data;
  } else {
    value = stored as T;
  }
  return { key, value, etag: row.etag, updatedAt: row.updatedAt };
}
