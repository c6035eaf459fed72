import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type RunningAzurite, startAzurite } from '../../../dev/azurite';
import { CheckpointConflictError, TableCheckpointStore } from '../../../shared/adapters/tables/checkpoint-store';
import { TableCreationClaims } from '../../../shared/adapters/tables/creation-claims';
import { freshTable } from './fixture';

const watermark = z.object({ modifiedSince: z.string(), page: z.number().int() });

describe('TableCheckpointStore (Azurite)', () => {
  let azurite: RunningAzurite;
  let store: TableCheckpointStore;

  beforeAll(async () => {
    azurite = await startAzurite({ port: 0 });
    store = new TableCheckpointStore(await freshTable(azurite.connectionString, 'Checkpoints'));
  });
  afterAll(async () => {
    await azurite.stop();
  });

  it('stores JSON state and changes it only with the current ETag', async () => {
    expect(await store.get('fullsync/CUSTOMER')).toBeUndefined();
    const first = await store.put('fullsync/CUSTOMER', { modifiedSince: '2024-01-01T00:00:00Z', page: 1 });
    const read = await store.get('fullsync/CUSTOMER', watermark);
    expect(read).toMatchObject({ key: 'fullsync/CUSTOMER', value: { page: 1 }, etag: first.etag });
    const second = await store.put('fullsync/CUSTOMER', { modifiedSince: '2024-01-01T00:00:00Z', page: 2 }, { etag: first.etag });
    await expect(store.put('fullsync/CUSTOMER', { modifiedSince: 'x', page: 3 }, { etag: first.etag })).rejects.toBeInstanceOf(
      CheckpointConflictError,
    );
    expect((await store.get('fullsync/CUSTOMER', watermark))?.value.page).toBe(2);
    await expect(store.delete('fullsync/CUSTOMER', first.etag)).rejects.toBeInstanceOf(CheckpointConflictError);
    expect(await store.delete('fullsync/CUSTOMER', second.etag)).toBe(true);
    expect(await store.delete('fullsync/CUSTOMER')).toBe(false);
  });

  it('lets exactly one of concurrent claimers create a key', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => store.put('lease/reconcile', { owner: i }, { ifNotExists: true })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof CheckpointConflictError)).toHaveLength(7);
  });

  it('lists by key prefix, including keys with characters Table keys forbid', async () => {
    await store.put('bc-subscription/customers', { id: 'a' });
    await store.put('bc-subscription/vendors', { id: 'b' });
    await store.put('bc-subscriptions-old', { id: 'c' });
    await store.put('reconcile/CUSTOMER#1?', { id: 'd' });
    const subs = await store.list('bc-subscription/');
    expect(subs.map((c) => c.key)).toEqual(['bc-subscription/customers', 'bc-subscription/vendors']);
    expect((await store.list('reconcile/'))[0]).toMatchObject({ key: 'reconcile/CUSTOMER#1?', value: { id: 'd' } });
  });

  it('keeps large state and refuses a stored value that fails its schema', async () => {
    const ids = Array.from({ length: 5000 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    await store.put('fullsync/ITEM', { ids });
    expect((await store.get<{ ids: string[] }>('fullsync/ITEM'))?.value.ids).toEqual(ids);
    await expect(store.get('fullsync/ITEM', watermark)).rejects.toThrow(/invalid value/);
  });

  it('writes several values in one transaction, all or nothing', async () => {
    const [a, b] = await store.transact([
      { key: 'tx/a', value: { n: 1 }, ifNotExists: true },
      { key: 'tx/b', value: { n: 2 }, ifNotExists: true },
    ]);
    expect((await store.get('tx/a'))?.etag).toBe(a);
    // One row of the transaction conflicts (tx/b exists): nothing of it is written.
    await expect(
      store.transact([
        { key: 'tx/c', value: { n: 3 }, ifNotExists: true },
        { key: 'tx/b', value: { n: 9 }, ifNotExists: true },
      ]),
    ).rejects.toBeInstanceOf(CheckpointConflictError);
    expect(await store.get('tx/c')).toBeUndefined();
    await store.transact([
      { key: 'tx/a', value: { n: 10 }, etag: a as string },
      { key: 'tx/b', delete: true },
    ]);
    expect((await store.get('tx/a'))?.value).toEqual({ n: 10 });
    expect(await store.get('tx/b')).toBeUndefined();
    expect(b).not.toBe('');
  });

  it('claims many creations at once, answering a key held elsewhere as a single claim would', async () => {
    const claims = new TableCreationClaims(store);
    const held = await claims.claim('many/2', 60_000);
    expect(held.won).toBe(true);
    const answers = await claims.claimMany(['many/1', 'many/2', 'many/3'], 60_000);
    expect(answers.map((a) => !(a instanceof Error) && a.won)).toEqual([true, false, true]);
    const won = answers.filter((a): a is { won: true; token: string } => !(a instanceof Error) && a.won);
    await claims.createdMany([
      { key: 'many/1', token: won[0]?.token as string, createdId: 'id-1' },
      { key: 'many/3', token: won[1]?.token as string, createdId: 'id-3' },
    ]);
    expect(await claims.claim('many/3', 60_000)).toEqual({ won: false, createdId: 'id-3' });
    // A release of a claim already gone does not stop the others.
    expect(await claims.releaseMany(['many/1', 'many/gone', 'many/3'])).toEqual([undefined, undefined, undefined]);
    expect(await store.get('create-claim/many/1')).toBeUndefined();
    expect(await store.get('create-claim/many/3')).toBeUndefined();
    expect(await store.get('create-claim/many/2')).toBeDefined();
  });
});
