import { newChangeEvent } from '../domain/change-event';
import { deterministicId } from '../domain/ids';
import type { TableMapping } from '../domain/mappings/schema';
import { bcTarget } from '../domain/mappings/targets';
import type { VersionedRecord } from '../domain/ports';
import { syncRecord } from '../domain/sync/sync-record';
import type { SyncDeps } from '../domain/sync/types';
import { SyncError } from '../errors';
import { defaultPriceList, lcyTransactionCurrency, priceListNamed, productDefaultUnit } from './prices';
import { BC, DV, eq, type LeadToCashSettings, lcyCodeOf, listAll, M, num, str } from './targets';

/**
 * Posted sales invoices → Dataverse invoices (bc-integration-reference 2.12, 2.13, rule 15): the header is the
 * POSTEDSALESINV-INV mapping; these rules add what BC does in code around it — customer, name, price list and the
 * links to the original Sales order/opportunity before insert, the lines pushed with the header after it, and the
 * Billed/Paid status. An invoice whose Dataverse copy is no longer active (paid, canceled) is left alone.
 */

const HEADER_COLUMNS = ['id', 'number', 'customerNumber', 'yourReference', 'orderId', 'currencyCode', 'status'];
const LINE_COLUMNS = [
  'id',
  'sequence',
  'lineType',
  'lineObjectNumber',
  'itemId',
  'description',
  'quantity',
  'unitPrice',
  'discountAmount',
  'amountExcludingTax',
  'amountIncludingTax',
];

/** Dataverse invoice statecode Active; statuscode Billed; statecode Paid with statuscode Complete. */
const ACTIVE = 0;
const BILLED = 4;
const PAID = 2;
const PAID_COMPLETE = 100001;

const round2 = (n: number) => Math.round(n * 100) / 100;

/** Rule: an invoice whose Dataverse copy is no longer active is not touched again. */
export async function invoiceNoLongerActive(deps: SyncDeps, bcInvoiceId: string): Promise<string | undefined> {
  const coupling = await deps.couplings.getByBcId(M.invoice, bcInvoiceId.toLowerCase());
  if (!coupling) return undefined;
  const invoice = await deps.dataverse.get(DV.invoices, coupling.dataverseId, ['invoiceid', 'statecode']);
  if (invoice && num(invoice.values.statecode) !== ACTIVE)
    return 'the Dataverse invoice is no longer active (paid or canceled): left alone';
  return undefined;
}

async function bcHeader(deps: SyncDeps, mapping: TableMapping, id: string): Promise<VersionedRecord> {
  const header = await deps.bc.get(bcTarget(mapping), id, HEADER_COLUMNS);
  if (!header) throw new SyncError('BC.NOT_FOUND', `Posted sales invoice ${id} no longer exists in Business Central.`);
  return header;
}

async function bcLines(deps: SyncDeps, invoiceId: string): Promise<VersionedRecord[]> {
  const lines = await listAll(deps.bc, BC.postedSalesInvoiceLines, { filter: `documentId eq ${invoiceId}`, select: LINE_COLUMNS });
  // Comment lines carry text only; Dataverse invoice lines need a product or a write-in with an amount.
  return lines.filter((l) => str(l.values.lineType) !== 'Comment').sort((a, b) => num(a.values.sequence) - num(b.values.sequence));
}

/** The product coupled to an invoice line's item/resource; undefined for the write-in item/resource. */
async function productOfLine(
  deps: SyncDeps,
  settings: LeadToCashSettings,
  line: VersionedRecord,
): Promise<string | undefined | 'write-in'> {
  const type = str(line.values.lineType);
  const no = str(line.values.lineObjectNumber);
  if (type === settings.WRITE_IN_PRODUCT_TYPE && no === settings.WRITE_IN_PRODUCT_NO) return 'write-in';
  if (type !== 'Item' && type !== 'Resource') return 'write-in';
  const mapping = type === 'Item' ? M.item : M.resource;
  const target = type === 'Item' ? BC.items : BC.resources;
  const page = await deps.bc.listPage(target, { filter: eq('number', no), select: ['id'], pageSize: 1 });
  const record = page.items[0];
  if (!record) return undefined;
  return (await deps.couplings.getByBcId(mapping, record.id.toLowerCase()))?.dataverseId;
}

/**
 * Before a Dataverse invoice is inserted: every line's item/resource must be coupled (synchronized first, else the
 * invoice fails and is retried), the customer, name and price list come from the original Sales order when Your
 * Reference (or the coupled BC order) leads to one, otherwise from the coupled customer and the currency.
 */
export async function beforeInvoiceInsert(
  deps: SyncDeps,
  settings: LeadToCashSettings,
  mapping: TableMapping,
  source: VersionedRecord,
  payload: Record<string, unknown>,
): Promise<void> {
  const header = await bcHeader(deps, mapping, source.id);
  const h = header.values;
  for (const line of await bcLines(deps, header.id)) {
    let product = await productOfLine(deps, settings, line);
    if (product === undefined) {
      const type = str(line.values.lineType);
      const page = await deps.bc.listPage(type === 'Item' ? BC.items : BC.resources, {
        filter: eq('number', str(line.values.lineObjectNumber)),
        select: ['id'],
        pageSize: 1,
      });
      if (page.items[0]) await syncDependency(deps, type === 'Item' ? M.item : M.resource, page.items[0].id);
      product = await productOfLine(deps, settings, line);
    }
    if (product === undefined) {
      throw new SyncError(
        'DEP.PARENT_NOT_COUPLED',
        `Posted sales invoice ${str(h.number)} has a line for ${str(line.values.lineType)} ${str(line.values.lineObjectNumber)}, which is not coupled to a product. Couple or synchronize it first, then retry.`,
        { details: { mapping: M.item, number: str(line.values.lineObjectNumber) } },
      );
    }
  }

  const order = await originalOrder(deps, h);
  if (order) {
    const o = order.values;
    payload['salesorderid@odata.bind'] = `/salesorders(${order.id})`;
    if (o._opportunityid_value) payload['opportunityid@odata.bind'] = `/opportunities(${str(o._opportunityid_value)})`;
    if (o._pricelevelid_value) payload['pricelevelid@odata.bind'] = `/pricelevels(${str(o._pricelevelid_value)})`;
    if (str(o.name)) payload.name = str(o.name);
    const account = await accountOf(deps, str(h.customerNumber));
    if (account && str(o._customerid_value).toLowerCase() !== account) {
      throw new SyncError(
        'DV.VALIDATION',
        `Cannot create the invoice in Dynamics 365 Sales. The customer from the original Dynamics 365 Sales sales order ${str(o.ordernumber)} was changed or is no longer coupled.`,
      );
    }
    if (account) payload['customerid_account@odata.bind'] = `/accounts(${account})`;
    return;
  }
  payload.name = str(h.number);
  const account = await accountOf(deps, str(h.customerNumber), true);
  if (!account) {
    throw new SyncError(
      'DEP.PARENT_NOT_COUPLED',
      `Customer ${str(h.customerNumber)} of posted sales invoice ${str(h.number)} is not coupled to an account. Couple or synchronize it first, then retry.`,
      { details: { mapping: M.customer, number: str(h.customerNumber) } },
    );
  }
  payload['customerid_account@odata.bind'] = `/accounts(${account})`;
  payload['pricelevelid@odata.bind'] = `/pricelevels(${await priceListFor(deps, str(h.currencyCode), payload)})`;
}

/** The Sales order the invoice came from: through the coupled BC order, else `ordernumber = Your Reference`. */
export async function originalOrder(deps: SyncDeps, h: Record<string, unknown>): Promise<VersionedRecord | undefined> {
  const cols = ['salesorderid', 'name', 'ordernumber', '_opportunityid_value', '_pricelevelid_value', '_customerid_value'];
  const orderId = str(h.orderId).toLowerCase();
  if (orderId && orderId !== '00000000-0000-0000-0000-000000000000') {
    const c = await deps.couplings.getByBcId(M.order, orderId);
    if (c) {
      const o = await deps.dataverse.get(DV.salesorders, c.dataverseId, cols);
      if (o) return o;
    }
  }
  const ref = str(h.yourReference);
  if (!ref) return undefined;
  const page = await deps.dataverse.listPage(DV.salesorders, { filter: eq('ordernumber', ref), select: cols, pageSize: 1 });
  return page.items[0];
}

/** The account coupled to a BC customer (optionally synchronizing the customer first, as BC does on the fly). */
async function accountOf(deps: SyncDeps, customerNumber: string, syncFirst = false): Promise<string | undefined> {
  if (!customerNumber) return undefined;
  const page = await deps.bc.listPage(BC.customers, { filter: eq('number', customerNumber), select: ['id'], pageSize: 1 });
  const customer = page.items[0];
  if (!customer) return undefined;
  let c = await deps.couplings.getByBcId(M.customer, customer.id.toLowerCase());
  if (!c && syncFirst) {
    await syncDependency(deps, M.customer, customer.id);
    c = await deps.couplings.getByBcId(M.customer, customer.id.toLowerCase());
  }
  return c?.dataverseId;
}

async function syncDependency(deps: SyncDeps, mapping: string, bcId: string): Promise<void> {
  await syncRecord(
    newChangeEvent({
      mapping,
      source: 'bc',
      recordId: bcId,
      origin: 'dependency',
      correlationId: `invoice-dependency-${bcId}`,
      observedAt: deps.clock.now(),
      direction: 'ToIntegrationTable',
    }),
    deps,
    1,
  );
}

/** LCY → the default price list; another currency → `Price List in <CUR>` (created when missing). */
async function priceListFor(deps: SyncDeps, currencyCode: string, payload: Record<string, unknown>): Promise<string> {
  const lcy = await lcyCodeOf(deps);
  if (!currencyCode || currencyCode === lcy) return defaultPriceList(deps);
  const bind = str(payload['transactioncurrencyid@odata.bind']);
  const currencyId = /\(([^)]+)\)$/.exec(bind)?.[1] ?? (await lcyTransactionCurrency(deps));
  return priceListNamed(deps, `Price List in ${currencyCode}`, currencyId);
}

/**
 * After the header is written: push the lines that are not there yet (posted lines never change), each coupled
 * under POSTEDSALESLINE-INV with a derived id, then set the status: Billed, or Paid when BC says the invoice is paid.
 */
export async function pushInvoiceLines(
  deps: SyncDeps,
  settings: LeadToCashSettings,
  mapping: TableMapping,
  source: VersionedRecord,
  invoice: VersionedRecord,
): Promise<number> {
  const header = await bcHeader(deps, mapping, source.id);
  let pushed = 0;
  for (const [i, line] of (await bcLines(deps, header.id)).entries()) {
    if (await deps.couplings.getByBcId(M.invoiceLine, line.id.toLowerCase())) continue;
    const v = line.values;
    const product = await productOfLine(deps, settings, line);
    const excl = num(v.amountExcludingTax);
    const incl = num(v.amountIncludingTax);
    const values: Record<string, unknown> = {
      'invoiceid@odata.bind': `/invoices(${invoice.id})`,
      quantity: num(v.quantity),
      priceperunit: num(v.unitPrice),
      ispriceoverridden: true,
      manualdiscountamount: num(v.discountAmount),
      tax: round2(incl - excl),
      lineitemnumber: i + 1,
      sequencenumber: i + 1,
    };
    if (product && product !== 'write-in') {
      values['productid@odata.bind'] = `/products(${product})`;
      const uom = await productDefaultUnit(deps, product);
      if (uom) values['uomid@odata.bind'] = `/uoms(${uom})`;
    } else {
      values.isproductoverridden = true;
      values.productdescription = str(v.description) || str(v.lineObjectNumber) || 'Write-in';
    }
    const id = deterministicId(M.invoiceLine, line.id);
    let created = await deps.dataverse.get(DV.invoicedetails, id, ['invoicedetailid', 'baseamount', 'extendedamount']);
    created ??= await deps.dataverse.create(DV.invoicedetails, values, { id });
    // baseamount/extendedamount are not valid for create (invoicedetail reference; volumediscountamount is read-only):
    // BC's UpdateCRMInvoiceDetailsAfterInsertRecord sets them by Modify after the insert.
    const amounts = { baseamount: round2(excl + num(v.discountAmount)), extendedamount: incl };
    if (num(created.values.baseamount) !== amounts.baseamount || num(created.values.extendedamount) !== amounts.extendedamount) {
      created = await deps.dataverse.update(DV.invoicedetails, created.id, amounts, created.etag);
    }
    await deps.couplings
      .couple({
        mapping: M.invoiceLine,
        bcId: line.id.toLowerCase(),
        dataverseId: created.id.toLowerCase(),
        bcModifiedOn: line.modifiedOn,
        dataverseModifiedOn: created.modifiedOn,
        lastResult: 'inserted',
        lastSyncedAt: deps.clock.now().toISOString(),
        environment: deps.options.environment,
      })
      .catch(() => undefined);
    await deps.counters.increment(M.invoiceLine, 'inserted');
    pushed++;
  }
  const current = await deps.dataverse.get(DV.invoices, invoice.id, ['invoiceid', 'statecode', 'statuscode']);
  if (current && num(current.values.statecode) === ACTIVE) {
    const paid = str(header.values.status) === 'Paid';
    const target = paid ? { statecode: PAID, statuscode: PAID_COMPLETE } : { statecode: ACTIVE, statuscode: BILLED };
    if (num(current.values.statuscode) !== target.statuscode) await deps.dataverse.update(DV.invoices, invoice.id, target, current.etag);
  }
  return pushed;
}

/**
 * Whether a posted invoice belongs to an order that came from Sales. Such invoices are created in Sales as soon as
 * they are posted (the salesperson follows the order there); other posted invoices follow the mapping's "Synch.
 * Only Coupled Records" (the job, a full sync or "Create Invoice in Dynamics 365 Sales").
 */
export async function invoiceOfSalesOrder(deps: SyncDeps, mapping: TableMapping, bcInvoiceId: string): Promise<boolean> {
  const header = await deps.bc.get(bcTarget(mapping), bcInvoiceId, HEADER_COLUMNS);
  return header ? (await originalOrder(deps, header.values)) !== undefined : false;
}
