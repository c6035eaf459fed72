import { newChangeEvent } from '../domain/change-event';
import { syncRecord } from '../domain/sync/sync-record';
import type { SyncDeps } from '../domain/sync/types';
import { SyncError } from '../errors';
import { BC, DV, eq, type LeadToCashSettings, listAll, M, num, str } from './targets';

/** A submitted Sales order's lines as BC Sales Lines (BC codeunit 5343's line part): products, units, write-ins, comments. */

/** BC Sales Line Description length; longer texts continue on Comment lines. */
export const BC_DESCRIPTION_LENGTH = 100;

const LINE_COLUMNS = [
  'salesorderdetailid',
  '_productid_value',
  '_uomid_value',
  'productdescription',
  'description',
  'quantity',
  'priceperunit',
  'manualdiscountamount',
  'volumediscountamount',
  'sequencenumber',
  'lineitemnumber',
];

/** Synchronizes one Dataverse row to BC as a prerequisite; a failure is recorded by the engine and named by the caller. */
export async function syncFirst(deps: SyncDeps, mapping: string, dataverseId: string): Promise<void> {
  await syncRecord(
    newChangeEvent({
      mapping,
      source: 'dataverse',
      recordId: dataverseId,
      origin: 'manual',
      correlationId: `lead-to-cash-${dataverseId}`,
      observedAt: deps.clock.now(),
      direction: 'FromIntegrationTable',
    }),
    deps,
  );
}

/** The order's lines as BC Sales Lines, in Sales' sequence, with Comment lines for long descriptions. */
export async function orderLines(
  deps: SyncDeps,
  settings: LeadToCashSettings,
  salesOrderId: string,
  label: string,
  warnings: string[],
): Promise<Array<Record<string, unknown>>> {
  const details = await listAll(deps.dataverse, DV.salesorderdetails, {
    filter: `_salesorderid_value eq ${salesOrderId}`,
    select: LINE_COLUMNS,
  });
  details.sort(
    (a, b) => num(a.values.sequencenumber) - num(b.values.sequencenumber) || num(a.values.lineitemnumber) - num(b.values.lineitemnumber),
  );
  const out: Array<Record<string, unknown>> = [];
  for (const d of details) {
    const v = d.values;
    const productId = str(v._productid_value).toLowerCase();
    const line: Record<string, unknown> = {};
    if (productId) {
      const { type, number } = await productOf(deps, productId, label);
      line.lineType = type;
      line.lineObjectNumber = number;
      const unit = await unitOf(deps, type, str(v._uomid_value));
      if (unit) line.unitOfMeasureCode = unit;
      else if (v._uomid_value)
        warnings.push(
          `The unit of line ${num(v.lineitemnumber) || out.length + 1} is not coupled; the ${type.toLowerCase()}'s base unit is used.`,
        );
    } else {
      line.lineType = settings.WRITE_IN_PRODUCT_TYPE;
      line.lineObjectNumber = await writeInNumber(deps, settings, label);
    }
    if (typeof v.quantity === 'number') line.quantity = v.quantity;
    if (typeof v.priceperunit === 'number') line.unitPrice = v.priceperunit;
    const discount = num(v.quantity) * num(v.volumediscountamount) + num(v.manualdiscountamount);
    if (discount > 0) line.discountAmount = Math.round(discount * 100) / 100;
    const text = str(v.description) || str(v.productdescription);
    if (text) line.description = text.slice(0, BC_DESCRIPTION_LENGTH);
    out.push(line);
    if (text.length > BC_DESCRIPTION_LENGTH) for (const chunk of commentChunks(text)) out.push({ lineType: 'Comment', description: chunk });
  }
  return out;
}

/** The full text in 100-character pieces, one run per text line of the memo (BC CreateExtendedDescriptionOrderLines). */
export function commentChunks(text: string, size = BC_DESCRIPTION_LENGTH): string[] {
  const chunks: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const t = line.trimEnd();
    for (let i = 0; i < t.length; i += size) chunks.push(t.slice(i, i + size));
  }
  return chunks;
}

/** The item or resource coupled to a product (synchronized first when not coupled), or an error naming the product. */
async function productOf(deps: SyncDeps, productId: string, label: string): Promise<{ type: 'Item' | 'Resource'; number: string }> {
  const find = async () => {
    const item = await deps.couplings.getByDataverseId(M.item, productId);
    if (item) return { type: 'Item' as const, bcId: item.bcId };
    const resource = await deps.couplings.getByDataverseId(M.resource, productId);
    if (resource) return { type: 'Resource' as const, bcId: resource.bcId };
    return undefined;
  };
  let coupled = await find();
  const product = coupled
    ? undefined
    : await deps.dataverse.get(DV.products, productId, ['productid', 'name', 'productnumber', 'producttypecode', 'statecode']);
  if (!coupled && product) {
    if (num(product.values.statecode) !== 0) {
      throw new SyncError('DV.VALIDATION', `Product '${str(product.values.name)}' on the ${label} is not active.`);
    }
    await syncFirst(deps, num(product.values.producttypecode) === 3 ? M.resource : M.item, productId);
    coupled = await find();
  }
  if (!coupled) {
    throw new SyncError(
      'DEP.PARENT_NOT_COUPLED',
      `Product '${str(product?.values.name) || productId}' (${str(product?.values.productnumber) || 'no number'}) on the ${label} is not coupled to an item or resource. Couple or synchronize it first, then retry.`,
      { details: { mapping: M.item, dataverseId: productId } },
    );
  }
  const record = await deps.bc.get(coupled.type === 'Item' ? BC.items : BC.resources, coupled.bcId, ['id', 'number']);
  if (!record)
    throw new SyncError(
      'BC.NOT_FOUND',
      `The ${coupled.type.toLowerCase()} coupled to product ${productId} no longer exists in Business Central.`,
    );
  return { type: coupled.type, number: str(record.values.number) };
}

/** Unit of measure code of a coupled uom (unit groups on: ITEM UOM / RESOURCE UOM; off: UNIT OF MEASURE). */
async function unitOf(deps: SyncDeps, type: 'Item' | 'Resource', uomId: string): Promise<string | undefined> {
  if (!uomId) return undefined;
  const mapping = type === 'Item' ? 'ITEM UOM' : 'RESOURCE UOM';
  const c = await deps.couplings.getByDataverseId(mapping, uomId.toLowerCase());
  if (c) {
    const rec = await deps.bc.get(type === 'Item' ? BC.itemUnitsOfMeasure : BC.resourceUnitsOfMeasure, c.bcId, ['id', 'code']);
    if (rec) return str(rec.values.code);
  }
  const legacy = await deps.couplings.getByDataverseId('UNIT OF MEASURE', uomId.toLowerCase());
  if (legacy) {
    const rec = await deps.bc.get({ side: 'bc', kind: 'apiV2', entitySet: 'unitsOfMeasure' }, legacy.bcId, ['id', 'code']);
    if (rec) return str(rec.values.code);
  }
  return undefined;
}

/** The S&R "Write-in Product No." must exist and must not be coupled to a product (rule 9). */
async function writeInNumber(deps: SyncDeps, settings: LeadToCashSettings, label: string): Promise<string> {
  const no = settings.WRITE_IN_PRODUCT_NO;
  const target = settings.WRITE_IN_PRODUCT_TYPE === 'Item' ? BC.items : BC.resources;
  const page = await deps.bc.listPage(target, { filter: eq('number', no), select: ['id', 'number'], pageSize: 1 });
  const rec = page.items[0];
  if (!rec) {
    throw new SyncError(
      'MAP.INVALID',
      `The ${label} contains a write-in product. ${settings.WRITE_IN_PRODUCT_TYPE} '${no}' (WRITE_IN_PRODUCT_TYPE / WRITE_IN_PRODUCT_NO) does not exist in Business Central: create it for that purpose (don't couple it) or choose another one.`,
    );
  }
  const coupled = await deps.couplings.getByBcId(settings.WRITE_IN_PRODUCT_TYPE === 'Item' ? M.item : M.resource, rec.id);
  if (coupled) {
    throw new SyncError(
      'MAP.INVALID',
      `The write-in ${settings.WRITE_IN_PRODUCT_TYPE.toLowerCase()} '${no}' is coupled to a product. You can't map write-ins to items or resources that are coupled with a product: uncouple it or choose another one.`,
    );
  }
  return str(rec.values.number);
}
