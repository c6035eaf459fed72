import {
  compileFilter,
  compileOrderBy,
  type ExpandItem,
  filterComparisons,
  filterProperties,
  ODataQueryError,
  orderByProperties,
} from '../odata';
import { badRequest, Codes } from './errors';
import { type AttributeMeta, type Catalog, type EntityMeta, isLookup } from './metadata';
import { LOOKUP_TYPE, unknownAttribute } from './operations';
import type { Store, StoredRow } from './store';

const FORMATTED = 'OData.Community.Display.V1.FormattedValue';
const NAV = 'Microsoft.Dynamics.CRM.associatednavigationproperty';
const LOGICAL = 'Microsoft.Dynamics.CRM.lookuplogicalname';

/** Which instance annotations `Prefer: odata.include-annotations="…"` asked for. */
export class AnnotationFilter {
  private constructor(private readonly patterns: string[]) {}

  static fromPrefer(prefer: string | undefined): AnnotationFilter {
    const m = /odata\.include-annotations\s*=\s*"?([^";]*)"?/i.exec(prefer ?? '');
    if (!m || m[1] === undefined) return new AnnotationFilter([]);
    return new AnnotationFilter(
      m[1]
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
    );
  }

  get any(): boolean {
    return this.patterns.length > 0 && !this.patterns.every((p) => p.startsWith('-'));
  }

  wants(name: string): boolean {
    return this.patterns.some((p) => p === '*' || p === name || (p.endsWith('.*') && name.startsWith(p.slice(0, -1))));
  }
}

export interface WireOptions {
  select?: string[];
  annotations: AnnotationFilter;
  expand?: ExpandItem[];
}

/** Validates $select names against the table's columns (lookups are selected as `_x_value`). */
export function checkSelect(meta: EntityMeta, select: string[] | undefined): void {
  for (const name of select ?? []) {
    if (name === '*') continue;
    if (!meta.wire.has(name)) {
      if (meta.navs.has(name)) {
        throw badRequest(
          `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${meta.logicalName}'. Select the lookup as '_${meta.navs.get(name)?.attribute.logicalName}_value' or use $expand=${name}.`,
          Codes.unknownProperty,
        );
      }
      throw unknownAttribute(name, meta);
    }
  }
}

/** The EDM type the Web API gives a column, for operand checks (choice columns are Edm.Int32 option values). */
const EDM_TYPE: Partial<Record<AttributeMeta['type'], string>> = {
  Picklist: 'Edm.Int32',
  State: 'Edm.Int32',
  Status: 'Edm.Int32',
  Integer: 'Edm.Int32',
  BigInt: 'Edm.Int64',
  Decimal: 'Edm.Decimal',
  Money: 'Edm.Decimal',
  Double: 'Edm.Double',
  Boolean: 'Edm.Boolean',
  Uniqueidentifier: 'Edm.Guid',
  Lookup: 'Edm.Guid',
  Customer: 'Edm.Guid',
  Owner: 'Edm.Guid',
};

/**
 * Operands of incompatible types are refused when the query is parsed, before any row is read, whatever the data:
 * a choice column compared with a label string (`paymenttermscode eq '10 DAYS'`) or a GUID column with quoted text.
 * Dataverse answers 400 "The query specified in the URI is not valid. A binary operator with incompatible types was
 * detected. Found operand types 'Edm.Int32' and 'Edm.String' for operator kind 'Equal'." — the message of the OData
 * URI parser (Microsoft.OData.Core) the Web API runs on; its $metadata types choice (Picklist/State/Status) columns
 * Edm.Int32 and lookups/unique identifiers Edm.Guid, and OData literals are typed (OData v4.01 URL conventions §5.1.1,
 * a quoted literal is Edm.String). Published examples of the same 400 for 'Edm.Int32'/'Edm.String' and
 * 'Edm.Guid'/'Edm.String' are on Dataverse and Graph issue threads; no Microsoft page lists the message itself.
 */
function checkOperandTypes(meta: EntityMeta, filter: string): void {
  for (const c of filterComparisons(filter)) {
    const attr = meta.wire.get(c.property);
    const edm = attr ? EDM_TYPE[attr.type] : undefined;
    if (!edm || c.literal !== 'quoted') continue;
    throw badRequest(
      `The query specified in the URI is not valid. A binary operator with incompatible types was detected. Found operand types '${edm}' and 'Edm.String' for operator kind '${c.operator}'.`,
      Codes.unknownProperty,
    );
  }
}

export function checkFilter(meta: EntityMeta, filter: string): (row: StoredRow) => boolean {
  const predicate = compileFilter(filter);
  checkOperandTypes(meta, filter);
  // Single-valued navigation properties in a path (`parentcustomerid_account/accountid ne null`), as Dataverse
  // allows: the path sees the referenced row's key when the lookup points at that table, null otherwise.
  const navPaths = new Map<string, { lookup: string; target: string | undefined }>();
  for (const p of filterProperties(filter)) {
    const head = p.split('/')[0] ?? p;
    const nav = p.includes('/') ? meta.navs.get(head) : undefined;
    if (nav) {
      navPaths.set(head, { lookup: `_${nav.attribute.logicalName}_value`, target: nav.target });
      continue;
    }
    if (!meta.wire.has(head)) throw unknownAttribute(head, meta);
  }
  const view = (row: StoredRow): StoredRow => {
    if (navPaths.size === 0) return row;
    const v: StoredRow = { ...row };
    for (const [nav, { lookup, target }] of navPaths) {
      const id = row[lookup];
      const type = row[`${lookup}@Microsoft.Dynamics.CRM.lookuplogicalname`];
      v[nav] = id && (!target || type === undefined || type === target) ? { [`${target ?? ''}id`]: id } : null;
    }
    return v;
  };
  return (row) => {
    try {
      return predicate(view(row));
    } catch (err) {
      if (err instanceof ODataQueryError) throw badRequest(err.message, Codes.unknownProperty);
      throw err;
    }
  };
}

export function checkOrderBy(meta: EntityMeta, orderby: string): (a: StoredRow, b: StoredRow) => number {
  const cmp = compileOrderBy(orderby);
  for (const p of orderByProperties(orderby)) if (!meta.wire.has(p)) throw unknownAttribute(p, meta);
  return cmp;
}

/** Turns stored rows into Web API JSON: etag first, all (or selected) columns, annotations, $expand. */
export class Serializer {
  constructor(
    private readonly store: Store,
    private readonly catalog: Catalog,
  ) {}

  validateExpand(meta: EntityMeta, expand: ExpandItem[]): void {
    for (const item of expand) {
      const nav = meta.navs.get(item.property);
      const coll = meta.collections.find((c) => c.name === item.property);
      if (!nav && !coll) throw unknownAttribute(item.property, meta);
      const targetMeta = this.catalog.entity(coll ? coll.target : (nav?.target ?? nav?.attribute.targets?.[0] ?? ''));
      checkSelect(targetMeta, item.select);
      if (item.filter) checkFilter(targetMeta, item.filter);
      if (item.orderby) checkOrderBy(targetMeta, item.orderby);
      if (nav && (item.filter || item.orderby || item.top !== undefined)) {
        throw badRequest(
          `$filter, $orderby and $top are only allowed when expanding collection-valued navigation properties, not '${item.property}'.`,
          Codes.unknownProperty,
        );
      }
    }
  }

  row(meta: EntityMeta, row: StoredRow, opts: WireOptions): Record<string, unknown> {
    const out: Record<string, unknown> = { '@odata.etag': `W/"${String(row.versionnumber)}"` };
    const columns = opts.select && !opts.select.includes('*') ? opts.select : [...meta.wire.keys()];
    const wanted = new Set(columns);
    wanted.add(meta.primaryId);
    for (const w of meta.wire.keys()) {
      if (!wanted.has(w)) continue;
      const attr = meta.wire.get(w) as AttributeMeta;
      const value = row[w] ?? null;
      if (opts.annotations.any && value !== null) this.annotate(out, attr, w, value, row, opts.annotations);
      out[w] = value;
    }
    for (const item of opts.expand ?? []) out[item.property] = this.expand(meta, row, item, opts.annotations);
    return out;
  }

  private annotate(
    out: Record<string, unknown>,
    attr: AttributeMeta,
    w: string,
    value: unknown,
    row: StoredRow,
    filter: AnnotationFilter,
  ): void {
    const put = (name: string, v: unknown) => {
      if (v !== undefined && filter.wants(name)) out[`${w}@${name}`] = v;
    };
    if (isLookup(attr)) {
      const target = String(row[`${w}${LOOKUP_TYPE}`] ?? attr.targets?.[0] ?? '');
      const targetMeta = this.catalog.byLogicalName.get(target);
      const name = targetMeta ? this.store.get(target, String(value))?.[targetMeta.primaryName] : undefined;
      put(FORMATTED, name ?? undefined);
      put(
        NAV,
        attr.type === 'Customer' || ((attr.targets?.length ?? 0) > 1 && attr.type !== 'Owner')
          ? `${attr.logicalName}_${target}`
          : attr.logicalName,
      );
      put(LOGICAL, target);
      return;
    }
    switch (attr.type) {
      case 'Picklist':
      case 'State':
      case 'Status':
        put(FORMATTED, attr.options?.find((o) => o.value === value)?.label);
        return;
      case 'Money':
        put(FORMATTED, `$${Number(value).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`);
        return;
      case 'Boolean':
        put(FORMATTED, value ? 'Yes' : 'No');
        return;
      case 'Integer':
      case 'Decimal':
      case 'Double':
      case 'BigInt':
        put(FORMATTED, Number(value).toLocaleString('en-US'));
        return;
      case 'DateTime': {
        const d = new Date(attr.dateOnly ? `${String(value)}T00:00:00Z` : String(value));
        put(
          FORMATTED,
          attr.dateOnly
            ? `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}`
            : `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${((d.getUTCHours() + 11) % 12) + 1}:${String(d.getUTCMinutes()).padStart(2, '0')} ${d.getUTCHours() < 12 ? 'AM' : 'PM'}`,
        );
        return;
      }
      default:
        return;
    }
  }

  private expand(meta: EntityMeta, row: StoredRow, item: ExpandItem, annotations: AnnotationFilter): unknown {
    const nav = meta.navs.get(item.property);
    if (nav) {
      const w = `_${nav.attribute.logicalName}_value`;
      const id = row[w];
      if (typeof id !== 'string') return null;
      const target = String(row[`${w}${LOOKUP_TYPE}`] ?? nav.attribute.targets?.[0]);
      if (nav.target && nav.target !== target) return null;
      const targetMeta = this.catalog.entity(target);
      const related = this.store.get(target, id);
      return related ? this.row(targetMeta, related, { annotations, ...(item.select ? { select: item.select } : {}) }) : null;
    }
    const coll = meta.collections.find((c) => c.name === item.property);
    if (!coll) return null;
    const childMeta = this.catalog.entity(coll.target);
    const w = `_${coll.referencingAttribute}_value`;
    const id = row[meta.primaryId];
    let children = [...this.store.table(coll.target).rows.values()].filter(
      (r) => r[w] === id && (r[`${w}${LOOKUP_TYPE}`] ?? meta.logicalName) === meta.logicalName,
    );
    if (item.filter) children = children.filter(checkFilter(childMeta, item.filter));
    const byKey = (a: StoredRow, b: StoredRow) => String(a[childMeta.primaryId]).localeCompare(String(b[childMeta.primaryId]));
    if (item.orderby) {
      const cmp = checkOrderBy(childMeta, item.orderby);
      children.sort((a, b) => cmp(a, b) || byKey(a, b));
    } else children.sort(byKey);
    if (item.top !== undefined) children = children.slice(0, item.top);
    return children.map((c) => this.row(childMeta, c, { annotations, ...(item.select ? { select: item.select } : {}) }));
  }
}
