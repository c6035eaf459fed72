import { randomUUID } from 'node:crypto';
import { type ChangeEvent, newChangeEvent } from '../domain/change-event';
import { dataverseGuidSchema, idKey, NIL_GUID } from '../domain/ids';
import { discriminatingColumns, numericClauses } from '../domain/mappings/discriminators';
import type { TableMapping } from '../domain/mappings/schema';
import { toSyncError } from '../errors';
import { correlationIdOf, issuesText } from './bc-webhook';
import { knownValues, type RemoteExecutionContext, remoteExecutionContextSchema, targetEntity, wcfDateToIso } from './dataverse-context';
import { type CaptureDeps, withinDeadline } from './deps';
import { json, parseJsonBody, problem, type WebhookRequest, type WebhookResponse } from './http';
import { mappingsForDataverseTable } from './mapping-lookup';
import { safeEqual } from './secrets';

/**
 * `POST /api/webhooks/dataverse`: Dataverse webhook steps (api-contracts.md A) into change events.
 *
 * Dataverse treats any non-2xx as a failed system job and retries once only on 502/503/504 (A.1), so a transient
 * failure is 503 and 4xx means the request is not from our steps (or not a change we registered).
 */

/** Largest accepted body: Dataverse trims contexts above 256 KB (A.2); twice that bounds memory per request. */
export const DATAVERSE_WEBHOOK_MAX_BYTES = 512 * 1024;

/** Header carrying the key with `HttpHeader` auth (authtype 5). */
export const DATAVERSE_KEY_HEADER = 'x-dataverse-webhook-key';
/** Query parameter carrying the key with `HttpQueryString` auth (authtype 6). `WebhookKey` (4) uses `code`. */
export const DATAVERSE_KEY_QUERY = 'webhookkey';

const MESSAGES = { Create: 'created', Update: 'updated', Delete: 'deleted' } as const;

export interface DataverseWebhookResult {
  accepted: number;
  /** Set when the change was made by the integration user: our own write coming back, not enqueued. */
  echo?: boolean;
  /** Mappings the event went to. */
  mappings: string[];
  /** The payload had no entity data (over 256 KB); the handler re-reads the row. */
  sizeExceeded?: boolean;
}

/** Whether the request carries the configured key in one of the three ways Dataverse can send it. */
export function dataverseKeyPresented(req: WebhookRequest, key: string): boolean {
  const presented = [req.query.code, req.headers[DATAVERSE_KEY_HEADER], req.query[DATAVERSE_KEY_QUERY]].filter(
    (v): v is string => typeof v === 'string' && v.length > 0,
  );
  // Check every presented value (no early exit) so timing does not tell which one was tried.
  let ok = false;
  for (const p of presented) ok = safeEqual(p, key) || ok;
  return ok;
}

export async function handleDataverseWebhook(deps: CaptureDeps, req: WebhookRequest): Promise<WebhookResponse> {
  if (req.method !== 'POST') return problem(400, `${req.method} is not accepted; Dataverse webhooks POST the execution context`);
  if (!dataverseKeyPresented(req, deps.settings.DATAVERSE_WEBHOOK_KEY))
    return problem(
      401,
      `the webhook key is missing or wrong (send it as ?code=, the ${DATAVERSE_KEY_HEADER} header or ?${DATAVERSE_KEY_QUERY}=)`,
    );
  const parsedJson = parseJsonBody(req.body);
  if (!parsedJson.ok) return problem(400, parsedJson.message);
  const parsed = remoteExecutionContextSchema.safeParse(parsedJson.value);
  if (!parsed.success) return problem(400, `not a Dataverse RemoteExecutionContext: ${issuesText(parsed.error)}`);
  const ctx = parsed.data;
  const changeType = Object.hasOwn(MESSAGES, ctx.MessageName) ? MESSAGES[ctx.MessageName as keyof typeof MESSAGES] : undefined;
  if (!changeType)
    return problem(
      400,
      `message ${JSON.stringify(ctx.MessageName.slice(0, 60))} is not captured; only Create, Update and Delete steps are registered`,
    );
  const headerEntity = req.headers['x-ms-dynamics-entity-name'];
  if (headerEntity !== undefined && headerEntity.toLowerCase() !== ctx.PrimaryEntityName)
    return problem(400, `x-ms-dynamics-entity-name ${JSON.stringify(headerEntity.slice(0, 60))} does not match PrimaryEntityName`);
  const sizeExceeded = req.headers['x-ms-dynamics-msg-size-exceeded'] !== undefined;

  let integrationUser: string;
  let mappings: TableMapping[];
  try {
    integrationUser = idKey(await deps.integrationUserId());
    mappings = await deps.mappings();
  } catch (err) {
    deps.log('error', `Dataverse webhook: answering 503 (integration user or mappings unavailable): ${toSyncError(err).message}`);
    return problem(503, 'the integration user or the mappings could not be read; retry later', { 'Retry-After': '60' });
  }
  // Our own writes come back as webhooks too; syncing them again would loop (peers-style-perf.md 1.9 #7).
  // The context's ids are already in the one spelling (dataverseGuidSchema).
  if (ctx.InitiatingUserId === integrationUser || ctx.UserId === integrationUser)
    return json(200, { accepted: 0, echo: true, mappings: [] } satisfies DataverseWebhookResult);

  const candidates = mappingsForDataverseTable(mappings, ctx.PrimaryEntityName);
  if (candidates.length === 0) {
    deps.log(
      'warn',
      `Dataverse webhook: no enabled table mapping reads ${ctx.PrimaryEntityName}; the step is stale (registration removes it)`,
    );
    return json(200, { accepted: 0, mappings: [] } satisfies DataverseWebhookResult);
  }
  const targets = sizeExceeded ? candidates : routeByCompany(ctx, routeByFilter(ctx, candidates), deps.companyId);
  const correlationId = correlationIdOf(req.headers, 'x-ms-correlation-request-id');
  const modifiedOn =
    (changeType !== 'deleted' ? wcfDateToIso(targetEntity(ctx)?.Attributes.find((a) => a.key === 'modifiedon')?.value) : undefined) ??
    wcfDateToIso(ctx.OperationCreatedOn);
  const observedAt = deps.clock.now().toISOString();
  const identity = notificationIdentity(ctx);
  const events: ChangeEvent[] = targets.map((m) =>
    newChangeEvent({
      mapping: m.name,
      source: 'dataverse',
      recordId: ctx.PrimaryEntityId,
      changeType,
      ...(modifiedOn ? { modifiedOn } : {}),
      ...identity,
      origin: 'webhook',
      correlationId: ctx.CorrelationId && /^[A-Za-z0-9._:-]{1,128}$/.test(ctx.CorrelationId) ? ctx.CorrelationId : correlationId,
      observedAt,
    }),
  );
  try {
    await withinDeadline(`${events.length} change event(s)`, deps.publishTimeoutMs, () => deps.publish(events));
  } catch (err) {
    deps.log('error', `Dataverse webhook: answering 503 so the system job retries: ${toSyncError(err).message}`);
    return problem(503, 'the change could not be queued; retry later', { 'Retry-After': '60' });
  }
  return json(202, {
    accepted: events.length,
    mappings: targets.map((m) => m.name),
    ...(sizeExceeded ? { sizeExceeded } : {}),
  } satisfies DataverseWebhookResult);
}

const operationIdSchema = dataverseGuidSchema.refine((s) => s !== NIL_GUID);

/**
 * What tells this write apart from every other write of the row, for the message id (`changeEventMessageId`):
 * `modifiedon` has whole seconds, so two edits within one second would share an id and Service Bus duplicate
 * detection would drop the second for good. The row's `versionnumber` when the context carries it (a Target or
 * image column); the system job's `OperationId` (the `AsyncOperationId` of the related system job, per the SDK's
 * RemoteExecutionContext.OperationId reference), which a redelivery of the same job keeps (so a true duplicate
 * is still dropped) and the next write does not share; failing both, a nonce: a possible duplicate is cheap (the
 * handler reads current state), a dropped change is not.
 */
export function notificationIdentity(ctx: RemoteExecutionContext): Pick<ChangeEvent, 'rowVersion' | 'notificationId' | 'nonce'> {
  // The Target and post images show the row after this write; a pre image would show the version before it.
  const after = [targetEntity(ctx), ...(ctx.PostEntityImages ?? []).map((i) => i.value)];
  const version = after
    .map((e) => e?.Attributes.find((a) => a.key === 'versionnumber')?.value)
    .find((v) => typeof v === 'number' || (typeof v === 'string' && v !== ''));
  const operation = operationIdSchema.safeParse((ctx as { OperationId?: unknown }).OperationId);
  if (version !== undefined) return { rowVersion: String(version), ...(operation.success ? { notificationId: operation.data } : {}) };
  if (operation.success) return { notificationId: operation.data };
  return { nonce: randomUUID() };
}

/**
 * Multi-company: a mapping with BC's company clause (`_bcbi_companyid_value eq {companyId} or … eq null`) is left
 * out when every value the context carries for `bcbi_companyid` (Target, post and pre images: the steps of a
 * multi-company installation register the column in their images) is another company's. A row without a company,
 * or one that moved from or to this company, still reaches it; with no value known the handler's filter decides.
 */
export function routeByCompany(ctx: RemoteExecutionContext, candidates: TableMapping[], companyId: string | undefined): TableMapping[] {
  if (!companyId) return candidates;
  const values = knownValues(ctx, 'bcbi_companyid');
  const foreign = values.length > 0 && values.every((v) => typeof v === 'string' && idKey(v) !== idKey(companyId));
  if (!foreign) return candidates;
  return candidates.filter((m) => !m.integrationTableFilter.includes('_bcbi_companyid_value'));
}

/**
 * Several mappings can read one table (account → CUSTOMER and VENDOR, told apart by `customertypecode`). Only the
 * columns that tell the candidates apart count: a `<column> eq <number>` clause that every candidate's integration
 * table filter has, with different numbers. A mapping is left out when every value the context carries for such
 * a column (Target, post and pre images, so a row that moved out of a mapping still reaches it) contradicts its
 * clause; with no value known the event goes to every candidate and the handler's filters decide. Clauses shared
 * by all (`statecode eq 0`) are the handler's business: a deactivation must still reach it.
 */
export function routeByFilter(ctx: RemoteExecutionContext, candidates: TableMapping[]): TableMapping[] {
  if (candidates.length < 2) return candidates;
  const clauses = candidates.map(numericClauses);
  const discriminating = discriminatingColumns(candidates);
  return candidates.filter((_, i) => {
    for (const column of discriminating) {
      const wanted = clauses[i]?.get(column);
      const values = knownValues(ctx, column);
      if (values.length > 0 && !values.some((v) => Number(v) === wanted)) return false;
    }
    return true;
  });
}
