/*
 * What the product reads from a $filter: the properties and comparisons it names, whether it is an `or` across
 * fields, and `evaluateFilter`, the product's reading of a record it already read, which answers only when the side
 * could not answer otherwise. The simulators' metadata-driven checks (column types against literals) stay in dev/,
 * over `filterComparisons`. Parsing is filter-parser.ts; the simulators' evaluator is filter-compile.ts.
 */
import { ODataQueryError, type Row } from './errors';
import { type CompareOp, type FilterNode, parseFilter } from './filter-parser';
import { DateLiteral, instantOf, orderTest } from './values';

/** Property names (navigation paths as `a/b`) referenced by a $filter, first occurrence order, without duplicates. */
export function filterProperties(expr: string): string[] {
  const out = new Set<string>();
  const walk = (n: FilterNode): void => {
    switch (n.k) {
      case 'prop':
        out.add(n.name);
        return;
      case 'lit':
        return;
      case 'call':
        n.args.forEach(walk);
        return;
      case 'not':
        walk(n.operand);
        return;
      case 'in':
        walk(n.left);
        n.items.forEach(walk);
        return;
      default:
        walk(n.left);
        walk(n.right);
    }
  };
  walk(parseFilter(expr));
  return [...out];
}

const OPERATOR_KIND: Record<CompareOp, string> = {
  eq: 'Equal',
  ne: 'NotEqual',
  gt: 'GreaterThan',
  ge: 'GreaterThanOrEqual',
  lt: 'LessThan',
  le: 'LessThanOrEqual',
};

/** The literal a property is compared with (`eq`…`le`, `in`): its form, for type checks against column types. */
export interface FilterComparison {
  property: string;
  /** The operator kind as OData's parser names it (`Equal`, `GreaterThan`, … `In`). */
  operator: string;
  literal: 'quoted' | 'guid' | 'number' | 'bool' | 'date' | 'null';
}

/**
 * Every `property <op> literal` (either order) and `property in (literals)` of a $filter, so a service with a typed
 * model can refuse incompatible operands at parse time, as OData's URI parser does.
 */
export function filterComparisons(expr: string): FilterComparison[] {
  const out: FilterComparison[] = [];
  const form = (n: Extract<FilterNode, { k: 'lit' }>): FilterComparison['literal'] =>
    n.quoted
      ? 'quoted'
      : n.kind === 'string'
        ? 'guid'
        : n.kind === 'bool'
          ? 'bool'
          : n.kind === 'number'
            ? 'number'
            : n.kind === 'date'
              ? 'date'
              : 'null';
  const walk = (n: FilterNode): void => {
    switch (n.k) {
      case 'cmp':
        if (n.left.k === 'prop' && n.right.k === 'lit')
          out.push({ property: n.left.name, operator: OPERATOR_KIND[n.op], literal: form(n.right) });
        else if (n.right.k === 'prop' && n.left.k === 'lit')
          out.push({ property: n.right.name, operator: OPERATOR_KIND[n.op], literal: form(n.left) });
        return;
      case 'in':
        if (n.left.k === 'prop')
          for (const i of n.items) if (i.k === 'lit') out.push({ property: n.left.name, operator: 'In', literal: form(i) });
        return;
      case 'and':
      case 'or':
        walk(n.left);
        walk(n.right);
        return;
      case 'not':
        walk(n.operand);
        return;
      default:
        return;
    }
  };
  walk(parseFilter(expr));
  return out;
}

/**
 * True when an `or` combines conditions on different properties. Business Central rejects those with
 * "The 'OR' operator is not supported on distinct fields on an OData filter." (odata-known-limitations).
 */
export function hasOrOnDistinctFields(expr: string): boolean {
  const propsOf = (n: FilterNode, acc: Set<string>): Set<string> => {
    if (n.k === 'prop') acc.add(n.name);
    else if (n.k === 'call') for (const a of n.args) propsOf(a, acc);
    else if (n.k === 'not') propsOf(n.operand, acc);
    else if (n.k === 'in') propsOf(n.left, acc);
    else if (n.k !== 'lit') {
      propsOf(n.left, acc);
      propsOf(n.right, acc);
    }
    return acc;
  };
  const check = (n: FilterNode): boolean => {
    if (n.k === 'or') {
      if (propsOf(n, new Set()).size > 1) return true;
      return check(n.left) || check(n.right);
    }
    if (n.k === 'and') return check(n.left) || check(n.right);
    if (n.k === 'not') return check(n.operand);
    return false;
  };
  return check(parseFilter(expr));
}

/** One operand as the product's evaluator knows it: a value, and whether it is an unquoted GUID literal. */
interface Known {
  value: unknown;
  guid?: true;
}

/** Text whose equality no collation can bend: printable ASCII only (no accents, ligatures, ß, control characters). */
const PLAIN_TEXT = /^[\x20-\x7e]*$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Equality of two texts as a SQL collation may see it: exact when identical or when they differ beyond case and
 * trailing spaces; undefined when they differ only by case or trailing blanks (BC and Dataverse collations are
 * case-insensitive by default and SQL pads with blanks when comparing, but a collation is the service's choice) or
 * when either holds characters a collation may fold (Dataverse's default collation ignores accents).
 */
function sameText(a: string, b: string): boolean | undefined {
  if (a === b) return true;
  if (!PLAIN_TEXT.test(a) || !PLAIN_TEXT.test(b)) return undefined;
  return a.toLowerCase().trimEnd() === b.toLowerCase().trimEnd() ? undefined : false;
}

function decideEquals(a: Known, b: Known): boolean | undefined {
  const [x, y] = [a.value, b.value];
  if (x === null || y === null) return x === null && y === null;
  if (typeof x === 'number' && typeof y === 'number') return x === y;
  if (typeof x === 'boolean' && typeof y === 'boolean') return x === y;
  if (typeof x === 'string' && typeof y === 'string') {
    // GUIDs are case-insensitive by definition, whatever the collation.
    if (a.guid || b.guid) return x.toLowerCase() === y.toLowerCase();
    return sameText(x, y);
  }
  return decideOrder(a, b, (c) => c === 0);
}

/** Ordering: numbers, and date-time literals against ISO date-time values; text ordering is the collation's. */
function decideOrder(a: Known, b: Known, test: (c: number) => boolean): boolean | undefined {
  const [x, y] = [a.value, b.value];
  if (typeof x === 'number' && typeof y === 'number') return test(Math.sign(x - y));
  const instant = (v: unknown) =>
    v instanceof DateLiteral
      ? v.raw.includes('T')
        ? v.ms
        : undefined
      : typeof v === 'string' && ISO_INSTANT.test(v)
        ? instantOf(v)
        : undefined;
  if (x instanceof DateLiteral || y instanceof DateLiteral) {
    const [ix, iy] = [instant(x), instant(y)];
    if (ix !== undefined && iy !== undefined) return test(Math.sign(ix - iy));
  }
  return undefined;
}

function knownOperand(n: FilterNode, row: Row): Known | undefined {
  if (n.k === 'lit') return n.kind === 'string' && !n.quoted ? { value: n.value, guid: true } : { value: n.value };
  // A navigation path, or a column the record was read without: only the side knows.
  if (n.k === 'prop') return n.path.length === 1 && Object.hasOwn(row, n.name) ? { value: row[n.name] } : undefined;
  return undefined;
}

function and3(a: boolean | undefined, b: () => boolean | undefined): boolean | undefined {
  if (a === false) return false;
  const r = b();
  if (r === false) return false;
  return a === true && r === true ? true : undefined;
}

function decide(n: FilterNode, row: Row): boolean | undefined {
  switch (n.k) {
    case 'and':
      return and3(decide(n.left, row), () => decide(n.right, row));
    case 'or': {
      const l = decide(n.left, row);
      if (l === true) return true;
      const r = decide(n.right, row);
      if (r === true) return true;
      return l === false && r === false ? false : undefined;
    }
    case 'not': {
      const o = decide(n.operand, row);
      return o === undefined ? undefined : !o;
    }
    case 'cmp': {
      const [a, b] = [knownOperand(n.left, row), knownOperand(n.right, row)];
      if (!a || !b) return undefined;
      if (n.op === 'eq' || n.op === 'ne') {
        const eq = decideEquals(a, b);
        return eq === undefined ? undefined : n.op === 'eq' ? eq : !eq;
      }
      if (a.value === null || b.value === null) return undefined;
      return decideOrder(a, b, orderTest(n.op));
    }
    case 'in': {
      const a = knownOperand(n.left, row);
      if (!a) return undefined;
      let answer: boolean | undefined = false;
      for (const item of n.items) {
        const b = knownOperand(item, row);
        const eq = b ? decideEquals(a, b) : undefined;
        if (eq === true) return true;
        if (eq === undefined) answer = undefined;
      }
      return answer;
    }
    default:
      // Functions (and bare boolean properties): their text semantics are the side's.
      return n.k === 'prop' && n.path.length === 1 && typeof row[n.name] === 'boolean' ? (row[n.name] as boolean) : undefined;
  }
}

/**
 * Whether a record read from BC or Dataverse satisfies a $filter, decided on the record itself: true or false only
 * when the side's own query could not answer otherwise; undefined when it might (a function, text equal but for case,
 * trailing blanks or accents, text ordering, a navigation path, a column the record was read without, an
 * expression this parser refuses). An undefined answer is the caller's cue to ask the side.
 */
export function evaluateFilter(expr: string, row: Row): boolean | undefined {
  let node: FilterNode;
  try {
    node = parseFilter(expr);
  } catch (err) {
    if (err instanceof ODataQueryError) return undefined;
    throw err;
  }
  return decide(node, row);
}
