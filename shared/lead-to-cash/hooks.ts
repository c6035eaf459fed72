import type { ChangeEvent } from '../domain/change-event';
import { idKey } from '../domain/ids';
import type { TableMapping } from '../domain/mappings/schema';
import type { Coupling, Side, VersionedRecord } from '../domain/ports';
import { syncRecord } from '../domain/sync/sync-record';
import type { SyncDeps, SyncHooks, SyncOutcome, WriteContext } from '../domain/sync/types';
import { SyncError } from '../errors';
import {
  afterLineWrite,
  beforeLineWrite,
  ORDER_STATE,
  orderStatusFromBc,
  removeDeletedLine,
  reopenBcOrder,
  reopenSalesOrder,
  syncBidirectionalOrder,
} from './bidirectional-order';
import { beforeInvoiceInsert, invoiceNoLongerActive, invoiceOfSalesOrder, pushInvoiceLines } from './invoice';
import { beforeProductInsert, completeNewProduct, maintainDefaultPriceListLine, productDefaultUnit, repushGroupPrices } from './prices';
import { handleSalesOrderRequest } from './sales-order';
import { BC_DESCRIPTION_LENGTH } from './sales-order-lines';
import { BC, DV, type LeadToCashSettings, listAll, M, num, str } from './targets';

/**
 * The lead-to-cash special rules as engine hooks, registered once in the runtime so every path (sync functions,
 * full sync, replays, manual sync) applies the same rules. Each rule names the BC behaviour it mirrors.
 */
export function leadToCashHooks(settings: LeadToCashSettings): SyncHooks {
  return {
    beforeSync: (event, mapping, deps) => beforeSync(settings, event, mapping, deps),
    exclude: (mapping, side, record) => exclude(settings, mapping, side, record),
    beforeWrite: (ctx) => beforeWrite(settings, ctx),
    afterWrite: (ctx) => afterWrite(settings, ctx),
  };
}

/** Runs several hook sets in order (the lead-to-cash rules, then e.g. a test's own). */
export function composeHooks(...sets: Array<SyncHooks | undefined>): SyncHooks {
  const hooks = sets.filter((h): h is SyncHooks => h !== undefined);
  return {
    async beforeSync(event, mapping, deps) {
      for (const h of hooks) {
        const r = await h.beforeSync?.(event, mapping, deps);
        if (r) return r;
      }
      return undefined;
    },
    async exclude(mapping, side, record) {
      for (const h of hooks) {
        const r = await h.exclude?.(mapping, side, record);
        if (r) return r;
      }
      return undefined;
    },
    async beforeWrite(ctx) {
      for (const h of hooks) await h.beforeWrite?.(ctx);
    },
    async afterWrite(ctx) {
      for (const h of hooks) await h.afterWrite?.(ctx);
    },
  };
}

const isProduct = (m: TableMapping) => m.name === M.item || m.name === M.resource;
const legacyOrders = (s: LeadToCashSettings, m: TableMapping) => m.name === M.order && s.SALES_ORDER_INTEGRATION === 'legacy';
const bidirectionalOrders = (s: LeadToCashSettings) => s.SALES_ORDER_INTEGRATION === 'bidirectional';

/** Sales Line fields of SOLINE-ORDERDETAIL that BC's API pages show read-only. */
const BC_CALCULATED_LINE_FIELDS = ['currencyCode', 'amountExcludingTax', 'amountIncludingTax', 'shippedQuantity'];

/** Dataverse salesorder statecodes. */
const ORDER_SUBMITTED = 1;
/** Dataverse opportunity statecode Won, quote statecode Won. */
const OPPORTUNITY_WON = 1;
const QUOTE_WON = 2;

async function beforeSync(
  settings: LeadToCashSettings,
  event: ChangeEvent,
  mapping: TableMapping,
  deps: SyncDeps,
): Promise<SyncOutcome | undefined> {
  // Rule: an invoice whose Dataverse copy is no longer active (paid, canceled) is left alone.
  if (mapping.name === M.invoice && event.source === 'bc') {
    const reason = await invoiceNoLongerActive(deps, event.recordId);
    if (reason) return { result: 'skipped', mapping: mapping.name, bcId: event.recordId, message: reason };
    const automatic = event.origin !== 'manual' && event.origin !== 'full-sync' && event.origin !== 'dependency';
    if (
      automatic &&
      mapping.synchOnlyCoupledRecords &&
      !(await deps.couplings.getByBcId(M.invoice, event.recordId)) &&
      (await invoiceOfSalesOrder(deps, mapping, event.recordId))
    ) {
      return syncRecord({ ...event, origin: 'manual' }, deps);
    }
    return undefined;
  }
  if (bidirectionalOrders(settings)) {
    // Bidirectional: the header through the engine, then its lines as a set, then both headers' states.
    if (mapping.name === M.order) return syncBidirectionalOrder(event, deps);
    // A line whose coupled line was deleted: Remove Coupling, and the survivor is deleted too.
    if (mapping.name === M.orderLine) return (await removeDeletedLine(deps, event)) ?? (await lineOutsideHeaderFilter(deps, event));
  }
  if (event.source !== 'dataverse' || event.changeType === 'deleted') return undefined;
  const autoCreate = settings.SALES_ORDER_INTEGRATION === 'legacy' && settings.AUTO_CREATE_SALES_ORDERS;
  // Legacy "Automatically Create Sales Orders": a submitted Sales order is created in BC, not synchronized.
  if (legacyOrders(settings, mapping)) {
    if (!autoCreate)
      return {
        result: 'unchanged',
        mapping: mapping.name,
        dataverseId: event.recordId,
        message: 'automatic creation of sales orders is off',
      };
    if (await deps.couplings.getByDataverseId(M.order, event.recordId)) {
      return {
        result: 'unchanged',
        mapping: mapping.name,
        dataverseId: event.recordId,
        message: 'legacy mode: Sales changes of a coupled order are not sent to BC',
      };
    }
    const order = await deps.dataverse.get(DV.salesorders, event.recordId, ['salesorderid', 'statecode']);
    if (!order || num(order.values.statecode) !== ORDER_SUBMITTED) {
      return { result: 'unchanged', mapping: mapping.name, dataverseId: event.recordId, message: 'not a submitted order' };
    }
    return toOutcome(await handleSalesOrderRequest(deps, settings, { salesOrderId: event.recordId, correlationId: event.correlationId }));
  }
  // Quote to order: a won opportunity's submitted order (directly, or through its won quote) is created in BC, once.
  if (mapping.name === M.opportunity && autoCreate) {
    const opportunity = await deps.dataverse.get(DV.opportunities, event.recordId, ['opportunityid', 'statecode']);
    if (opportunity && num(opportunity.values.statecode) === OPPORTUNITY_WON) {
      for (const orderId of await ordersOfWonOpportunity(deps, event.recordId)) {
        await handleSalesOrderRequest(deps, settings, { salesOrderId: orderId, correlationId: event.correlationId });
      }
    }
  }
  return undefined;
}

/** BC's filters for lines: a line syncs only while its header passes the header's filter (Released / Submitted). */
async function lineOutsideHeaderFilter(deps: SyncDeps, event: ChangeEvent): Promise<SyncOutcome | undefined> {
  const skipped = (message: string): SyncOutcome => ({
    result: 'skipped',
    mapping: M.orderLine,
    ...(event.source === 'bc' ? { bcId: event.recordId } : { dataverseId: event.recordId }),
    message,
  });
  if (event.source === 'bc') {
    const line = await deps.bc.get(BC.salesOrderLines, event.recordId, ['id', 'documentId']);
    const order = line && (await deps.bc.get(BC.salesOrders, str(line.values.documentId), ['id', 'number', 'status']));
    if (order && order.values.status !== 'Open') {
      return skipped(`order ${str(order.values.number)} is outside the SALESORDER-ORDER table filter (status eq 'Open', i.e. Released)`);
    }
    return undefined;
  }
  const line = await deps.dataverse.get(DV.salesorderdetails, event.recordId, ['salesorderdetailid', '_salesorderid_value']);
  const order = line && (await deps.dataverse.get(DV.salesorders, str(line.values._salesorderid_value), ['salesorderid', 'statecode']));
  if (order && num(order.values.statecode) !== ORDER_STATE.submitted.statecode) {
    return skipped('the Sales order is outside the SALESORDER-ORDER integration table filter (statecode eq 1, i.e. Submitted)');
  }
  return undefined;
}

/** Submitted orders of the opportunity, and submitted orders made from its won quotes. */
export async function ordersOfWonOpportunity(deps: SyncDeps, opportunityId: string): Promise<string[]> {
  const ids = new Set<string>();
  const direct = await listAll(deps.dataverse, DV.salesorders, {
    filter: `_opportunityid_value eq ${opportunityId} and statecode eq ${ORDER_SUBMITTED}`,
    select: ['salesorderid'],
  });
  for (const o of direct) ids.add(idKey(o.id));
  const quotes = await listAll(deps.dataverse, DV.quotes, {
    filter: `_opportunityid_value eq ${opportunityId} and statecode eq ${QUOTE_WON}`,
    select: ['quoteid'],
  });
  for (const q of quotes) {
    const fromQuote = await listAll(deps.dataverse, DV.salesorders, {
      filter: `_quoteid_value eq ${q.id} and statecode eq ${ORDER_SUBMITTED}`,
      select: ['salesorderid'],
    });
    for (const o of fromQuote) ids.add(idKey(o.id));
  }
  return [...ids];
}

function toOutcome(r: Awaited<ReturnType<typeof handleSalesOrderRequest>>): SyncOutcome {
  if (r.result === 'failed') return { result: 'failed', mapping: M.order, dataverseId: r.salesOrderId, message: r.message };
  const result =
    r.result === 'created' ? 'inserted' : r.result === 'coupled' ? 'coupled' : r.result === 'skipped' ? 'skipped' : 'unchanged';
  return { result, mapping: M.order, dataverseId: r.salesOrderId, bcId: r.bcOrderId, message: r.message };
}

async function exclude(
  settings: LeadToCashSettings,
  mapping: TableMapping,
  side: Side,
  record: VersionedRecord,
): Promise<string | undefined> {
  // Rule 9: the write-in item/resource is made for write-ins and never becomes a product.
  if (isProduct(mapping) && side === 'bc') {
    const type = mapping.name === M.item ? 'Item' : 'Resource';
    if (type === settings.WRITE_IN_PRODUCT_TYPE && str(record.values.number) === settings.WRITE_IN_PRODUCT_NO) {
      return `${type} ${settings.WRITE_IN_PRODUCT_NO} is the write-in product (WRITE_IN_PRODUCT_NO) and is never synchronized`;
    }
  }
  return undefined;
}

async function beforeWrite(settings: LeadToCashSettings, ctx: WriteContext): Promise<void> {
  const { mapping, pass, deps, payload } = ctx;
  if (pass === 'ToIntegrationTable') {
    if (isProduct(mapping)) requireBaseUnit(mapping, ctx.source);
    if (isProduct(mapping) && !ctx.dest) await beforeProductInsert(deps, mapping, payload);
    if (mapping.name === M.invoice && !ctx.dest) await beforeInvoiceInsert(deps, settings, mapping, ctx.source, payload);
    if (mapping.name === M.salesPrice || mapping.name === M.priceListLine) await priceLineUnit(deps, ctx);
    // A submitted order is read-only in Sales; BC sets it Active to update it, then submits it again.
    if (mapping.name === M.order && ctx.dest && settings.SALES_ORDER_INTEGRATION !== 'none') await reopenSalesOrder(deps, ctx.dest.id);
  }
  // Bidirectional: a released BC order is reopened to take Sales' changes (released again after the lines).
  if (pass === 'FromIntegrationTable' && mapping.name === M.order && ctx.dest && bidirectionalOrders(settings)) {
    await reopenBcOrder(deps, ctx.dest.id);
  }
  if (mapping.name === M.orderLine) {
    const header = await headerOfLine(deps, pass, ctx.source.id);
    if (!header) {
      throw new SyncError(
        'DEP.PARENT_NOT_COUPLED',
        `The ${pass === 'ToIntegrationTable' ? 'Sales Line' : 'salesorderdetail'} belongs to an order that is not coupled under SALESORDER-ORDER. Synchronize the order first.`,
      );
    }
    await beforeLineWrite(deps, pass, header);
    // BC calculates these Sales Line fields (Currency Code is the header's, Amounts follow quantity × price, Quantity
    // Shipped only changes by posting): AL's Validate takes them, the API page shows them read-only. They still
    // flow BC → Sales.
    if (pass === 'FromIntegrationTable') for (const k of BC_CALCULATED_LINE_FIELDS) delete payload[k];
    if (!ctx.dest && pass === 'ToIntegrationTable') {
      payload['salesorderid@odata.bind'] = `/salesorders(${header.dataverseId})`;
      await newSalesLine(deps, payload);
    }
    if (!ctx.dest && pass === 'FromIntegrationTable') await newBcLine(deps, settings, ctx.source.id, header, payload);
  }
}

/**
 * A price list item needs a unit (uomid is ApplicationRequired on productpricelevel): when the mapping supplies
 * none (SALESPRC-PRODPRICE; PLLINE-PRODPRICE without unit groups) it is the product's default unit, as BC's
 * FindCRMUoMIdForSalesPrice finds it for the base unit.
 */
async function priceLineUnit(deps: SyncDeps, ctx: WriteContext): Promise<void> {
  const { payload } = ctx;
  if (payload['uomid@odata.bind'] !== undefined) return;
  if (ctx.dest && str(ctx.dest.values._uomid_value)) return;
  const productId = /\(([^)]+)\)$/.exec(str(payload['productid@odata.bind']))?.[1] ?? str(ctx.dest?.values._productid_value);
  const uom = productId ? await productDefaultUnit(deps, productId) : undefined;
  if (uom) payload['uomid@odata.bind'] = `/uoms(${uom})`;
}

/**
 * A new Sales order line: its unit is the product's (BC sets UoMId from the item's unit of measure), and the
 * amounts wait for the update after the insert — baseamount and extendedamount are not valid for create
 * (salesorderdetail reference; BC table 5354 "CRM Salesorderdetail" marks them Modify).
 */
const pendingLineAmounts = new WeakMap<Record<string, unknown>, Record<string, unknown>>();
async function newSalesLine(deps: SyncDeps, payload: Record<string, unknown>): Promise<void> {
  const amounts: Record<string, unknown> = {};
  for (const k of ['baseamount', 'extendedamount']) {
    if (k in payload) {
      amounts[k] = payload[k];
      delete payload[k];
    }
  }
  if (Object.keys(amounts).length > 0) pendingLineAmounts.set(payload, amounts);
  const productId = /\(([^)]+)\)$/.exec(str(payload['productid@odata.bind']))?.[1];
  if (productId && payload['uomid@odata.bind'] === undefined) {
    const uom = await productDefaultUnit(deps, productId);
    if (uom) payload['uomid@odata.bind'] = `/uoms(${uom})`;
  }
}

/**
 * A product needs its default unit (Dataverse refuses to clear it); BC refuses an item or resource without a Base
 * Unit of Measure in the same words (CRMSynchHelper.ConvertBaseUnitOfMeasureToUomId, BaseUnitOfMeasureCannotBeEmptyErr).
 */
function requireBaseUnit(mapping: TableMapping, source: VersionedRecord): void {
  const code = source.values.baseUnitOfMeasureCode;
  if (code === '' || code === null) {
    throw new SyncError(
      'MAP.TRANSFORM_FAILED',
      `Base Unit of Measure must have a value in ${mapping.name === M.item ? 'Item' : 'Resource'} ${str(source.values.number)}. It cannot be zero or empty.`,
    );
  }
}

/** The header coupling of a line, from the line's source side. */
async function headerOfLine(deps: SyncDeps, pass: WriteContext['pass'], lineId: string): Promise<Coupling | undefined> {
  if (pass === 'ToIntegrationTable') {
    const line = await deps.bc.get(BC.salesOrderLines, lineId, ['id', 'documentId']);
    return line ? deps.couplings.getByBcId(M.order, idKey(str(line.values.documentId))) : undefined;
  }
  const detail = await deps.dataverse.get(DV.salesorderdetails, lineId, ['salesorderdetailid', '_salesorderid_value']);
  return detail ? deps.couplings.getByDataverseId(M.order, idKey(str(detail.values._salesorderid_value))) : undefined;
}

/**
 * A line created from Sales goes onto the coupled BC order as an Item or Resource line, by the mapping its
 * product is coupled under; a write-in becomes a line of the write-in product (AddWriteInProductNo).
 */
async function newBcLine(
  deps: SyncDeps,
  settings: LeadToCashSettings,
  detailId: string,
  header: Coupling,
  payload: Record<string, unknown>,
): Promise<void> {
  payload.documentId = header.bcId;
  const detail = await deps.dataverse.get(DV.salesorderdetails, detailId, ['salesorderdetailid', '_productid_value', 'productdescription']);
  const productId = idKey(str(detail?.values._productid_value));
  if (!productId) {
    payload.lineType = settings.WRITE_IN_PRODUCT_TYPE;
    payload.lineObjectNumber = settings.WRITE_IN_PRODUCT_NO;
    const text = str(detail?.values.productdescription);
    if (text) payload.description = text.slice(0, BC_DESCRIPTION_LENGTH);
    return;
  }
  payload.lineType = (await deps.couplings.getByDataverseId(M.resource, productId)) ? 'Resource' : 'Item';
}

async function afterWrite(settings: LeadToCashSettings, ctx: WriteContext & { written: VersionedRecord }): Promise<void> {
  const { mapping, pass, deps } = ctx;
  const amounts = pendingLineAmounts.get(ctx.payload);
  if (mapping.name === M.orderLine && amounts) {
    pendingLineAmounts.delete(ctx.payload);
    const line = await deps.dataverse.get(DV.salesorderdetails, ctx.written.id, ['salesorderdetailid', 'baseamount', 'extendedamount']);
    if (line && Object.entries(amounts).some(([k, v]) => num(line.values[k]) !== num(v))) {
      await deps.dataverse.update(DV.salesorderdetails, line.id, amounts, line.etag);
    }
  }
  if (mapping.name === M.orderLine) await afterLineWrite(deps, pass, await headerOfLine(deps, pass, ctx.source.id));
  if (pass !== 'ToIntegrationTable') return;
  if (isProduct(mapping)) {
    const product = ctx.dest ? ctx.written : await completeNewProduct(deps, ctx.written);
    await maintainDefaultPriceListLine(deps, ctx.source, product);
  }
  if (mapping.name === M.priceGroup) await repushGroupPrices(deps, ctx.source);
  if (mapping.name === M.invoice) await pushInvoiceLines(deps, settings, mapping, ctx.source, ctx.written);
  // Legacy: the order's status follows BC (bidirectional sets it once after the lines, in syncBidirectionalOrder).
  if (legacyOrders(settings, mapping) && ctx.dest) await orderStatusFromBc(deps, ctx.source.id, ctx.written.id);
}
