import { z } from 'zod';
import { badRequest, Codes, DataverseError } from './errors';
import type { EntityMeta } from './metadata';
import type { StoredRow } from './store';
import { GUID, parseEntityRef, parseKeySegment } from './url';
import { errorResponse, json, type SimRequest, type SimResponse, type WebApi } from './webapi';

/**
 * The bulk operation messages (MicrosoftDocs/powerapps-docs `developer/data-platform/bulk-operations.md`,
 * `upsertmultiple.md`, Web API reference CreateMultiple / UpdateMultiple / UpsertMultiple):
 * `POST /<entityset>/Microsoft.Dynamics.CRM.<Message>` with `{"Targets":[…]}`, every target carrying `@odata.type`.
 *
 * - Standard tables: one transaction; any error rolls every row back and the request answers with that row's error
 *   ("All operations roll back on error").
 * - Pipelines merged: each target runs the single-row Create / Update (so their checks apply per row) and raises the
 *   Create / Update event per row; webhook steps fire per row after the commit, none when the request failed.
 * - Service protection: one request; execution time is the real time spent, plus `rowCostMs` per row when the
 *   control API sets it (`POST /_sim/limits {"rowCostMs": n}`) — the bulk-operations FAQ: "each bulk operation
 *   message counts as single request", but "you're more likely to hit the execution time limit".
 * - Size: no record-count limit on standard tables; a request over 116.85 MB fails ("Message size exceeded when
 *   sending context to Sandbox"). The doc says this happens only with a plug-in registered; the simulator refuses
 *   it always (stricter).
 */

export const BULK_MESSAGES = ['CreateMultiple', 'UpdateMultiple', 'UpsertMultiple'] as const;
export type BulkMessage = (typeof BULK_MESSAGES)[number];

const ACTION_PREFIX = 'Microsoft.Dynamics.CRM.';

/**
 * Tables whose entity reference lists the message (powerapps-docs `reference/entities/<table>.md`, "Messages").
 * `upsertmultiple.md`: UpsertMultiple is available for tables that support CreateMultiple and UpdateMultiple.
 * Tables not verified in the reference are refused (stricter): add one here only with its reference page.
 */
export const BULK_TABLES: ReadonlySet<string> = new Set(['account', 'contact', 'product', 'salesorderdetail']);

/** 116.85 MB ("Message size limits"). */
export const MAX_BULK_BODY_BYTES = Math.floor(116.85 * 1024 * 1024);

/** Rows a bulk response processed, for the per-row execution-time charge (read by the HTTP layer). */
const processedRows = new WeakMap<SimResponse, number>();

/** `Microsoft.Dynamics.CRM.CreateMultiple` → `CreateMultiple`; undefined for any other segment. */
export function bulkMessageOf(segment: string | undefined): BulkMessage | undefined {
  if (!segment?.startsWith(ACTION_PREFIX)) return undefined;
  const name = segment.slice(ACTION_PREFIX.length);
  return (BULK_MESSAGES as readonly string[]).includes(name) ? (name as BulkMessage) : undefined;
}

const bodySchema = z.object({ Targets: z.array(z.record(z.string(), z.unknown())) }).strict();

/** Runs one bulk message against `meta`'s entity set. */
export function bulkAction(api: WebApi, meta: EntityMeta, message: BulkMessage, req: SimRequest): SimResponse {
  if (req.method !== 'POST') {
    throw new DataverseError(405, Codes.invalidArgument, `The HTTP method '${req.method}' is not allowed on '${message}'; use POST.`);
  }
  if (!BULK_TABLES.has(meta.logicalName)) {
    // [INFERRED] the platform's wording for a message with no processor for the table.
    throw badRequest(
      `The '${message}' method does not support entities of type '${meta.logicalName}'. MessageProcessorCache returned MessageProcessor.Empty.`,
      Codes.invalidArgument,
    );
  }
  if (req.body !== undefined && Buffer.byteLength(req.body) > MAX_BULK_BODY_BYTES) {
    throw new DataverseError(400, Codes.invalidArgument, 'Message size exceeded when sending context to Sandbox.');
  }
  const targets = parseTargets(req.body, message);
  const expectedType = `${ACTION_PREFIX}${meta.logicalName}`;
  targets.forEach((t, i) => {
    const type = t['@odata.type'];
    if (type === undefined) {
      throw badRequest(`Targets[${i}] has no '@odata.type'. Each item in Targets must set "@odata.type": "${expectedType}".`);
    }
    if (typeof type !== 'string' || type.replace(/^#/, '') !== expectedType) {
      throw badRequest(
        `Targets[${i}] is of type '${String(type)}', but ${message} on '${meta.entitySetName}' takes '${expectedType}': all the records must be for the same table.`,
      );
    }
  });
  let rows = 0;
  try {
    const out = api.ops.atomic(() => {
      const ids: string[] = [];
      const results: Array<{ created: boolean; id: string }> = [];
      for (const target of targets) {
        rows++;
        if (message === 'CreateMultiple') ids.push(createRow(api, meta, target, req));
        else if (message === 'UpdateMultiple') {
          const id = existingId(api, meta, target) ?? missingRow(meta, target);
          api.ops.update(req.ctx, meta, id, bodyOf(target));
        } else {
          const id = existingId(api, meta, target);
          if (id !== undefined) {
            api.ops.update(req.ctx, meta, id, bodyOf(target));
            results.push({ created: false, id });
          } else results.push({ created: true, id: createRow(api, meta, target, req) });
        }
      }
      return { ids, results };
    });
    const res = respond(api, meta, message, out);
    processedRows.set(res, rows);
    return res;
  } catch (err) {
    // Answered here rather than thrown, so a failed request still charges the rows it processed.
    const res = errorResponse(err);
    processedRows.set(res, rows);
    return res;
  }
}

function parseTargets(raw: string | undefined, message: BulkMessage): Array<Record<string, unknown>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw ?? '');
  } catch {
    throw badRequest(`The ${message} request body is not valid JSON: expected {"Targets": [ … ]}.`);
  }
  const r = bodySchema.safeParse(parsed);
  if (!r.success) throw badRequest(`'Targets' should be the only parameter of ${message}: an array of records ({"Targets": [ … ]}).`);
  if (r.data.Targets.length === 0) throw badRequest(`${message} needs at least one record in 'Targets'.`, Codes.invalidArgument);
  return r.data.Targets;
}

/** The single-row Create, so every create check applies; a clashing primary key gets the bulk wording. */
function createRow(api: WebApi, meta: EntityMeta, target: Record<string, unknown>, req: SimRequest): string {
  const { '@odata.id': ref, ...body } = target;
  if (ref !== undefined) throw badRequest(`CreateMultiple targets are new records: '@odata.id' is not allowed (use '${meta.primaryId}').`);
  try {
    const row: StoredRow = api.ops.create(req.ctx, meta, body);
    return String(row[meta.primaryId]);
  } catch (err) {
    // bulk-operations.md, "Cannot insert duplicate key.": a record whose primary key is already used.
    if (err instanceof DataverseError && err.code === Codes.duplicateKey) {
      throw new DataverseError(err.status, err.code, 'Cannot insert duplicate key.');
    }
    throw err;
  }
}

/** The row a target names by its primary key column, or by `@odata.id` (`accounts(<id>)` or an alternate key). */
function existingId(api: WebApi, meta: EntityMeta, target: Record<string, unknown>): string | undefined {
  const pk = target[meta.primaryId];
  if (pk !== undefined) {
    if (typeof pk !== 'string' || !GUID.test(pk)) throw badRequest(`'${meta.primaryId}' must be a GUID.`);
    return api.ops.resolveKey(meta, { kind: 'id', id: pk.toLowerCase() });
  }
  const ref = target['@odata.id'];
  if (typeof ref === 'string') {
    const parsed = parseEntityRef(ref.startsWith('/') ? ref : `/${ref}`);
    if (!parsed || parsed.entitySet !== meta.entitySetName) {
      throw badRequest(`'@odata.id' '${ref}' does not name a ${meta.logicalName} record like '${meta.entitySetName}(<id>)'.`);
    }
    return api.ops.resolveKey(meta, parseKeySegment(parsed.key));
  }
  throw badRequest(`Each target needs '${meta.primaryId}' (or '@odata.id') to say which ${meta.logicalName} to change.`);
}

/** bulk-operations.md troubleshooting: "Contact With Ids = <guid> Do Not Exist". */
function missingRow(meta: EntityMeta, target: Record<string, unknown>): never {
  const label = meta.logicalName.charAt(0).toUpperCase() + meta.logicalName.slice(1);
  const id = String(target[meta.primaryId] ?? target['@odata.id']);
  throw new DataverseError(404, Codes.notFound, `${label} With Ids = ${id} Do Not Exist`);
}

function bodyOf(target: Record<string, unknown>): Record<string, unknown> {
  const { '@odata.id': _ref, ...body } = target;
  return body;
}

function respond(
  api: WebApi,
  meta: EntityMeta,
  message: BulkMessage,
  out: { ids: string[]; results: Array<{ created: boolean; id: string }> },
): SimResponse {
  const context = `${api.apiBase()}/$metadata#Microsoft.Dynamics.CRM.${message}Response`;
  if (message === 'CreateMultiple') return json(200, { '@odata.context': context, Ids: out.ids });
  if (message === 'UpdateMultiple') return { status: 204, headers: { 'OData-Version': '4.0' } };
  // [INFERRED] UpsertMultipleResponse.Results: one UpsertResponse per target (RecordCreated, Target reference).
  return json(200, {
    '@odata.context': context,
    Results: out.results.map((r) => ({
      RecordCreated: r.created,
      Target: { '@odata.type': `#${ACTION_PREFIX}${meta.logicalName}`, [meta.primaryId]: r.id },
    })),
  });
}

/** Rows a Web API request wrote, for the `rowCostMs` execution-time charge: a bulk message's targets, else 1 per write. */
export function writtenRows(method: string, path: string, res: SimResponse): number {
  const bulk = processedRows.get(res);
  if (bulk !== undefined) return bulk;
  if (method === 'GET' || path === '$batch' || res.status >= 400) return 0;
  return 1;
}
