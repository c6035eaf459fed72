import { BC_EXTENSION_MANIFEST } from '../../shared/bc-extension/manifest';
import {
  compileFilter,
  compileOrderBy,
  type ExpandItem,
  filterProperties,
  hasOrOnDistinctFields,
  ODataQueryError,
  orderByProperties,
  parseExpand,
  parseMaxPageSize,
  parseSelect,
  parseTop,
} from '../odata';
import {
  BcError,
  dialog,
  entityChanged,
  errorBody,
  methodNotAllowed,
  missingIfMatch,
  querySyntax,
  recordNotFound,
  segmentNotFound,
} from './errors';
import { type ApiGroup, BLANK_GUID, CUSTOM_API, findPage, type PageDef, pageServed, pages } from './schema';
import { type CompanyStore, coerce, etagFor, isGuid, type Rec, type Row, type Store } from './store';
import type { WebhookManager } from './webhooks';

export const MAX_PAGE_SIZE = 20_000;
export const MAX_BATCH_OPERATIONS = 100;

/** A request after the environment prefix, shared by HTTP requests and $batch operations. */
export interface ApiRequest {
  method: string;
  group: ApiGroup | 'microsoft/runtime/beta' | 'microsoft/automation/v2.0';
  /** Path segments after `api/<group>/`. */
  segments: string[];
  query: URLSearchParams;
  /** Raw query string without `?`, kept for nextLinks. */
  rawQuery: string;
  headers: Record<string, string | undefined>;
  body: unknown;
  /** Absolute URL of the API root for this group, e.g. `http://127.0.0.1:7072/v2.0/<tenant>/<env>/api/v2.0`. */
  apiRoot: string;
  /** User identity (the bearer token). */
  user: string;
  /** Set inside a $batch: stop at the first failure and roll back. */
  inBatch?: boolean;
}

export interface ApiResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface ApiSettings {
  /** What a `Prefer: odata.maxpagesize` above 20,000 gets: `413` (documented limit) or `clamp` to 20,000. */
  pageSizeOverLimit: '413' | 'clamp';
}

export interface ApiContext {
  store: Store;
  webhooks: WebhookManager;
  settings: ApiSettings;
  /** Counts one operation by method and entity set (HTTP requests and $batch operations alike). */
  count(method: string, entitySet: string): void;
}

const JSON_HEADERS = { 'Content-Type': 'application/json; odata.metadata=minimal', 'OData-Version': '4.0' };

interface Segment {
  name: string;
  key?: string;
}

export function parseSegment(raw: string): Segment {
  const s = decodeURIComponent(raw);
  const m = /^([A-Za-z$][\w.$]*)(?:\((.*)\))?$/.exec(s);
  if (!m) throw querySyntax();
  return { name: m[1] as string, key: m[2] };
}

function guidKey(seg: Segment): string {
  const k = (seg.key ?? '').trim();
  if (!isGuid(k)) throw querySyntax(`The key value '${k}' is not a valid Edm.Guid.`);
  return k.toLowerCase();
}

/** Text of the first entity-set-like segment, for request counters. */
export function entitySetOf(segments: string[]): string {
  const names = segments.map((s) => s.replace(/\(.*$/, ''));
  if (names[0] === 'companies' && names.length > 1) return names[1] as string;
  return names[0] ?? '';
}

function wrapOData<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ODataQueryError) throw new BcError(400, 'BadRequest', err.message);
    throw err;
  }
}

export async function dispatch(ctx: ApiContext, req: ApiRequest): Promise<ApiResponse> {
  const segs = req.segments;
  ctx.count(req.method, entitySetOf(segs));
  if (req.group === 'microsoft/runtime/beta') return runtime(ctx, req);
  if (req.group === 'microsoft/automation/v2.0') return automation(ctx, req);
  const first = segs[0] ? parseSegment(segs[0]) : undefined;
  if (!first) return { status: 200, headers: JSON_HEADERS, body: { '@odata.context': `${req.apiRoot}/$metadata`, value: [] } };
  if (first.name === '$batch') return batch(ctx, req);
  if (first.name === 'subscriptions') return subscriptions(ctx, req, first);
  if (first.name === 'companies') {
    if (segs.length === 1) return companies(ctx, req, first);
    const companyId = guidKey(first);
    const company = ctx.store.company(companyId);
    return entity(ctx, req, company, segs.slice(1));
  }
  const companyParam = req.query.get('company') ?? req.headers.company;
  if (!companyParam)
    throw new BcError(
      400,
      'Internal_CompanyNotFound',
      "Cannot process the request because the default company cannot be found. You can specify a default company in the service configuration file, or specify one for each tenant, or you can add a query string in the form of 'company=[name]'.",
    );
  const company = ctx.store.companyByName(companyParam.replace(/^'(.*)'$/, '$1'));
  if (!company) throw new BcError(404, 'BadRequest_NotFound', `The company '${companyParam}' does not exist.`);
  return entity(ctx, req, company, segs);
}

function companyJson(c: CompanyStore): Row {
  return {
    id: c.id,
    systemVersion: '26.0.30643.32019',
    timestamp: 1,
    name: c.name,
    displayName: c.displayName,
    businessProfileId: '',
    systemCreatedAt: c.createdAt,
    systemCreatedBy: BLANK_GUID,
    systemModifiedAt: c.createdAt,
    systemModifiedBy: BLANK_GUID,
  };
}

function companies(ctx: ApiContext, req: ApiRequest, seg: Segment): ApiResponse {
  if (req.method !== 'GET') throw methodNotAllowed(req.method, 'companies');
  if (seg.key !== undefined) {
    const c = ctx.store.company(guidKey(seg));
    return {
      status: 200,
      headers: JSON_HEADERS,
      body: { '@odata.context': `${req.apiRoot}/$metadata#companies/$entity`, ...companyJson(c) },
    };
  }
  return {
    status: 200,
    headers: JSON_HEADERS,
    body: { '@odata.context': `${req.apiRoot}/$metadata#companies`, value: [...ctx.store.companies.values()].map(companyJson) },
  };
}

/**
 * GET api/microsoft/automation/v2.0/companies({id})/extensions: the installed apps, with the properties the
 * documentation's example shows (packageId, id, displayName, publisher, versionMajor, versionMinor, scope,
 * isInstalled; dynamics_extension_get.md). Only the base application and the service's extension are listed.
 */
function automation(ctx: ApiContext, req: ApiRequest): ApiResponse {
  const [c, r] = req.segments.map(parseSegment);
  if (c?.name !== 'companies' || !r || r.name !== 'extensions' || req.segments.length !== 2) throw segmentNotFound(req.segments.join('/'));
  if (req.method !== 'GET') throw methodNotAllowed(req.method, 'extensions');
  ctx.store.company(guidKey(c));
  const app = (id: string, packageId: string, displayName: string, publisher: string, version: string, scope: number) => {
    const [major = 0, minor = 0] = version.split('.').map(Number);
    return { packageId, id, displayName, publisher, versionMajor: major, versionMinor: minor, scope, isInstalled: true };
  };
  const ext = ctx.store.settings.extension;
  const { app: ours } = BC_EXTENSION_MANIFEST;
  const value = [
    app('437dbf0e-84ff-417a-965d-ed2bb9650972', '6f2c5e0b-1a7d-4b8e-9c3f-2d4e6a8b0c1d', 'Base Application', 'Microsoft', '26.0.0.0', 0),
    // A per-tenant extension: scope 1 (tenant).
    ...(ext.installed ? [app(ours.id, '9e4a7c2d-3b5f-4d6e-8a1c-0f2b4d6e8a1c', ours.name, ours.publisher, ext.version, 1)] : []),
  ];
  return {
    status: 200,
    headers: JSON_HEADERS,
    body: { '@odata.context': `${req.apiRoot}/$metadata#companies(${c.key})/extensions`, value },
  };
}

function runtime(ctx: ApiContext, req: ApiRequest): ApiResponse {
  // GET api/microsoft/runtime/beta/companies({id})/webhookSupportedResources[?$filter=resource eq 'v2.0*']
  const [c, r] = req.segments.map(parseSegment);
  if (c?.name !== 'companies' || !r || r.name !== 'webhookSupportedResources') throw segmentNotFound(req.segments.join('/'));
  if (req.method !== 'GET') throw methodNotAllowed(req.method, 'webhookSupportedResources');
  ctx.store.company(guidKey(c));
  let value = pages
    .filter((p) => ctx.webhooks.supports(p) && pageServed(ctx.store.settings.extension, p))
    .map((p) => ({ resource: `${p.group}/${p.entitySet}` }));
  const filter = req.query.get('$filter');
  if (filter) {
    // BC filters this list with its own wildcard syntax: resource eq 'v2.0*'.
    const m = /^\s*resource\s+eq\s+'([^']*)'\s*$/.exec(filter);
    if (!m) throw querySyntax();
    const re = new RegExp(`^${(m[1] as string).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    value = value.filter((v) => re.test(v.resource));
  }
  return {
    status: 200,
    headers: JSON_HEADERS,
    body: { '@odata.context': `${req.apiRoot}/$metadata#companies(${c.key})/webhookSupportedResources`, value },
  };
}

// ---------- entities ----------

function contextUrl(req: ApiRequest, company: CompanyStore, path: string, select: string[] | undefined, single: boolean): string {
  const sel = select && !select.includes('*') ? `(${select.join(',')})` : '';
  return `${req.apiRoot}/$metadata#companies(${company.id})/${path}${sel}${single ? '/$entity' : ''}`;
}

function checkIfMatch(ctx: ApiContext, req: ApiRequest, rec: Rec): void {
  const ifMatch = req.headers['if-match'];
  if (ifMatch === undefined || ifMatch.trim() === '') throw missingIfMatch();
  const current = etagFor(rec);
  const strip = (e: string) => e.trim().replace(/^W\//, '');
  const ok = ifMatch.split(/,(?=\s*(?:W\/)?")/).some((e) => e.trim() === '*' || strip(e) === strip(current));
  if (!ok) throw entityChanged(ctx.store.settings.staleEtagStatus);
}

function lineContext(page: PageDef): { lines: PageDef; foreignKey: string } | undefined {
  if (!page.lines) return undefined;
  const lines = findPage(page.group, page.lines.entitySet);
  if (!lines) return undefined;
  return { lines, foreignKey: 'documentId' };
}

function assertEditable(company: CompanyStore, page: PageDef, rec: Rec, action: 'modify' | 'delete' | 'insert'): void {
  const allowed = action === 'modify' ? page.modifyAllowed : action === 'delete' ? page.deleteAllowed : page.insertAllowed;
  if (allowed === false) throw methodNotAllowed(action === 'modify' ? 'PATCH' : action === 'delete' ? 'DELETE' : 'POST', page.entitySet);
  // Posted invoices (and their lines) are read-only: changes go through corrective documents in BC.
  const header =
    page.table === 'salesInvoice'
      ? rec
      : page.table === 'salesInvoiceLine'
        ? company.get('salesInvoice', rec.data.documentId as string)
        : undefined;
  if (header?.data.posted === true) throw dialog('The sales invoice has been posted and can no longer be changed.');
  if (page.table === 'salesOrder' || page.table === 'salesOrderLine') {
    assertOrderOpen(page.table === 'salesOrder' ? rec : company.get('salesOrder', rec.data.documentId as string));
  }
}

/**
 * A Released order (API status 'Open') and its lines can't be changed until it is reopened (Sales Header
 * TestStatusOpen). The API shows BC's Open as 'Draft' and Released as 'Open'.
 */
function assertOrderOpen(order: Rec | undefined): void {
  if (order?.data.status !== 'Open') return;
  throw new BcError(
    400,
    'Application_FieldValidationException',
    `Status must be equal to 'Open'  in Sales Header: Document Type=Order, No.=${String(order.data.number)}. Current value is 'Released'.`,
  );
}

/** Validates an API body against the page: unknown properties, read-only fields, nulls and types. */
function readBody(page: PageDef, body: unknown, current: Row | undefined, allowLines: boolean): { changes: Row; lines?: unknown[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new BcError(400, 'BadRequest', 'The request body must be a JSON object.');
  const changes: Row = {};
  let lines: unknown[] | undefined;
  for (const [k, v] of Object.entries(body as Row)) {
    if (k.includes('@')) continue;
    if (page.lines && k === page.lines.property) {
      if (!allowLines) throw new BcError(400, 'BadRequest', 'Deep update is not supported on API pages.');
      if (!Array.isArray(v)) throw new BcError(400, 'BadRequest', `The navigation property '${k}' must be a collection.`);
      lines = v;
      continue;
    }
    const f = page.fieldMap.get(k);
    if (!f)
      throw new BcError(
        400,
        'BadRequest',
        `The property '${k}' does not exist on type 'Microsoft.NAV.${page.entityType}'. Make sure to only use property names that are defined by the type.`,
      );
    if (v === null) {
      const edm = f.type.kind === 'text' || f.type.kind === 'code' || f.type.kind === 'enum' ? 'Edm.String' : `Edm.${f.type.kind}`;
      throw new BcError(
        400,
        'BadRequest',
        `A null value was found for the property named '${k}', which has the expected type '${edm}[Nullable=False]'. The expected type '${edm}[Nullable=False]' does not allow null values.`,
      );
    }
    const value = coerce(f, v);
    if (f.readOnly) {
      // A read-only `id` is refused on insert too: the v2.0 pages declare `field(id; Rec.SystemId)` with
      // `Editable = false` and insert with `Rec.Insert(true)`, which lets the platform assign the SystemId
      // (microsoft/BCApps, APIV2 app, page 30009 "APIV2 - Customers"); BC's answer to such a body is not
      // documented, so the simulator takes the stricter one. Pages whose `id` is editable (this service's
      // Sales Order API) take a client-chosen SystemId as an ordinary field.
      if (k === 'documentId' && !current) {
        changes[k] = value;
        continue;
      }
      if (current && current[k] === value) continue;
      throw new BcError(400, 'BadRequest_InvalidOperation', `Control '${k}' is read-only.`);
    }
    changes[k] = value;
  }
  return { changes, lines };
}

async function entity(ctx: ApiContext, req: ApiRequest, company: CompanyStore, segs: string[]): Promise<ApiResponse> {
  const first = parseSegment(segs[0] as string);
  if (req.group === 'v2.0' && first.name === 'companyInformation') return companyInformation(req, company);
  const page = findPage(req.group as ApiGroup, first.name);
  // An older extension without this page answers as BC does for any entity set the route does not publish.
  if (!page || !pageServed(ctx.store.settings.extension, page)) throw segmentNotFound(first.name);
  const table = company.table(page.table);
  if (first.key === undefined) {
    if (segs.length > 1) {
      if (segs[1] === '$count' && req.method === 'GET') return countOf(req, company, page);
      throw segmentNotFound(segs[1] as string);
    }
    if (req.method === 'GET') return list(ctx, req, company, page, first.name, undefined);
    if (req.method === 'POST') return insert(ctx, req, company, page, undefined);
    throw methodNotAllowed(req.method, page.entitySet);
  }
  const id = guidKey(first);
  const rec = table.byId.get(id);
  if (!rec || (page.view && !page.view(rec.data))) throw recordNotFound(table.def.caption, id);
  if (segs.length === 1) return single(ctx, req, company, page, rec, `${first.name}`);
  const second = parseSegment(segs[1] as string);
  if (second.name.startsWith('Microsoft.NAV.')) {
    if (req.method !== 'POST') throw methodNotAllowed(req.method, second.name);
    return boundAction(ctx, req, company, page, rec, second.name.slice('Microsoft.NAV.'.length));
  }
  const lc = lineContext(page);
  if (lc && page.lines?.property === second.name) {
    const path = `${first.name}(${id})/${second.name}`;
    if (second.key === undefined) {
      if (segs.length > 2) throw segmentNotFound(segs[2] as string);
      if (req.method === 'GET') return list(ctx, req, company, lc.lines, path, (r) => r.documentId === id);
      if (req.method === 'POST') return insert(ctx, req, company, lc.lines, id);
      throw methodNotAllowed(req.method, second.name);
    }
    const lineId = guidKey(second);
    const line = company.get(lc.lines.table, lineId);
    if (!line || line.data.documentId !== id) throw recordNotFound(company.table(lc.lines.table).def.caption, lineId);
    return single(ctx, req, company, lc.lines, line, path);
  }
  const nav = page.navigations?.[second.name];
  if (nav && req.method === 'GET') {
    const target = findPage(page.group, nav[0]);
    const targetRec = target ? company.get(target.table, rec.data[nav[1]] as string) : undefined;
    if (!target || !targetRec) throw recordNotFound(second.name, rec.data[nav[1]] as string);
    return single(ctx, req, company, target, targetRec, `${first.name}(${id})/${second.name}`);
  }
  throw segmentNotFound(second.name);
}

function companyInformation(req: ApiRequest, company: CompanyStore): ApiResponse {
  if (req.method !== 'GET') throw methodNotAllowed(req.method, 'companyInformation');
  const info = {
    '@odata.etag': 'W/"JzE5OzEyMzQ1Njc4OTAxMjM0NTY3ODkxOzAwOyc="',
    id: company.id,
    displayName: company.displayName,
    addressLine1: '7122 South Ashford Street',
    addressLine2: 'Westminster',
    city: 'Atlanta',
    state: 'GA',
    country: 'US',
    postalCode: '31772',
    phoneNumber: '+1 425 555 0100',
    faxNumber: '',
    email: '',
    website: '',
    taxRegistrationNumber: '',
    currencyCode: company.lcyCode,
    currentFiscalYearStartDate: '2026-01-01',
    industry: '',
    lastModifiedDateTime: company.createdAt,
  };
  return {
    status: 200,
    headers: JSON_HEADERS,
    body: { '@odata.context': contextUrl(req, company, 'companyInformation', undefined, false), value: [info] },
  };
}

const projectors = new Map<string, (data: Row, etag: string) => Row>();

/**
 * A compiled object literal per page and $select: building 20,000 entities key by key puts V8 into slow
 * dictionary objects (about 4x slower per page of customers).
 */
function projector(page: PageDef, select: string[] | undefined): (data: Row, etag: string) => Row {
  const key = `${page.group}/${page.entitySet}:${select ? select.join(',') : '*'}`;
  let fn = projectors.get(key);
  if (!fn) {
    const all = !select || select.includes('*');
    const names = page.fields.filter((f) => all || select.includes(f.name)).map((f) => f.name);
    const body = names.map((n) => `${JSON.stringify(n)}: d[${JSON.stringify(n)}]`).join(',');
    fn = new Function('d', 'e', `return {"@odata.etag": e${body ? `, ${body}` : ''}};`) as (data: Row, etag: string) => Row;
    projectors.set(key, fn);
  }
  return fn;
}

function serialize(company: CompanyStore, page: PageDef, rec: Rec, select: string[] | undefined, expand: ExpandItem[]): Row {
  const out = projector(page, select)(rec.data, etagFor(rec));
  for (const e of expand) {
    const lc = lineContext(page);
    if (lc && page.lines?.property === e.property) {
      let rows = [...company.table(lc.lines.table).byId.values()].filter((l) => l.data.documentId === rec.data.id);
      if (e.filter) {
        const pred = wrapOData(() => compileFilter(e.filter as string));
        rows = rows.filter((l) => wrapOData(() => pred(l.data)));
      }
      const ob = e.orderby ? wrapOData(() => compileOrderBy(e.orderby as string)) : undefined;
      rows.sort((a, b) => (ob ? ob(a.data, b.data) : 0) || (a.data.sequence as number) - (b.data.sequence as number));
      if (e.top !== undefined) rows = rows.slice(0, e.top);
      out[e.property] = rows.map((l) => serialize(company, lc.lines, l, e.select, []));
      continue;
    }
    const nav = page.navigations?.[e.property];
    if (nav) {
      const target = findPage(page.group, nav[0]);
      const t = target ? company.get(target.table, rec.data[nav[1]] as string) : undefined;
      out[e.property] = target && t ? serialize(company, target, t, e.select, []) : null;
    }
  }
  return out;
}

function parseOptions(req: ApiRequest, page: PageDef): { select?: string[]; expand: ExpandItem[] } {
  return wrapOData(() => {
    const select = parseSelect(req.query.get('$select') ?? undefined);
    for (const s of select ?? []) {
      if (s !== '*' && !page.fieldMap.has(s))
        throw new BcError(400, 'BadRequest', `Could not find a property named '${s}' on type 'Microsoft.NAV.${page.entityType}'.`);
    }
    const expand = parseExpand(req.query.get('$expand') ?? undefined);
    for (const e of expand) {
      if (page.lines?.property !== e.property && !page.navigations?.[e.property])
        throw new BcError(400, 'BadRequest', `Could not find a property named '${e.property}' on type 'Microsoft.NAV.${page.entityType}'.`);
    }
    return { select, expand };
  });
}

function single(ctx: ApiContext, req: ApiRequest, company: CompanyStore, page: PageDef, rec: Rec, path: string): ApiResponse {
  if (req.method === 'GET') {
    const { select, expand } = parseOptions(req, page);
    return {
      status: 200,
      headers: { ...JSON_HEADERS, ETag: etagFor(rec) },
      body: { '@odata.context': contextUrl(req, company, page.entitySet, select, true), ...serialize(company, page, rec, select, expand) },
    };
  }
  if (req.method === 'PATCH') {
    checkIfMatch(ctx, req, rec);
    assertEditable(company, page, rec, 'modify');
    const { changes } = readBody(page, req.body, rec.data, false);
    const updated = ctx.store.modify(company.id, page.table, rec.data.id as string, changes, req.user);
    return {
      status: 200,
      headers: { ...JSON_HEADERS, ETag: etagFor(updated) },
      body: {
        '@odata.context': contextUrl(req, company, page.entitySet, undefined, true),
        ...serialize(company, page, updated, undefined, []),
      },
    };
  }
  if (req.method === 'DELETE') {
    checkIfMatch(ctx, req, rec);
    assertEditable(company, page, rec, 'delete');
    ctx.store.delete(company.id, page.table, rec.data.id as string, req.user);
    return { status: 204 };
  }
  throw methodNotAllowed(req.method, path);
}

function insert(ctx: ApiContext, req: ApiRequest, company: CompanyStore, page: PageDef, documentId: string | undefined): ApiResponse {
  if (page.insertAllowed === false) throw methodNotAllowed('POST', page.entitySet);
  const lc = lineContext(page);
  const { changes, lines } = readBody(page, req.body, undefined, true);
  if (documentId) {
    const header = company.get(page.table === 'salesOrderLine' ? 'salesOrder' : 'salesInvoice', documentId);
    if (header?.data.posted === true) throw dialog('The sales invoice has been posted and can no longer be changed.');
    if (page.table === 'salesOrderLine') assertOrderOpen(header);
    changes.documentId = documentId;
  } else if (page.fieldMap.has('documentId') && changes.documentId === undefined) {
    throw dialog('A "documentId" must be provided.');
  } else if (page.table === 'salesOrderLine') {
    assertOrderOpen(company.get('salesOrder', String(changes.documentId)));
  }
  // Deep insert: the header and its lines are one transaction.
  const rec = ctx.store.atomically(() => {
    const created = ctx.store.insert(company.id, page.table, changes, req.user);
    if (lines && lc) {
      for (const l of lines) {
        const { changes: lineChanges } = readBody(lc.lines, l, undefined, false);
        lineChanges.documentId = created.data.id;
        ctx.store.insert(company.id, lc.lines.table, lineChanges, req.user);
      }
    }
    return created;
  });
  const fresh = company.get(page.table, rec.data.id as string) ?? rec;
  const { select, expand } = parseOptions(req, page);
  const expandLines =
    lines && page.lines && !expand.some((e) => e.property === page.lines?.property)
      ? [...expand, { property: page.lines.property }]
      : expand;
  return {
    status: 201,
    headers: {
      ...JSON_HEADERS,
      ETag: etagFor(fresh),
      Location: `${req.apiRoot}/companies(${company.id})/${page.entitySet}(${fresh.data.id as string})`,
    },
    body: {
      '@odata.context': contextUrl(req, company, page.entitySet, select, true),
      ...serialize(company, page, fresh, select, expandLines),
    },
  };
}

function countOf(req: ApiRequest, company: CompanyStore, page: PageDef): ApiResponse {
  const filter = req.query.get('$filter');
  const pred = filter ? wrapOData(() => compileFilter(filter)) : undefined;
  let n = 0;
  for (const r of company.table(page.table).byId.values()) {
    if (page.view && !page.view(r.data)) continue;
    if (pred && !wrapOData(() => pred(r.data))) continue;
    n++;
  }
  return { status: 200, headers: { 'Content-Type': 'text/plain', 'OData-Version': '4.0' }, body: String(n) };
}

// ---------- collections and paging ----------

interface SkipToken {
  /** Values of the sort properties of the last row returned. */
  v: unknown[];
  /** Insertion sequence of that row: the final tie-breaker. */
  s: number;
}

function encodeToken(t: SkipToken): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeToken(raw: string): SkipToken {
  try {
    const t = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as SkipToken;
    if (!Array.isArray(t.v) || typeof t.s !== 'number') throw new Error('shape');
    return t;
  } catch {
    throw querySyntax(`The $skiptoken '${raw}' is not valid.`);
  }
}

const KNOWN_OPTIONS = new Set([
  '$filter',
  '$select',
  '$expand',
  '$orderby',
  '$top',
  '$skip',
  '$skiptoken',
  '$count',
  '$format',
  '$schemaversion',
]);

function list(
  ctx: ApiContext,
  req: ApiRequest,
  company: CompanyStore,
  page: PageDef,
  path: string,
  scope: ((r: Row) => boolean) | undefined,
): ApiResponse {
  for (const k of req.query.keys()) {
    if (k.startsWith('$') && !KNOWN_OPTIONS.has(k)) throw new BcError(400, 'BadRequest', `The query parameter '${k}' is not supported.`);
  }
  const { select, expand } = parseOptions(req, page);
  const filterText = req.query.get('$filter') ?? undefined;
  const orderText = req.query.get('$orderby') ?? undefined;
  const { pred, orderProps, orderCmp } = wrapOData(() => {
    let pred: ((r: Row) => boolean) | undefined;
    if (filterText) {
      for (const p of filterProperties(filterText)) {
        if (!page.fieldMap.has(p))
          throw new BcError(400, 'BadRequest', `Could not find a property named '${p}' on type 'Microsoft.NAV.${page.entityType}'.`);
      }
      if (hasOrOnDistinctFields(filterText))
        throw new BcError(400, 'BadRequest', "The 'OR' operator is not supported on distinct fields on an OData filter.");
      pred = compileFilter(filterText);
    }
    let orderProps: string[] = [];
    let orderCmp: ((a: Row, b: Row) => number) | undefined;
    if (orderText) {
      orderProps = orderByProperties(orderText);
      for (const p of orderProps) {
        if (!page.fieldMap.has(p))
          throw new BcError(400, 'BadRequest', `Could not find a property named '${p}' on type 'Microsoft.NAV.${page.entityType}'.`);
      }
      orderCmp = compileOrderBy(orderText);
    }
    return { pred, orderProps, orderCmp };
  });
  const top = wrapOData(() => parseTop(req.query.get('$top') ?? undefined));
  const skip = wrapOData(() => parseTop(req.query.get('$skip') ?? undefined)) ?? 0;
  const requested = wrapOData(() => parseMaxPageSize(req.headers.prefer));
  let pageSize = MAX_PAGE_SIZE;
  if (requested !== undefined) {
    if (requested > MAX_PAGE_SIZE && ctx.settings.pageSizeOverLimit === '413')
      throw new BcError(413, 'BadRequest', `The maximum page size is ${MAX_PAGE_SIZE}. The requested page size ${requested} exceeds it.`);
    pageSize = Math.min(requested, MAX_PAGE_SIZE);
  }
  const t = company.table(page.table);
  const keyField = t.def.keyField;
  const props = orderCmp ? orderProps : keyField ? [keyField] : [];
  const cmp: (a: Rec, b: Rec) => number = orderCmp
    ? (a, b) => (orderCmp as (x: Row, y: Row) => number)(a.data, b.data) || a.seq - b.seq
    : keyField
      ? (a, b) => {
          const x = a.data[keyField] as string;
          const y = b.data[keyField] as string;
          return x < y ? -1 : x > y ? 1 : a.seq - b.seq;
        }
      : (a, b) => a.seq - b.seq;
  const rows = orderCmp ? t.sortedBy(orderText as string, cmp) : t.sorted();
  let start = 0;
  const tokenText = req.query.get('$skiptoken');
  if (tokenText) {
    // Key-based continuation: resume after the last returned row's sort values, so inserts and deletes between
    // pages neither repeat nor skip rows that did not move.
    const tok = decodeToken(tokenText);
    const pivot: Rec = { data: Object.fromEntries(props.map((p, i) => [p, tok.v[i]])), version: 0, seq: tok.s };
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cmp(rows[mid] as Rec, pivot) <= 0) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  const limit = top !== undefined ? Math.min(top, pageSize) : pageSize;
  const out: Rec[] = [];
  let skipped = 0;
  let more = false;
  let i = start;
  for (; i < rows.length; i++) {
    const r = rows[i] as Rec;
    if (page.view && !page.view(r.data)) continue;
    if (scope && !scope(r.data)) continue;
    if (pred && !wrapOData(() => pred(r.data))) continue;
    if (skipped < skip && !tokenText) {
      skipped++;
      continue;
    }
    if (out.length === limit) {
      more = true;
      break;
    }
    out.push(r);
  }
  const body: Row = { '@odata.context': contextUrl(req, company, path, select, false) };
  if (req.query.get('$count') === 'true') {
    let n = 0;
    for (const r of rows) if ((!page.view || page.view(r.data)) && (!scope || scope(r.data)) && (!pred || pred(r.data))) n++;
    body['@odata.count'] = n;
  }
  body.value = out.map((r) => serialize(company, page, r, select, expand));
  const remainingTop = top !== undefined ? top - out.length : undefined;
  if (more && out.length > 0 && (remainingTop === undefined || remainingTop > 0)) {
    const last = out[out.length - 1] as Rec;
    const token = encodeToken({ v: props.map((p) => last.data[p]), s: last.seq });
    const kept = req.rawQuery
      .split('&')
      .filter((p) => p !== '')
      .filter((p) => {
        const k = decodeURIComponent(p.split('=')[0] ?? '');
        return k !== '$skiptoken' && k !== '$top' && k !== '$skip';
      });
    if (remainingTop !== undefined) kept.push(`$top=${remainingTop}`);
    kept.push(`$skiptoken=${token}`);
    const base = req.inBatch ? `${req.apiRoot}/companies(${company.id})/${path}` : `${req.apiRoot}/${req.segments.join('/')}`;
    body['@odata.nextLink'] = `${base}?${kept.join('&')}`;
  }
  const headers: Record<string, string> = { ...JSON_HEADERS };
  if (requested !== undefined) headers['Preference-Applied'] = `odata.maxpagesize=${pageSize}`;
  return { status: 200, headers, body };
}

// ---------- bound actions ----------

function boundAction(ctx: ApiContext, req: ApiRequest, company: CompanyStore, page: PageDef, rec: Rec, action: string): ApiResponse {
  const store = ctx.store;
  const id = rec.data.id as string;
  if (page.table === 'salesInvoice' && (action === 'post' || action === 'postAndSend')) {
    if (rec.data.posted === true) throw dialog('The sales invoice has already been posted.');
    store.atomically(() => {
      const posted = company.table('salesInvoice');
      let no = posted.postedNumber ?? '103001';
      while (posted.byKey.has(no)) no = String(Number(no) + 1);
      posted.postedNumber = String(Number(no) + 1);
      store.modify(company.id, 'salesInvoice', id, { number: no, posted: true, status: 'Open' }, req.user);
      const fresh = company.get('salesInvoice', id) as Rec;
      store.modify(company.id, 'salesInvoice', id, { remainingAmount: fresh.data.totalAmountIncludingTax }, req.user);
    });
    return { status: 204 };
  }
  if (page.table === 'salesInvoice' && (action === 'cancel' || action === 'cancelAndSend')) {
    if (rec.data.posted !== true) throw dialog('Only posted invoices can be canceled.');
    store.modify(company.id, 'salesInvoice', id, { status: 'Canceled', remainingAmount: 0 }, req.user);
    return { status: 204 };
  }
  if (page.table === 'salesInvoice' && action === 'send') return { status: 204 };
  if (page.table === 'salesOrder' && (action === 'release' || action === 'reopen')) {
    // Release/Reopen on the custom salesOrders page (BC's "Release Sales Document" codeunit 414).
    if (action === 'release') {
      const lines = [...company.table('salesOrderLine').byId.values()].filter((l) => l.data.documentId === id);
      if (!lines.some((l) => l.data.lineType !== 'Comment' && (l.data.quantity as number) !== 0))
        throw dialog(`There is nothing to release for the document of type Order with the number ${String(rec.data.number)}.`);
    }
    store.modify(company.id, 'salesOrder', id, { status: action === 'release' ? 'Open' : 'Draft' }, req.user);
    return { status: 204 };
  }
  if (page.table === 'salesOrder' && action === 'ship') {
    // Post (Ship) only: every line is shipped in full; the order stays until it is invoiced.
    store.atomically(() => {
      for (const l of [...company.table('salesOrderLine').byId.values()].filter((x) => x.data.documentId === id)) {
        if (l.data.lineType === 'Comment') continue;
        store.modify(company.id, 'salesOrderLine', l.data.id as string, { shippedQuantity: l.data.quantity }, req.user);
      }
      store.modify(company.id, 'salesOrder', id, { fullyShipped: true, lastShipmentDate: store.clock.nowIso().slice(0, 10) }, req.user);
    });
    return { status: 204 };
  }
  if (page.table === 'salesOrder' && action === 'shipAndInvoice') {
    // Posting ships and invoices everything, creates the posted invoice and deletes the fully invoiced order.
    store.atomically(() => {
      const order = rec.data;
      const posted = company.table('salesInvoice');
      let no = posted.postedNumber ?? '103001';
      while (posted.byKey.has(no)) no = String(Number(no) + 1);
      posted.postedNumber = String(Number(no) + 1);
      const header = store.insert(
        company.id,
        'salesInvoice',
        {
          number: no,
          customerId: order.customerId,
          externalDocumentNumber: order.externalDocumentNumber,
          orderId: order.id,
          orderNumber: order.number,
          currencyCode: order.currencyCode,
          paymentTermsId: order.paymentTermsId,
          shipmentMethodId: order.shipmentMethodId,
          salesperson: order.salesperson,
          shippingAgentCode: order.shippingAgentCode,
          yourReference: order.yourReference,
          workDescription: order.workDescription,
        },
        req.user,
      );
      for (const l of [...company.table('salesOrderLine').byId.values()].filter((x) => x.data.documentId === order.id)) {
        const d = l.data;
        store.insert(
          company.id,
          'salesInvoiceLine',
          {
            documentId: header.data.id,
            sequence: d.sequence,
            lineType: d.lineType,
            lineObjectNumber: d.lineObjectNumber,
            description: d.description,
            unitOfMeasureCode: d.unitOfMeasureCode,
            quantity: d.quantity,
            unitPrice: d.unitPrice,
            discountAmount: d.discountAmount,
          },
          req.user,
        );
      }
      const fresh = company.get('salesInvoice', header.data.id as string) as Rec;
      store.modify(
        company.id,
        'salesInvoice',
        header.data.id as string,
        {
          posted: true,
          status: 'Open',
          remainingAmount: fresh.data.totalAmountIncludingTax,
          shipmentDate: store.clock.nowIso().slice(0, 10),
        },
        req.user,
      );
      store.delete(company.id, 'salesOrder', id, req.user);
    });
    return { status: 204 };
  }
  throw segmentNotFound(`Microsoft.NAV.${action}`);
}

// ---------- subscriptions ----------

async function subscriptions(ctx: ApiContext, req: ApiRequest, seg: Segment): Promise<ApiResponse> {
  const wh = ctx.webhooks;
  const ctxUrl = `${req.apiRoot}/$metadata#subscriptions`;
  if (req.segments.length > 1) throw segmentNotFound(req.segments[1] as string);
  if (seg.key === undefined) {
    if (req.method === 'GET')
      return { status: 200, headers: JSON_HEADERS, body: { '@odata.context': ctxUrl, value: wh.list().map((s) => wh.toJson(s)) } };
    if (req.method === 'POST') {
      const b = subscriptionBody(req.body, true);
      const s = await wh.create(
        { notificationUrl: b.notificationUrl as string, resource: b.resource as string, clientState: b.clientState },
        req.user,
      );
      return {
        status: 201,
        headers: { ...JSON_HEADERS, ETag: wh.etag(s) },
        body: { '@odata.context': `${ctxUrl}/$entity`, ...wh.toJson(s) },
      };
    }
    throw methodNotAllowed(req.method, 'subscriptions');
  }
  // "The subscription ID must be enclosed in single quotes."
  const m = /^'([^']*)'$/.exec(seg.key.trim());
  if (!m) throw querySyntax(`The key '${seg.key}' must be a quoted string.`);
  const s = wh.get(m[1] as string);
  if (req.method === 'GET')
    return {
      status: 200,
      headers: { ...JSON_HEADERS, ETag: wh.etag(s) },
      body: { '@odata.context': `${ctxUrl}/$entity`, ...wh.toJson(s) },
    };
  const ifMatch = req.headers['if-match'];
  if (ifMatch === undefined || ifMatch.trim() === '') throw missingIfMatch();
  if (ifMatch.trim() !== '*' && ifMatch.trim().replace(/^W\//, '') !== wh.etag(s).replace(/^W\//, ''))
    throw entityChanged(ctx.store.settings.staleEtagStatus);
  if (req.method === 'PATCH') {
    const b = subscriptionBody(req.body, false);
    const renewed = await wh.renew(s, b);
    return {
      status: 200,
      headers: { ...JSON_HEADERS, ETag: wh.etag(renewed) },
      body: { '@odata.context': `${ctxUrl}/$entity`, ...wh.toJson(renewed) },
    };
  }
  if (req.method === 'DELETE') {
    wh.delete(s.subscriptionId);
    return { status: 204 };
  }
  throw methodNotAllowed(req.method, 'subscriptions');
}

function subscriptionBody(body: unknown, create: boolean): { notificationUrl?: string; resource?: string; clientState?: string } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new BcError(400, 'BadRequest', 'The request body must be a JSON object.');
  const out: { notificationUrl?: string; resource?: string; clientState?: string } = {};
  for (const [k, v] of Object.entries(body as Row)) {
    if (k.includes('@')) continue;
    if (k === 'notificationUrl' || k === 'resource' || k === 'clientState') {
      if (typeof v !== 'string')
        throw new BcError(
          400,
          'BadRequest',
          "Cannot convert a primitive value to the expected type 'Edm.String'. See the inner exception for more details.",
        );
      if (k === 'clientState' && v.length > 2048)
        throw new BcError(
          400,
          'Application_StringExceededLength',
          `The length of the string is ${v.length}, but it must be less than or equal to 2048 characters. Value: ${v}`,
        );
      out[k] = v;
    } else if (
      !['subscriptionId', 'expirationDateTime', 'userId', 'timestamp', 'lastModifiedDateTime'].includes(k) &&
      !k.startsWith('system')
    ) {
      throw new BcError(
        400,
        'BadRequest',
        `The property '${k}' does not exist on type 'Microsoft.NAV.subscriptions'. Make sure to only use property names that are defined by the type.`,
      );
    }
  }
  if (create && (!out.notificationUrl || !out.resource)) throw dialog('The "notificationUrl" and "resource" must be provided.');
  return out;
}

// ---------- $batch ----------

interface BatchOp {
  id?: string;
  method?: string;
  url?: string;
  headers?: Record<string, string>;
  body?: unknown;
}

async function batch(ctx: ApiContext, req: ApiRequest): Promise<ApiResponse> {
  if (req.method !== 'POST') throw methodNotAllowed(req.method, '$batch');
  const ct = req.headers['content-type'] ?? '';
  if (!ct.toLowerCase().includes('application/json'))
    throw new BcError(415, 'BadRequest', 'Only the JSON batch format (Content-Type: application/json) is supported.');
  const body = req.body as { requests?: BatchOp[] } | undefined;
  if (!body || !Array.isArray(body.requests))
    throw new BcError(400, 'BadRequest', "The batch request body must contain a 'requests' array.");
  if (body.requests.length > MAX_BATCH_OPERATIONS)
    throw new BcError(
      400,
      'BadRequest',
      `The maximum number of operations in a batch is ${MAX_BATCH_OPERATIONS}. The batch contains ${body.requests.length} operations.`,
    );
  const atomic = (req.headers.isolation ?? '').toLowerCase() === 'snapshot';
  const responses: Array<{ id: string | null; status: number; headers: Record<string, string>; body?: unknown }> = [];
  const txn = atomic ? ctx.store.begin() : undefined;
  let failed = false;
  for (const op of body.requests) {
    const id = op.id ?? null;
    if (failed) {
      responses.push({
        id,
        status: 424,
        headers: lower(JSON_HEADERS),
        body: errorJson(new BcError(424, 'BadRequest', 'A previous operation in the transactional batch failed.')),
      });
      continue;
    }
    let res: ApiResponse;
    try {
      if (typeof op.method !== 'string' || typeof op.url !== 'string')
        throw new BcError(400, 'BadRequest', "Each batch operation needs a 'method' and a 'url'.");
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(op.headers ?? {})) headers[k.toLowerCase()] = String(v);
      const [pathPart, q = ''] = op.url.replace(/^\//, '').split('?', 2) as [string, string | undefined];
      let path = pathPart;
      const rootPath = new URL(req.apiRoot).pathname.replace(/^\//, '');
      if (/^https?:/i.test(op.url)) path = new URL(op.url).pathname.replace(/^\//, '');
      if (path.startsWith(rootPath)) path = path.slice(rootPath.length).replace(/^\//, '');
      const segments = path.split('/').filter((s) => s !== '');
      if (segments[0] === '$batch') throw new BcError(400, 'BadRequest', 'Nested batches are not supported.');
      res = await dispatch(ctx, {
        method: op.method.toUpperCase(),
        group: req.group,
        segments,
        query: new URLSearchParams(q),
        rawQuery: q ?? '',
        headers,
        body: op.body,
        apiRoot: req.apiRoot,
        user: req.user,
        inBatch: true,
      });
    } catch (err) {
      res = errorResponse(err);
    }
    responses.push({ id, status: res.status, headers: lower(res.headers ?? JSON_HEADERS), body: res.body });
    if (res.status >= 400 && atomic) failed = true;
  }
  if (txn) {
    if (failed) ctx.store.rollback(txn);
    else ctx.store.commit(txn);
  }
  return { status: 200, headers: JSON_HEADERS, body: { responses } };
}

function lower(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = k === 'Content-Type' ? 'application/json; odata.metadata=minimal' : v;
  return out;
}

function errorJson(err: BcError): unknown {
  return errorBody(err.code, err.message);
}

export function errorResponse(err: unknown): ApiResponse {
  if (err instanceof BcError) return { status: err.status, headers: { ...JSON_HEADERS, ...err.headers }, body: errorJson(err) };
  if (err instanceof ODataQueryError) return { status: 400, headers: JSON_HEADERS, body: errorBody('BadRequest', err.message) };
  return { status: 500, headers: JSON_HEADERS, body: errorBody('Unknown', (err as Error).message ?? String(err)) };
}

export { CUSTOM_API };
