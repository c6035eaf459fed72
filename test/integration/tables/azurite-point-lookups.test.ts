import type { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAzurite, startAzurite } from '../../../dev/azurite';
import { freshTable } from './fixture';

/**
 * `dev/azurite.ts` lets Azurite's store narrow a point look-up by whichever key's index leaves fewer rows. Every
 * answer must stay the one Table Storage gives: these cases put many rows behind one key and few behind the other,
 * both ways round, and check reads, conflicts, conditional updates and deletes against them.
 */
describe('Azurite point look-ups narrowed by the smaller index, and key indices kept across merges', () => {
  let azurite: RunningAzurite;
  let table: TableClient;

  beforeAll(async () => {
    azurite = await startAzurite({ port: 0 });
    table = await freshTable(azurite.connectionString, 'PointLookups');
    // Partition "wide" holds 60 rows; RowKey "same" is in 60 partitions.
    const wide = Array.from({ length: 60 }, (_, i) => ['create', { partitionKey: 'wide', rowKey: `r${i}`, n: i }] as const);
    await table.submitTransaction(wide.slice(0, 30) as never);
    await table.submitTransaction(wide.slice(30) as never);
    for (let i = 0; i < 60; i++) await table.createEntity({ partitionKey: `p${i}`, rowKey: 'same', n: 1000 + i });
  });
  afterAll(async () => {
    await azurite.stop();
  });

  it('reads the row of its own partition whichever key is rarer', async () => {
    expect((await table.getEntity<{ n: number }>('wide', 'r42')).n).toBe(42);
    expect((await table.getEntity<{ n: number }>('p17', 'same')).n).toBe(1017);
    await expect(table.getEntity('wide', 'same')).rejects.toMatchObject({ statusCode: 404 });
    await expect(table.getEntity('p17', 'r42')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('refuses a second row with the same keys and accepts the same RowKey in a new partition', async () => {
    await expect(table.createEntity({ partitionKey: 'p3', rowKey: 'same' })).rejects.toMatchObject({ statusCode: 409 });
    await expect(table.createEntity({ partitionKey: 'wide', rowKey: 'r7' })).rejects.toMatchObject({ statusCode: 409 });
    await table.createEntity({ partitionKey: 'wide', rowKey: 'same', n: -1 });
    expect((await table.getEntity<{ n: number }>('wide', 'same')).n).toBe(-1);
    expect((await table.getEntity<{ n: number }>('p0', 'same')).n).toBe(1000);
  });

  it('updates and deletes only the row the ETag was read from', async () => {
    const row = await table.getEntity<{ n: number }>('p9', 'same');
    await table.updateEntity({ partitionKey: 'p9', rowKey: 'same', n: 9 }, 'Merge', { etag: row.etag });
    await expect(table.updateEntity({ partitionKey: 'p9', rowKey: 'same', n: 10 }, 'Merge', { etag: row.etag })).rejects.toMatchObject({
      statusCode: 412,
    });
    expect((await table.getEntity<{ n: number }>('p9', 'same')).n).toBe(9);
    expect((await table.getEntity<{ n: number }>('p8', 'same')).n).toBe(1008);
    await table.deleteEntity('wide', 'r5');
    await expect(table.getEntity('wide', 'r5')).rejects.toMatchObject({ statusCode: 404 });
    expect((await table.getEntity<{ n: number }>('wide', 'r6')).n).toBe(6);
  });

  it('keeps every row findable, and partition queries in key order, after merges and replaces', async () => {
    for (let i = 10; i < 40; i++) {
      const mode = i % 2 === 0 ? 'Merge' : 'Replace';
      await table.updateEntity({ partitionKey: 'wide', rowKey: `r${i}`, n: i * 100 }, mode);
      await table.updateEntity({ partitionKey: `p${i}`, rowKey: 'same', n: -i }, mode);
    }
    await table.createEntity({ partitionKey: 'wide', rowKey: 'r25a', n: 2550 });
    for (let i = 10; i < 40; i++) {
      expect((await table.getEntity<{ n: number }>('wide', `r${i}`)).n).toBe(i * 100);
      expect((await table.getEntity<{ n: number }>(`p${i}`, 'same')).n).toBe(-i);
    }
    const keys: string[] = [];
    for await (const e of table.listEntities({
      queryOptions: { filter: "PartitionKey eq 'wide' and RowKey ge 'r24' and RowKey le 'r26'" },
    }))
      keys.push(String(e.rowKey));
    expect(keys).toEqual(['r24', 'r25', 'r25a', 'r26']);
  });
});
