import { ODataQueryError } from '../../shared/domain/odata/errors';

interface Preference {
  name: string;
  value: string | undefined;
}

/**
 * Parses a Prefer header (RFC 7240). Node joins repeated headers with ', ', and values may be quoted lists
 * (`odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.*"`), so commas
 * inside quotes must not split. Names compare case-insensitively; `;` parameters after a preference are ignored.
 */
function parsePrefer(header: string | undefined): Preference[] {
  if (header === undefined || header.trim() === '') return [];
  const prefs: Preference[] = [];
  for (const raw of splitQuoted(header, ',')) {
    const head = splitQuoted(raw, ';')[0]?.trim() ?? '';
    if (head === '') continue;
    const eq = head.indexOf('=');
    const name = (eq < 0 ? head : head.slice(0, eq)).trim().toLowerCase();
    let value = eq < 0 ? undefined : head.slice(eq + 1).trim();
    if (value !== undefined && value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    }
    prefs.push({ name, value });
  }
  return prefs;
}

// HTTP quotes with " and escapes with \, unlike OData's '' in options.ts splitTopLevel.
function splitQuoted(s: string, sep: string): string[] {
  const out: string[] = [];
  let inQuotes = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i);
    if (inQuotes && c === '\\') i++;
    else if (c === '"') inQuotes = !inQuotes;
    else if (c === sep && !inQuotes) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out;
}

/**
 * `Prefer: odata.maxpagesize=N` (OData 4.01 also allows plain `maxpagesize`). Returns undefined when absent.
 * A non-positive or non-integer value throws: the caller asked for paging and silently ignoring it would hide the bug.
 * Capping (5000 on Dataverse, 20000 on BC) is the simulator's job.
 */
export function parseMaxPageSize(preferHeader: string | undefined): number | undefined {
  // The last occurrence wins, as when a client library appends its own preference after a default.
  const pref = parsePrefer(preferHeader)
    .filter((p) => p.name === 'odata.maxpagesize' || p.name === 'maxpagesize')
    .pop();
  if (!pref) return undefined;
  const v = pref.value ?? '';
  if (!/^\d+$/.test(v) || Number(v) < 1 || !Number.isSafeInteger(Number(v))) {
    throw new ODataQueryError(`Invalid value '${v}' for the odata.maxpagesize preference: expected a positive integer.`);
  }
  return Number(v);
}

/**
 * Whether the Prefer header holds `name`. With `name` like `return=representation` the value must match too
 * (case-insensitively); with a bare name such as `odata.track-changes` any value matches.
 */
export function hasPreference(preferHeader: string | undefined, name: string): boolean {
  const eq = name.indexOf('=');
  const wantName = (eq < 0 ? name : name.slice(0, eq)).trim().toLowerCase();
  const wantValue =
    eq < 0
      ? undefined
      : name
          .slice(eq + 1)
          .trim()
          .replace(/^"(.*)"$/, '$1')
          .toLowerCase();
  return parsePrefer(preferHeader).some((p) => p.name === wantName && (wantValue === undefined || p.value?.toLowerCase() === wantValue));
}
