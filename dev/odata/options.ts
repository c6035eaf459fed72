import { ODataQueryError, type Row } from '../../shared/domain/odata/errors';
import { compileFilter } from '../../shared/domain/odata/filter-compile';
import { compareForOrder, readPath } from '../../shared/domain/odata/values';

const PROPERTY_PATH = /^[A-Za-z_]\w*(?:\/[A-Za-z_]\w*)*$/;

/**
 * Splits on `sep` outside parentheses and single-quoted strings, so `a($filter=x eq 'p,q';$top=1),b` splits into two
 * items. Throws on unbalanced parentheses or an unterminated string.
 */
export function splitTopLevel(src: string, sep: string, what: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src.charAt(i);
    if (inString) {
      if (c === "'") {
        if (src.charAt(i + 1) === "'") i++;
        else inString = false;
      }
      continue;
    }
    if (c === "'") inString = true;
    else if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth < 0) throw new ODataQueryError(`Unbalanced ')' at position ${i} in ${what}.`);
    } else if (c === sep && depth === 0) {
      parts.push(src.slice(start, i));
      start = i + 1;
    }
  }
  if (inString) throw new ODataQueryError(`Unterminated string literal in ${what}.`);
  if (depth !== 0) throw new ODataQueryError(`Missing ')' in ${what}.`);
  parts.push(src.slice(start));
  return parts;
}

interface OrderItem {
  property: string;
  path: string[];
  descending: boolean;
}

function parseOrderBy(expr: string): OrderItem[] {
  if (typeof expr !== 'string' || expr.trim() === '') throw new ODataQueryError('The $orderby expression is empty.');
  return expr.split(',').map((raw) => {
    const item = raw.trim();
    if (item === '') throw new ODataQueryError(`The $orderby expression '${expr}' contains an empty item.`);
    const words = item.split(/\s+/);
    const [property, direction, ...extra] = words;
    if (property === undefined || !PROPERTY_PATH.test(property)) {
      throw new ODataQueryError(`'${property ?? item}' in $orderby is not a property name.`);
    }
    if (extra.length > 0 || (direction !== undefined && direction !== 'asc' && direction !== 'desc')) {
      throw new ODataQueryError(`Invalid $orderby item '${item}': expected '<property> [asc|desc]'.`);
    }
    return { property, path: property.split('/'), descending: direction === 'desc' };
  });
}

/**
 * Comparator for `$orderby=name asc, createdon desc`. Nulls sort first ascending (last descending), strings
 * case-insensitively, ISO dates chronologically, numbers numerically (see values.ts). Ties return 0, so with the
 * stable Array.prototype.sort rows keep their stored order; append the primary key for a deterministic order.
 */
export function compileOrderBy(expr: string): (a: Row, b: Row) => number {
  const items = parseOrderBy(expr);
  return (a, b) => {
    for (const item of items) {
      const c = compareForOrder(readPath(a, item.path), readPath(b, item.path));
      if (c !== 0) return item.descending ? -c : c;
    }
    return 0;
  };
}

/** Property names used by a $orderby, in order, without duplicates. */
export function orderByProperties(expr: string): string[] {
  return [...new Set(parseOrderBy(expr).map((i) => i.property))];
}

/** Parses `$select=name, accountid` into trimmed names; undefined when absent. Rejects empty items and non-names. */
export function parseSelect(expr: string | undefined): string[] | undefined {
  if (expr === undefined) return undefined;
  const items = expr.split(',').map((s) => s.trim());
  for (const item of items) {
    if (item === '') throw new ODataQueryError(`The $select expression '${expr}' contains an empty item.`);
    if (item !== '*' && !PROPERTY_PATH.test(item)) {
      throw new ODataQueryError(`'${item}' in $select is not a property name.`);
    }
  }
  return [...new Set(items)];
}

/**
 * Projects a row onto $select. Keeps `@odata.*` control annotations (etag, context…), annotations of selected
 * properties (`name@OData.Community.Display.V1.FormattedValue`) and `alwaysKeep` keys (e.g. the primary key, which
 * Dataverse returns even when not selected). A selected property absent from the row comes back as null, as
 * Dataverse does; simulators should reject unknown names beforehand. `*` or no select returns a shallow copy.
 */
export function applySelect(row: Row, select: string[] | undefined, alwaysKeep: string[] = []): Row {
  if (select === undefined || select.includes('*')) return { ...row };
  const wanted = new Set([...select, ...alwaysKeep]);
  const out: Row = {};
  for (const [key, value] of Object.entries(row)) {
    const at = key.indexOf('@');
    if (key.startsWith('@odata.') || wanted.has(key) || (at > 0 && wanted.has(key.slice(0, at)))) {
      out[key] = value;
    }
  }
  for (const name of select) {
    if (!name.includes('/') && !(name in out)) out[name] = null;
  }
  return out;
}

/** Parses $top: a non-negative integer, or undefined when absent. */
export function parseTop(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  if (!/^\d+$/.test(t) || !Number.isSafeInteger(Number(t))) {
    throw new ODataQueryError(`Invalid value '${v}' for $top: expected a non-negative integer.`);
  }
  return Number(t);
}

export interface ExpandItem {
  /** Navigation property, e.g. `primarycontactid` or `order_details`. */
  property: string;
  select?: string[];
  filter?: string;
  top?: number;
  orderby?: string;
}

/**
 * Parses `$expand=primarycontactid($select=fullname),order_details($filter=quantity gt 1;$orderby=quantity;$top=5)`.
 * Nested $filter/$orderby are validated here (bad ones throw) but returned as text for the simulator to apply.
 * Nested $expand, $skip, $count and `*` are rejected rather than silently ignored.
 */
export function parseExpand(expr: string | undefined): ExpandItem[] {
  if (expr === undefined) return [];
  if (expr.trim() === '') throw new ODataQueryError('The $expand expression is empty.');
  return splitTopLevel(expr, ',', '$expand').map((raw) => {
    const item = raw.trim();
    if (item === '') throw new ODataQueryError(`The $expand expression '${expr}' contains an empty item.`);
    const open = item.indexOf('(');
    const property = (open < 0 ? item : item.slice(0, open)).trim();
    if (!/^[A-Za-z_]\w*$/.test(property)) {
      throw new ODataQueryError(`'${property}' in $expand is not a navigation property name.`);
    }
    const result: ExpandItem = { property };
    if (open < 0) return result;
    if (!item.endsWith(')')) throw new ODataQueryError(`Unexpected text after ')' in $expand item '${item}'.`);
    const inner = item.slice(open + 1, -1);
    if (inner.trim() === '') throw new ODataQueryError(`Empty option list in $expand item '${item}'.`);
    for (const rawOpt of splitTopLevel(inner, ';', `$expand item '${property}'`)) {
      const opt = rawOpt.trim();
      const eq = opt.indexOf('=');
      if (eq < 0) throw new ODataQueryError(`Invalid option '${opt}' in $expand item '${property}': expected $name=value.`);
      const name = opt.slice(0, eq).trim();
      const value = opt.slice(eq + 1).trim();
      const seen = (key: keyof ExpandItem): void => {
        if (result[key] !== undefined) throw new ODataQueryError(`Duplicate ${name} in $expand item '${property}'.`);
      };
      switch (name) {
        case '$select':
          seen('select');
          result.select = parseSelect(value);
          break;
        case '$filter':
          seen('filter');
          compileFilter(value);
          result.filter = value;
          break;
        case '$top':
          seen('top');
          result.top = parseTop(value);
          break;
        case '$orderby':
          seen('orderby');
          compileOrderBy(value);
          result.orderby = value;
          break;
        default:
          throw new ODataQueryError(`Query option '${name}' is not supported inside $expand item '${property}'.`);
      }
    }
    return result;
  });
}
