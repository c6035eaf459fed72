import { badRequest, Codes } from './errors';

export type KeySegment = { kind: 'id'; id: string } | { kind: 'keys'; pairs: Array<[string, unknown]> };

export const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** Parses the inside of `accounts(...)`: a bare GUID, `accountid=<guid>`, or `accountnumber='A''B',x=2` (B.6). */
export function parseKeySegment(inner: string): KeySegment {
  const text = inner.trim();
  if (GUID.test(text)) return { kind: 'id', id: text.toLowerCase() };
  const pairs: Array<[string, unknown]> = [];
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw badKey(inner);
    const name = text.slice(i, eq).trim();
    if (!/^[A-Za-z_]\w*$/.test(name)) throw badKey(inner);
    i = eq + 1;
    let value: unknown;
    if (text.charAt(i) === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= text.length) throw badKey(inner);
        const c = text.charAt(i);
        if (c === "'") {
          if (text.charAt(i + 1) === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += c;
        i++;
      }
      value = s;
    } else {
      const end = text.indexOf(',', i);
      const raw = (end < 0 ? text.slice(i) : text.slice(i, end)).trim();
      i = end < 0 ? text.length : end;
      if (GUID.test(raw)) value = raw.toLowerCase();
      else if (/^-?\d+(\.\d+)?$/.test(raw)) value = Number(raw);
      else if (raw === 'true' || raw === 'false') value = raw === 'true';
      else if (raw === 'null') value = null;
      else throw badKey(inner);
    }
    pairs.push([name, value]);
    while (text.charAt(i) === ' ') i++;
    if (i < text.length) {
      if (text.charAt(i) !== ',') throw badKey(inner);
      i++;
    }
  }
  if (pairs.length === 0) throw badKey(inner);
  return { kind: 'keys', pairs };
}

function badKey(inner: string) {
  return badRequest(`Bad Request - Error in query syntax: the key '(${inner})' is not a valid key segment.`, Codes.unknownProperty);
}

export interface EntityRef {
  entitySet: string;
  key: string;
}

/**
 * Parses an @odata.bind value: `/contacts(<id>)`, `contacts(<id>)`, an absolute `…/api/data/v9.2/contacts(<id>)` or
 * `/accounts(accountnumber='ABC123')`.
 */
export function parseEntityRef(value: string): EntityRef | undefined {
  let path = value.trim();
  const api = path.search(/\/api\/data\/v\d+\.\d+\//);
  if (api >= 0) path = path.slice(path.indexOf('/', api + 10) + 1);
  if (path.startsWith('/')) path = path.slice(1);
  const m = /^([A-Za-z_]\w*)\((.*)\)$/.exec(path);
  if (!m || m[1] === undefined || m[2] === undefined) return undefined;
  return { entitySet: m[1], key: m[2] };
}

/** Splits `accounts(…)/primarycontactid/$ref` into segments, keeping parentheses (and quotes) intact. */
export function splitPath(path: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inQuote = false;
  let cur = '';
  for (const c of path) {
    if (c === "'" && depth > 0) inQuote = !inQuote;
    if (!inQuote) {
      if (c === '(') depth++;
      else if (c === ')') depth--;
      else if (c === '/' && depth === 0) {
        out.push(cur);
        cur = '';
        continue;
      }
    }
    cur += c;
  }
  out.push(cur);
  return out.filter((s) => s !== '');
}

/** `accounts(abc)` -> { name: 'accounts', key: 'abc' }; `accounts` -> { name: 'accounts' }. */
export function splitSegment(seg: string): { name: string; key?: string } {
  const open = seg.indexOf('(');
  if (open < 0 || !seg.endsWith(')')) return { name: seg };
  return { name: seg.slice(0, open), key: seg.slice(open + 1, -1) };
}

/** Query string -> map, decoding `+` as space the way OData servers do; the first occurrence of a name wins. */
export function parseQuery(raw: string): Map<string, string> {
  const out = new Map<string, string>();
  if (raw === '') return out;
  for (const part of raw.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decode(part.slice(eq + 1));
    if (!out.has(name)) out.set(name, value);
  }
  return out;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw badRequest(`The query string part '${s}' is not valid percent-encoding.`, Codes.unknownProperty);
  }
}
