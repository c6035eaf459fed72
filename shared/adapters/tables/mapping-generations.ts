import { randomBytes } from 'node:crypto';
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import { type TableMapping, TableMappingSchema } from '../../domain/mappings';
import type { Clock } from '../../domain/ports';
import { SyncError } from '../../errors';
import { encodeKey, hasStatus, jsonProperties, readJsonProperty, storeCall } from './common';

/**
 * The copy-on-write storage under the mapping store (`mapping-store.ts`): a complete set of mappings is written as
 * a new generation (PartitionKey `g_<generation>`), then made current by one ETag-checked write of the pointer row.
 * Readers follow the pointer, so they see one whole set or the other; old generations are collected after a grace
 * period.
 */

const POINTER = 'current';
const GEN = 'g_';
/** Generations younger than this may still be being written by a concurrent writer; never collect them. */
const GENERATION_GRACE_MS = 10 * 60 * 1000;
/** Entity-group transactions take 100 operations and 4 MiB; stay clear of the size limit. */
const BATCH_MAX_OPS = 100;
const BATCH_MAX_BYTES = 3 * 1024 * 1024;

const pointerSchema = z.looseObject({
  etag: z.string(),
  generation: z.string(),
  previous: z.string().optional(),
  count: z.number().int().nonnegative(),
  revision: z.number().int().nonnegative(),
  updatedAt: z.string(),
});
export type Pointer = z.infer<typeof pointerSchema>;

export class MappingGenerations {
  constructor(
    private readonly client: TableClient,
    private readonly clock: Clock,
  ) {}

  /** Writes a new generation and flips the pointer to it; false when another writer got there first. */
  async write(mappings: TableMapping[], expected: Pointer | undefined): Promise<boolean> {
    const now = this.clock.now();
    const generation = `${now.getTime().toString().padStart(15, '0')}_${randomBytes(4).toString('hex')}`;
    const pk = GEN + generation;
    const sorted = [...mappings].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const rows = sorted.map((m) => ({
      partitionKey: pk,
      rowKey: encodeKey(m.name),
      name: m.name,
      enabled: m.enabled,
      ...jsonProperties('definition', m, 900 * 1024),
    }));
    for (const batch of batches(rows)) {
      await storeCall('writing mappings', () => this.client.submitTransaction(batch.map((e): TransactionAction => ['create', e])));
    }
    const pointer = {
      partitionKey: POINTER,
      rowKey: POINTER,
      generation,
      count: rows.length,
      revision: (expected?.revision ?? 0) + 1,
      updatedAt: now.toISOString(),
      ...(expected ? { previous: expected.generation } : {}),
    };
    try {
      await storeCall('switching to the new mappings', () =>
        expected ? this.client.updateEntity(pointer, 'Replace', { etag: expected.etag }) : this.client.createEntity(pointer),
      );
    } catch (err) {
      if (!hasStatus(err, 409, 412, 404)) throw err;
      await this.deleteGeneration(pk);
      return false;
    }
    await this.collect(generation, expected?.generation).catch(() => {
      // Old generations are garbage, not state: a failed cleanup is retried by the next change.
    });
    return true;
  }

  async readPointer(): Promise<Pointer | undefined> {
    return storeCall('reading the mappings pointer', async () => {
      try {
        return pointerSchema.parse(await this.client.getEntity(POINTER, POINTER));
      } catch (err) {
        if (hasStatus(err, 404)) return undefined;
        throw err;
      }
    });
  }

  async read(generation: string): Promise<TableMapping[]> {
    return storeCall('reading mappings', async () => {
      const out: TableMapping[] = [];
      for await (const row of this.client.listEntities<Record<string, unknown>>({
        queryOptions: { filter: odata`PartitionKey eq ${GEN + generation}` },
      })) {
        const parsed = TableMappingSchema.safeParse(readJsonProperty(row, 'definition'));
        if (!parsed.success) {
          throw new SyncError('MAP.INVALID', `stored mapping ${String(row.name)} is invalid: ${z.prettifyError(parsed.error)}`);
        }
        out.push(parsed.data);
      }
      return out;
    });
  }

  private async deleteGeneration(pk: string): Promise<void> {
    const keys: string[] = [];
    for await (const row of this.client.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${pk}`, select: ['RowKey'] } })) {
      keys.push(String(row.rowKey));
    }
    for (let i = 0; i < keys.length; i += BATCH_MAX_OPS) {
      await this.client.submitTransaction(
        keys.slice(i, i + BATCH_MAX_OPS).map((rowKey): TransactionAction => ['delete', { partitionKey: pk, rowKey }]),
      );
    }
  }

  /** Removes generations other than the current and previous one that are past the grace period. */
  private async collect(current: string, previous: string | undefined): Promise<void> {
    const cutoff = this.clock.now().getTime() - GENERATION_GRACE_MS;
    const partitions = new Set<string>();
    for await (const row of this.client.listEntities({
      queryOptions: { filter: odata`PartitionKey ge ${GEN} and PartitionKey lt ${GEN}~`, select: ['PartitionKey'] },
    })) {
      partitions.add(String(row.partitionKey));
    }
    for (const pk of partitions) {
      const generation = pk.slice(GEN.length);
      if (generation === current || generation === previous) continue;
      if (Number(generation.split('_')[0]) > cutoff) continue;
      await this.deleteGeneration(pk);
    }
  }
}

function approximateBytes(entity: Record<string, unknown>): number {
  let n = 200;
  for (const [k, v] of Object.entries(entity)) {
    n += k.length + 20;
    if (typeof v === 'string') n += v.length * 2;
    else if (v instanceof Uint8Array) n += Math.ceil((v.length * 4) / 3);
    else n += 32;
  }
  return n;
}

function batches<T extends Record<string, unknown>>(rows: T[]): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const row of rows) {
    const size = approximateBytes(row);
    if (current.length > 0 && (current.length >= BATCH_MAX_OPS || bytes + size > BATCH_MAX_BYTES)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(row);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
