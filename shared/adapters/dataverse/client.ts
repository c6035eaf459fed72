import { z } from 'zod';
import { GUID_PATTERN, isGuid } from '../../domain/ids';
import { SyncError } from '../../errors';
import { type AccessTokenSource, HttpClient, type HttpHooks, type HttpRequest, type HttpResponse, odataUrl } from '../http/client';
import { httpError, responseShapeError } from '../http/errors';
import { parseRetryAfter, type RetryPolicy } from '../http/retry';
import { collectionSchema, entitySchema, etaggedEntitySchema, type ODataCollection, type ODataEntity } from '../http/schemas';
import { allPages } from '../odata';
import { boundaryOf, buildBatchBody, chunkBatch, type DvBatchItem, type DvBatchPartResponse, parseBatchResponse } from './batch';
import { type DataverseColumnInfo, type DataverseEntityInfo, fetchEntityInfo } from './metadata';
import { parseWith } from './response';

/** Dataverse's documented limits (api-contracts.md B.8, B.10, B.12). */
/** The bulk operation messages of the Web API. */
export type DvBulkMessage = 'CreateMultiple' | 'UpdateMultiple' | 'UpsertMultiple';

const bulkResponseSchema = z.looseObject({
  Ids: z.array(z.string()).optional(),
  Results: z.array(z.looseObject({ RecordCreated: z.boolean() })).optional(),
});

export const DV_MAX_PAGE_SIZE = 5_000;
export const DV_MAX_BATCH = 1_000;
export const DV_MAX_CONCURRENCY = 52;

export interface DataverseClientOptions {
  /** Environment URL, e.g. `https://contoso.crm.dynamics.com` (setting DATAVERSE_URL). */
  url: string;
  tokens: AccessTokenSource;
  /** Concurrent requests at most; the server's `x-ms-dop-hint` can lower it. At most 52. Default 16. */
  maxConcurrency?: number;
  /** Follow `x-ms-dop-hint`. Default true. */
  adaptToDopHint?: boolean;
  /** Entra object id to impersonate with the `CallerObjectId` header (needs prvActOnBehalfOfAnotherUser). */
  callerObjectId?: string;
  /** Per-attempt timeout in ms. Default 100,000. */
  timeoutMs?: number;
  retry?: RetryPolicy;
  hooks?: HttpHooks;
  fetch?: typeof fetch;
}

/** A primary key GUID, or alternate key values (`{ accountnumber: 'ABC' }`). */
export type DvKey = string | Record<string, string | number | boolean | null>;

export interface DvQueryOptions {
  select?: string[];
  filter?: string;
  orderby?: string;
  expand?: string;
  /** Default and maximum 5,000. */
  pageSize?: number;
  /** An `@odata.nextLink` from a previous page. */
  continuation?: string;
  /** Ask for formatted values and lookup annotations (`Prefer: odata.include-annotations="*"`). */
  annotations?: boolean;
}

export interface DvPage {
  value: ODataEntity[];
  nextLink?: string;
}

export interface DvChangesPage {
  /** Created or updated rows. */
  changed: ODataEntity[];
  /** Ids of deleted rows (`$deletedEntity`). */
  deleted: string[];
  /** Present on the last page: keep it and pass it back next time. */
  deltaLink?: string;
}

export interface WhoAmI {
  UserId: string;
  BusinessUnitId: string;
  OrganizationId: string;
}

export interface DvBatchResult extends DvBatchPartResponse {
  error?: SyncError;
}

export type UpsertMode = 'upsert' | 'createOnly' | 'updateOnly';

/** Key segment `(…)`: a GUID bare, alternate keys as `name='text',n=2` (strings quoted, `'` doubled). */
export function dvKeySegment(key: DvKey): string {
  if (typeof key === 'string') {
    if (!isGuid(key, { braces: true })) throw new SyncError('DV.VALIDATION', `not a Dataverse id: ${JSON.stringify(key)}`);
    return `(${key.replace(/[{}]/g, '')})`;
  }
  const parts = Object.entries(key).map(([name, value]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new SyncError('DV.VALIDATION', `not a column name: ${JSON.stringify(name)}`);
    let literal: string;
    if (value === null) literal = 'null';
    else if (typeof value === 'string' && isGuid(value, { braces: true }) && name.startsWith('_') && name.endsWith('_value'))
      literal = value;
    else if (typeof value === 'string') literal = `'${encodeURIComponent(value.replace(/'/g, "''")).replace(/%27/g, "'")}'`;
    else literal = String(value);
    return `${name}=${literal}`;
  });
  if (parts.length === 0) throw new SyncError('DV.VALIDATION', 'an alternate key needs at least one column');
  return `(${parts.join(',')})`;
}

/** `@odata.bind` value: `/accounts(<id>)` or `/accounts(accountnumber='ABC')`. */
export function bindRef(entitySet: string, key: DvKey): string {
  return `/${entitySet}${dvKeySegment(key)}`;
}

const ENTITY_ID = new RegExp(`\\((${GUID_PATTERN})\\)\\s*$`);

/** The id in an `OData-EntityId` header, `…/accounts(7eb682f1-…)`. */
export function idFromEntityId(entityId: string | null): string | undefined {
  const m = ENTITY_ID.exec(entityId ?? '');
  return m?.[1];
}

const whoAmISchema = z.looseObject({ UserId: z.string(), BusinessUnitId: z.string(), OrganizationId: z.string() });

/** Dataverse Web API client (`{url}/api/data/v9.2/`). */
export class DataverseClient {
  readonly http: HttpClient;
  /** `{url}/api/data/v9.2/`, with the trailing slash. */
  readonly apiBase: string;
  private readonly callerHeaders: Record<string, string>;
  private readonly shared: { entities: Map<string, Promise<DataverseEntityInfo | undefined>> };

  constructor(options: DataverseClientOptions);
  constructor(options: DataverseClientOptions, share: { http: HttpClient; shared: DataverseClient['shared'] });
  constructor(options: DataverseClientOptions, share?: { http: HttpClient; shared: DataverseClient['shared'] }) {
    const max = options.maxConcurrency ?? 16;
    if (max > DV_MAX_CONCURRENCY)
      throw new SyncError('CONFIG.INVALID', `Dataverse allows at most ${DV_MAX_CONCURRENCY} concurrent requests per user, got ${max}`);
    const origin = new URL(options.url).origin;
    this.apiBase = `${options.url.replace(/\/+$/, '')}/api/data/v9.2/`;
    this.callerHeaders = options.callerObjectId ? { CallerObjectId: options.callerObjectId } : {};
    this.shared = share?.shared ?? { entities: new Map() };
    this.http =
      share?.http ??
      new HttpClient({
        side: 'dataverse',
        origin,
        tokens: options.tokens,
        maxConcurrency: max,
        adaptToDopHint: options.adaptToDopHint ?? true,
        timeoutMs: options.timeoutMs,
        retry: options.retry,
        hooks: options.hooks,
        fetch: options.fetch,
        defaultHeaders: { Accept: 'application/json', 'OData-MaxVersion': '4.0', 'OData-Version': '4.0' },
      });
    this.options = options;
  }

  private readonly options: DataverseClientOptions;

  /** The same client acting as another user (`CallerObjectId`), sharing connection limits and metadata cache. */
  impersonate(callerObjectId: string): DataverseClient {
    return new DataverseClient({ ...this.options, callerObjectId }, { http: this.http, shared: this.shared });
  }

  url(entitySet: string, key?: DvKey): string {
    return `${this.apiBase}${entitySet}${key === undefined ? '' : dvKeySegment(key)}`;
  }

  /** GET one row; undefined when it does not exist. */
  async retrieve(
    entitySet: string,
    key: DvKey,
    options: { select?: string[]; expand?: string; annotations?: boolean } = {},
  ): Promise<ODataEntity | undefined> {
    const u = new URL(this.url(entitySet, key));
    if (options.select?.length) u.searchParams.set('$select', options.select.join(','));
    if (options.expand) u.searchParams.set('$expand', options.expand);
    const req = this.req({
      method: 'GET',
      url: odataUrl(u),
      accept: [404],
      headers: options.annotations ? { Prefer: 'odata.include-annotations="*"' } : {},
    });
    const res = await this.http.send(req);
    if (res.status === 404) return undefined;
    return this.entity(req, res);
  }

  async listPage(entitySet: string, options: DvQueryOptions = {}): Promise<DvPage> {
    const url = options.continuation ?? this.queryUrl(entitySet, options);
    const { data } = await this.http.json(this.req({ method: 'GET', url, headers: { Prefer: this.prefer(options) } }), collectionSchema);
    return { value: data.value, nextLink: data['@odata.nextLink'] };
  }

  listAll(entitySet: string, options: DvQueryOptions = {}): AsyncGenerator<ODataEntity[]> {
    return allPages((continuation) => this.listPage(entitySet, { ...options, continuation }), options.continuation);
  }

  /** POST with `return=representation` (201 + row, one round trip). */
  async create(entitySet: string, body: Record<string, unknown>, options: { select?: string[] } = {}): Promise<ODataEntity> {
    const u = new URL(this.url(entitySet));
    if (options.select?.length) u.searchParams.set('$select', options.select.join(','));
    const req = this.req({ method: 'POST', url: odataUrl(u), body, headers: { Prefer: 'return=representation' } });
    const res = await this.http.send(req);
    return this.entity(req, res);
  }

  /** POST without a representation: 204 and the id from `OData-EntityId`. */
  async createReturningId(entitySet: string, body: Record<string, unknown>): Promise<string> {
    const req = this.req({ method: 'POST', url: this.url(entitySet), body });
    const res = await this.http.send(req);
    const id = idFromEntityId(res.headers.get('odata-entityid'));
    if (!id) throw responseShapeError('dataverse', req, 'no OData-EntityId header with the new id');
    return id;
  }

  /**
   * PATCH to `entityset(key)` (api-contracts.md B.5): `upsert` creates or updates, `createOnly` sends
   * `If-None-Match: *` (an existing row → 412 `DV.CONCURRENCY`), `updateOnly` sends `If-Match: *` (a missing row →
   * 404 `DV.NOT_FOUND`). Returns the row and whether it was created (201 vs 200).
   */
  async upsert(
    entitySet: string,
    key: DvKey,
    body: Record<string, unknown>,
    mode: UpsertMode = 'upsert',
    options: { select?: string[] } = {},
  ): Promise<{ entity: ODataEntity; created: boolean }> {
    const u = new URL(this.url(entitySet, key));
    if (options.select?.length) u.searchParams.set('$select', options.select.join(','));
    const headers: Record<string, string> = { Prefer: 'return=representation' };
    if (mode === 'createOnly') headers['If-None-Match'] = '*';
    if (mode === 'updateOnly') headers['If-Match'] = '*';
    const req = this.req({ method: 'PATCH', url: odataUrl(u), body, headers });
    const res = await this.http.send(req);
    return { entity: await this.entityOrReread(req, res, entitySet, key, options.select), created: res.status === 201 };
  }

  /** PATCH with `If-Match: <etag>`; a stale ETag throws `DV.CONCURRENCY` (412, 0x80060882). */
  async update(
    entitySet: string,
    key: DvKey,
    body: Record<string, unknown>,
    etag: string,
    options: { select?: string[] } = {},
  ): Promise<ODataEntity> {
    const u = new URL(this.url(entitySet, key));
    if (options.select?.length) u.searchParams.set('$select', options.select.join(','));
    const req = this.req({ method: 'PATCH', url: odataUrl(u), body, headers: { 'If-Match': etag, Prefer: 'return=representation' } });
    const res = await this.http.send(req);
    return this.entityOrReread(req, res, entitySet, key, options.select);
  }

  /** DELETE, conditional when an ETag is given. Returns false when the row was already gone. */
  async delete(entitySet: string, key: DvKey, etag?: string): Promise<boolean> {
    const res = await this.http.send(
      this.req({ method: 'DELETE', url: this.url(entitySet, key), headers: etag ? { 'If-Match': etag } : {}, accept: [404] }),
    );
    return res.status !== 404;
  }

  /** An unbound action, e.g. `POST FulfillSalesOrder` (204, no content). */
  async action(name: string, body: Record<string, unknown>): Promise<void> {
    await this.http.send(this.req({ method: 'POST', url: `${this.apiBase}${name}`, body }));
  }

  /** Clears a single-valued lookup: `DELETE …/<set>(<id>)/<navigation>/$ref` (B.3). */
  async disassociate(entitySet: string, key: DvKey, navigationProperty: string): Promise<void> {
    await this.http.send(this.req({ method: 'DELETE', url: `${this.url(entitySet, key)}/${navigationProperty}/$ref`, accept: [404] }));
  }

  /**
   * A bulk message (`CreateMultiple`, `UpdateMultiple`, `UpsertMultiple`; powerapps-docs bulk-operations.md):
   * `POST <set>/Microsoft.Dynamics.CRM.<Message>` with every target typed `Microsoft.Dynamics.CRM.<logicalName>`. One
   * request however many rows; on a standard table the whole request fails on the first bad row (nothing written),
   * with that row's error. Returns the created ids (CreateMultiple) or `[created?]` per target (UpsertMultiple).
   */
  async bulk(
    message: DvBulkMessage,
    entitySet: string,
    logicalName: string,
    targets: Array<Record<string, unknown>>,
  ): Promise<{ ids: string[]; created: boolean[] }> {
    if (targets.length === 0) return { ids: [], created: [] };
    const type = `Microsoft.Dynamics.CRM.${logicalName}`;
    // A 429 comes back to the caller instead of being waited out here: the caller paces its bulk requests (and its
    // measured time per row must not include a Retry-After wait).
    const req = this.req({
      method: 'POST',
      url: `${this.url(entitySet)}/Microsoft.Dynamics.CRM.${message}`,
      body: { Targets: targets.map((t) => ({ ...t, '@odata.type': type })) },
      accept: [429],
    });
    const res = await this.http.send(req);
    if (res.status === 429) throw httpError('dataverse', req, res, parseRetryAfter(res.headers.get('retry-after')));
    if (message === 'UpdateMultiple') return { ids: [], created: [] };
    const data = parseWith(req, res.body, bulkResponseSchema);
    return {
      ids: data.Ids ?? [],
      created: (data.Results ?? []).map((r) => r.RecordCreated),
    };
  }

  /**
   * Multipart `$batch` (B.10), chunked at 1,000 requests without splitting a change set. Without `continueOnError`
   * Dataverse stops at the first failure and answers only for what it ran; a failed change set answers with its one
   * error in place of its requests. Each non-2xx part carries its classified `error`.
   */
  async batch(items: DvBatchItem[], options: { continueOnError?: boolean } = {}): Promise<DvBatchResult[]> {
    const results: DvBatchResult[] = [];
    for (const chunk of chunkBatch(items, DV_MAX_BATCH)) {
      const { boundary, body } = buildBatchBody(chunk, this.apiBase);
      const headers: Record<string, string> = { 'Content-Type': `multipart/mixed; boundary=${boundary}` };
      if (options.continueOnError) headers.Prefer = 'odata.continue-on-error';
      const req = this.req({
        method: 'POST',
        url: `${this.apiBase}$batch`,
        body,
        headers,
        accept: [400, 404, 412, 409],
        idempotent: chunk.every((i) => !('changeSet' in i) && i.method === 'GET'),
      });
      const res = await this.http.send(req);
      const responseBoundary = boundaryOf(res.headers.get('content-type'));
      if (!responseBoundary) {
        if (res.status >= 300) throw httpError('dataverse', req, res);
        throw responseShapeError('dataverse', req, 'the $batch response is not multipart');
      }
      for (const part of parseBatchResponse(res.text, responseBoundary)) {
        const ok = part.status >= 200 && part.status < 300;
        results.push(ok ? part : { ...part, error: httpError('dataverse', { method: 'BATCH', url: req.url }, part) });
      }
    }
    return results;
  }

  /**
   * Change tracking (B.9): without `deltaLink`, the first full read of the table (`Prefer: odata.track-changes`);
   * with it, what changed since. Pages follow `@odata.nextLink`; the last page carries the new `deltaLink`.
   * `$filter`/`$orderby`/`$top` are not allowed with change tracking, hence only `select`.
   */
  async *changes(
    entitySet: string,
    options: { deltaLink?: string; select?: string[]; primaryKey?: string; pageSize?: number } = {},
  ): AsyncGenerator<DvChangesPage> {
    let url: string | undefined = options.deltaLink ?? this.queryUrl(entitySet, { select: options.select });
    const prefer = `odata.track-changes, odata.maxpagesize=${Math.min(options.pageSize ?? DV_MAX_PAGE_SIZE, DV_MAX_PAGE_SIZE)}`;
    while (url) {
      const { data }: { data: ODataCollection } = await this.http.json(
        this.req({ method: 'GET', url, headers: { Prefer: prefer } }),
        collectionSchema,
      );
      const changed: ODataEntity[] = [];
      const deleted: string[] = [];
      for (const row of data.value) {
        const deletedId = deletedRowId(row, options.primaryKey);
        if (deletedId !== undefined) deleted.push(deletedId);
        else changed.push(row);
      }
      const deltaLink = data['@odata.deltaLink'];
      url = data['@odata.nextLink'];
      if (!url && !deltaLink) throw new SyncError('DV.UNAVAILABLE', `Dataverse change tracking of ${entitySet} ended without a deltaLink`);
      yield deltaLink && !url ? { changed, deleted, deltaLink } : { changed, deleted };
    }
  }

  /** `GET WhoAmI`: the calling user, its business unit and the organization. */
  async whoAmI(): Promise<WhoAmI> {
    const { data } = await this.http.json(this.req({ method: 'GET', url: `${this.apiBase}WhoAmI` }), whoAmISchema);
    return data;
  }

  // ---- Metadata ---------------------------------------------------------------------------------------------

  /**
   * Table metadata from `EntityDefinitions(LogicalName='…')` with its attributes and the options of its Picklist
   * columns; cached per client. Undefined when the table does not exist.
   */
  entityInfo(logicalName: string): Promise<DataverseEntityInfo | undefined> {
    const key = logicalName.toLowerCase();
    let p = this.shared.entities.get(key);
    if (!p) {
      p = fetchEntityInfo({ http: this.http, apiBase: this.apiBase, req: (r) => this.req(r) }, key);
      this.shared.entities.set(key, p);
      p.catch(() => this.shared.entities.delete(key));
    }
    return p;
  }

  /** Type (and options) of a column, for mapping validation; undefined when the table or the column does not exist. */
  async dataverseColumn(entityLogicalName: string, column: string): Promise<DataverseColumnInfo | undefined> {
    return (await this.entityInfo(entityLogicalName))?.columns.get(column.toLowerCase());
  }

  clearMetadataCache(): void {
    this.shared.entities.clear();
  }

  /**
   * Appends an option to a column's option set (the `InsertOptionValue` action BC calls for new payment terms,
   * shipment methods and shipping agents) and returns its value. The metadata cache is dropped so the next
   * read sees the option.
   */
  async insertOptionValue(entityLogicalName: string, column: string, label: string, languageCode = 1033, value?: number): Promise<number> {
    const { data } = await this.http.json(
      this.req({
        method: 'POST',
        url: `${this.apiBase}InsertOptionValue`,
        body: {
          EntityLogicalName: entityLogicalName,
          AttributeLogicalName: column,
          // A given value (BC's InsertOptionSetMetadataWithOptionValue) keeps documents' local sets in step with account's.
          ...(value !== undefined ? { Value: value } : {}),
          Label: { LocalizedLabels: [{ Label: label, LanguageCode: languageCode }] },
        },
      }),
      z.looseObject({ NewOptionValue: z.number().int() }),
    );
    this.shared.entities.delete(entityLogicalName);
    return data.NewOptionValue;
  }

  // ---- helpers ----------------------------------------------------------------------------------------------

  private req(r: HttpRequest): HttpRequest {
    return { ...r, headers: { ...this.callerHeaders, ...r.headers } };
  }

  private prefer(options: DvQueryOptions): string {
    const size = Math.min(options.pageSize ?? DV_MAX_PAGE_SIZE, DV_MAX_PAGE_SIZE);
    return options.annotations ? `odata.maxpagesize=${size}, odata.include-annotations="*"` : `odata.maxpagesize=${size}`;
  }

  private queryUrl(entitySet: string, options: Pick<DvQueryOptions, 'select' | 'filter' | 'orderby' | 'expand'>): string {
    const u = new URL(this.url(entitySet));
    if (options.select?.length) u.searchParams.set('$select', options.select.join(','));
    if (options.filter) u.searchParams.set('$filter', options.filter);
    if (options.orderby) u.searchParams.set('$orderby', options.orderby);
    if (options.expand) u.searchParams.set('$expand', options.expand);
    return odataUrl(u);
  }

  private entity(req: HttpRequest, res: HttpResponse): ODataEntity {
    return parseWith(req, res.body, etaggedEntitySchema.and(entitySchema));
  }

  // A server may ignore return=representation (204): read the row back so callers always get the new ETag.
  private async entityOrReread(
    req: HttpRequest,
    res: HttpResponse,
    entitySet: string,
    key: DvKey,
    select?: string[],
  ): Promise<ODataEntity> {
    if (res.status !== 204 && res.body !== undefined) return this.entity(req, res);
    const id = idFromEntityId(res.headers.get('odata-entityid'));
    const row = await this.retrieve(entitySet, id ?? key, { select });
    if (!row) throw new SyncError('DV.NOT_FOUND', `Dataverse ${entitySet}${dvKeySegment(key)} vanished right after it was written`);
    return row;
  }
}

/** `$deletedEntity` rows (B.9) and, for OData 4.01 servers, `@removed` / `@odata.removed` rows. */
function deletedRowId(row: ODataEntity, primaryKey?: string): string | undefined {
  const context = row['@odata.context'];
  const removed = row['@removed'] ?? row['@odata.removed'];
  const isDeleted = (typeof context === 'string' && context.endsWith('$deletedEntity')) || removed !== undefined;
  if (!isDeleted) return undefined;
  const id =
    row.id ?? (primaryKey ? row[primaryKey] : undefined) ?? idFromEntityId(typeof row['@odata.id'] === 'string' ? row['@odata.id'] : null);
  return typeof id === 'string' ? id : undefined;
}
