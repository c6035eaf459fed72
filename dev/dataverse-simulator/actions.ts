import { z } from 'zod';
import { badRequest, Codes, DataverseError, notFound } from './errors';
import type { EntityMeta } from './metadata';
import type { CallerContext, Operations } from './operations';
import { parseEntityRef, parseKeySegment } from './url';

/**
 * The Sales messages that change a record's state where a plain Update may not (the entity references' Messages
 * tables): FulfillSalesOrder (unbound, `POST FulfillSalesOrder`) and PublishProductHierarchy (bound to a product
 * family, `POST products(<id>)/Microsoft.Dynamics.CRM.PublishProductHierarchy`).
 */
export const UNBOUND_ACTIONS = new Set(['FulfillSalesOrder']);
export const BOUND_ACTIONS = new Set(['Microsoft.Dynamics.CRM.PublishProductHierarchy']);

const fulfillSchema = z.object({
  OrderClose: z.looseObject({ 'salesorderid@odata.bind': z.string() }),
  Status: z.number().int(),
});

/** FulfillSalesOrder: closes the order as Fulfilled (statecode 3) with the given status (100001 Complete, 100002 Partial). */
export function fulfillSalesOrder(ops: Operations, ctx: CallerContext, body: unknown): void {
  const parsed = fulfillSchema.safeParse(body);
  if (!parsed.success) {
    throw badRequest(
      'FulfillSalesOrder needs {"OrderClose": {"salesorderid@odata.bind": "/salesorders(<id>)", …}, "Status": <statuscode>}.',
    );
  }
  const ref = parseEntityRef(parsed.data.OrderClose['salesorderid@odata.bind']);
  const meta = ops.catalog.bySetName.get(ref?.entitySet ?? '');
  if (!ref || meta?.logicalName !== 'salesorder') throw badRequest("OrderClose's salesorderid@odata.bind must be '/salesorders(<id>)'.");
  const id = ops.resolveKey(meta, parseKeySegment(ref.key));
  if (id === undefined) throw notFound('salesorder', ref.key);
  const status = meta.attributes.get('statuscode')?.options?.find((o) => o.value === parsed.data.Status);
  if (status?.state !== 3) {
    throw new DataverseError(
      400,
      Codes.invalidArgument,
      `${parsed.data.Status} is not a valid status code for state code SalesOrderState.Fulfilled.`,
    );
  }
  ops.update(ctx, meta, id, { statecode: 3, statuscode: parsed.data.Status }, { viaMessage: 'FulfillSalesOrder' });
}

/** PublishProductHierarchy: only on a product family (productstructure 2); a single product is published by SetState. */
export function publishProductHierarchy(ops: Operations, ctx: CallerContext, meta: EntityMeta, id: string): void {
  if (meta.logicalName !== 'product') throw badRequest('PublishProductHierarchy is bound to product.');
  const row = ops.store.get('product', id);
  if (!row) throw notFound('product', id);
  if (row.productstructure !== 2) {
    throw new DataverseError(
      400,
      Codes.invalidArgument,
      'PublishProductHierarchy applies to a product family only; publish a single product by setting statecode 0 (SetState).',
    );
  }
  ops.update(ctx, meta, id, { statecode: 0, statuscode: 1 }, { viaMessage: 'PublishProductHierarchy' });
}
