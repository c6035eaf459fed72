import { odata } from '@azure/data-tables';
import { CouplingConflictError } from '../../domain/ports';
import { encodeKey, hasStatus, storeCall } from './common';
import { writePairs } from './coupling-bulk';
import type { ProtocolContext } from './coupling-protocol';
import { BC, toCoupling } from './coupling-rows';

/**
 * Moves one mapping's couplings from the old layout (partition = mapping name, both rows whole, tombstones) to the
 * bucketed one, then deletes the old rows, page by page, so a crash half-way resumes where it stopped. Run on the
 * first use of a mapping by each store (one query when there is nothing to move). A pair already present in the
 * new layout (another process migrating at the same time) is left as it is.
 */
export async function migrateLegacyCouplings(ctx: ProtocolContext, mapping: string): Promise<void> {
  const filter = odata`PartitionKey eq ${encodeKey(mapping)}`;
  for (;;) {
    const page = await storeCall('migrating couplings', async () => {
      for await (const p of ctx.client.listEntities<Record<string, unknown>>({ queryOptions: { filter } }).byPage({ maxPageSize: 100 }))
        return p;
      return [];
    });
    if (page.length === 0) return;
    const live = page.filter((r) => String(r.rowKey).startsWith(BC) && r.tombstone !== true);
    const written = await writePairs(
      ctx,
      live.map((r) => ({ ...toCoupling(r, 'bc'), etag: '' })),
    );
    for (const w of written) if (w instanceof Error && !(w instanceof CouplingConflictError)) throw w;
    try {
      await storeCall('migrating couplings', () =>
        ctx.client.submitTransaction(page.map((r) => ['delete', { partitionKey: String(r.partitionKey), rowKey: String(r.rowKey) }])),
      );
    } catch (err) {
      if (!hasStatus(err, 404)) throw err; // another process deleted some of them: read the page again
    }
  }
}
