import { z } from 'zod';
import { deterministicId, guidSchema, idKey, recordId } from '../domain/ids';
import type { VersionedRecord } from '../domain/ports';
import { CouplingConflictError } from '../domain/ports';
import { recordOutcome } from '../domain/sync/record-outcome';
import type { SyncDeps } from '../domain/sync/types';
import { SyncError, toSyncError } from '../errors';
import { orderLines, syncFirst } from './sales-order-lines';
import { BC, DV, eq, type LeadToCashSettings, lcyCodeOf, M, num, str } from './targets';

/**
 * "Create in Business Central" / "Automatically Create Sales Orders" (BC codeunit 5343 "CRM Sales Order to Sales
 * Order", bc-integration-reference 2.16): a submitted Dataverse sales order becomes a BC sales order for the
 * coupled customer, and the two are coupled under SALESORDER-ORDER.
 *
 * Exactly once, however often it is asked: the coupling is checked first; the BC order gets a SystemId derived
 * from the Sales order, so a crash between "created" and "coupled" finds the order it already made; and an order
 * created some other way is found by External Document No. + Your Reference before anything is created.
 */

/** The message on `ops-sales-orders` (and the admin endpoint's body). */
export const salesOrderRequestSchema = z.object({
  /** salesorderid of the Dataverse order. */
  salesOrderId: guidSchema,
  /** Follows the request through logs and the errors table. */
  correlationId: z.string().min(1).max(128).optional(),
});
export type SalesOrderRequest = z.infer<typeof salesOrderRequestSchema>;

export interface SalesOrderCreation {
  /**
   * `created`: a new BC order; `coupled`: an existing BC order was found and coupled; `unchanged`: already coupled;
   * `skipped`: already invoiced in BC, or (multi-company) the order is not this company's.
   */
  result: 'created' | 'coupled' | 'unchanged' | 'skipped';
  salesOrderId: string;
  bcOrderId?: string;
  bcOrderNumber?: string;
  message: string;
  /** Things BC would have asked about (an uncoupled unit fell back to the item's base unit…). */
  warnings: string[];
}

const ORDER_COLUMNS = [
  'salesorderid',
  'name',
  'ordernumber',
  'statecode',
  'description',
  'requestdeliveryby',
  'discountpercentage',
  'paymenttermscode',
  'freighttermscode',
  'shippingmethodcode',
  '_customerid_value',
  '_transactioncurrencyid_value',
  '_opportunityid_value',
  '_quoteid_value',
  'billto_line1',
  'billto_line2',
  'billto_postalcode',
  'billto_city',
  'billto_country',
  'billto_stateorprovince',
  'shipto_name',
  'shipto_line1',
  'shipto_line2',
  'shipto_postalcode',
  'shipto_city',
  'shipto_country',
  'shipto_stateorprovince',
];

/** Dataverse salesorder statecode Submitted. */
const SUBMITTED = 1;

export async function createBcSalesOrder(
  deps: SyncDeps,
  settings: LeadToCashSettings,
  request: SalesOrderRequest,
): Promise<SalesOrderCreation> {
  const salesOrderId = recordId(request.salesOrderId);
  const warnings: string[] = [];
  const company = deps.options.company;
  const order = await deps.dataverse.get(
    DV.salesorders,
    salesOrderId,
    company ? [...ORDER_COLUMNS, '_bcbi_companyid_value'] : ORDER_COLUMNS,
  );
  if (!order) throw new SyncError('DV.NOT_FOUND', `There is no Dynamics 365 Sales order with id ${salesOrderId}.`);
  const v = order.values;
  const label = `Dynamics 365 Sales order ${str(v.ordernumber) || salesOrderId}`;
  // Multi-company: BC's filter on documents is strict (only this company's orders; Sales users set the company),
  // so an order without a company is never created in every company at once.
  if (company && idKey(str(v._bcbi_companyid_value)) !== idKey(company.id ?? '')) {
    return {
      result: 'skipped',
      salesOrderId,
      message: `The ${label} belongs to ${v._bcbi_companyid_value ? 'another company' : 'no company'}; set its Company to this company to create it here.`,
      warnings,
    };
  }

  const existing = await deps.couplings.getByDataverseId(M.order, salesOrderId);
  if (existing) {
    const bcOrder = await deps.bc.get(BC.salesOrders, existing.bcId, ['id', 'number']);
    if (bcOrder) {
      return {
        result: 'unchanged',
        salesOrderId,
        bcOrderId: bcOrder.id,
        bcOrderNumber: str(bcOrder.values.number),
        message: `The ${label} is already coupled to sales order ${str(bcOrder.values.number)}.`,
        warnings,
      };
    }
    // The coupled BC order is gone: posted (then an invoice carries Your Reference) or deleted; BC then lets the
    // order be created again (2.14), which is what uncoupling here allows.
    await deps.couplings.uncouple(M.order, existing.bcId);
  }
  if (num(v.statecode) !== SUBMITTED) {
    throw new SyncError(
      'DV.VALIDATION',
      `The ${label} must be submitted (statecode ${SUBMITTED}) before it can be created in Business Central.`,
      {
        details: { statecode: v.statecode },
      },
    );
  }

  const externalDocumentNumber = str(v.name).slice(0, 35);
  const yourReference = str(v.ordernumber).slice(0, 35);
  if (yourReference) {
    const posted = await deps.bc.listPage(BC.postedSalesInvoices, {
      filter: eq('yourReference', yourReference),
      select: ['id', 'number'],
      pageSize: 1,
    });
    const invoice = posted.items[0];
    if (invoice) {
      return {
        result: 'skipped',
        salesOrderId,
        message: `The ${label} was already invoiced in Business Central (posted invoice ${str(invoice.values.number)} has Your Reference ${yourReference}).`,
        warnings,
      };
    }
  }

  // Crash recovery and orders made by other means: an uncoupled BC order that is this one.
  const bcId = deterministicId(M.order, salesOrderId);
  let found = await deps.bc.get(BC.salesOrders, bcId, ['id', 'number']);
  if (!found && externalDocumentNumber && yourReference) {
    const page = await deps.bc.listPage(BC.salesOrders, {
      filter: `${eq('externalDocumentNumber', externalDocumentNumber)} and ${eq('yourReference', yourReference)}`,
      select: ['id', 'number'],
      pageSize: 2,
    });
    const candidates: VersionedRecord[] = [];
    for (const c of page.items) if (!(await deps.couplings.getByBcId(M.order, c.id))) candidates.push(c);
    if (candidates.length === 1) found = candidates[0];
  }
  if (found) {
    await couple(deps, found, order);
    return {
      result: 'coupled',
      salesOrderId,
      bcOrderId: found.id,
      bcOrderNumber: str(found.values.number),
      message: `The ${label} was coupled to the existing sales order ${str(found.values.number)}.`,
      warnings,
    };
  }

  const customerNumber = await customerOf(deps, order, label);
  const header: Record<string, unknown> = {
    id: bcId,
    customerNumber,
    externalDocumentNumber,
    yourReference,
  };
  const currencyCode = await currencyOf(deps, str(v._transactioncurrencyid_value), label);
  if (currencyCode !== undefined) header.currencyCode = currencyCode;
  const requested = str(v.requestdeliveryby).slice(0, 10);
  if (requested) header.requestedDeliveryDate = requested;
  if (typeof v.discountpercentage === 'number' && v.discountpercentage > 0) header.paymentDiscountPercent = v.discountpercentage;
  if (str(v.description)) header.workDescription = str(v.description).slice(0, 2048);
  addAddress(header, v, 'billto', 'billTo', false);
  addAddress(header, v, 'shipto', 'shipTo', true);
  await addOptions(deps, header, v);

  const lines = await orderLines(deps, settings, salesOrderId, label, warnings);
  let created: VersionedRecord;
  try {
    // Deep insert: the header and every line in one BC transaction, so a half-made order never exists.
    created = await deps.bc.create(BC.salesOrders, { ...header, salesOrderLines: lines });
  } catch (err) {
    // A concurrent worker created it a moment ago (same SystemId): use that one.
    const again = await deps.bc.get(BC.salesOrders, bcId, ['id', 'number']);
    if (!again) throw err;
    created = again;
  }
  try {
    await couple(deps, created, order);
  } catch (err) {
    if (!(err instanceof CouplingConflictError)) throw err;
  }
  return {
    result: 'created',
    salesOrderId,
    bcOrderId: created.id,
    bcOrderNumber: str(created.values.number),
    message: `Sales order ${str(created.values.number)} was created in Business Central from the ${label}.`,
    warnings,
  };
}

async function couple(deps: SyncDeps, bcOrder: VersionedRecord, order: VersionedRecord): Promise<void> {
  await deps.couplings.couple({
    mapping: M.order,
    bcId: recordId(bcOrder.id),
    dataverseId: recordId(order.id),
    bcModifiedOn: bcOrder.modifiedOn,
    dataverseModifiedOn: order.modifiedOn,
    lastResult: 'inserted',
    lastSyncedAt: deps.clock.now().toISOString(),
    environment: deps.options.environment,
  });
}

/**
 * The customer coupled to the order's account (or to the parent account of a contact). An uncoupled account is
 * synchronized first (CUSTOMER, Dataverse → BC: matched by the coupling criteria, or created); if that does not
 * couple it, the error names the account.
 */
async function customerOf(deps: SyncDeps, order: VersionedRecord, label: string): Promise<string> {
  let accountId = idKey(str(order.values._customerid_value));
  if (!accountId) throw new SyncError('DV.VALIDATION', `There is no potential customer defined on the ${label}.`);
  const contact = await deps.dataverse.get(DV.contacts, accountId, ['contactid', '_parentcustomerid_value']).catch(() => undefined);
  if (contact) {
    accountId = idKey(str(contact.values._parentcustomerid_value));
    if (!accountId)
      throw new SyncError('DV.VALIDATION', `The contact on the ${label} has no parent account, so there is no customer to sell to.`);
  }
  let coupling = await deps.couplings.getByDataverseId(M.customer, accountId);
  if (!coupling) {
    await syncFirst(deps, M.customer, accountId);
    coupling = await deps.couplings.getByDataverseId(M.customer, accountId);
  }
  const account = coupling ? undefined : await deps.dataverse.get(DV.accounts, accountId, ['accountid', 'name']);
  if (!coupling) {
    throw new SyncError(
      'DEP.PARENT_NOT_COUPLED',
      `There is no customer coupled to account '${str(account?.values.name) || accountId}' of the ${label}. Couple or synchronize the account (CUSTOMER) first, then retry.`,
      { details: { mapping: M.customer, dataverseId: accountId } },
    );
  }
  const customer = await deps.bc.get(BC.customers, coupling.bcId, ['id', 'number']);
  if (!customer) throw new SyncError('BC.NOT_FOUND', `The customer coupled to account ${accountId} no longer exists in Business Central.`);
  return str(customer.values.number);
}

/** BC currency code of a transactioncurrency: LCY by ISO code, else the coupled BC currency, else one with that code. */
async function currencyOf(deps: SyncDeps, currencyId: string, label: string): Promise<string | undefined> {
  if (!currencyId) return undefined;
  const lcy = await lcyCodeOf(deps);
  const cur = await deps.dataverse.get(DV.transactioncurrencies, currencyId, ['transactioncurrencyid', 'isocurrencycode']);
  const iso = str(cur?.values.isocurrencycode);
  // BC shows LCY documents with the LCY code; sending it (not blank) keeps the customer's own currency from winning.
  if (iso && lcy && iso.toUpperCase() === lcy.toUpperCase()) return lcy;
  const coupling = await deps.couplings.getByDataverseId(M.currency, idKey(currencyId));
  if (coupling) {
    const bcCurrency = await deps.bc.get(BC.currencies, coupling.bcId, ['id', 'code']);
    if (bcCurrency) return str(bcCurrency.values.code);
  }
  if (iso) {
    const page = await deps.bc.listPage(BC.currencies, { filter: eq('code', iso), select: ['id', 'code'], pageSize: 1 });
    const c = page.items[0];
    if (c) return str(c.values.code);
  }
  throw new SyncError(
    'DEP.PARENT_NOT_COUPLED',
    `The currency '${iso || currencyId}' of the ${label} does not exist in Business Central. Add it to Currencies (and couple CURRENCY), then retry.`,
    { details: { mapping: M.currency, dataverseId: currencyId } },
  );
}

const ADDRESS: Array<[string, string, number]> = [
  ['line1', 'AddressLine1', 100],
  ['line2', 'AddressLine2', 50],
  ['postalcode', 'PostCode', 20],
  ['city', 'City', 30],
  ['country', 'Country', 10],
  ['stateorprovince', 'State', 30],
];

/** BC copies the address only when at least one of its fields is filled; otherwise the customer's address stays. */
function addAddress(header: Record<string, unknown>, v: Record<string, unknown>, dvPrefix: string, bcPrefix: string, withName: boolean) {
  const parts = ADDRESS.map(
    ([dvSuffix, bcSuffix, max]) => [`${bcPrefix}${bcSuffix}`, str(v[`${dvPrefix}_${dvSuffix}`]).slice(0, max)] as const,
  );
  if (!parts.some(([, value]) => value !== '')) return;
  for (const [k, value] of parts) header[k] = value;
  if (withName && str(v[`${dvPrefix}_name`])) header[`${bcPrefix}Name`] = str(v[`${dvPrefix}_name`]).slice(0, 100);
}

/** Payment terms, shipment method and shipping agent through their option couplings; uncoupled options keep BC's customer defaults. */
async function addOptions(deps: SyncDeps, header: Record<string, unknown>, v: Record<string, unknown>): Promise<void> {
  const bcIdOf = async (mapping: string, option: unknown): Promise<string | undefined> => {
    if (typeof option !== 'number') return undefined;
    return (await deps.couplings.getByDataverseId(mapping, String(option)))?.bcId;
  };
  const terms = await bcIdOf('PAYMENT TERMS', v.paymenttermscode);
  if (terms) header.paymentTermsId = terms;
  const method = await bcIdOf('SHIPMENT METHOD', v.freighttermscode);
  if (method) header.shipmentMethodId = method;
  const agent = await bcIdOf('SHIPPING AGENT', v.shippingmethodcode);
  if (agent) {
    const rec = await deps.bc.get(BC.shippingAgents, agent, ['id', 'code']);
    if (rec) header.shippingAgentCode = str(rec.values.code);
  }
}

/**
 * Runs one creation request and records a data/configuration failure in the sync errors table (SALESORDER-ORDER),
 * as BC leaves a failed order for the next run. Transient failures are thrown for the caller to retry.
 */
export async function handleSalesOrderRequest(
  deps: SyncDeps,
  settings: LeadToCashSettings,
  request: SalesOrderRequest,
): Promise<SalesOrderCreation | { result: 'failed'; salesOrderId: string; code: string; message: string }> {
  try {
    const done = await createBcSalesOrder(deps, settings, request);
    if (done.result === 'created' || done.result === 'coupled') {
      // No coupling before: the order's earlier failure, if any, is resolved.
      await recordOutcome(deps, {
        result: done.result === 'created' ? 'inserted' : 'coupled',
        mapping: M.order,
        bcId: done.bcOrderId,
        dataverseId: done.salesOrderId,
        book: { direction: 'FromIntegrationTable', correlationId: request.correlationId, mayHaveOpenError: true },
      });
    }
    return done;
  } catch (err) {
    const error = toSyncError(err);
    if (error.transient) throw error;
    await deps.errors.record({
      mapping: M.order,
      dataverseId: request.salesOrderId,
      direction: 'FromIntegrationTable',
      code: error.code,
      category: error.category,
      message: error.message,
      correlationId: request.correlationId,
      values: error.details,
    });
    await deps.counters.increment(M.order, 'failed');
    return { result: 'failed', salesOrderId: request.salesOrderId, code: error.code, message: error.message };
  }
}

/**
 * The "Auto Create Sales Orders" job (BC codeunit 5349): submitted Sales orders not coupled yet. Each one is then
 * created on its own (one message each), so one bad order never holds up the others.
 */
export async function* submittedUncoupledOrders(deps: SyncDeps): AsyncIterable<string[]> {
  const company = deps.options.company;
  // Multi-company: only this company's orders (BC's strict document filter); none while the company is unknown.
  const filter = company
    ? `statecode eq ${SUBMITTED} and _bcbi_companyid_value eq ${company.id ?? '00000000-0000-0000-0000-000000000000'}`
    : `statecode eq ${SUBMITTED}`;
  for await (const page of deps.dataverse.list(DV.salesorders, { filter, select: ['salesorderid'] })) {
    const ids: string[] = [];
    for (const o of page) if (!(await deps.couplings.getByDataverseId(M.order, o.id.toLowerCase()))) ids.push(o.id.toLowerCase());
    if (ids.length > 0) yield ids;
  }
}

/** One message of the `ops-sales-orders` queue: "create this Sales order in BC". */
/** A request and its message id on `ops-sales-orders`. */
export interface SalesOrderMessage {
  item: SalesOrderRequest;
  messageId: string;
}

/**
 * Queues every submitted, uncoupled Sales order, one message each (so one bad order never holds up the others).
 * The message id is the order's: a run overlapping another inside the duplicate-detection window queues it once,
 * and the worker skips an order already coupled. Returns how many were queued.
 */
export async function queueSubmittedOrders(deps: SyncDeps, send: (messages: SalesOrderMessage[]) => Promise<void>): Promise<number> {
  let queued = 0;
  for await (const ids of submittedUncoupledOrders(deps)) {
    await send(
      ids.map((salesOrderId) => ({
        item: { salesOrderId, correlationId: `auto-create-${salesOrderId}` },
        messageId: `salesorder|${salesOrderId}`,
      })),
    );
    queued += ids.length;
  }
  return queued;
}
