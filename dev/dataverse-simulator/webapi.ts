import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { hasPreference, ODataQueryError, parseExpand, parseMaxPageSize, parseSelect, parseTop } from '../odata';
import { BOUND_ACTIONS, fulfillSalesOrder, publishProductHierarchy, UNBOUND_ACTIONS } from './actions';
import { bulkAction, bulkMessageOf } from './bulk';
import type { SimClock } from './clock';
import { badRequest, Codes, DataverseError, duplicateRecord, notFound, versionMismatch } from './errors';
import type { Catalog, EntityMeta } from './metadata';
import type { MetadataApi } from './metadata-api';
import { type CallerContext, type Operations, unknownAttribute } from './operations';
import { AnnotationFilter, checkFilter, checkOrderBy, checkSelect, Serializer } from './serialize';
import type { Store, StoredRow } from './store';
import { type KeySegment, parseKeySegment, parseQuery, splitPath, splitSegment } from './url';

/** Dataverse's page size ceiling and default (B.8). */
export const MAX_PAGE_SIZE = 5000;
/** Organization.ExpireChangeTrackingInDays default (B.9). */
export const CHANGE_TRACKING_EXPIRY_DAYS = 7;

export interface SimRequest {
  method: string;
  /** Path below the API base, e.g. `accounts(…)`; already percent-decoded. */
  path: string;
  /** Raw query string without `?` (kept raw so nextLink/deltaLink repeat the client's own options). */
  rawQuery: string;
  /** Lower-cased header names. */
  headers: Record<string, string | undefined>;
  body: string | undefined;
  ctx: CallerContext;
}

export interface SimResponse {
  status: number;
  headers: Record<string, string>;
  body?: string;
}

const JSON_TYPE = 'application/json; odata.metadata=minimal';
const bodySchema = z.record(z.string(), z.unknown());
const SUPPORTED_OPTIONS = new Set(['$select', '$filter', '$orderby', '$top', '$expand', '$skiptoken', '$deltatoken', '$count']);

interface Cookie {
  /** Page number of the next page. */
  p: number;
  /** Last row's $orderby values and id (key-based paging, stable when rows are added or removed). */
  v?: unknown[];
  id?: string;
  /** Initial change-tracking snapshot version. */
  snap?: number;
  /** Delta paging: from/to version, phase (u = upserts, d = deletions) and last version returned. */
  from?: number;
  to?: number;
  phase?: 'u' | 'd';
  last?: number;
}

function encodeCookie(c: Cookie, tracking: boolean): string {
  const inner = Buffer.from(JSON.stringify(c)).toString('base64url');
  return `<cookie pagenumber="${c.p}" pagingcookie="${inner}" istracking="${tracking ? 'True' : 'False'}" />`;
}

function decodeCookie(token: string): Cookie {
  const m = /pagingcookie="([^"]*)"/.exec(token);
  try {
    if (!m || m[1] === undefined) throw new Error('no cookie');
    return JSON.parse(Buffer.from(m[1], 'base64url').toString('utf8')) as Cookie;
  } catch {
    throw badRequest(
      'The $skiptoken is not a paging cookie issued by this service. Use the @odata.nextLink unchanged.',
      Codes.invalidArgument,
    );
  }
}

/** Lower-case percent-encoding as in the documented deltaLink (`919042%2108%2f22%2f2017%2008%3a10%3a44`). */
function encodeToken(s: string): string {
  return encodeURIComponent(s)
    .replace(/!/g, '%21')
    .replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
}

function tokenDate(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

function parseTokenDate(s: string): number | undefined {
  const m = /^(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2}):(\d{2})$/.exec(s);
  if (!m) return undefined;
  return Date.UTC(Number(m[3]), Number(m[1]) - 1, Number(m[2]), Number(m[4]), Number(m[5]), Number(m[6]));
}

/** The Web API below `/api/data/v9.2/`: synchronous so $batch change sets can run inside one store transaction. */
export class WebApi {
  readonly serializer: Serializer;
  organizationId = '';
  businessUnitId = '';

  constructor(
    readonly store: Store,
    readonly catalog: Catalog,
    readonly ops: Operations,
    readonly clock: SimClock,
    readonly apiBase: () => string,
    private readonly metadataApi: MetadataApi,
  ) {
    this.serializer = new Serializer(store, catalog);
  }

  handle(req: SimRequest): SimResponse {
    try {
      return this.route(req);
    } catch (err) {
      return errorResponse(err);
    }
  }

  private route(req: SimRequest): SimResponse {
    const segments = splitPath(req.path);
    const first = segments[0];
    if (first === undefined) throw new DataverseError(404, Codes.unknownProperty, 'Resource not found for the segment.');
    if (first === 'WhoAmI' || first === 'WhoAmI()') {
      requireMethod(req, 'GET');
      return json(200, {
        '@odata.context': `${this.apiBase()}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
        BusinessUnitId: this.businessUnitId,
        UserId: req.ctx.userId,
        OrganizationId: this.organizationId,
      });
    }
    if (first.startsWith('EntityDefinitions') || first === 'InsertOptionValue' || first === '$metadata') {
      return this.metadataApi.handle(req, segments);
    }
    if (UNBOUND_ACTIONS.has(first)) {
      requireMethod(req, 'POST');
      fulfillSalesOrder(this.ops, req.ctx, parseBody(req.body));
      return { status: 204, headers: { 'OData-Version': '4.0' } };
    }
    const { name, key } = splitSegment(first);
    const meta = this.catalog.bySetName.get(name);
    if (!meta) throw new DataverseError(404, Codes.unknownProperty, `Resource not found for the segment '${name}'.`);
    const query = parseQuery(req.rawQuery);
    for (const k of query.keys()) {
      if (k.startsWith('$') && !SUPPORTED_OPTIONS.has(k)) {
        if (k === '$skip')
          throw badRequest(
            'The query parameter $skip is not supported. Use paging with Prefer: odata.maxpagesize and @odata.nextLink.',
            Codes.unknownProperty,
          );
        throw badRequest(`The query parameter ${k} is not supported.`, Codes.unknownProperty);
      }
    }
    if (key === undefined) {
      if (segments[1] === '$count' && segments.length === 2) {
        requireMethod(req, 'GET');
        return this.count(meta, query);
      }
      const bulk = bulkMessageOf(segments[1]);
      if (bulk && segments.length === 2) return bulkAction(this, meta, bulk, req);
      if (segments.length > 1) throw new DataverseError(404, Codes.unknownProperty, `Resource not found for the segment '${segments[1]}'.`);
      if (req.method === 'GET') return this.list(meta, query, req);
      if (req.method === 'POST') return this.create(meta, query, req);
      throw methodNotAllowed(req.method, name);
    }
    const keySeg = parseKeySegment(key);
    if (segments.length === 1) {
      switch (req.method) {
        case 'GET':
          return this.retrieve(meta, keySeg, query, req);
        case 'PATCH':
          return this.upsert(meta, keySeg, key, query, req);
        case 'DELETE':
          return this.remove(meta, keySeg, req);
        default:
          throw methodNotAllowed(req.method, name);
      }
    }
    return this.member(meta, keySeg, segments.slice(1), req);
  }

  private findOrThrow(meta: EntityMeta, key: KeySegment): string {
    const id = this.ops.resolveKey(meta, key);
    if (id === undefined) {
      if (key.kind === 'id') throw notFound(meta.logicalName, key.id);
      throw new DataverseError(404, Codes.notFound, `A record with the specified key values does not exist in ${meta.logicalName} entity`);
    }
    return id;
  }

  private contextUrl(meta: EntityMeta, select: string[] | undefined, suffix = ''): string {
    const cols = select && !select.includes('*') ? `(${select.join(',')})` : '';
    return `${this.apiBase()}/$metadata#${meta.entitySetName}${cols}${suffix}`;
  }

  private entityUrl(meta: EntityMeta, keyText: string): string {
    return `${this.apiBase()}/${meta.entitySetName}(${keyText})`;
  }

  private retrieve(meta: EntityMeta, key: KeySegment, query: Map<string, string>, req: SimRequest): SimResponse {
    const id = this.findOrThrow(meta, key);
    const row = this.store.get(meta.logicalName, id) as StoredRow;
    const select = parseSelect(query.get('$select'));
    checkSelect(meta, select);
    const expand = parseExpand(query.get('$expand'));
    this.serializer.validateExpand(meta, expand);
    const annotations = AnnotationFilter.fromPrefer(req.headers.prefer);
    const etag = `W/"${String(row.versionnumber)}"`;
    const inm = req.headers['if-none-match'];
    // Conditional GET never applies with $expand or annotations (B.4).
    if (inm && inm !== 'null' && expand.length === 0 && !annotations.any && etagMatches(inm, etag)) {
      return { status: 304, headers: { 'OData-Version': '4.0', ETag: etag } };
    }
    const body = {
      '@odata.context': this.contextUrl(meta, select, '/$entity'),
      ...this.serializer.row(meta, row, { annotations, expand, ...(select ? { select } : {}) }),
    };
    return json(200, body, { ETag: etag });
  }

  private create(meta: EntityMeta, query: Map<string, string>, req: SimRequest): SimResponse {
    const body = parseBody(req.body);
    const row = this.ops.create(req.ctx, meta, body);
    const id = String(row[meta.primaryId]);
    return this.writeResponse(meta, row, id, query, req, 201);
  }

  private writeResponse(
    meta: EntityMeta,
    row: StoredRow,
    keyText: string,
    query: Map<string, string>,
    req: SimRequest,
    representationStatus: 200 | 201,
  ): SimResponse {
    const etag = `W/"${String(row.versionnumber)}"`;
    if (hasPreference(req.headers.prefer, 'return=representation')) {
      const select = parseSelect(query.get('$select'));
      checkSelect(meta, select);
      const annotations = AnnotationFilter.fromPrefer(req.headers.prefer);
      // $expand is ignored on write responses (B.4).
      const body = {
        '@odata.context': this.contextUrl(meta, select, '/$entity'),
        ...this.serializer.row(meta, row, { annotations, ...(select ? { select } : {}) }),
      };
      return json(representationStatus, body, { ETag: etag, 'Preference-Applied': 'return=representation' });
    }
    return {
      status: 204,
      headers: { 'OData-Version': '4.0', 'OData-EntityId': this.entityUrl(meta, keyText) },
    };
  }

  /** PATCH: update or upsert with the If-Match / If-None-Match matrix of B.5. */
  private upsert(meta: EntityMeta, key: KeySegment, keyText: string, query: Map<string, string>, req: SimRequest): SimResponse {
    const body = parseBody(req.body);
    const ifMatch = req.headers['if-match'];
    const ifNoneMatchRaw = req.headers['if-none-match'];
    const ifNoneMatch = ifNoneMatchRaw === 'null' ? undefined : ifNoneMatchRaw;
    const id = this.ops.resolveKey(meta, key);
    const altKey = key.kind === 'keys' && !(key.pairs.length === 1 && key.pairs[0]?.[0] === meta.primaryId);
    const keyColumns = altKey && key.kind === 'keys' ? this.ops.keyColumns(meta, key) : [];
    const urlText = key.kind === 'id' ? key.id : keyText;
    if (id !== undefined) {
      const row = this.store.get(meta.logicalName, id) as StoredRow;
      if (ifNoneMatch !== undefined) {
        if (ifNoneMatch.trim() === '*') throw duplicateRecord();
        if (etagMatches(ifNoneMatch, `W/"${String(row.versionnumber)}"`)) throw duplicateRecord();
      }
      if (ifMatch !== undefined && ifMatch.trim() !== '*' && !etagMatches(ifMatch, `W/"${String(row.versionnumber)}"`)) {
        throw versionMismatch();
      }
      const updated = this.ops.update(req.ctx, meta, id, body, { dropKeyColumns: keyColumns });
      return this.writeResponse(meta, updated, altKey ? urlText : id, query, req, 200);
    }
    if (ifMatch !== undefined) {
      if (ifMatch.trim() === '*') {
        if (key.kind === 'id') throw notFound(meta.logicalName, key.id);
        throw new DataverseError(
          404,
          Codes.notFound,
          `A record with the specified key values does not exist in ${meta.logicalName} entity`,
        );
      }
      // [INFERRED] a version tag cannot match a row that does not exist.
      throw versionMismatch();
    }
    const keyValues: Record<string, unknown> = {};
    let presetId: string | undefined;
    if (key.kind === 'id') presetId = key.id;
    else if (!altKey) presetId = String(key.pairs[0]?.[1]).toLowerCase();
    else for (const [n, v] of key.pairs) keyValues[n] = v;
    const created = this.ops.create(req.ctx, meta, body, { ...(presetId ? { presetId } : {}), keyValues });
    return this.writeResponse(meta, created, altKey ? urlText : String(created[meta.primaryId]), query, req, 201);
  }

  private remove(meta: EntityMeta, key: KeySegment, req: SimRequest): SimResponse {
    const id = this.findOrThrow(meta, key);
    const row = this.store.get(meta.logicalName, id) as StoredRow;
    const ifMatch = req.headers['if-match'];
    if (ifMatch !== undefined && ifMatch.trim() !== '*' && !etagMatches(ifMatch, `W/"${String(row.versionnumber)}"`)) {
      throw versionMismatch();
    }
    this.ops.delete(req.ctx, meta, id);
    return { status: 204, headers: { 'OData-Version': '4.0' } };
  }

  /** `accounts(id)/name`, `accounts(id)/primarycontactid`, `…/$ref`, `salesorders(id)/order_details`. */
  private member(meta: EntityMeta, key: KeySegment, rest: string[], req: SimRequest): SimResponse {
    const id = this.findOrThrow(meta, key);
    const row = this.store.get(meta.logicalName, id) as StoredRow;
    const prop = rest[0] as string;
    if (BOUND_ACTIONS.has(prop) && rest.length === 1) {
      requireMethod(req, 'POST');
      publishProductHierarchy(this.ops, req.ctx, meta, id);
      return { status: 204, headers: { 'OData-Version': '4.0' } };
    }
    const annotations = AnnotationFilter.fromPrefer(req.headers.prefer);
    const nav = meta.navs.get(prop);
    const coll = meta.collections.find((c) => c.name === prop);
    if (rest[1] === '$ref' && rest.length === 2) {
      if (!nav) throw unknownAttribute(prop, meta);
      if (req.method === 'DELETE') {
        this.ops.update(req.ctx, meta, id, { [`${prop}@odata.bind`]: null });
        return { status: 204, headers: { 'OData-Version': '4.0' } };
      }
      if (req.method === 'PUT') {
        const body = z.object({ '@odata.id': z.string() }).safeParse(parseBody(req.body));
        if (!body.success) throw badRequest('A $ref PUT needs a body like {"@odata.id": "<entityset>(<id>)"}.');
        this.ops.update(req.ctx, meta, id, { [`${prop}@odata.bind`]: body.data['@odata.id'] });
        return { status: 204, headers: { 'OData-Version': '4.0' } };
      }
      throw methodNotAllowed(req.method, prop);
    }
    if (rest.length !== 1) throw new DataverseError(404, Codes.unknownProperty, `Resource not found for the segment '${rest.join('/')}'.`);
    if (nav || coll) {
      requireMethod(req, 'GET');
      const query = parseQuery(req.rawQuery);
      const select = parseSelect(query.get('$select'));
      const value = this.serializer.row(meta, row, {
        annotations,
        select: [meta.primaryId],
        expand: [{ property: prop, ...(select ? { select } : {}) }],
      })[prop];
      if (coll)
        return json(200, { '@odata.context': `${this.apiBase()}/$metadata#${this.catalog.entity(coll.target).entitySetName}`, value });
      if (value === null) throw new DataverseError(404, Codes.notFound, `No ${prop} is set on ${meta.logicalName} ${id}.`);
      return json(200, value as Record<string, unknown>);
    }
    const attr = meta.wire.get(prop) ?? meta.attributes.get(prop);
    if (!attr) throw unknownAttribute(prop, meta);
    if (req.method === 'GET') {
      const value = row[prop] ?? null;
      if (value === null) return { status: 204, headers: { 'OData-Version': '4.0' } };
      return json(200, { '@odata.context': `${this.apiBase()}/$metadata#${meta.entitySetName}(${id})/${prop}`, value });
    }
    if (req.method === 'PUT') {
      const body = z.object({ value: z.unknown() }).safeParse(parseBody(req.body));
      if (!body.success) throw badRequest('A single-property PUT needs a body like {"value": …}.');
      this.ops.update(req.ctx, meta, id, { [prop]: body.data.value });
      return { status: 204, headers: { 'OData-Version': '4.0' } };
    }
    if (req.method === 'DELETE') {
      this.ops.update(req.ctx, meta, id, { [prop]: null });
      return { status: 204, headers: { 'OData-Version': '4.0' } };
    }
    throw methodNotAllowed(req.method, prop);
  }

  private count(meta: EntityMeta, query: Map<string, string>): SimResponse {
    const delta = query.get('$deltatoken');
    let n: number;
    if (delta !== undefined) {
      const from = this.parseDeltaToken(delta);
      const t = this.store.table(meta.logicalName);
      n = [...t.rows.values()].filter((r) => Number(r.versionnumber) > from).length;
      n += t.tombstones.filter((d) => d.version > from && !t.rows.has(d.id)).length;
    } else {
      const filter = query.get('$filter');
      const predicate = filter ? checkFilter(meta, filter) : undefined;
      n = 0;
      for (const r of this.store.table(meta.logicalName).rows.values()) if (!predicate || predicate(r)) n++;
    }
    return { status: 200, headers: { 'OData-Version': '4.0', 'Content-Type': 'text/plain' }, body: String(Math.min(n, MAX_PAGE_SIZE)) };
  }

  /** Collection GET: $filter/$orderby/$top/$select/$expand, key-based paging and change tracking. */
  private list(meta: EntityMeta, query: Map<string, string>, req: SimRequest): SimResponse {
    const prefer = req.headers.prefer;
    const select = parseSelect(query.get('$select'));
    checkSelect(meta, select);
    const requested = parseMaxPageSize(prefer);
    const pageSize = Math.min(requested ?? MAX_PAGE_SIZE, MAX_PAGE_SIZE);
    const applied: string[] = [];
    if (requested !== undefined) applied.push(`odata.maxpagesize=${pageSize}`);
    const track = hasPreference(prefer, 'odata.track-changes');
    const skiptoken = query.get('$skiptoken');
    const cookie = skiptoken !== undefined ? decodeCookie(skiptoken) : undefined;
    const annotations = AnnotationFilter.fromPrefer(prefer);
    if (track || query.has('$deltatoken') || cookie?.from !== undefined || cookie?.snap !== undefined) {
      for (const opt of ['$filter', '$orderby', '$expand', '$top']) {
        if (query.has(opt)) {
          throw badRequest(`The "${opt}" query parameter isn't supported when Change Tracking is enabled.`, Codes.invalidArgument);
        }
      }
      if (track) applied.push('odata.track-changes');
      return this.changes(meta, query, select, pageSize, cookie, annotations, req, applied);
    }
    const filter = query.get('$filter');
    const predicate = filter ? checkFilter(meta, filter) : undefined;
    const orderby = query.get('$orderby');
    const expand = parseExpand(query.get('$expand'));
    this.serializer.validateExpand(meta, expand);
    const top = parseTop(query.get('$top'));
    // $top is ignored when odata.maxpagesize is present (B.8).
    const limit = requested === undefined && top !== undefined ? Math.min(top, MAX_PAGE_SIZE) : pageSize;
    const t = this.store.table(meta.logicalName);
    const page: StoredRow[] = [];
    let more = false;
    let lastValues: unknown[] | undefined;
    if (!orderby) {
      const ids = t.sortedIds();
      let start = 0;
      if (cookie?.id !== undefined) start = upperBound(ids, cookie.id);
      for (let i = start; i < ids.length; i++) {
        const row = t.rows.get(ids[i] as string) as StoredRow;
        if (predicate && !predicate(row)) continue;
        if (page.length === limit) {
          more = true;
          break;
        }
        page.push(row);
      }
    } else {
      const cmp = checkOrderBy(meta, orderby);
      const props = orderByPropsOf(orderby);
      const pk = meta.primaryId;
      const full = (a: StoredRow, b: StoredRow) => cmp(a, b) || cmpId(String(a[pk]), String(b[pk]));
      let rows = [...t.rows.values()];
      if (predicate) rows = rows.filter(predicate);
      if (cookie?.id !== undefined) {
        const probe: StoredRow = { [pk]: cookie.id };
        props.forEach((p, i) => {
          probe[p] = cookie.v?.[i] ?? null;
        });
        rows = rows.filter((r) => full(r, probe) > 0);
      }
      rows.sort(full);
      more = rows.length > limit;
      page.push(...rows.slice(0, limit));
      const last = page[page.length - 1];
      if (last) lastValues = props.map((p) => last[p] ?? null);
    }
    const value = page.map((r) => this.serializer.row(meta, r, { annotations, expand, ...(select ? { select } : {}) }));
    const body: Record<string, unknown> = { '@odata.context': this.contextUrl(meta, select) };
    if (query.get('$count') === 'true') {
      let n = 0;
      for (const r of t.rows.values()) if (!predicate || predicate(r)) n++;
      body['@odata.count'] = Math.min(n, MAX_PAGE_SIZE);
      if (n > MAX_PAGE_SIZE) body['@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded'] = true;
    }
    body.value = value;
    const last = page[page.length - 1];
    // $top without maxpagesize returns one page: no nextLink.
    if (more && last && !(requested === undefined && top !== undefined)) {
      const next: Cookie = { p: (cookie?.p ?? 1) + 1, id: String(last[meta.primaryId]), ...(lastValues ? { v: lastValues } : {}) };
      body['@odata.nextLink'] = this.link(meta, req.rawQuery, `$skiptoken=${encodeURIComponent(encodeCookie(next, false))}`);
    }
    return json(200, body, applied.length ? { 'Preference-Applied': applied.join(',') } : {});
  }

  private link(meta: EntityMeta, rawQuery: string, extra: string): string {
    const kept = rawQuery.split('&').filter((p) => p !== '' && !/^(\$|%24)(skiptoken|deltatoken)=/i.test(p));
    kept.push(extra);
    return `${this.apiBase()}/${meta.entitySetName}?${kept.join('&')}`;
  }

  private parseDeltaToken(token: string): number {
    const m = /^(\d+)!(.+)$/.exec(token);
    const issued = m?.[2] !== undefined ? parseTokenDate(m[2]) : undefined;
    if (!m || issued === undefined) {
      throw badRequest(`'${token}' is not a valid $deltatoken. Use the @odata.deltaLink unchanged.`, Codes.invalidArgument);
    }
    if (this.clock.now() - issued > CHANGE_TRACKING_EXPIRY_DAYS * 86_400_000) {
      throw new DataverseError(
        400,
        Codes.expiredVersionStamp,
        'Version stamp associated with the client has expired. Please perform a full sync.',
      );
    }
    return Number(m[1]);
  }

  /** Change tracking (B.9): the initial full read ends with a deltaLink; a delta lists upserts, then deletions. */
  private changes(
    meta: EntityMeta,
    query: Map<string, string>,
    select: string[] | undefined,
    pageSize: number,
    cookie: Cookie | undefined,
    annotations: AnnotationFilter,
    req: SimRequest,
    applied: string[],
  ): SimResponse {
    const t = this.store.table(meta.logicalName);
    const delta = query.get('$deltatoken');
    const headers: Record<string, string> = applied.length ? { 'Preference-Applied': applied.join(',') } : {};
    const opts = { annotations, ...(select ? { select } : {}) };
    if (delta === undefined && cookie?.from === undefined) {
      // Initial synchronisation: every row in key order; the deltaLink covers changes after the first page's snapshot.
      const snap = cookie?.snap ?? this.store.version;
      const ids = t.sortedIds();
      const start = cookie?.id !== undefined ? upperBound(ids, cookie.id) : 0;
      const slice = ids.slice(start, start + pageSize);
      const value = slice.map((id) => this.serializer.row(meta, t.rows.get(id) as StoredRow, opts));
      const body: Record<string, unknown> = { '@odata.context': this.contextUrl(meta, select), value };
      const lastId = slice[slice.length - 1];
      if (start + pageSize < ids.length && lastId !== undefined) {
        const next: Cookie = { p: (cookie?.p ?? 1) + 1, id: lastId, snap };
        body['@odata.nextLink'] = this.link(meta, req.rawQuery, `$skiptoken=${encodeURIComponent(encodeCookie(next, true))}`);
      } else {
        body['@odata.deltaLink'] = this.deltaLink(meta, req.rawQuery, snap);
      }
      return json(200, reorderLinks(body), headers);
    }
    const from = cookie?.from ?? this.parseDeltaToken(delta as string);
    const to = cookie?.to ?? this.store.version;
    let phase: 'u' | 'd' | 'done' = cookie?.phase ?? 'u';
    let last = cookie?.last ?? from;
    const value: unknown[] = [];
    if (phase === 'u') {
      const changed = [...t.rows.values()]
        .filter((r) => Number(r.versionnumber) > last && Number(r.versionnumber) <= to)
        .sort((a, b) => Number(a.versionnumber) - Number(b.versionnumber));
      for (const r of changed.slice(0, pageSize)) value.push(this.serializer.row(meta, r, opts));
      if (changed.length > pageSize) last = Number(changed[pageSize - 1]?.versionnumber);
      else {
        phase = 'd';
        last = from;
      }
    }
    if (phase === 'd' && value.length < pageSize) {
      const seen = new Set<string>();
      const deleted = t.tombstones
        .filter((d) => d.version > last && d.version <= to && !t.rows.has(d.id))
        .filter((d) => {
          if (seen.has(d.id)) return false;
          seen.add(d.id);
          return true;
        });
      const room = pageSize - value.length;
      for (const d of deleted.slice(0, room)) {
        value.push({ '@odata.context': `${this.apiBase()}/$metadata#${meta.entitySetName}/$deletedEntity`, id: d.id, reason: 'deleted' });
      }
      if (deleted.length > room) {
        last = deleted[room - 1]?.version ?? last;
      } else phase = 'done';
    }
    const body: Record<string, unknown> = { '@odata.context': this.contextUrl(meta, select, '/$delta'), value };
    if (phase === 'done') body['@odata.deltaLink'] = this.deltaLink(meta, req.rawQuery, to);
    else {
      const next: Cookie = { p: (cookie?.p ?? 1) + 1, from, to, phase: phase === 'u' ? 'u' : 'd', last };
      body['@odata.nextLink'] = this.link(meta, req.rawQuery, `$skiptoken=${encodeURIComponent(encodeCookie(next, true))}`);
    }
    return json(200, reorderLinks(body), headers);
  }

  private deltaLink(meta: EntityMeta, rawQuery: string, version: number): string {
    return this.link(meta, rawQuery, `$deltatoken=${encodeToken(`${version}!${tokenDate(this.clock.now())}`)}`);
  }
}

/** The documented samples put the delta/next link before `value`. */
function reorderLinks(body: Record<string, unknown>): Record<string, unknown> {
  const { value, ...rest } = body;
  return { ...rest, value };
}

function orderByPropsOf(orderby: string): string[] {
  return orderby.split(',').map((s) => s.trim().split(/\s+/)[0] ?? '');
}

function cmpId(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** First index whose id is greater than `id` in a sorted id list. */
function upperBound(ids: string[], id: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((ids[mid] as string) <= id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function etagMatches(header: string, etag: string): boolean {
  return header
    .split(',')
    .map((s) => s.trim())
    .some((t) => t === '*' || t === etag || t === etag.slice(2));
}

function parseBody(raw: string | undefined): Record<string, unknown> {
  if (raw === undefined || raw.trim() === '') throw badRequest('The request body is empty: expected a JSON object.');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw badRequest(`The request body is not valid JSON: ${(err as Error).message}`);
  }
  const r = bodySchema.safeParse(parsed);
  if (!r.success) throw badRequest('The request body must be a JSON object.');
  return r.data;
}

function requireMethod(req: SimRequest, method: string): void {
  if (req.method !== method) throw methodNotAllowed(req.method, req.path);
}

function methodNotAllowed(method: string, what: string): DataverseError {
  return new DataverseError(405, Codes.invalidArgument, `The HTTP method '${method}' is not allowed on '${what}'.`);
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): SimResponse {
  return {
    status,
    headers: { 'OData-Version': '4.0', 'Content-Type': JSON_TYPE, ...headers },
    body: JSON.stringify(body),
  };
}

export function errorResponse(err: unknown): SimResponse {
  if (err instanceof DataverseError) return json(err.status, err.body(), err.headers);
  if (err instanceof ODataQueryError) return json(400, { error: { code: Codes.unknownProperty, message: err.message } });
  const message = err instanceof Error ? err.message : String(err);
  return json(500, { error: { code: Codes.unexpected, message: `An unexpected error occurred: ${message}` } });
}

export { randomUUID };
