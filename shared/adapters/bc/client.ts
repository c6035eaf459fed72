import { z } from 'zod';
import { isGuid } from '../../domain/ids';
import type { BcEntityTarget } from '../../domain/ports';
import { SyncError } from '../../errors';
import { type AccessTokenSource, HttpClient, type HttpHooks, type HttpRequest, odataUrl } from '../http/client';
import type { RetryPolicy } from '../http/retry';
import { collectionSchema, entitySchema, etaggedEntitySchema, type ODataEntity } from '../http/schemas';
import { allPages, odataDateTime } from '../odata';
import { type BcBatchOperation, type BcBatchResult, sendBatch } from './batch';
import { type BcEntityFields, type BcFieldInfo, inferFieldsFromRecord, parseCsdl } from './metadata';

/** BC's documented operational limits (api-contracts.md C.5; the batch size, C.4, is in `batch.ts`). */
export const BC_MAX_PAGE_SIZE = 20_000;
export const BC_MAX_CONCURRENCY = 5;

export interface BcClientOptions {
  /** BC API host, e.g. `https://api.businesscentral.dynamics.com` (setting BC_API_URL). */
  apiUrl: string;
  /** Entra tenant id or domain (BC_TENANT_ID). */
  tenantId: string;
  /** Environment name, e.g. `Production` (BC_ENVIRONMENT). */
  environment: string;
  /** SystemId of the company (BC_COMPANY_ID). */
  companyId: string;
  /** Company name, needed only for OData v4 pages (`Company('<name>')`); looked up from `companies` when absent. */
  companyName?: string;
  tokens: AccessTokenSource;
  /** Concurrent requests, at most 5 (BC's per-user limit). Default 5. */
  maxConcurrency?: number;
  /** Route of our custom API pages. Default `{ publisher: 'bcsync', group: 'integration', version: 'v1.0' }`. */
  customApi?: { publisher: string; group: string; version: string };
  /** Field OData v4 pages expose as their modification time, for `modifiedSince`. Default `SystemModifiedAt`. */
  odataPageModifiedField?: string;
  /** Per-attempt timeout in ms. Default 100,000. */
  timeoutMs?: number;
  retry?: RetryPolicy;
  hooks?: HttpHooks;
  fetch?: typeof fetch;
}

export interface BcListOptions {
  filter?: string;
  select?: string[];
  orderby?: string;
  /** ISO instant: only records with `lastModifiedDateTime gt` it. */
  modifiedSince?: string;
  /** Default and maximum 20,000. */
  pageSize?: number;
  /** An `@odata.nextLink` from a previous page. */
  continuation?: string;
  expand?: string;
}

export interface BcPage {
  value: ODataEntity[];
  nextLink?: string;
}

export const bcCompanySchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  displayName: z.string().optional(),
  systemVersion: z.string().optional(),
  businessProfileId: z.string().optional(),
});
export type BcCompany = z.infer<typeof bcCompanySchema>;

export const bcSubscriptionSchema = z.looseObject({
  '@odata.etag': z.string().optional(),
  subscriptionId: z.string().min(1),
  notificationUrl: z.string(),
  resource: z.string(),
  clientState: z.string().nullish(),
  expirationDateTime: z.string(),
  lastModifiedDateTime: z.string().optional(),
  userId: z.string().optional(),
});
export type BcSubscription = z.infer<typeof bcSubscriptionSchema>;

export interface BcSubscriptionInput {
  notificationUrl: string;
  /** e.g. `/api/v2.0/companies(<id>)/customers`. */
  resource: string;
  /** Up to 2,048 characters, echoed in every notification. */
  clientState?: string;
}

/** A key inside `(...)`: SystemId GUIDs unquoted (API pages), anything else an OData string literal. */
export function bcKeyLiteral(id: string): string {
  return isGuid(id) ? id : `'${id.replace(/'/g, "''")}'`;
}

/**
 * Business Central client over API v2.0, custom API pages and OData v4 pages
 * (`{apiUrl}/v2.0/{tenant}/{environment}/...`).
 */
/** Fields of an entity set that exists but is empty and has no `$metadata`: any field may be there. */
const UNKNOWN_FIELDS: BcEntityFields = new Map();

const bcInstalledExtensionSchema = z.looseObject({
  id: z.string(),
  displayName: z.string(),
  publisher: z.string(),
  versionMajor: z.number().int(),
  versionMinor: z.number().int(),
  isInstalled: z.boolean(),
});
/** One app of the automation API's extensions list. */
export type BcInstalledExtension = z.infer<typeof bcInstalledExtensionSchema>;

/** 404 codes BC gives for a route or entity set that is not published (not for a missing record). */
const MISSING_RESOURCE_CODES = new Set(['BadRequest_ResourceNotFound', 'BadRequest_NotFound']);

/**
 * A 404 on a record URL means the record is gone, unless BC says the page itself is not there (the BC extension
 * is missing or older): that must never read as a deletion, so it is a configuration error naming the fix.
 */
function recordGone(target: BcEntityTarget, method: string, body: unknown): undefined {
  const code = (body as { error?: { code?: unknown } } | undefined)?.error?.code;
  if (typeof code !== 'string' || !MISSING_RESOURCE_CODES.has(code)) return undefined;
  const what =
    target.kind === 'customApi'
      ? `BC extension page missing: ${target.entitySet} is not published in this environment; install or upgrade the bc-dataverse-sync BC extension (docs/bc-extension.md)`
      : `${target.entitySet} is not published in this environment`;
  throw new SyncError(
    'MAP.INVALID',
    `Business Central ${method} ${target.entitySet} answered 404 ${code}: ${what}. Not treated as a deleted record.`,
  );
}

export class BcClient {
  readonly http: HttpClient;
  /** `{apiUrl}/v2.0/{tenant}/{environment}`. */
  readonly environmentRoot: string;
  readonly companyId: string;
  private companyName: string | undefined;
  private readonly customApi: string;
  private readonly odataPageModifiedField: string;
  private readonly metadataCache = new Map<string, Promise<Map<string, BcEntityFields> | undefined>>();
  private readonly inferredCache = new Map<string, Promise<BcEntityFields | undefined>>();

  constructor(options: BcClientOptions) {
    const max = options.maxConcurrency ?? BC_MAX_CONCURRENCY;
    if (max > BC_MAX_CONCURRENCY)
      throw new SyncError('CONFIG.INVALID', `BC allows at most ${BC_MAX_CONCURRENCY} concurrent requests per user, got ${max}`);
    const api = options.apiUrl.replace(/\/+$/, '');
    this.environmentRoot = `${api}/v2.0/${encodeURIComponent(options.tenantId)}/${encodeURIComponent(options.environment)}`;
    this.companyId = options.companyId;
    this.companyName = options.companyName;
    const c = options.customApi ?? { publisher: 'bcsync', group: 'integration', version: 'v1.0' };
    this.customApi = `${c.publisher}/${c.group}/${c.version}`;
    this.odataPageModifiedField = options.odataPageModifiedField ?? 'SystemModifiedAt';
    this.http = new HttpClient({
      side: 'bc',
      origin: api,
      tokens: options.tokens,
      maxConcurrency: max,
      timeoutMs: options.timeoutMs,
      retry: options.retry,
      hooks: options.hooks,
      fetch: options.fetch,
      defaultHeaders: { Accept: 'application/json' },
    });
  }

  /** API root of a route: `.../api/v2.0` or `.../api/bcsync/integration/v1.0`. */
  apiRoot(kind: 'apiV2' | 'customApi' = 'apiV2'): string {
    return `${this.environmentRoot}/api/${kind === 'apiV2' ? 'v2.0' : this.customApi}`;
  }

  /** Collection URL of a target, e.g. `.../api/v2.0/companies(<id>)/customers`. */
  async collectionUrl(target: Pick<BcEntityTarget, 'kind' | 'entitySet'>): Promise<string> {
    if (target.kind === 'odataPage') {
      const name = await this.resolveCompanyName();
      return `${this.environmentRoot}/ODataV4/Company('${encodeURIComponent(name.replace(/'/g, "''"))}')/${target.entitySet}`;
    }
    return `${this.apiRoot(target.kind)}/companies(${this.companyId})/${target.entitySet}`;
  }

  async entityUrl(target: Pick<BcEntityTarget, 'kind' | 'entitySet'>, id: string): Promise<string> {
    return `${await this.collectionUrl(target)}(${encodeURIComponent(bcKeyLiteral(id)).replace(/%27/g, "'")})`;
  }

  /** The field compared with `modifiedSince`: `lastModifiedDateTime` on API pages. */
  modifiedField(target: Pick<BcEntityTarget, 'kind'>): string {
    return target.kind === 'odataPage' ? this.odataPageModifiedField : 'lastModifiedDateTime';
  }

  // Key and modification time always come back, as the gateway needs them. OData pages may not expose a
  // modification field at all, so only their key is forced into $select.
  private requiredFields(target: BcEntityTarget): string[] {
    const key = target.key ?? 'id';
    return target.kind === 'odataPage' ? [key] : [key, this.modifiedField(target)];
  }

  /** GET by key; undefined when the record does not exist. */
  async getRecord(
    target: BcEntityTarget,
    id: string,
    options: { select?: string[]; expand?: string } = {},
  ): Promise<ODataEntity | undefined> {
    const url = new URL(await this.entityUrl(target, id));
    if (options.select?.length) url.searchParams.set('$select', withRequired(options.select, this.requiredFields(target)).join(','));
    if (options.expand) url.searchParams.set('$expand', options.expand);
    const req: HttpRequest = { method: 'GET', url: odataUrl(url), accept: [404] };
    const res = await this.http.send(req);
    if (res.status === 404) return recordGone(target, 'GET', res.body);
    return this.entity(req, res.body);
  }

  /** One page; `continuation` is the previous page's `@odata.nextLink`. */
  async listPage(target: BcEntityTarget, options: BcListOptions = {}): Promise<BcPage> {
    const pageSize = Math.min(options.pageSize ?? BC_MAX_PAGE_SIZE, BC_MAX_PAGE_SIZE);
    let url: string;
    if (options.continuation) url = options.continuation;
    else {
      const u = new URL(await this.collectionUrl(target));
      const filters: string[] = [];
      if (options.filter) filters.push(`(${options.filter})`);
      if (options.modifiedSince) filters.push(`${this.modifiedField(target)} gt ${odataDateTime(options.modifiedSince)}`);
      if (filters.length) u.searchParams.set('$filter', filters.join(' and '));
      if (options.select?.length) u.searchParams.set('$select', withRequired(options.select, this.requiredFields(target)).join(','));
      if (options.orderby) u.searchParams.set('$orderby', options.orderby);
      if (options.expand) u.searchParams.set('$expand', options.expand);
      url = odataUrl(u);
    }
    // The same maxpagesize on every page: the nextLink does not carry it.
    const { data } = await this.http.json({ method: 'GET', url, headers: { Prefer: `odata.maxpagesize=${pageSize}` } }, collectionSchema);
    return { value: data.value, nextLink: data['@odata.nextLink'] };
  }

  /** Every page, lazily, following `@odata.nextLink`. */
  listAll(target: BcEntityTarget, options: BcListOptions = {}): AsyncGenerator<ODataEntity[]> {
    return allPages((continuation) => this.listPage(target, { ...options, continuation }), options.continuation);
  }

  /** POST; BC answers 201 with the entity. */
  async create(target: BcEntityTarget, body: Record<string, unknown>): Promise<ODataEntity> {
    const req: HttpRequest = { method: 'POST', url: await this.collectionUrl(target), body };
    const res = await this.http.send(req);
    return this.entity(req, res.body);
  }

  /** PATCH with If-Match (BC requires it); a stale ETag throws `BC.CONCURRENCY`. */
  async update(target: BcEntityTarget, id: string, body: Record<string, unknown>, etag: string): Promise<ODataEntity> {
    const req: HttpRequest = { method: 'PATCH', url: await this.entityUrl(target, id), body, headers: { 'If-Match': etag } };
    const res = await this.http.send(req);
    // Some custom pages answer 204; read back so the caller still gets the new ETag.
    if (res.status === 204 || res.body === undefined) {
      const fresh = await this.getRecord(target, id);
      if (!fresh) throw new SyncError('BC.NOT_FOUND', `Business Central ${target.entitySet}(${id}) vanished right after an update`);
      return fresh;
    }
    return this.entity(req, res.body);
  }

  /** DELETE with If-Match (`*` unless an ETag is given). Returns false when the record was already gone. */
  async delete(target: BcEntityTarget, id: string, etag?: string): Promise<boolean> {
    const res = await this.http.send({
      method: 'DELETE',
      url: await this.entityUrl(target, id),
      headers: { 'If-Match': etag ?? '*' },
      accept: [404],
    });
    if (res.status === 404) return recordGone(target, 'DELETE', res.body) ?? false;
    return true;
  }

  /**
   * JSON `$batch` (api-contracts.md C.4), chunked at 100 operations. Results come back in request order. With
   * `isolation: 'snapshot'` each chunk is all-or-nothing (BC 17.1+); atomicity never spans chunks.
   */
  batch(operations: BcBatchOperation[], options: { kind?: 'apiV2' | 'customApi'; isolation?: 'snapshot' } = {}): Promise<BcBatchResult[]> {
    return sendBatch(this.http, this.apiRoot(options.kind ?? 'apiV2'), this.companyId, operations, options);
  }

  /** `GET .../api/v2.0/companies`. */
  async companies(): Promise<BcCompany[]> {
    const { data } = await this.http.json(
      { method: 'GET', url: `${this.apiRoot()}/companies` },
      z.looseObject({ value: z.array(bcCompanySchema) }),
    );
    return data.value;
  }

  // ---- Webhook subscriptions (api-contracts.md D.1): at the API root, not under a company ----------------------

  /** Creates a subscription; BC runs the validation handshake before answering 201 (up to 5 s). */
  async createSubscription(input: BcSubscriptionInput, kind: 'apiV2' | 'customApi' = 'apiV2'): Promise<BcSubscription> {
    const { data } = await this.http.json(
      { method: 'POST', url: `${this.apiRoot(kind)}/subscriptions`, body: input },
      bcSubscriptionSchema,
    );
    return data;
  }

  async getSubscription(subscriptionId: string, kind: 'apiV2' | 'customApi' = 'apiV2'): Promise<BcSubscription | undefined> {
    const req: HttpRequest = { method: 'GET', url: this.subscriptionUrl(subscriptionId, kind), accept: [404] };
    const res = await this.http.send(req);
    if (res.status === 404) return undefined;
    return this.parse(req, res.body, bcSubscriptionSchema);
  }

  async listSubscriptions(kind: 'apiV2' | 'customApi' = 'apiV2'): Promise<BcSubscription[]> {
    const { data } = await this.http.json(
      { method: 'GET', url: `${this.apiRoot(kind)}/subscriptions` },
      z.looseObject({ value: z.array(bcSubscriptionSchema) }),
    );
    return data.value;
  }

  /** Renews (PATCH with If-Match; BC repeats the handshake and pushes `expirationDateTime` 3 days out). */
  async renewSubscription(
    subscriptionId: string,
    etag: string,
    input: BcSubscriptionInput,
    kind: 'apiV2' | 'customApi' = 'apiV2',
  ): Promise<BcSubscription> {
    const { data } = await this.http.json(
      { method: 'PATCH', url: this.subscriptionUrl(subscriptionId, kind), headers: { 'If-Match': etag }, body: input },
      bcSubscriptionSchema,
    );
    return data;
  }

  /** Deletes (If-Match required by BC). Returns false when it was already gone. */
  async deleteSubscription(subscriptionId: string, etag = '*', kind: 'apiV2' | 'customApi' = 'apiV2'): Promise<boolean> {
    const res = await this.http.send({
      method: 'DELETE',
      url: this.subscriptionUrl(subscriptionId, kind),
      headers: { 'If-Match': etag },
      accept: [404],
    });
    return res.status !== 404;
  }

  /** Resources that support webhooks, e.g. `v2.0/customers` (api-contracts.md D.3). */
  async webhookSupportedResources(filter?: string): Promise<string[]> {
    const u = new URL(`${this.environmentRoot}/api/microsoft/runtime/beta/companies(${this.companyId})/webhookSupportedResources`);
    if (filter) u.searchParams.set('$filter', filter);
    const { data } = await this.http.json(
      { method: 'GET', url: odataUrl(u) },
      z.looseObject({ value: z.array(z.looseObject({ resource: z.string() })) }),
    );
    return data.value.map((r) => r.resource);
  }

  /**
   * Apps installed in the environment, from the automation API (`microsoft/automation/v2.0/companies({id})/extensions`,
   * dynamics_extension_get.md): the connection check reads the BC extension's version from it. The app registration
   * may lack the permission to read it; the caller treats a refusal as "version unknown".
   */
  async installedExtensions(): Promise<BcInstalledExtension[]> {
    const { data } = await this.http.json(
      { method: 'GET', url: `${this.environmentRoot}/api/microsoft/automation/v2.0/companies(${this.companyId})/extensions` },
      z.looseObject({ value: z.array(bcInstalledExtensionSchema) }),
    );
    return data.value;
  }

  // ---- Metadata ---------------------------------------------------------------------------------------------

  /**
   * Type of a field of an entity set, for mapping validation. Read from the route's `$metadata` (CSDL); when the
   * server has none, inferred from the first record (`inferred: true`; an empty table then yields undefined for
   * every field). Undefined means the field does not exist (or cannot be known).
   */
  async bcField(target: Pick<BcEntityTarget, 'kind' | 'entitySet'>, field: string): Promise<BcFieldInfo | undefined> {
    const fields = await this.bcFields(target);
    if (fields === UNKNOWN_FIELDS) return { type: 'unknown', inferred: true };
    return fields?.get(field);
  }

  /** All fields of an entity set (see `bcField`); undefined when the entity set is unknown. */
  async bcFields(target: Pick<BcEntityTarget, 'kind' | 'entitySet'>): Promise<BcEntityFields | undefined> {
    const sets = await this.metadata(target.kind);
    const fromCsdl = sets?.get(target.entitySet);
    if (fromCsdl) return fromCsdl;
    const key = `${target.kind}/${target.entitySet}`;
    let p = this.inferredCache.get(key);
    if (!p) {
      p = this.inferFromFirstRecord(target);
      this.inferredCache.set(key, p);
      p.catch(() => this.inferredCache.delete(key));
    }
    return p;
  }

  /** Forgets cached metadata (after a BC extension was installed, say). */
  clearMetadataCache(): void {
    this.metadataCache.clear();
    this.inferredCache.clear();
  }

  private metadata(kind: BcEntityTarget['kind']): Promise<Map<string, BcEntityFields> | undefined> {
    let p = this.metadataCache.get(kind);
    if (!p) {
      p = this.fetchMetadata(kind);
      this.metadataCache.set(kind, p);
      p.catch(() => this.metadataCache.delete(kind));
    }
    return p;
  }

  private async fetchMetadata(kind: BcEntityTarget['kind']): Promise<Map<string, BcEntityFields> | undefined> {
    const url = kind === 'odataPage' ? `${this.environmentRoot}/ODataV4/$metadata` : `${this.apiRoot(kind)}/$metadata`;
    const res = await this.http.send({ method: 'GET', url, headers: { Accept: 'application/xml' }, accept: [400, 404, 405, 501] });
    if (res.status >= 300 || typeof res.body !== 'string' || !res.body.includes('<EntityType')) return undefined;
    return parseCsdl(res.body);
  }

  private async inferFromFirstRecord(target: Pick<BcEntityTarget, 'kind' | 'entitySet'>): Promise<BcEntityFields | undefined> {
    const u = new URL(await this.collectionUrl(target));
    u.searchParams.set('$top', '1');
    const res = await this.http.send({ method: 'GET', url: odataUrl(u), accept: [400, 404] });
    if (res.status >= 300) return undefined;
    const parsed = collectionSchema.safeParse(res.body);
    if (!parsed.success) return undefined;
    const first = parsed.data.value[0];
    // The entity set exists but has no record to learn its fields from: every field is "unknown", not missing,
    // so a mapping is not refused just because BC has no data yet.
    return first ? inferFieldsFromRecord(first) : UNKNOWN_FIELDS;
  }

  private async resolveCompanyName(): Promise<string> {
    if (this.companyName) return this.companyName;
    const company = (await this.companies()).find((c) => c.id.toLowerCase() === this.companyId.toLowerCase());
    if (!company)
      throw new SyncError('BC.NOT_FOUND', `Business Central company ${this.companyId} not found in environment ${this.environmentRoot}`);
    this.companyName = company.name;
    return company.name;
  }

  private subscriptionUrl(subscriptionId: string, kind: 'apiV2' | 'customApi'): string {
    // "The subscription ID must be enclosed in single quotes" (D.1).
    return `${this.apiRoot(kind)}/subscriptions('${encodeURIComponent(subscriptionId.replace(/'/g, "''"))}')`;
  }

  private entity(req: HttpRequest, body: unknown): ODataEntity {
    return this.parse(req, body, etaggedEntitySchema.and(entitySchema));
  }

  private parse<T>(req: HttpRequest, body: unknown, schema: z.ZodType<T>): T {
    const parsed = schema.safeParse(body);
    if (!parsed.success)
      throw new SyncError(
        'BC.UNAVAILABLE',
        `Business Central ${req.method} returned an unexpected response: ${parsed.error.message.slice(0, 300)}`,
      );
    return parsed.data;
  }
}

function withRequired(select: string[], required: string[]): string[] {
  return [...new Set([...select, ...required])];
}
