import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';
import { type ChangeEvent, newChangeEvent } from '../domain/change-event';
import { idKey, isGuid } from '../domain/ids';
import { toSyncError } from '../errors';
import type { CollectionWork } from './bc-collection';
import { parseBcResource } from './bc-resource';
import { type CaptureDeps, withinDeadline } from './deps';
import { json, parseJsonBody, problem, text, type WebhookRequest, type WebhookResponse } from './http';
import { customApiGroup, mappingsForBcResource } from './mapping-lookup';
import { clientStateFor, safeEqual } from './secrets';

/**
 * `POST /api/webhooks/bc`: BC webhook notifications (api-contracts.md D) into change events.
 *
 * Status rules (D.5): BC retries on 408/429/5xx and *deletes the subscription* on any other non-2xx, so a
 * transient failure is always 503, and 4xx is reserved for requests that are not from our subscriptions.
 */

/**
 * Largest accepted body. BC sends at most 1,000 single-record items per POST (more become one `collection`
 * item), about 400 bytes each, so 1 MiB leaves room while bounding memory per request.
 */
export const BC_WEBHOOK_MAX_BYTES = 1024 * 1024;

/** Longest validation token echoed; BC's are 32 hex characters, the guideline allows any opaque string. */
export const MAX_VALIDATION_TOKEN_LENGTH = 1024;

const isoInstant = z.iso.datetime({ offset: true });

/** One notification (D.4), in BC's property order. Unknown extra properties are tolerated (BC may add some). */
export const bcNotificationItemSchema = z.looseObject({
  subscriptionId: z.string().min(1).max(128),
  clientState: z.string().max(2048).nullish(),
  expirationDateTime: isoInstant,
  resource: z.string().min(1).max(4096),
  changeType: z.enum(['created', 'updated', 'deleted', 'collection']),
  lastModifiedDateTime: isoInstant,
});
export type BcNotificationItem = z.infer<typeof bcNotificationItemSchema>;

export const bcNotificationSchema = z.looseObject({
  value: z.array(bcNotificationItemSchema).min(1, 'value must contain at least one notification').max(10_000),
});

export interface BcWebhookResult {
  accepted: number;
  collections: number;
  /** Items from our subscriptions that produced nothing, with the reason (also logged). */
  ignored: Array<{ index: number; reason: string }>;
}

/** A correlation id from BC's headers (`x-ms-correlation-id` / `clientRequestId`), else a new one. */
export function correlationIdOf(headers: Record<string, string>, ...names: string[]): string {
  for (const name of names) {
    const v = headers[name];
    if (v && /^[A-Za-z0-9._:-]{1,128}$/.test(v)) return v;
  }
  return randomUUID();
}

/** Answers one request to the BC webhook endpoint. Never throws: every outcome is a status. */
export async function handleBcWebhook(deps: CaptureDeps, req: WebhookRequest): Promise<WebhookResponse> {
  // The handshake comes first, before any auth or body parsing (D.2), and must be fast.
  const token = req.query.validationToken;
  if (token !== undefined) {
    if (token.length === 0 || token.length > MAX_VALIDATION_TOKEN_LENGTH)
      return problem(400, `validationToken must have 1 to ${MAX_VALIDATION_TOKEN_LENGTH} characters`);
    return text(200, token);
  }
  if (req.method !== 'POST')
    return problem(400, `${req.method} is only answered for the validation handshake (?validationToken=); notifications are POSTed`);

  const parsedJson = parseJsonBody(req.body);
  if (!parsedJson.ok) return problem(400, parsedJson.message);
  const parsed = bcNotificationSchema.safeParse(parsedJson.value);
  if (!parsed.success) return problem(400, `not a Business Central notification: ${issuesText(parsed.error)}`);
  const items = parsed.data.value;

  // Resolve and authenticate every item before enqueuing anything: one forged item rejects the request.
  const resources = [];
  for (const [i, item] of items.entries()) {
    const resource = parseBcResource(item.resource);
    if (!resource) return problem(400, `value[${i}].resource is not a Business Central API resource URL`);
    if (item.changeType === 'collection' ? resource.key !== undefined : resource.key === undefined)
      return problem(
        400,
        item.changeType === 'collection'
          ? `value[${i}]: a collection notification's resource names the collection, not a record`
          : `value[${i}]: a ${item.changeType} notification's resource must name one record, e.g. customers(<id>)`,
      );
    if (!item.clientState) return problem(401, `value[${i}].clientState is missing`);
    if (!safeEqual(item.clientState, clientStateFor(deps.settings.BC_WEBHOOK_SECRET, resource.canonical)))
      return problem(401, `value[${i}].clientState does not match the subscription's secret`);
    resources.push(resource);
  }

  const correlationId = correlationIdOf(req.headers, 'x-ms-correlation-id', 'clientrequestid');
  const observedAt = deps.clock.now().toISOString();
  let mappings: Awaited<ReturnType<CaptureDeps['mappings']>>;
  try {
    mappings = await deps.mappings();
  } catch (err) {
    deps.log('error', `BC webhook: mappings could not be read, answering 503 so BC retries: ${toSyncError(err).message}`);
    return problem(503, 'the mappings could not be read; retry later', { 'Retry-After': '60' });
  }
  const customGroup = customApiGroup(deps.bc);
  const events: ChangeEvent[] = [];
  const collections: CollectionWork[] = [];
  const result: BcWebhookResult = { accepted: 0, collections: 0, ignored: [] };
  const ignore = (index: number, reason: string) => {
    result.ignored.push({ index, reason });
    deps.log('warn', `BC webhook: value[${index}] ignored: ${reason}`);
  };

  for (const [i, item] of items.entries()) {
    const resource = resources[i];
    if (!resource) continue;
    if (resource.companyId !== idKey(deps.settings.BC_COMPANY_ID)) {
      ignore(i, `company ${resource.companyId} is not the integrated company; the subscription manager removes such subscriptions`);
      continue;
    }
    const targets = mappingsForBcResource(mappings, resource.group, resource.entitySet, customGroup);
    if (targets.length === 0) {
      ignore(i, `no enabled table mapping reads ${resource.group}/${resource.entitySet}`);
      continue;
    }
    if (item.changeType === 'collection') {
      collections.push({
        v: 1,
        mappings: targets.map((m) => m.name),
        group: resource.group,
        entitySet: resource.entitySet,
        ...(resource.modifiedSince !== undefined ? { modifiedSince: resource.modifiedSince } : {}),
        lastModifiedDateTime: item.lastModifiedDateTime,
        subscriptionId: item.subscriptionId,
        resource: item.resource,
        correlationId,
        observedAt,
      });
      continue;
    }
    const key = resource.key ?? '';
    if (!isGuid(key)) {
      ignore(i, `record key ${JSON.stringify(key.slice(0, 60))} is not a SystemId; only SystemId-keyed API pages are synced`);
      continue;
    }
    for (const m of targets) {
      events.push(
        newChangeEvent({
          mapping: m.name,
          source: 'bc',
          recordId: key,
          changeType: item.changeType,
          modifiedOn: item.lastModifiedDateTime,
          origin: 'webhook',
          correlationId,
          observedAt,
        }),
      );
    }
  }

  try {
    await withinDeadline(`${events.length} change event(s) and ${collections.length} collection(s)`, deps.publishTimeoutMs, async () => {
      if (events.length > 0) await deps.publish(events);
      for (const c of collections) await deps.enqueueCollection(c);
    });
  } catch (err) {
    deps.log('error', `BC webhook: answering 503 so BC retries: ${toSyncError(err).message}`);
    return problem(503, 'the change could not be queued; Business Central will retry', { 'Retry-After': '60' });
  }
  result.accepted = events.length;
  result.collections = collections.length;
  return json(202, result);
}

/** Message id of a collection: the same notification retried by BC is the same message (duplicate detection). */
export function collectionMessageId(c: Pick<CollectionWork, 'subscriptionId' | 'resource' | 'lastModifiedDateTime'>): string {
  return `collection|${createHash('sha256').update(`${c.subscriptionId}|${c.resource}|${c.lastModifiedDateTime}`).digest('base64url')}`;
}

export function issuesText(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`)
    .join('; ')
    .slice(0, 600);
}
