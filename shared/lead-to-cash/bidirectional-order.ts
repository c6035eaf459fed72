import type { ChangeEvent } from '../domain/change-event';
import { otherSide, passOf, type Side, type SyncDirection, sourceOf } from '../domain/direction';
import { recordId as parseRecordId } from '../domain/ids';
import type { Coupling } from '../domain/ports';
import { syncRecord } from '../domain/sync/sync-record';
import type { SyncDeps, SyncOutcome } from '../domain/sync/types';
import { SyncError } from '../errors';
import { BC, DV, listAll, M, num, str } from './targets';

/**
 * Bidirectional sales orders (SALES_ORDER_INTEGRATION=bidirectional, bc-integration-reference 2.15): the header
 * syncs through the engine like any mapping; around it these rules do what BC's subscribers do — lines reconciled
 * as a set from the header (ResetCRMSalesorderdetailFromSalesOrderLine / ResetSalesOrderLineFromCRMSalesorderdetail),
 * the BC order reopened to be changed and released again, the Sales order reopened to be changed and set back to
 * Submitted (or Fulfilled when BC shipped everything), and a deleted line's survivor deleted with its coupling.
 */

/** Dataverse salesorder statecodes / statuscodes. */
export const ORDER_STATE = {
  active: { statecode: 0, statuscode: 1 },
  submitted: { statecode: 1, statuscode: 3 },
  fulfilled: { statecode: 3, statuscode: 100001 },
} as const;

/** BC API v2 shows the Sales Header status Released as 'Open' (and BC's Open as 'Draft'). */
const BC_RELEASED = 'Open';

/** Header events this module re-enters the engine with (so beforeSync lets them through). */
const innerEvents = new WeakSet<ChangeEvent>();
/** Orders whose lines are being reconciled: the header's status is restored once at the end, not per line. */
const reconciling = new Set<string>();

/**
 * Runs the header through the engine, then its lines, then restores both headers' states. Returns undefined for
 * the engine's own re-entry.
 */
export async function syncBidirectionalOrder(event: ChangeEvent, deps: SyncDeps): Promise<SyncOutcome | undefined> {
  if (innerEvents.has(event) || event.changeType === 'deleted') return undefined;
  const inner = { ...event };
  innerEvents.add(inner);
  const header = await syncRecord(inner, deps);
  if (!['inserted', 'modified', 'unchanged', 'coupled'].includes(header.result)) return header;
  const coupling =
    event.source === 'bc'
      ? await deps.couplings.getByBcId(M.order, event.recordId.toLowerCase())
      : await deps.couplings.getByDataverseId(M.order, event.recordId.toLowerCase());
  if (!coupling) return header;
  const pass = passOf(event.source, event.direction);
  reconciling.add(coupling.bcId);
  const lineResults: SyncOutcome[] = [];
  try {
    lineResults.push(...(await reconcileLines(deps, event, coupling, pass)));
  } finally {
    reconciling.delete(coupling.bcId);
  }
  if (pass === 'ToIntegrationTable') await orderStatusFromBc(deps, coupling.bcId, coupling.dataverseId);
  else await releaseBcOrder(deps, coupling.bcId);
  const failed = lineResults.filter((r) => r.result === 'failed');
  const summary = `${lineResults.length} line(s): ${
    Object.entries(
      lineResults.reduce<Record<string, number>>((acc, r) => {
        acc[r.result] = (acc[r.result] ?? 0) + 1;
        return acc;
      }, {}),
    )
      .map(([k, n]) => `${n} ${k}`)
      .join(', ') || 'none'
  }${failed.length > 0 ? `; failed: ${failed.map((f) => f.message).join(' | ')}` : ''}`;
  return { ...header, message: [header.message, summary].filter(Boolean).join('; ') };
}

/** The source side's lines synced one by one; coupled lines whose source is gone are removed on the other side. */
async function reconcileLines(deps: SyncDeps, event: ChangeEvent, header: Coupling, pass: SyncDirection): Promise<SyncOutcome[]> {
  const out: SyncOutcome[] = [];
  const lineEvent = (source: Side, recordId: string): ChangeEvent => ({
    ...event,
    mapping: M.orderLine,
    source,
    recordId: parseRecordId(recordId),
    changeType: 'unknown',
    direction: pass,
  });
  const bcLines = await listAll(deps.bc, BC.salesOrderLines, { filter: `documentId eq ${header.bcId}`, select: ['id', 'lineType'] });
  const dvLines = await listAll(deps.dataverse, DV.salesorderdetails, {
    filter: `_salesorderid_value eq ${header.dataverseId}`,
    select: ['salesorderdetailid'],
  });
  const sourceLines = pass === 'ToIntegrationTable' ? bcLines : dvLines;
  const destLines = pass === 'ToIntegrationTable' ? dvLines : bcLines;
  const source = sourceOf(pass);
  const dest = otherSide(source);
  for (const line of sourceLines) {
    // Comment lines are outside SOLINE-ORDERDETAIL's table filter; not worth a skipped outcome per line.
    if (source === 'bc' && line.values.lineType !== 'Item' && line.values.lineType !== 'Resource') continue;
    out.push(await syncRecord(lineEvent(source, line.id), deps));
  }
  // A coupled line whose source line is gone: the engine's deletion path (Remove Coupling + delete the survivor).
  for (const line of destLines) {
    const c =
      dest === 'bc'
        ? await deps.couplings.getByBcId(M.orderLine, line.id.toLowerCase())
        : await deps.couplings.getByDataverseId(M.orderLine, line.id.toLowerCase());
    if (!c) continue;
    const sourceId = source === 'bc' ? c.bcId : c.dataverseId;
    if (!sourceLines.some((l) => l.id.toLowerCase() === sourceId)) {
      const removed = await removeDeletedLine(deps, lineEvent(dest, line.id));
      if (removed) out.push(removed);
    }
  }
  return out;
}

/**
 * SOLINE-ORDERDETAIL "Deletion-Conflict Resolution" = Remove Coupling, and for sales lines in bidirectional order
 * sync BC also deletes the surviving line (bc-integration-reference 1.4, 3.9). Undefined when both lines exist
 * or the line is not coupled (the engine handles it).
 */
export async function removeDeletedLine(deps: SyncDeps, event: ChangeEvent): Promise<SyncOutcome | undefined> {
  const id = event.recordId.toLowerCase();
  const coupling =
    event.source === 'bc' ? await deps.couplings.getByBcId(M.orderLine, id) : await deps.couplings.getByDataverseId(M.orderLine, id);
  if (!coupling) return undefined;
  const bcLine = await deps.bc.get(BC.salesOrderLines, coupling.bcId, ['id', 'documentId']);
  const dvLine = await deps.dataverse.get(DV.salesorderdetails, coupling.dataverseId, ['salesorderdetailid', '_salesorderid_value']);
  if (bcLine && dvLine) return undefined;
  if (!bcLine && !dvLine) {
    await deps.couplings.uncouple(M.orderLine, coupling.bcId);
    return {
      result: 'deleted',
      mapping: M.orderLine,
      bcId: coupling.bcId,
      dataverseId: coupling.dataverseId,
      message: 'both lines are gone; coupling removed',
    };
  }
  await deps.couplings.uncouple(M.orderLine, coupling.bcId);
  if (dvLine) {
    const orderId = str(dvLine.values._salesorderid_value).toLowerCase();
    await withSalesOrderEditable(deps, orderId, () => deps.dataverse.delete(DV.salesorderdetails, dvLine.id));
  } else if (bcLine) {
    const orderId = str(bcLine.values.documentId).toLowerCase();
    await withBcOrderOpen(deps, orderId, () => deps.bc.delete(BC.salesOrderLines, bcLine.id));
  }
  return {
    result: 'deleted',
    mapping: M.orderLine,
    bcId: coupling.bcId,
    dataverseId: coupling.dataverseId,
    message: `the coupled ${bcLine ? 'salesorderdetail' : 'Sales Line'} was deleted: coupling removed (Remove Coupling) and the surviving ${
      bcLine ? 'Sales Line' : 'salesorderdetail'
    } deleted, as BC does for bidirectional sales orders`,
  };
}

/** Runs `f` with the Sales order Active (its lines are read-only otherwise), then restores the state BC implies. */
async function withSalesOrderEditable(deps: SyncDeps, salesOrderId: string, f: () => Promise<unknown>): Promise<void> {
  await reopenSalesOrder(deps, salesOrderId);
  await f();
  if (reconciling.size > 0) {
    const header = await deps.couplings.getByDataverseId(M.order, salesOrderId);
    if (header && reconciling.has(header.bcId)) return;
  }
  const header = await deps.couplings.getByDataverseId(M.order, salesOrderId);
  if (header) await orderStatusFromBc(deps, header.bcId, salesOrderId);
}

async function withBcOrderOpen(deps: SyncDeps, bcOrderId: string, f: () => Promise<unknown>): Promise<void> {
  await reopenBcOrder(deps, bcOrderId);
  await f();
  if (!reconciling.has(bcOrderId)) await releaseBcOrder(deps, bcOrderId);
}

/** A submitted Sales order is read-only: set it Active before BC's changes are written. */
export async function reopenSalesOrder(deps: SyncDeps, salesOrderId: string): Promise<void> {
  const order = await deps.dataverse.get(DV.salesorders, salesOrderId, ['salesorderid', 'statecode']);
  if (order && num(order.values.statecode) !== ORDER_STATE.active.statecode) {
    await deps.dataverse.update(DV.salesorders, salesOrderId, { ...ORDER_STATE.active }, order.etag);
  }
}

/** Order status back to Sales: Fulfilled when BC shipped it completely, otherwise Submitted (2.14 / 2.15). */
export async function orderStatusFromBc(deps: SyncDeps, bcOrderId: string, salesOrderId: string): Promise<void> {
  const bcOrder = await deps.bc.get(BC.salesOrders, bcOrderId, ['id', 'fullyShipped']);
  const order = await deps.dataverse.get(DV.salesorders, salesOrderId, ['salesorderid', 'statecode', 'statuscode']);
  if (!bcOrder || !order) return;
  const target = bcOrder.values.fullyShipped === true ? ORDER_STATE.fulfilled : ORDER_STATE.submitted;
  if (num(order.values.statecode) === target.statecode) return;
  // Fulfilled is set by the FulfillSalesOrder message, as BC's CRMSynchHelper.FulfillSalesOrder does (salesorder reference).
  if (target === ORDER_STATE.fulfilled && deps.dataverse.action) {
    await deps.dataverse.action('FulfillSalesOrder', {
      OrderClose: {
        '@odata.type': 'Microsoft.Dynamics.CRM.orderclose',
        subject: 'Shipped in Business Central',
        'salesorderid@odata.bind': `/salesorders(${salesOrderId})`,
      },
      Status: target.statuscode,
    });
    return;
  }
  await deps.dataverse.update(DV.salesorders, salesOrderId, { ...target }, order.etag);
}

/** Before a line is written on the other side, that side's header must be editable. */
export async function beforeLineWrite(deps: SyncDeps, pass: ChangeEvent['direction'], header: Coupling): Promise<void> {
  if (pass === 'ToIntegrationTable') await reopenSalesOrder(deps, header.dataverseId);
  else await reopenBcOrder(deps, header.bcId);
}

/** After a line written outside a header reconciliation: the header goes back to Submitted/Released. */
export async function afterLineWrite(deps: SyncDeps, pass: ChangeEvent['direction'], header: Coupling | undefined): Promise<void> {
  if (!header || reconciling.has(header.bcId)) return;
  if (pass === 'ToIntegrationTable') await orderStatusFromBc(deps, header.bcId, header.dataverseId);
  else await releaseBcOrder(deps, header.bcId);
}

// ---------------------------------------------------------------------------------------------------------
// BC Release / Reopen: bound actions of the companion salesOrders page, sent through the gateway's $batch.

interface BatchCapableClient {
  batch(
    operations: Array<{ method: 'POST'; url: string }>,
    options: { kind: 'customApi' },
  ): Promise<Array<{ status: number; error?: Error }>>;
}

function batchClient(deps: SyncDeps): BatchCapableClient {
  const client = (deps.bc as unknown as { client?: Partial<BatchCapableClient> }).client;
  if (!client || typeof client.batch !== 'function') {
    throw new SyncError(
      'CONFIG.INVALID',
      'Releasing or reopening a BC sales order needs the BC gateway of the runtime (Microsoft.NAV.release / reopen).',
    );
  }
  return client as BatchCapableClient;
}

async function bcOrderAction(deps: SyncDeps, bcOrderId: string, action: 'release' | 'reopen'): Promise<void> {
  const [r] = await batchClient(deps).batch([{ method: 'POST', url: `salesOrders(${bcOrderId})/Microsoft.NAV.${action}` }], {
    kind: 'customApi',
  });
  if (r?.error) throw r.error;
}

/** BC's bidirectional sync re-releases the order after Sales changed it (unless a prepayment is required). */
export async function releaseBcOrder(deps: SyncDeps, bcOrderId: string): Promise<void> {
  const order = await deps.bc.get(BC.salesOrders, bcOrderId, ['id', 'status']);
  if (!order || order.values.status === BC_RELEASED) return;
  const lines = await listAll(deps.bc, BC.salesOrderLines, {
    filter: `documentId eq ${bcOrderId}`,
    select: ['id', 'lineType', 'quantity'],
  });
  // "There is nothing to release": an order without quantities stays open rather than failing the sync.
  if (!lines.some((l) => l.values.lineType !== 'Comment' && num(l.values.quantity) !== 0)) return;
  await bcOrderAction(deps, bcOrderId, 'release');
}

/** A released BC order (and its lines) can't be changed: reopen it first (TestStatusOpen). */
export async function reopenBcOrder(deps: SyncDeps, bcOrderId: string): Promise<void> {
  const order = await deps.bc.get(BC.salesOrders, bcOrderId, ['id', 'status']);
  if (order?.values.status === BC_RELEASED) await bcOrderAction(deps, bcOrderId, 'reopen');
}
