import { type FieldMapping, fieldLabel, type TableMapping } from './schema';

/**
 * What changed between two definitions of a table mapping, as the console shows it before saving and in the
 * change log: one entry per changed setting. Field mappings are matched by their `bcField -> dataverseColumn`
 * label (not by position), so removing one field shows one removal, not a shift of every field after it.
 */
export interface MappingDiffEntry {
  /** e.g. `direction`, `couplingRules.createNewIfNoMatch`, `fields[email -> emailaddress1].direction`. */
  path: string;
  /** Absent: the setting or field was added. */
  before?: unknown;
  /** Absent: the setting or field was removed. */
  after?: unknown;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function objectDiff(prefix: string, before: Record<string, unknown>, after: Record<string, unknown>, out: MappingDiffEntry[]): void {
  for (const key of [...new Set([...Object.keys(before), ...Object.keys(after)])]) {
    const b = before[key];
    const a = after[key];
    if (same(b, a)) continue;
    out.push({ path: `${prefix}${key}`, ...(b === undefined ? {} : { before: b }), ...(a === undefined ? {} : { after: a }) });
  }
}

/** Field mappings keyed by label; a repeated label gets `#2`, `#3`… in order. */
function byLabel(fields: readonly FieldMapping[]): Map<string, FieldMapping> {
  const out = new Map<string, FieldMapping>();
  for (const f of fields) {
    const base = fieldLabel(f);
    let label = base;
    for (let n = 2; out.has(label); n++) label = `${base} #${n}`;
    out.set(label, f);
  }
  return out;
}

export function diffMappings(before: TableMapping | undefined, after: TableMapping | undefined): MappingDiffEntry[] {
  const out: MappingDiffEntry[] = [];
  if (!before || !after) {
    if (before || after)
      out.push({ path: '(mapping)', ...(before ? { before: before.name } : {}), ...(after ? { after: after.name } : {}) });
    return out;
  }
  const { fields: bFields, ...bRest } = before;
  const { fields: aFields, ...aRest } = after;
  for (const key of [...new Set([...Object.keys(bRest), ...Object.keys(aRest)])] as Array<keyof typeof bRest>) {
    const b = bRest[key];
    const a = aRest[key];
    if (same(b, a)) continue;
    const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
    if (isObject(b) && isObject(a)) objectDiff(`${key}.`, b, a, out);
    else out.push({ path: key, ...(b === undefined ? {} : { before: b }), ...(a === undefined ? {} : { after: a }) });
  }
  const bl = byLabel(bFields);
  const al = byLabel(aFields);
  for (const label of [...new Set([...bl.keys(), ...al.keys()])]) {
    const b = bl.get(label);
    const a = al.get(label);
    if (!b) out.push({ path: `fields[${label}]`, after: a });
    else if (!a) out.push({ path: `fields[${label}]`, before: b });
    else if (!same(b, a)) objectDiff(`fields[${label}].`, b as Record<string, unknown>, a as Record<string, unknown>, out);
  }
  return out;
}
