import { ODataQueryError, type Row } from './errors';

/**
 * Comparison semantics shared by $filter and $orderby.
 *
 * Both Dataverse (SQL Server, case-insensitive collation) and Business Central (SQL collation, case-insensitive by
 * default) treat `name eq 'contoso'` as matching "Contoso", so strings compare case-insensitively (ordinal on the
 * lower-cased text; accents are NOT folded). Rows hold JSON, so dates arrive as ISO strings: they compare
 * chronologically against unquoted date/DateTimeOffset literals, and against each other when both sides are ISO
 * date-times (offsets like +02:00 and differing millisecond precision then still order correctly).
 */

/** An unquoted `2024-01-01` or `2024-01-01T00:00:00Z` literal; kept apart from strings so it compares by instant. */
export class DateLiteral {
  constructor(
    readonly raw: string,
    readonly ms: number,
  ) {}
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;
const NUMERIC_STRING = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;

/** Milliseconds since epoch of an ISO date / date-time string (or Date), else undefined. */
export function instantOf(v: unknown): number | undefined {
  if (v instanceof DateLiteral) return v.ms;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v.getTime();
  if (typeof v === 'string' && ISO_DATE_TIME.test(v) && hasValidFields(v)) {
    // Date-only strings parse as UTC midnight, which is what BC's Edm.Date means. Date.parse keeps milliseconds
    // only, so digits beyond them (Edm.DateTimeOffset allows 7) are added back as a fraction of a millisecond.
    const frac = /\.(\d+)/.exec(v)?.[1] ?? '';
    const ms = Date.parse(frac.length > 3 ? v.replace(`.${frac}`, `.${frac.slice(0, 3)}`) : v);
    if (Number.isNaN(ms)) return undefined;
    return frac.length > 3 ? ms + Number(`0.${frac.slice(3)}`) : ms;
  }
  return undefined;
}

// Date.parse rolls 2024-02-30 over to March 1st; a literal like that is a client bug and must be rejected.
function hasValidFields(v: string): boolean {
  const [y, mo, d] = [Number(v.slice(0, 4)), Number(v.slice(5, 7)), Number(v.slice(8, 10))];
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth) return false;
  if (v.length <= 10) return true;
  const [h, mi, se] = [Number(v.slice(11, 13)), Number(v.slice(14, 16)), Number(v.slice(17, 19) || '0')];
  return h < 24 && mi < 60 && se < 60;
}

export function parseDateLiteral(raw: string): DateLiteral | undefined {
  const ms = instantOf(raw);
  return ms === undefined ? undefined : new DateLiteral(raw, ms);
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

export function compareText(a: string, b: string): number {
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  return la < lb ? -1 : la > lb ? 1 : 0;
}

function describe(v: unknown): string {
  if (v instanceof DateLiteral) return `date/time ${v.raw}`;
  if (typeof v === 'string') return `string '${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  return `${typeof v} ${String(v)}`;
}

/**
 * Three-way comparison of two non-null values for $filter. Throws ODataQueryError for incompatible types
 * (e.g. `name gt 5` on a text column), as the real services answer such filters with 400 instead of an empty set.
 */
export function compareFilterValues(a: unknown, b: unknown): number {
  if (a instanceof DateLiteral || b instanceof DateLiteral || a instanceof Date || b instanceof Date) {
    const ia = instantOf(a);
    const ib = instantOf(b);
    if (ia === undefined || ib === undefined) {
      throw new ODataQueryError(`Cannot compare ${describe(a)} with ${describe(b)}: incompatible types.`);
    }
    return sign(ia - ib);
  }
  if (typeof a === 'number' || typeof b === 'number' || typeof a === 'bigint' || typeof b === 'bigint') {
    const na = toNumber(a);
    const nb = toNumber(b);
    if (na === undefined || nb === undefined) {
      throw new ODataQueryError(`Cannot compare ${describe(a)} with ${describe(b)}: incompatible types.`);
    }
    return sign(na - nb);
  }
  if (typeof a === 'boolean' && typeof b === 'boolean') return sign(Number(a) - Number(b));
  if (typeof a === 'string' && typeof b === 'string') {
    const ia = instantOf(a);
    const ib = instantOf(b);
    if (ia !== undefined && ib !== undefined) return sign(ia - ib);
    return compareText(a, b);
  }
  throw new ODataQueryError(`Cannot compare ${describe(a)} with ${describe(b)}: incompatible types.`);
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v === 'bigint') return Number(v);
  // Dataverse serialises versionnumber (BigInt) and some decimals as strings.
  if (typeof v === 'string' && NUMERIC_STRING.test(v)) return Number(v);
  return undefined;
}

export function isNullish(v: unknown): v is null | undefined {
  return v === null || v === undefined;
}

/** Reads `a` or a navigation path `a/b/c` from a row; missing means null. */
export function readPath(row: Row, path: readonly string[]): unknown {
  let cur: unknown = row;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return null;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur === undefined ? null : cur;
}

/**
 * Total preorder used by $orderby: null < booleans < numbers < ISO dates < other strings < anything else.
 * Ranking by type first keeps the order transitive even when a column mixes types.
 */
export function compareForOrder(a: unknown, b: unknown): number {
  const ka = orderKey(a);
  const kb = orderKey(b);
  if (ka.rank !== kb.rank) return ka.rank - kb.rank;
  return ka.key < kb.key ? -1 : ka.key > kb.key ? 1 : 0;
}

interface OrderKey {
  rank: number;
  key: number | string;
}

// Sorting calls the comparator O(n log n) times; recognising and parsing ISO strings each time dominated the cost
// (~0.7 s per 100k rows), so string keys are memoised. The cap bounds memory for long-running simulators.
const stringKeys = new Map<string, OrderKey>();
const STRING_KEY_CACHE_LIMIT = 200_000;

function orderKey(v: unknown): OrderKey {
  if (isNullish(v)) return { rank: 0, key: 0 };
  if (typeof v === 'boolean') return { rank: 1, key: Number(v) };
  if (typeof v === 'number' && !Number.isNaN(v)) return { rank: 2, key: v === 0 ? 0 : v };
  if (typeof v === 'bigint') return { rank: 2, key: Number(v) };
  if (v instanceof Date && !Number.isNaN(v.getTime())) return { rank: 3, key: v.getTime() };
  if (typeof v === 'string') {
    let k = stringKeys.get(v);
    if (k === undefined) {
      const ms = instantOf(v);
      k = ms !== undefined ? { rank: 3, key: ms } : { rank: 4, key: v.toLowerCase() };
      if (stringKeys.size >= STRING_KEY_CACHE_LIMIT) stringKeys.clear();
      stringKeys.set(v, k);
    }
    return k;
  }
  return { rank: 5, key: JSON.stringify(v) ?? '' };
}

/** The test an ordering operator applies to a comparison result (negative, zero, positive). */
export function orderTest(op: 'gt' | 'ge' | 'lt' | 'le'): (c: number) => boolean {
  switch (op) {
    case 'gt':
      return (c) => c > 0;
    case 'ge':
      return (c) => c >= 0;
    case 'lt':
      return (c) => c < 0;
    case 'le':
      return (c) => c <= 0;
  }
}
