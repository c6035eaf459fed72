import type { Settings } from '../config';
import { odataLiteral } from '../domain/odata/literal';
import type { BcEntityTarget, DataverseEntityTarget, Page, RecordGateway, VersionedRecord } from '../domain/ports';
import type { SyncDeps } from '../domain/sync/types';

/** The lead-to-cash settings (shared/config.ts), as the rules here need them. */
export type LeadToCashSettings = Pick<
  Settings,
  'SALES_ORDER_INTEGRATION' | 'AUTO_CREATE_SALES_ORDERS' | 'WRITE_IN_PRODUCT_TYPE' | 'WRITE_IN_PRODUCT_NO' | 'EXTENDED_PRICING'
>;

const dv = (entitySet: string, logicalName: string, primaryKey = `${logicalName}id`): DataverseEntityTarget => ({
  side: 'dataverse',
  entitySet,
  logicalName,
  primaryKey,
});

/** Dataverse tables the lead-to-cash rules read and write besides the mapped ones. */
export const DV = {
  salesorders: dv('salesorders', 'salesorder'),
  salesorderdetails: dv('salesorderdetails', 'salesorderdetail'),
  products: dv('products', 'product'),
  accounts: dv('accounts', 'account'),
  contacts: dv('contacts', 'contact'),
  transactioncurrencies: dv('transactioncurrencies', 'transactioncurrency'),
  opportunities: dv('opportunities', 'opportunity'),
  quotes: dv('quotes', 'quote'),
  invoices: dv('invoices', 'invoice'),
  invoicedetails: dv('invoicedetails', 'invoicedetail'),
  pricelevels: dv('pricelevels', 'pricelevel'),
  productpricelevels: dv('productpricelevels', 'productpricelevel'),
} as const;

const bc = (kind: BcEntityTarget['kind'], entitySet: string): BcEntityTarget => ({ side: 'bc', kind, entitySet });

/** BC pages: the custom pages carry Your Reference, Work Description and posted documents. */
export const BC = {
  salesOrders: bc('customApi', 'salesOrders'),
  salesOrderLines: bc('customApi', 'salesOrderLines'),
  postedSalesInvoices: bc('customApi', 'postedSalesInvoices'),
  postedSalesInvoiceLines: bc('customApi', 'postedSalesInvoiceLines'),
  items: bc('apiV2', 'items'),
  resources: bc('customApi', 'resources'),
  customers: bc('apiV2', 'customers'),
  currencies: bc('apiV2', 'currencies'),
  shippingAgents: bc('customApi', 'shippingAgents'),
  itemUnitsOfMeasure: bc('customApi', 'itemUnitsOfMeasure'),
  resourceUnitsOfMeasure: bc('customApi', 'resourceUnitsOfMeasure'),
  companyInformation: bc('apiV2', 'companyInformation'),
} as const;

/** Mapping names whose couplings the rules use (couplings are stored per mapping name). */
export const M = {
  order: 'SALESORDER-ORDER',
  orderLine: 'SOLINE-ORDERDETAIL',
  customer: 'CUSTOMER',
  contact: 'CONTACT',
  item: 'ITEM-PRODUCT',
  resource: 'RESOURCE-PRODUCT',
  currency: 'CURRENCY',
  invoice: 'POSTEDSALESINV-INV',
  invoiceLine: 'POSTEDSALESLINE-INV',
  opportunity: 'OPPORTUNITY',
  priceGroup: 'CUSTPRCGRP-PRICE',
  salesPrice: 'SALESPRC-PRODPRICE',
  priceListHeader: 'PLHEADER-PRICE',
  priceListLine: 'PLLINE-PRODPRICE',
} as const;

/** Every record of a listing, page by page (small result sets: lines of one document, couplings of one group). */
export async function listAll<T extends BcEntityTarget | DataverseEntityTarget>(
  gateway: RecordGateway<T>,
  target: T,
  options: { filter?: string; select?: string[] } = {},
): Promise<VersionedRecord[]> {
  const out: VersionedRecord[] = [];
  for await (const page of gateway.list(target, options)) out.push(...page);
  return out;
}

export async function firstOf(page: Promise<Page<VersionedRecord>>): Promise<VersionedRecord | undefined> {
  return (await page).items[0];
}

export const str = (v: unknown): string => (typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v));
export const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
export const eq = (field: string, value: unknown) => `${field} eq ${odataLiteral(value)}`;

/** BC's local currency code: the engine option when set, else BC's company information (cached per deps). */
const lcyCache = new WeakMap<SyncDeps, Promise<string>>();
export function lcyCodeOf(deps: SyncDeps): Promise<string> {
  if (deps.options.lcyCode) return Promise.resolve(deps.options.lcyCode);
  let p = lcyCache.get(deps);
  if (!p) {
    p = deps.bc.listPage(BC.companyInformation, { pageSize: 1 }).then((page) => str(page.items[0]?.values.currencyCode));
    p.catch(() => lcyCache.delete(deps));
    lcyCache.set(deps, p);
  }
  return p;
}
