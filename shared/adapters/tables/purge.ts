import type { TableClient, TransactionAction } from '@azure/data-tables';
import { hasStatus, storeCall } from './common';

/** What one purge call removed; `more` says rows matching the filter remain past the bound. */
export interface PurgeResult {
  deleted: number;
  more: boolean;
}

/** Table Storage's limit of operations in one entity group transaction. */
const TRANSACTION_LIMIT = 100;

/**
 * Deletes up to `maxRows` rows matching an OData `filter`, a page at a time, in transactions of at most 100
 * deletes of one partition (Table Storage's entity group transaction limits). A transaction that fails because a
 * row is already gone (another purger, 404) is retried row by row, ignoring rows that are gone.
 */
export async function purgeRows(client: TableClient, filter: string, options: { maxRows: number; what: string }): Promise<PurgeResult> {
  return storeCall(`purging ${options.what}`, async () => {
    let deleted = 0;
    const pages = client
      .listEntities<Record<string, unknown>>({ queryOptions: { filter, select: ['PartitionKey', 'RowKey'] } })
      .byPage({ maxPageSize: 1000 });
    for await (const page of pages) {
      const rows = page.slice(0, options.maxRows - deleted);
      const byPartition = new Map<string, string[]>();
      for (const row of rows) {
        const pk = String(row.partitionKey);
        byPartition.set(pk, [...(byPartition.get(pk) ?? []), String(row.rowKey)]);
      }
      for (const [partitionKey, rowKeys] of byPartition)
        for (let i = 0; i < rowKeys.length; i += TRANSACTION_LIMIT) {
          const chunk = rowKeys.slice(i, i + TRANSACTION_LIMIT);
          await deleteChunk(client, partitionKey, chunk, options.what);
          deleted += chunk.length;
        }
      if (deleted >= options.maxRows) return { deleted, more: true };
    }
    return { deleted, more: false };
  });
}

async function deleteChunk(client: TableClient, partitionKey: string, rowKeys: string[], what: string): Promise<void> {
  const actions: TransactionAction[] = rowKeys.map((rowKey) => ['delete', { partitionKey, rowKey }]);
  try {
    await storeCall(`purging ${what}`, () => client.submitTransaction(actions));
  } catch (err) {
    if (!hasStatus(err, 404)) throw err;
    for (const rowKey of rowKeys)
      await storeCall(`purging ${what}`, async () => {
        try {
          await client.deleteEntity(partitionKey, rowKey);
        } catch (e) {
          if (!hasStatus(e, 404)) throw e;
        }
      });
  }
}
