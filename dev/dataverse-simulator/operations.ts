import { createHash, randomUUID } from 'node:crypto';
import type { SimClock } from './clock';
import { badRequest, Codes, DataverseError, duplicateRecord, notFound, notValidFor, requiredMissing } from './errors';
import { type AttributeMeta, type Catalog, type EntityMeta, isLookup, isReadOnly, wireName } from './metadata';
import type { Store, StoredRow } from './store';
import { GUID, type KeySegment, parseEntityRef, parseKeySegment } from './url';
import { checkWebhookUrl } from './webhook-url';

export const LOOKUP_TYPE = '@Microsoft.Dynamics.CRM.lookuplogicalname';

/** Who is calling: `userId` is the effective user (impersonated, if any), `callerId` the authenticated one. */
export interface CallerContext {
  userId: string;
  callerId: string;
  correlationId: string;
}

export type MessageName = 'Create' | 'Update' | 'Delete';

/** A committed change, handed to the webhook service (post-operation). */
export interface ChangeEvent {
  message: MessageName;
  meta: EntityMeta;
  id: string;
  /** Create: the full row; Update: request columns + system-set ones; Delete: undefined (Target is a reference). */
  target: StoredRow | undefined;
  /** Logical names of the columns in the request (what filteringattributes is compared with). */
  requestAttributes: string[];
  pre: StoredRow | undefined;
  post: StoredRow | undefined;
  ctx: CallerContext;
  at: number;
}

interface ParsedBody {
  values: StoredRow;
  /** Logical names of the columns the body set. */
  attributes: string[];
  deepInserts: Array<{ nav: string; rows: Record<string, unknown>[] }>;
}

const ISO = /^(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * Create / update / delete with Dataverse's write rules: payload validation, @odata.bind, system columns, state and
 * status, alternate-key uniqueness, read-only submitted orders. Every committed change becomes a ChangeEvent.
 */
export class Operations {
  private buffer: ChangeEvent[] | undefined;

  constructor(
    readonly store: Store,
    readonly catalog: Catalog,
    readonly clock: SimClock,
    private readonly emit: (e: ChangeEvent) => void,
  ) {}

  /**
   * Runs writes all-or-nothing: on error the store rolls back and no webhook fires. Nested calls join the outer
   * unit ($batch change sets wrap several requests in one).
   */
  atomic<T>(fn: () => T): T {
    if (this.buffer) return this.store.transaction(fn);
    this.buffer = [];
    try {
      const result = this.store.transaction(fn);
      const events = this.buffer;
      this.buffer = undefined;
      for (const e of events) this.emit(e);
      return result;
    } finally {
      this.buffer = undefined;
    }
  }

  private record(e: ChangeEvent): void {
    if (this.buffer) this.buffer.push(e);
    else this.emit(e);
  }

  /** Resolves `(guid)`, `(accountid=guid)` or an alternate key to an id; undefined when no row matches. */
  resolveKey(meta: EntityMeta, key: KeySegment): string | undefined {
    if (key.kind === 'id') return this.store.get(meta.logicalName, key.id) ? key.id : undefined;
    const first = key.pairs[0];
    if (key.pairs.length === 1 && first && first[0] === meta.primaryId) {
      const id = String(first[1]).toLowerCase();
      if (!GUID.test(id)) throw badRequest(`The key value for '${meta.primaryId}' must be a GUID.`, Codes.unknownProperty);
      return this.store.get(meta.logicalName, id) ? id : undefined;
    }
    const columns = this.keyColumns(meta, key);
    return this.store.findByKey(
      meta.logicalName,
      columns,
      columns.map((c) => key.pairs.find(([n]) => n === c)?.[1]),
    );
  }

  /** The defined alternate key the URL names (in key order); 400 when the columns are not an alternate key. */
  keyColumns(meta: EntityMeta, key: Extract<KeySegment, { kind: 'keys' }>): string[] {
    const names = key.pairs.map(([n]) => n);
    for (const n of names) if (!meta.wire.has(n)) throw unknownAttribute(n, meta);
    const match = meta.alternateKeys.find((k) => k.length === names.length && k.every((c) => names.includes(c)));
    if (!match) {
      throw badRequest(
        `The key attribute(s) '${names.join(',')}' do not form an alternate key of '${meta.logicalName}'. Defined keys: ${
          meta.alternateKeys.map((k) => k.join('+')).join(', ') || 'none'
        }.`,
        Codes.unknownProperty,
      );
    }
    return match;
  }

  /** Converts a request body into wire-form values, validating every property. */
  parseBody(meta: EntityMeta, body: Record<string, unknown>, mode: 'create' | 'update'): ParsedBody {
    const values: StoredRow = {};
    const attributes: string[] = [];
    const deepInserts: ParsedBody['deepInserts'] = [];
    for (const [key, value] of Object.entries(body)) {
      if (key === '@odata.type' || key === '@odata.context' || key === '@odata.etag') continue;
      const at = key.indexOf('@');
      if (at >= 0) {
        const nav = key.slice(0, at);
        const annotation = key.slice(at + 1);
        if (annotation !== 'odata.bind') {
          throw badRequest(`The annotation '${annotation}' on '${nav}' is not supported in a request payload.`);
        }
        const bound = this.bind(meta, nav, value);
        checkWritable(meta, bound.attribute, mode);
        values[wireName(bound.attribute)] = bound.id;
        if (bound.id !== null) values[`${wireName(bound.attribute)}${LOOKUP_TYPE}`] = bound.target;
        else delete values[`${wireName(bound.attribute)}${LOOKUP_TYPE}`];
        attributes.push(bound.attribute.logicalName);
        continue;
      }
      const collection = meta.collections.find((c) => c.name === key);
      if (collection) {
        if (mode !== 'create' || !Array.isArray(value) || value.some((v) => typeof v !== 'object' || v === null)) {
          throw badRequest(
            `The collection-valued navigation property '${key}' accepts an array of new records on create only (deep insert).`,
          );
        }
        deepInserts.push({ nav: key, rows: value as Record<string, unknown>[] });
        continue;
      }
      if (key.startsWith('_') && key.endsWith('_value') && meta.wire.get(key) && isLookup(meta.wire.get(key) as AttributeMeta)) {
        throw badRequest(
          `CRM do not support direct update of Entity Reference properties, Use Navigation properties instead. Set '${key.slice(1, -6)}@odata.bind' to '/<entityset>(<id>)'.`,
        );
      }
      const attr = meta.attributes.get(key);
      if (!attr) {
        if (meta.navs.has(key)) {
          throw badRequest(`'${key}' is a navigation property: set it with '${key}@odata.bind': '/<entityset>(<id>)'.`);
        }
        throw new DataverseError(
          400,
          Codes.unknownProperty,
          `The property '${key}' does not exist on type 'Microsoft.Dynamics.CRM.${meta.logicalName}'. Make sure to only use property names that are defined by the type.`,
        );
      }
      if (isLookup(attr)) throw badRequest(`'${key}' is a lookup: set it with '${key}@odata.bind'.`);
      if (key !== meta.primaryId) checkWritable(meta, attr, mode);
      values[key] = this.convert(meta, attr, value);
      attributes.push(key);
    }
    return { values, attributes, deepInserts };
  }

  private convert(meta: EntityMeta, attr: AttributeMeta, value: unknown): unknown {
    if (value === null) return null;
    const name = attr.logicalName;
    const wrongType = (edm: string) =>
      badRequest(`Cannot convert the literal '${JSON.stringify(value)}' to the expected type '${edm}' for '${name}'.`);
    switch (attr.type) {
      case 'String':
      case 'Memo':
      case 'EntityName': {
        if (typeof value !== 'string') throw wrongType('Edm.String');
        if (attr.maxLength !== undefined && value.length > attr.maxLength) {
          throw new DataverseError(
            400,
            Codes.validation,
            `A validation error occurred.  The length of the '${name}' attribute of the '${meta.logicalName}' entity exceeded the maximum allowed length of '${attr.maxLength}'.`,
          );
        }
        return value;
      }
      case 'Integer':
      case 'BigInt':
        if (typeof value !== 'number' || !Number.isInteger(value)) throw wrongType('Edm.Int32');
        return value;
      case 'Decimal':
      case 'Double':
      case 'Money':
        if (typeof value !== 'number' || !Number.isFinite(value)) throw wrongType(attr.type === 'Double' ? 'Edm.Double' : 'Edm.Decimal');
        return value;
      case 'Boolean':
        if (typeof value !== 'boolean') throw wrongType('Edm.Boolean');
        return value;
      case 'Uniqueidentifier':
        if (typeof value !== 'string' || !GUID.test(value)) throw wrongType('Edm.Guid');
        return value.toLowerCase();
      case 'DateTime': {
        if (typeof value !== 'string') throw wrongType(attr.dateOnly ? 'Edm.Date' : 'Edm.DateTimeOffset');
        const m = ISO.exec(value);
        const ms = m ? Date.parse(m[2] ? (m[5] ? value : `${value}Z`) : `${value}T00:00:00Z`) : Number.NaN;
        if (!m || Number.isNaN(ms)) throw wrongType(attr.dateOnly ? 'Edm.Date' : 'Edm.DateTimeOffset');
        if (attr.dateOnly) return m[1];
        return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
      }
      case 'Picklist':
      case 'State':
      case 'Status': {
        if (typeof value !== 'number' || !Number.isInteger(value)) throw wrongType('Edm.Int32');
        const options = attr.options ?? [];
        if (!options.some((o) => o.value === value)) {
          throw new DataverseError(
            400,
            Codes.optionOutOfRange,
            `A validation error occurred. The value ${value} of '${name}' on record of type '${meta.logicalName}' is outside the valid range. Accepted Values: ${options.map((o) => o.value).join(',')}`,
          );
        }
        return value;
      }
      default:
        throw wrongType(attr.type);
    }
  }

  private bind(meta: EntityMeta, nav: string, value: unknown): { attribute: AttributeMeta; id: string | null; target: string } {
    const navMeta = meta.navs.get(nav);
    if (!navMeta) {
      const hint = [...meta.navs.keys()].find((n) => n.toLowerCase() === nav.toLowerCase());
      throw new DataverseError(
        400,
        Codes.unknownProperty,
        `An undeclared property '${nav}' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.${
          hint ? ` Navigation property names are case-sensitive: did you mean '${hint}'?` : ''
        }`,
      );
    }
    const attribute = navMeta.attribute;
    if (value === null) return { attribute, id: null, target: '' };
    if (typeof value !== 'string') throw badRequest(`The value of '${nav}@odata.bind' must be a string like '/<entityset>(<id>)' or null.`);
    const ref = parseEntityRef(value);
    if (!ref) throw badRequest(`'${value}' in '${nav}@odata.bind' is not an entity reference like '/<entityset>(<id>)'.`);
    const targetMeta = this.catalog.bySetName.get(ref.entitySet);
    if (!targetMeta) {
      throw new DataverseError(404, Codes.unknownProperty, `Resource not found for the segment '${ref.entitySet}'.`);
    }
    const allowed = navMeta.target ? [navMeta.target] : (attribute.targets ?? []);
    if (!allowed.includes(targetMeta.logicalName)) {
      throw badRequest(
        `'${nav}@odata.bind' points at '${ref.entitySet}' (${targetMeta.logicalName}), but the lookup '${attribute.logicalName}' accepts ${allowed.join(' or ')}.`,
      );
    }
    const key = parseKeySegment(ref.key);
    const id = this.resolveKey(targetMeta, key);
    if (id === undefined) {
      if (key.kind === 'id') throw notFound(targetMeta.logicalName, key.id);
      throw new DataverseError(
        404,
        Codes.notFound,
        `A record with the specified key values does not exist in ${targetMeta.logicalName} entity`,
      );
    }
    return { attribute, id, target: targetMeta.logicalName };
  }

  private systemRef(row: StoredRow, attr: string, target: string, id: string | null): void {
    const w = `_${attr}_value`;
    if (id === null) {
      delete row[w];
      delete row[`${w}${LOOKUP_TYPE}`];
      return;
    }
    row[w] = id;
    row[`${w}${LOOKUP_TYPE}`] = target;
  }

  /** Creates a row; `presetId` comes from an upsert URL, `keyValues` from an alternate-key upsert URL. */
  create(
    ctx: CallerContext,
    meta: EntityMeta,
    body: Record<string, unknown>,
    opts: { presetId?: string; keyValues?: Record<string, unknown> } = {},
  ): StoredRow {
    return this.atomic(() => {
      refuseReadOnlyTable(meta, 'Create');
      const parsed = this.parseBody(meta, body, 'create');
      const values = parsed.values;
      // Key values in the body win over the URL values (B.5).
      for (const [k, v] of Object.entries(opts.keyValues ?? {})) {
        if (values[k] === undefined) {
          values[k] = v;
          parsed.attributes.push(k);
        }
      }
      const fromBody = values[meta.primaryId];
      const id = (typeof fromBody === 'string' ? fromBody : (opts.presetId ?? randomUUID())).toLowerCase();
      if (this.store.get(meta.logicalName, id)) throw duplicateRecord();
      const row: StoredRow = { [meta.primaryId]: id };
      for (const [k, v] of Object.entries(values)) if (v !== null) row[k] = v;
      const now = this.clock.isoNow();
      row.createdon = now;
      row.modifiedon = now;
      this.systemRef(row, 'createdby', 'systemuser', ctx.userId);
      this.systemRef(row, 'modifiedby', 'systemuser', ctx.userId);
      if (ctx.userId !== ctx.callerId) {
        this.systemRef(row, 'createdonbehalfby', 'systemuser', ctx.callerId);
        this.systemRef(row, 'modifiedonbehalfby', 'systemuser', ctx.callerId);
      }
      this.applyOwnership(meta, row, ctx);
      this.applyDefaults(meta, row);
      if (meta.initialState) Object.assign(row, meta.initialState);
      this.applyState(meta, row, parsed.attributes);
      this.applyComputed(meta, row);
      checkRequired(meta, row, 'all');
      this.checkParentEditable(meta, row);
      const clash = this.store.keyConflict(meta.logicalName, id, row);
      if (clash) throw duplicateRecord(Codes.duplicateAlternateKey);
      row.versionnumber = this.store.nextVersion();
      this.store.put(meta.logicalName, id, row);
      for (const deep of parsed.deepInserts) {
        const nav = meta.collections.find((c) => c.name === deep.nav);
        if (!nav) continue;
        const childMeta = this.catalog.entity(nav.target);
        const childNav = [...childMeta.navs.entries()].find(
          ([, n]) => n.attribute.logicalName === nav.referencingAttribute && (!n.target || n.target === meta.logicalName),
        );
        for (const child of deep.rows) {
          this.create(ctx, childMeta, { ...child, [`${childNav?.[0]}@odata.bind`]: `/${meta.entitySetName}(${id})` });
        }
      }
      this.afterLineChange(ctx, meta, row);
      if (meta.logicalName === 'uomschedule') this.createBaseUnit(ctx, row);
      this.record({
        message: 'Create',
        meta,
        id,
        target: row,
        requestAttributes: parsed.attributes,
        pre: undefined,
        post: row,
        ctx,
        at: this.clock.now(),
      });
      return this.store.get(meta.logicalName, id) ?? row;
    });
  }

  /** Updates an existing row. `dropKeyColumns`: alternate-key columns from the URL are dropped from the body (B.5). */
  update(
    ctx: CallerContext,
    meta: EntityMeta,
    id: string,
    body: Record<string, unknown>,
    opts: {
      dropKeyColumns?: string[];
      /** The message (FulfillSalesOrder, PublishProductHierarchy) making a state change a plain update may not. */
      viaMessage?: string;
    } = {},
  ): StoredRow {
    return this.atomic(() => {
      refuseReadOnlyTable(meta, 'Update');
      const existing = this.store.get(meta.logicalName, id);
      if (!existing) throw notFound(meta.logicalName, id);
      const parsed = this.parseBody(meta, body, 'update');
      const values = parsed.values;
      const pk = values[meta.primaryId];
      if (pk !== undefined) {
        if (pk !== id)
          throw badRequest(`The ${meta.primaryId} in the body (${String(pk)}) does not match the URL (${id}).`, Codes.invalidArgument);
        delete values[meta.primaryId];
      }
      for (const k of opts.dropKeyColumns ?? []) delete values[k];
      const attributes = parsed.attributes.filter((a) => a !== meta.primaryId && !(opts.dropKeyColumns ?? []).includes(a));
      if (meta.editableOnlyWhenActive && existing.statecode !== 0 && existing.statecode !== undefined) {
        const other = attributes.filter((a) => a !== 'statecode' && a !== 'statuscode');
        if (other.length > 0) {
          throw new DataverseError(
            400,
            Codes.invalidArgument,
            `This ${meta.logicalName} can't be edited because its statecode is ${String(existing.statecode)} (${stateLabel(meta, existing.statecode)}): only statecode/statuscode may change. Set statecode to 0 first. Columns sent: ${other.join(', ')}.`,
          );
        }
      }
      const row: StoredRow = { ...existing };
      for (const [k, v] of Object.entries(values)) {
        if (v === null) delete row[k];
        else row[k] = v;
      }
      row.modifiedon = this.clock.isoNow();
      this.systemRef(row, 'modifiedby', 'systemuser', ctx.userId);
      this.systemRef(row, 'modifiedonbehalfby', 'systemuser', ctx.userId !== ctx.callerId ? ctx.callerId : null);
      if (attributes.includes('ownerid')) this.applyOwnership(meta, row, ctx);
      this.applyState(meta, row, attributes);
      if (row.statecode !== existing.statecode) checkTransition(meta, existing, row, opts.viaMessage);
      const computedChanged = this.applyComputed(meta, row);
      checkRequired(meta, row, attributes);
      this.checkParentEditable(meta, row);
      const clash = this.store.keyConflict(meta.logicalName, id, row);
      if (clash) throw duplicateRecord(Codes.duplicateAlternateKey);
      row.versionnumber = this.store.nextVersion();
      this.store.put(meta.logicalName, id, row);
      this.afterLineChange(ctx, meta, row);
      // Same order as the documented Update sample: request columns, key, calculated ones, then system-set ones.
      const targetKeys = new Set<string>();
      for (const a of attributes) {
        const attr = meta.attributes.get(a);
        if (attr) targetKeys.add(wireName(attr));
      }
      if (attributes.includes('statecode') || attributes.includes('statuscode')) {
        targetKeys.add('statecode');
        targetKeys.add('statuscode');
      }
      targetKeys.add(meta.primaryId);
      for (const a of computedChanged) {
        const attr = meta.attributes.get(a);
        if (attr) targetKeys.add(wireName(attr));
      }
      for (const k of ['modifiedon', '_modifiedby_value', '_modifiedonbehalfby_value']) targetKeys.add(k);
      const target: StoredRow = {};
      for (const k of targetKeys) {
        target[k] = row[k] ?? null;
        if (row[`${k}${LOOKUP_TYPE}`] !== undefined) target[`${k}${LOOKUP_TYPE}`] = row[`${k}${LOOKUP_TYPE}`];
      }
      this.record({
        message: 'Update',
        meta,
        id,
        target,
        requestAttributes: attributes,
        pre: existing,
        post: row,
        ctx,
        at: this.clock.now(),
      });
      return row;
    });
  }

  delete(ctx: CallerContext, meta: EntityMeta, id: string): void {
    this.atomic(() => {
      refuseReadOnlyTable(meta, 'Delete');
      const existing = this.store.get(meta.logicalName, id);
      if (!existing) throw notFound(meta.logicalName, id);
      this.checkParentEditable(meta, existing);
      // Lines go with their header (cascade delete), as in Dataverse.
      for (const nav of meta.collections) {
        const childMeta = this.catalog.entity(nav.target);
        if (childMeta.parentLookup !== nav.referencingAttribute) continue;
        const w = `_${nav.referencingAttribute}_value`;
        const children = [...this.store.table(childMeta.logicalName).rows.values()].filter((r) => r[w] === id);
        for (const child of children) this.deleteRow(ctx, childMeta, child[childMeta.primaryId] as string, true);
      }
      this.deleteRow(ctx, meta, id, false);
    });
  }

  private deleteRow(ctx: CallerContext, meta: EntityMeta, id: string, cascaded: boolean): void {
    const existing = this.store.remove(meta.logicalName, id);
    if (!existing) return;
    if (!cascaded) this.afterLineChange(ctx, meta, existing);
    this.record({
      message: 'Delete',
      meta,
      id,
      target: undefined,
      requestAttributes: [],
      pre: existing,
      post: undefined,
      ctx,
      at: this.clock.now(),
    });
  }

  private applyOwnership(meta: EntityMeta, row: StoredRow, ctx: CallerContext): void {
    if (meta.ownership !== 'UserOwned') return;
    if (row._ownerid_value === undefined) this.systemRef(row, 'ownerid', 'systemuser', ctx.userId);
    const ownerType = row[`_ownerid_value${LOOKUP_TYPE}`] as string;
    const ownerId = row._ownerid_value as string;
    const owner = this.store.get(ownerType, ownerId);
    if (ownerType === 'systemuser' && owner?.isdisabled === true) {
      throw new DataverseError(400, Codes.userDisabled, `The owner (systemuser ${ownerId}) is disabled and can't own records.`);
    }
    this.systemRef(row, 'owninguser', 'systemuser', ownerType === 'systemuser' ? ownerId : null);
    this.systemRef(row, 'owningteam', 'team', ownerType === 'team' ? ownerId : null);
    const bu = owner?._businessunitid_value;
    if (typeof bu === 'string') this.systemRef(row, 'owningbusinessunit', 'businessunit', bu);
  }

  private applyDefaults(meta: EntityMeta, row: StoredRow): void {
    if (meta.attributes.has('transactioncurrencyid')) {
      if (row._transactioncurrencyid_value === undefined) {
        const base = this.baseCurrencyId();
        if (base) this.systemRef(row, 'transactioncurrencyid', 'transactioncurrency', base);
      }
      const rate = meta.attributes.get('exchangerate');
      if (rate && isReadOnly(rate)) {
        const cur = this.store.get('transactioncurrency', String(row._transactioncurrencyid_value ?? ''));
        if (cur) row.exchangerate = cur.exchangerate ?? 1;
      }
    }
    if (meta.logicalName === 'product') {
      const uom = this.store.get('uom', row._defaultuomid_value as string);
      if (uom && uom._uomscheduleid_value !== row._defaultuomscheduleid_value) {
        throw new DataverseError(
          400,
          Codes.validation,
          'The default unit (defaultuomid) does not belong to the unit group (defaultuomscheduleid).',
        );
      }
      if (row.producttypecode === undefined) row.producttypecode = 1;
      if (row.productstructure === undefined) row.productstructure = 1;
    }
    if (meta.logicalName === 'uom' && row.quantity === undefined) row.quantity = 1;
    // Lines get product type 1 (Product) when none is sent: BC inserts invoice and order lines without it
    // (CRMIntTableSubscriber, CRMArchivedSalesOrdersJob), so the SystemRequired column must have a server default.
    if (meta.parentLookup && row.producttypecode === undefined) row.producttypecode = 1;
    // A price list item takes its currency from its price list (transactioncurrencyid is not valid for create).
    if (meta.logicalName === 'productpricelevel') {
      const level = this.store.get('pricelevel', String(row._pricelevelid_value ?? ''));
      const currency = level?._transactioncurrencyid_value;
      if (typeof currency === 'string') this.systemRef(row, 'transactioncurrencyid', 'transactioncurrency', currency);
    }
    if (meta.logicalName === 'sdkmessageprocessingstepimage') this.checkImageProperty(row);
    if (meta.logicalName === 'serviceendpoint' && row.contract === 8) {
      const problem = typeof row.url === 'string' ? checkWebhookUrl(row.url) : 'A webhook serviceendpoint (contract 8) needs a url.';
      if (problem) throw new DataverseError(400, Codes.validation, problem);
      if (![4, 5, 6].includes(Number(row.authtype))) {
        throw new DataverseError(
          400,
          Codes.validation,
          'A webhook serviceendpoint needs authtype 4 (WebhookKey), 5 (HttpHeader) or 6 (HttpQueryString).',
        );
      }
    }
  }

  private applyState(meta: EntityMeta, row: StoredRow, requestAttributes: string[]): void {
    const state = meta.attributes.get('statecode');
    const status = meta.attributes.get('statuscode');
    if (!state || !status) return;
    const statuses = status.options ?? [];
    if (requestAttributes.includes('statuscode') && !requestAttributes.includes('statecode')) {
      row.statecode = statuses.find((o) => o.value === row.statuscode)?.state ?? row.statecode;
    }
    if (row.statecode === undefined) row.statecode = 0;
    const stateOption = state.options?.find((o) => o.value === row.statecode);
    const matches = statuses.find((o) => o.value === row.statuscode)?.state === row.statecode;
    if (!matches) {
      if (requestAttributes.includes('statuscode')) {
        throw new DataverseError(
          400,
          Codes.invalidArgument,
          `${String(row.statuscode)} is not a valid status code for state code ${meta.logicalName}State.${stateOption?.invariantName ?? row.statecode} on ${meta.logicalName} with Id ${String(row[meta.primaryId])}.`,
        );
      }
      row.statuscode = stateOption?.defaultStatus;
    }
  }

  /** Platform-calculated columns; returns the logical names that changed. */
  private applyComputed(meta: EntityMeta, row: StoredRow): string[] {
    const changed: string[] = [];
    const set = (k: string, v: unknown) => {
      if (row[k] !== v) {
        if (v === undefined || v === null || v === '') delete row[k];
        else row[k] = v;
        changed.push(k);
      }
    };
    if (meta.logicalName === 'contact' || meta.logicalName === 'systemuser') {
      const full = [row.firstname, row.lastname].filter((p) => typeof p === 'string' && p !== '').join(' ');
      set('fullname', full);
      if (meta.logicalName === 'contact') set('yomifullname', full);
    }
    if (meta.logicalName === 'productpricelevel') {
      const product = this.store.get('product', String(row._productid_value ?? ''));
      set('productidname', product?.name);
      set('productnumber', product?.productnumber);
    }
    if (meta.parentLookup) {
      if (row.isproductoverridden === undefined) row.isproductoverridden = row._productid_value === undefined;
      if (row._productid_value === undefined && (typeof row.productdescription !== 'string' || row.productdescription === '')) {
        throw new DataverseError(
          400,
          Codes.validation,
          `A ${meta.logicalName} needs either productid@odata.bind or a write-in productdescription.`,
        );
      }
      const qty = typeof row.quantity === 'number' ? row.quantity : 0;
      const price = typeof row.priceperunit === 'number' ? row.priceperunit : 0;
      const discount = typeof row.manualdiscountamount === 'number' ? row.manualdiscountamount : 0;
      const tax = typeof row.tax === 'number' ? row.tax : 0;
      set('baseamount', round2(qty * price));
      set('extendedamount', round2(qty * price - discount + tax));
    }
    return changed;
  }

  /**
   * An image names the message property that carries the record: `Id` for Create, `Target` for Update, Delete and
   * Assign (the Plug-in Registration tool's GetMessagePropertyName; other messages are not registered here).
   */
  private checkImageProperty(row: StoredRow): void {
    const step = this.store.get('sdkmessageprocessingstep', String(row._sdkmessageprocessingstepid_value ?? ''));
    const message = this.store.get('sdkmessage', String(step?._sdkmessageid_value ?? ''))?.name;
    const expected =
      message === 'Create' ? 'Id' : message === 'Update' || message === 'Delete' || message === 'Assign' ? 'Target' : undefined;
    if (expected !== undefined && row.messagepropertyname !== expected) {
      throw new DataverseError(
        400,
        Codes.invalidArgument,
        `The messagepropertyname '${String(row.messagepropertyname)}' is not valid for an image of a ${String(message)} step; use '${expected}'.`,
      );
    }
  }

  /**
   * A new unit group comes with its base unit, named after `baseuomname` (isschedulebaseuom, quantity 1): BC's
   * unit-of-measure sync (GetValidCRMUnitOfMeasureRecords) relies on that single unit and never creates one.
   */
  private createBaseUnit(ctx: CallerContext, schedule: StoredRow): void {
    const scheduleId = String(schedule.uomscheduleid);
    const name = typeof schedule.baseuomname === 'string' && schedule.baseuomname !== '' ? schedule.baseuomname : 'Primary Unit';
    const uom = this.catalog.entity('uom');
    const id = baseUnitId(scheduleId);
    this.create(ctx, uom, { uomid: id, name, quantity: 1, 'uomscheduleid@odata.bind': `/uomschedules(${scheduleId})` });
    const row = this.store.get('uom', id);
    if (row) {
      row.isschedulebaseuom = true;
      this.systemRef(row, 'baseuom', 'uom', id);
    }
  }

  /** Lines of a submitted/invoiced header are read-only too. */
  private checkParentEditable(meta: EntityMeta, row: StoredRow): void {
    if (!meta.parentLookup) return;
    const parentId = row[`_${meta.parentLookup}_value`];
    if (typeof parentId !== 'string') {
      throw new DataverseError(400, Codes.validation, `A ${meta.logicalName} needs its header: set ${meta.parentLookup}@odata.bind.`);
    }
    const parentMeta = this.catalog.entity(meta.attributes.get(meta.parentLookup)?.targets?.[0] ?? '');
    const parent = this.store.get(parentMeta.logicalName, parentId);
    if (parent && parent.statecode !== 0 && parent.statecode !== undefined) {
      throw new DataverseError(
        400,
        Codes.invalidArgument,
        `The lines of ${parentMeta.logicalName} ${parentId} can't be changed because its statecode is ${String(parent.statecode)} (${stateLabel(parentMeta, parent.statecode)}).`,
      );
    }
  }

  /** Header totals follow the lines (totallineitemamount, totalamount), which bumps the header's version too. */
  private afterLineChange(ctx: CallerContext, meta: EntityMeta, line: StoredRow): void {
    if (!meta.parentLookup) return;
    const parentId = line[`_${meta.parentLookup}_value`];
    const parentLogical = meta.attributes.get(meta.parentLookup)?.targets?.[0];
    if (typeof parentId !== 'string' || !parentLogical) return;
    const parent = this.store.get(parentLogical, parentId);
    if (!parent) return;
    const w = `_${meta.parentLookup}_value`;
    let total = 0;
    for (const r of this.store.table(meta.logicalName).rows.values()) {
      if (r[w] === parentId && typeof r.extendedamount === 'number') total += r.extendedamount;
    }
    total = round2(total);
    const discount = typeof parent.discountamount === 'number' ? parent.discountamount : 0;
    const freight = typeof parent.freightamount === 'number' ? parent.freightamount : 0;
    const lessFreight = round2(total - discount);
    if (parent.totallineitemamount === total && parent.totalamountlessfreight === lessFreight) return;
    const row: StoredRow = {
      ...parent,
      totallineitemamount: total,
      totalamountlessfreight: lessFreight,
      totalamount: round2(lessFreight + freight),
      modifiedon: this.clock.isoNow(),
    };
    this.systemRef(row, 'modifiedby', 'systemuser', ctx.userId);
    row.versionnumber = this.store.nextVersion();
    this.store.put(parentLogical, parentId, row);
    const parentMeta = this.catalog.entity(parentLogical);
    const target: StoredRow = {
      [parentMeta.primaryId]: parentId,
      totallineitemamount: total,
      totalamountlessfreight: lessFreight,
      totalamount: row.totalamount,
      modifiedon: row.modifiedon,
      _modifiedby_value: ctx.userId,
      [`_modifiedby_value${LOOKUP_TYPE}`]: 'systemuser',
    };
    this.record({
      message: 'Update',
      meta: parentMeta,
      id: parentId,
      target,
      requestAttributes: ['totallineitemamount', 'totalamountlessfreight', 'totalamount'],
      pre: parent,
      post: row,
      ctx,
      at: this.clock.now(),
    });
  }

  baseCurrencyId(): string | undefined {
    const usd = this.store.findByKey('transactioncurrency', ['isocurrencycode'], ['USD']);
    if (usd) return usd;
    return this.store.table('transactioncurrency').rows.keys().next().value;
  }
}

/** IsValidForCreate / IsValidForUpdate of the entity reference. */
function checkWritable(meta: EntityMeta, attr: AttributeMeta, mode: 'create' | 'update'): void {
  if (mode === 'create' ? attr.validForCreate : attr.validForUpdate) return;
  throw notValidFor(mode, attr.logicalName, meta.logicalName);
}

/** Intersect tables (teamroles) are filled by Associate, never written directly. */
function refuseReadOnlyTable(meta: EntityMeta, message: 'Create' | 'Update' | 'Delete'): void {
  if (meta.readOnlyTable) {
    throw new DataverseError(
      400,
      Codes.invalidArgument,
      `The '${message}' method does not support entities of type '${meta.logicalName}'.`,
    );
  }
}

/**
 * SystemRequired columns (and ApplicationRequired ones the server is known or assumed to enforce) must hold a value
 * after the platform's own defaults; on update only the columns the request touches are checked. Dataverse stores an
 * empty string as null, so '' is missing too.
 */
function checkRequired(meta: EntityMeta, row: StoredRow, changed: string[] | 'all'): void {
  const empty = (v: unknown) => v === undefined || v === null || v === '';
  for (const a of meta.attributes.values()) {
    if (a.logicalName === meta.primaryId || !a.validForCreate) continue;
    if (changed !== 'all' && !changed.includes(a.logicalName) && !(a.requiredWhenSet && changed.includes(a.requiredWhenSet))) continue;
    const required =
      a.requiredLevel === 'SystemRequired' ||
      (a.requiredLevel === 'ApplicationRequired' && a.serverEnforced === true) ||
      (a.requiredWhenSet !== undefined && !empty(row[wireName(meta.attributes.get(a.requiredWhenSet) ?? a)]));
    if (required && empty(row[wireName(a)])) throw requiredMissing(a.logicalName, meta.logicalName);
  }
}

/**
 * State changes an Update may make (the table's `stateTransitions`); a state documented only through a message
 * (salesorder Fulfilled → FulfillSalesOrder) is refused unless that message makes it.
 */
function checkTransition(meta: EntityMeta, before: StoredRow, after: StoredRow, viaMessage: string | undefined): void {
  const to = Number(after.statecode);
  const from = Number(before.statecode ?? 0);
  const message = meta.stateMessages?.[String(to)];
  if (message && viaMessage !== message) {
    throw new DataverseError(
      400,
      Codes.invalidArgument,
      `${meta.logicalName} statecode ${to} (${stateLabel(meta, to)}) can't be set by Update/SetState: use the ${message} message.`,
    );
  }
  const allowed = meta.stateTransitions?.[String(from)];
  if (allowed && !allowed.includes(to)) {
    throw new DataverseError(
      400,
      Codes.invalidArgument,
      `A ${meta.logicalName} can't go from statecode ${from} (${stateLabel(meta, from)}) to ${to} (${stateLabel(meta, to)}).`,
    );
  }
}

/** The id of a unit group's base unit: derived from the group, so demo data and tests can name it. */
export function baseUnitId(scheduleId: string): string {
  const h = createHash('sha1').update(`base-unit|${scheduleId.toLowerCase()}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function unknownAttribute(name: string, meta: EntityMeta): DataverseError {
  return new DataverseError(
    400,
    Codes.unknownProperty,
    `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${meta.logicalName}'.`,
  );
}

function stateLabel(meta: EntityMeta, state: unknown): string {
  return meta.attributes.get('statecode')?.options?.find((o) => o.value === state)?.label ?? 'unknown';
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}
