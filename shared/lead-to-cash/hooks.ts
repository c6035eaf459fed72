import type { ChangeEvent } from '../domain/change-event';
import type { TableMapping } from '../domain/mappings/schema';
import type { Side, VersionedRecord } from '../domain/ports';
import { type SyncDeps, type SyncHooks, type SyncOutcome, syncRecord, type WriteContext } from '../domain/sync/sync-record';
import { beforeInvoiceInsert, invoiceNoLongerActive, invoiceOfSalesOrder, pushInvoiceLines } from './invoice';
import { beforeProductInsert, maintainDefaultPriceListLine, repushGroupPrices } from './prices';
import { handleSalesOrderRequest } from './sales-order';
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

/** Dataverse salesorder statecodes. */
const ORDER_ACTIVE = 0;
const ORDER_SUBMITTED = 1;
const ORDER_FULFILLED = 3;
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

/** Submitted orders of the opportunity, and submitted orders made from its won quotes. */
export async function ordersOfWonOpportunity(deps: SyncDeps, opportunityId: string): Promise<string[]> {
  const ids = new Set<string>();
  const direct = await listAll(deps.dataverse, DV.salesorders, {
    filter: `_opportunityid_value eq ${opportunityId} and statecode eq ${ORDER_SUBMITTED}`,
    select: ['salesorderid'],
  });
  for (const o of direct) ids.add(o.id.toLowerCase());
  const quotes = await listAll(deps.dataverse, DV.quotes, {
    filter: `_opportunityid_value eq ${opportunityId} and statecode eq ${QUOTE_WON}`,
    select: ['quoteid'],
  });
  for (const q of quotes) {
    const fromQuote = await listAll(deps.dataverse, DV.salesorders, {
      filter: `_quoteid_value eq ${q.id} and statecode eq ${ORDER_SUBMITTED}`,
      select: ['salesorderid'],
    });
    for (const o of fromQuote) ids.add(o.id.toLowerCase());
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
    if (isProduct(mapping) && !ctx.dest) await beforeProductInsert(deps, mapping, payload);
    if (mapping.name === M.invoice && !ctx.dest) await beforeInvoiceInsert(deps, settings, mapping, ctx.source, payload);
    // Legacy: a submitted order is read-only in Sales; BC sets it Active to update it, then submits it again.
    if (legacyOrders(settings, mapping) && ctx.dest) await reopenOrder(deps, ctx.dest.id);
    // Bidirectional: a line created from BC is created under the header's coupled Sales order.
    if (mapping.name === M.orderLine && !ctx.dest) {
      const line = await deps.bc.get(BC.salesOrderLines, ctx.source.id, ['id', 'documentId']);
      const header = line && (await deps.couplings.getByBcId(M.order, str(line.values.documentId).toLowerCase()));
      if (header) payload['salesorderid@odata.bind'] = `/salesorders(${header.dataverseId})`;
    }
  }
  if (pass === 'FromIntegrationTable' && mapping.name === M.orderLine && !ctx.dest) {
    // …and a line created from Sales goes onto the coupled BC order.
    const detail = await deps.dataverse.get(DV.salesorderdetails, ctx.source.id, ['salesorderdetailid', '_salesorderid_value']);
    const header = detail && (await deps.couplings.getByDataverseId(M.order, str(detail.values._salesorderid_value).toLowerCase()));
    if (header) payload.documentId = header.bcId;
  }
}

async function afterWrite(settings: LeadToCashSettings, ctx: WriteContext & { written: VersionedRecord }): Promise<void> {
  const { mapping, pass, deps } = ctx;
  if (pass !== 'ToIntegrationTable') return;
  if (isProduct(mapping)) await maintainDefaultPriceListLine(deps, ctx.source, ctx.written);
  if (mapping.name === M.priceGroup) await repushGroupPrices(deps, ctx.source);
  if (mapping.name === M.invoice) await pushInvoiceLines(deps, settings, mapping, ctx.source, ctx.written);
  if ((legacyOrders(settings, mapping) || (mapping.name === M.order && bidirectionalOrders(settings))) && ctx.dest) {
    await orderStatusFromBc(deps, ctx.source.id, ctx.written.id);
  }
}

async function reopenOrder(deps: SyncDeps, salesOrderId: string): Promise<void> {
  const order = await deps.dataverse.get(DV.salesorders, salesOrderId, ['salesorderid', 'statecode']);
  if (order && num(order.values.statecode) !== ORDER_ACTIVE) {
    await deps.dataverse.update(DV.salesorders, salesOrderId, { statecode: ORDER_ACTIVE, statuscode: 1 }, order.etag);
  }
}

/** Order status back to Sales: Fulfilled when BC shipped it completely, otherwise Submitted (SubmitOrInvoiceSalesOrder). */
export async function orderStatusFromBc(deps: SyncDeps, bcOrderId: string, salesOrderId: string): Promise<void> {
  const bcOrder = await deps.bc.get(BC.salesOrders, bcOrderId, ['id', 'fullyShipped']);
  const order = await deps.dataverse.get(DV.salesorders, salesOrderId, ['salesorderid', 'statecode', 'statuscode']);
  if (!bcOrder || !order) return;
  const target =
    bcOrder.values.fullyShipped === true
      ? { statecode: ORDER_FULFILLED, statuscode: 100001 }
      : { statecode: ORDER_SUBMITTED, statuscode: 3 };
  if (num(order.values.statecode) !== target.statecode) await deps.dataverse.update(DV.salesorders, salesOrderId, target, order.etag);
}
