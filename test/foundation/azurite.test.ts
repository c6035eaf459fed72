import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAzurite, startAzurite } from '../../dev/azurite';

describe('Azurite started by the project', () => {
  let azurite: RunningAzurite;
  beforeAll(async () => {
    azurite = await startAzurite({ port: 0 });
  });
  afterAll(async () => {
    await azurite.stop();
  });

  it('serves Table Storage through @azure/data-tables with ETags and atomic transactions', async () => {
    const client = TableClient.fromConnectionString(azurite.connectionString, 'probe', { allowInsecureConnection: true });
    await client.createTable();
    await client.submitTransaction([
      ['create', { partitionKey: 'p', rowKey: 'a', n: 1 }],
      ['create', { partitionKey: 'p', rowKey: 'b', n: 2 }],
    ]);
    const a = await client.getEntity<{ n: number }>('p', 'a');
    expect(a.n).toBe(1);
    await client.updateEntity({ partitionKey: 'p', rowKey: 'a', n: 3 }, 'Merge', { etag: a.etag });
    await expect(client.updateEntity({ partitionKey: 'p', rowKey: 'a', n: 4 }, 'Merge', { etag: a.etag })).rejects.toMatchObject({
      statusCode: 412,
    });
    // A transaction with one failing operation applies none of them.
    await expect(
      client.submitTransaction([
        ['create', { partitionKey: 'p', rowKey: 'c', n: 5 }],
        ['create', { partitionKey: 'p', rowKey: 'b', n: 6 }],
      ]),
    ).rejects.toBeTruthy();
    await expect(client.getEntity('p', 'c')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('names the port when it is already taken', async () => {
    await expect(startAzurite({ port: azurite.port })).rejects.toThrow(`port ${azurite.port}`);
  });
});
