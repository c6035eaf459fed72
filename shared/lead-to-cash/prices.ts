import { newChangeEvent } from '../domain/change-event';
import { deterministicId, idKey } from '../domain/ids';
import type { TableMapping } from '../domain/mappings/schema';
import { bcTarget } from '../domain/mappings/targets';
import { odataLiteral } from '../domain/odata/literal';
import type { VersionedRecord } from '../domain/ports';
import type { SyncDeps } from '../domain/sync/types';
import { toSyncError } from '../errors';
import { DV, eq, lcyCodeOf, listAll, M, num, str } from './targets';

/**
 * Price rules (bc-integration-reference 2.7, 2.10, rule 6/7): every product synced from an item or resource gets a
 * line on "Business Central Default Price List" with the item's Unit Price, and coupling a customer price group
 * re-pushes all of the group's sales prices.
 */

/** `'%1 Default Price List'` with PRODUCTNAME.Short(), as BC names it. */
export const DEFAULT_PRICE_LIST_NAME = 'Business Central Default Price List';

/** The Dataverse transactioncurrency of BC's LCY, or undefined while Dataverse has none with that ISO code. */
export async function lcyTransactionCurrency(deps: SyncDeps): Promise<string | undefined> {
  const lcy = await lcyCodeOf(deps);
  if (!lcy) return undefined;
  const page = await deps.dataverse.listPage(DV.transactioncurrencies, {
    filter: eq('isocurrencycode', lcy),
    select: ['transactioncurrencyid'],
    pageSize: 1,
  });
  return page.items[0]?.id;
}

/**
 * The default price list, created in LCY when missing (BC caches its id in CRM Connection Setup; we find it by
 * name). Its id is derived, so two workers creating it at once make one row.
 */
export async function defaultPriceList(deps: SyncDeps): Promise<string> {
  const page = await deps.dataverse.listPage(DV.pricelevels, {
    filter: eq('name', DEFAULT_PRICE_LIST_NAME),
    select: ['pricelevelid'],
    pageSize: 1,
  });
  const found = page.items[0];
  if (found) return found.id;
  return priceListNamed(deps, DEFAULT_PRICE_LIST_NAME, await lcyTransactionCurrency(deps));
}

/** A price list by name (found, or created with a derived id in the given currency). */
export async function priceListNamed(deps: SyncDeps, name: string, currencyId: string | undefined): Promise<string> {
  const page = await deps.dataverse.listPage(DV.pricelevels, { filter: eq('name', name), select: ['pricelevelid'], pageSize: 1 });
  if (page.items[0]) return page.items[0].id;
  const id = deterministicId('PRICE-LIST', name);
  const existing = await deps.dataverse.get(DV.pricelevels, id, ['pricelevelid']);
  if (existing) return existing.id;
  try {
    await deps.dataverse.create(
      DV.pricelevels,
      { name, ...(currencyId ? { 'transactioncurrencyid@odata.bind': `/transactioncurrencies(${currencyId})` } : {}) },
      { id },
    );
  } catch (err) {
    if (!rowExists(err)) throw err;
  }
  return id;
}

/**
 * Before a product is created from an item/resource: type, decimals and LCY currency. The default price list is
 * not valid for create (product reference; BC table 5348 marks PriceLevelId Modify): it is set after the insert.
 */
export async function beforeProductInsert(deps: SyncDeps, mapping: TableMapping, payload: Record<string, unknown>): Promise<void> {
  payload.producttypecode = mapping.name === M.resource ? 3 : 1;
  payload.quantitydecimal = 2;
  const lcy = await lcyTransactionCurrency(deps);
  if (lcy && payload['transactioncurrencyid@odata.bind'] === undefined)
    payload['transactioncurrencyid@odata.bind'] = `/transactioncurrencies(${lcy})`;
}

/**
 * After a product is created from an item/resource, as BC's UpdateCRMProductAfterInsertRecord: its default price
 * list, then publish it — a new product is Draft, and a single product is published by SetState to Active/Active
 * (sales/developer/publish-revise-revert-retire-activate-products; PublishProductHierarchy is for families only).
 */
export async function completeNewProduct(deps: SyncDeps, product: VersionedRecord): Promise<VersionedRecord> {
  const current = await deps.dataverse.get(DV.products, product.id, ['productid', 'statecode', '_pricelevelid_value']);
  if (!current) return product;
  const priceList = await defaultPriceList(deps);
  const patch: Record<string, unknown> = {};
  if (idKey(str(current.values._pricelevelid_value)) !== idKey(priceList)) {
    patch['pricelevelid@odata.bind'] = `/pricelevels(${priceList})`;
  }
  if (num(current.values.statecode) === PRODUCT_DRAFT) Object.assign(patch, PRODUCT_ACTIVE);
  if (Object.keys(patch).length === 0) return current;
  return deps.dataverse.update(DV.products, product.id, patch, current.etag);
}

/** product statecode Draft; statecode/statuscode Active (product entity reference). */
const PRODUCT_DRAFT = 2;
const PRODUCT_ACTIVE = { statecode: 0, statuscode: 1 };

/** The unit a price list item or document line takes when its source names none: the product's default unit. */
export async function productDefaultUnit(deps: SyncDeps, productId: string): Promise<string | undefined> {
  const product = await deps.dataverse.get(DV.products, productId, ['productid', '_defaultuomid_value']);
  return str(product?.values._defaultuomid_value) || undefined;
}

/**
 * After a product is written from an item/resource: its default price-list line carries the Unit Price (never
 * negative) in the product's default unit. `productnumber` is read-only on productpricelevel and its currency comes
 * from the price list (ce/…/entities/productpricelevel; BC table 5347: ProductNumber Read, TransactionCurrencyId Modify).
 */
export async function maintainDefaultPriceListLine(deps: SyncDeps, source: VersionedRecord, product: VersionedRecord): Promise<void> {
  const priceList = await defaultPriceList(deps);
  const amount = Math.max(0, num(source.values.unitPrice));
  const id = deterministicId('DEFAULT-PRICE-LIST-LINE', product.id);
  const line = await deps.dataverse.get(DV.productpricelevels, id, ['productpricelevelid', 'amount']);
  if (line) {
    if (num(line.values.amount) !== amount) await deps.dataverse.update(DV.productpricelevels, id, { amount }, line.etag);
    return;
  }
  const values: Record<string, unknown> = {
    'pricelevelid@odata.bind': `/pricelevels(${priceList})`,
    'productid@odata.bind': `/products(${product.id})`,
    amount,
    pricingmethodcode: 1,
  };
  const uom = str(product.values._defaultuomid_value) || (await productDefaultUnit(deps, product.id));
  if (uom) values['uomid@odata.bind'] = `/uoms(${uom})`;
  try {
    await deps.dataverse.create(DV.productpricelevels, values, { id });
  } catch (err) {
    if (!rowExists(err)) throw err;
  }
}

/**
 * A create with a derived id answers 412 when that row exists already (another worker made it): done. Asking again
 * would not do, as a full sync's batched ports answer a repeated read of another table from the first answer.
 */
function rowExists(err: unknown): boolean {
  const e = toSyncError(err);
  return e.code === 'DV.CONCURRENCY' && e.details.status === 412;
}

/**
 * After a customer price group is written: re-push all of its sales prices (ResetCRMProductpricelevelFromCustomerPriceGroup),
 * as change events on the SALESPRC-PRODPRICE queue.
 */
export async function repushGroupPrices(deps: SyncDeps, group: VersionedRecord): Promise<number> {
  const code = str(group.values.code);
  const salesPrice = await deps.mappings.get(M.salesPrice);
  if (!code || !salesPrice?.enabled) return 0;
  const prices = await listAll(deps.bc, bcTarget(salesPrice), {
    filter: `salesType eq 'Customer Price Group' and salesCode eq ${odataLiteral(code)}`,
    select: ['id'],
  });
  if (prices.length === 0) return 0;
  const now = deps.clock.now();
  await deps.publisher.publish(
    prices.map((p) =>
      newChangeEvent({
        mapping: M.salesPrice,
        source: 'bc',
        recordId: p.id,
        origin: 'reconcile',
        correlationId: `price-group-${code}`,
        observedAt: now,
      }),
    ),
  );
  return prices.length;
}
