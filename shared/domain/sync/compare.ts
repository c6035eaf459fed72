import { isGuid } from '../ids';

/**
 * Value equality as the sync engine needs it: two systems store "the same" value differently (Dataverse returns
 * `null` where BC returns `''`, BC returns `0` for an empty decimal, dates come with or without milliseconds),
 * and treating those as changes would make the engine write forever.
 */

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** The canonical form of a value for comparison and fingerprints. */
export function normalizeValue(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') {
    if (value === '') return null;
    if (ISO_DATE_TIME.test(value)) {
      const ms = Date.parse(value);
      if (!Number.isNaN(ms)) return new Date(ms).toISOString();
    }
    if (isGuid(value)) return value.toLowerCase();
    // The empty GUID is how Dataverse and BC say "no reference".
    return value;
  }
  if (typeof value === 'number') return Number.isFinite(value) ? Math.round(value * 1e6) / 1e6 : null;
  if (value instanceof Date) return value.toISOString();
  return value;
}

export function sameValue(a: unknown, b: unknown): boolean {
  const na = normalizeValue(a);
  const nb = normalizeValue(b);
  if (na === nb) return true;
  if (na === '00000000-0000-0000-0000-000000000000' || nb === '00000000-0000-0000-0000-000000000000') {
    return (na === null || na === '00000000-0000-0000-0000-000000000000') && (nb === null || nb === '00000000-0000-0000-0000-000000000000');
  }
  // BC reports 0 for an empty decimal where Dataverse reports null.
  if ((na === 0 && nb === null) || (na === null && nb === 0)) return true;
  if (typeof na === 'object' && typeof nb === 'object') return JSON.stringify(na) === JSON.stringify(nb);
  return false;
}

/** A stable hash of a set of values: the same values in any key order give the same fingerprint. */
export function fingerprint(values: Record<string, unknown>): string {
  const canonical = Object.keys(values)
    .sort()
    .map((k) => `${k}=${JSON.stringify(normalizeValue(values[k]))}`)
    .join('\u0000');
  // FNV-1a, 64-bit as two 32-bit halves: fast, dependency-free, and collisions only cost a redundant write.
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < canonical.length; i++) {
    const c = canonical.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x811c9dc5) >>> 0;
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}
