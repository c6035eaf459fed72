import type { FieldMapping, SyncDirection, TableMapping, Transformation } from '../mappings/schema';
import { type LookupResolver, type MapRecordOptions, transformField } from '../mappings/transform';

/**
 * How the engine reads one field mapping on each side; the translation itself is the mapping model's
 * `transformField`, with lookups resolved through couplings.
 */

/** A reference that could not be translated because the referenced record is not coupled yet. */
export interface MissingReference {
  field: string;
  mapping: string;
  /** The value on the source side (code, number or id). */
  sourceValue: string;
  bcKey: 'code' | 'id';
}

const isReference = (t: Transformation | undefined): t is Extract<Transformation, { kind: 'lookup' | 'currency' | 'unit' }> =>
  t?.kind === 'lookup' || t?.kind === 'currency' || t?.kind === 'unit';

/** Dataverse property that holds a lookup's id when read: `_<column>_value`. */
export function dataverseReadKey(field: FieldMapping): string | undefined {
  // EntityName constants (owneridtype…) only qualify a polymorphic lookup's bind; they are not readable columns.
  if (!field.dataverseColumn || field.dataverseType === 'EntityName') return undefined;
  return isReference(field.transformation) ? `_${field.dataverseColumn}_value` : field.dataverseColumn;
}

/** The columns to `$select` on each side for a mapping, so reads stay small. */
export function selectColumns(mapping: TableMapping, side: 'bc' | 'dataverse'): string[] {
  const cols = new Set<string>();
  for (const f of activeFields(mapping)) {
    if (side === 'bc' && f.bcField && (!f.bcExtension || mapping.bc.extensionEntitySet)) cols.add(f.bcField);
    if (side === 'dataverse') {
      const k = dataverseReadKey(f);
      if (k) cols.add(k);
    }
  }
  return [...cols];
}

/** Enabled field mappings (the ownership filter is applied when the defaults are built). */
export function activeFields(mapping: TableMapping): FieldMapping[] {
  return mapping.fields.filter((f) => f.status === 'Enabled');
}

export function fieldAllowsPass(field: FieldMapping, pass: SyncDirection): boolean {
  return field.direction === 'Bidirectional' || field.direction === pass;
}

/** The value of a field as the source side holds it (comparable form), used for snapshots and change detection. */
export function sideValue(field: FieldMapping, side: 'bc' | 'dataverse', values: Record<string, unknown>): unknown {
  if (side === 'bc') return field.bcField ? values[field.bcField] : undefined;
  const k = dataverseReadKey(field);
  return k ? values[k] : undefined;
}

export type Translated =
  | { ok: true; comparable: unknown; payload: unknown; writeKey: string }
  | { ok: false; missing: MissingReference }
  | { ok: 'skip' };

/**
 * Translates one field for one pass with the mapping model's own `transformField`, and adds what the engine
 * needs for change detection: the comparable form of the written value (a lookup's id rather than its bind).
 */
export async function translateField(
  mapping: TableMapping,
  field: FieldMapping,
  pass: SyncDirection,
  sourceValues: Record<string, unknown>,
  resolver: LookupResolver,
  options: MapRecordOptions,
): Promise<Translated> {
  const r = await transformField(mapping, field, pass, sourceValues, resolver, options);
  if (r.missing) {
    const t = field.transformation;
    const bcKey = t && (t.kind === 'lookup' || t.kind === 'currency') ? t.bcKey : 'code';
    return { ok: false, missing: { field: r.missing.field, mapping: r.missing.mapping, sourceValue: r.missing.sourceId, bcKey } };
  }
  if (!r.write) return { ok: 'skip' };
  const { key, value } = r.write;
  const bind = typeof value === 'string' && key.endsWith('@odata.bind') ? /\(([^)]+)\)$/.exec(value)?.[1] : undefined;
  return { ok: true, comparable: bind ?? value, payload: value, writeKey: key };
}
