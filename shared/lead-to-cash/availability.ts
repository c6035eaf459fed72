import { idKey } from '../domain/ids';
import type { SyncDeps } from '../domain/sync/types';
import { BC, DV, M, num, str } from './targets';

/**
 * Item availability (bc-integration-reference rule 12): BC's item Inventory (a FlowField, which changes by posting
 * without touching the item's ETag, modified time or webhooks) onto the coupled product's `quantityonhand`. The
 * ITEM-PRODUCT mapping carries it whenever the item itself changes; the job (BC's "Item Availability" job queue
 * entry, every 30 minutes) catches the postings; the HTTP endpoint answers one product on demand.
 */

export interface Availability {
  productId: string;
  itemId: string;
  itemNo: string;
  /** BC Inventory now, never below 0 (as the mapping writes it). */
  inventory: number;
  unitOfMeasure: string;
  /** Whether the product column was behind and has been updated. */
  updated: boolean;
}

/** The current availability of a coupled product, refreshing its `quantityonhand`; undefined when not coupled to an item. */
export async function productAvailability(deps: SyncDeps, productId: string): Promise<Availability | undefined> {
  const coupling = await deps.couplings.getByDataverseId(M.item, idKey(productId));
  if (!coupling) return undefined;
  const item = await deps.bc.get(BC.items, coupling.bcId, ['id', 'number', 'inventory', 'baseUnitOfMeasureCode']);
  if (!item) return undefined;
  const inventory = Math.max(0, num(item.values.inventory));
  const updated = await setQuantityOnHand(deps, coupling.dataverseId, inventory);
  return {
    productId: coupling.dataverseId,
    itemId: item.id,
    itemNo: str(item.values.number),
    inventory,
    unitOfMeasure: str(item.values.baseUnitOfMeasureCode),
    updated,
  };
}

async function setQuantityOnHand(
  deps: SyncDeps,
  productId: string,
  inventory: number,
  known?: { value: unknown; etag: string },
): Promise<boolean> {
  const current =
    known ??
    (await deps.dataverse
      .get(DV.products, productId, ['productid', 'quantityonhand'])
      .then((p) => p && { value: p.values.quantityonhand, etag: p.etag }));
  if (!current || num(current.value) === inventory) return false;
  if (!deps.options.dryRun) await deps.dataverse.update(DV.products, productId, { quantityonhand: inventory }, current.etag);
  return true;
}

/**
 * Every coupled item's inventory onto its product, reading BC items and Dataverse products a page at a time (one
 * read per page, not per record); only products whose quantity differs are written. Returns the counts.
 */
export async function refreshItemAvailability(deps: SyncDeps): Promise<{ coupled: number; updated: number }> {
  let coupled = 0;
  let updated = 0;
  let continuation: string | undefined;
  do {
    const page = await deps.couplings.list(M.item, { pageSize: 50, continuation });
    continuation = page.continuation;
    if (page.items.length === 0) continue;
    coupled += page.items.length;
    const byItem = new Map(page.items.map((c) => [idKey(c.bcId), idKey(c.dataverseId)]));
    const items = await deps.bc.listPage(BC.items, {
      filter: [...byItem.keys()].map((id) => `id eq ${id}`).join(' or '),
      select: ['id', 'inventory'],
      pageSize: byItem.size,
    });
    const products = await deps.dataverse.listPage(DV.products, {
      filter: [...byItem.values()].map((id) => `productid eq ${id}`).join(' or '),
      select: ['productid', 'quantityonhand'],
      pageSize: byItem.size,
    });
    const productById = new Map(products.items.map((p) => [idKey(p.id), p]));
    for (const item of items.items) {
      const productId = byItem.get(idKey(item.id));
      const product = productId ? productById.get(productId) : undefined;
      if (!product) continue;
      const inventory = Math.max(0, num(item.values.inventory));
      if (await setQuantityOnHand(deps, product.id, inventory, { value: product.values.quantityonhand, etag: product.etag })) updated++;
    }
  } while (continuation);
  return { coupled, updated };
}
