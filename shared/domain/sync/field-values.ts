import type { FieldMapping, SyncDirection, TableMapping, Transformation } from '../mappings/schema';

/**
 * How the engine reads and writes one field mapping on each side. Plain columns are copied; lookups, currencies,
 * units and option sets are translated through couplings by a {@link ReferenceResolver}.
 */

export interface ReferenceResolver {
  /**
   * BC value (a code/number, or a SystemId when `bcKey` is 'id') of a record of `mapping` → the coupled Dataverse
   * id. `undefined` when the BC record exists but is not coupled yet; `null` when the BC value is empty.
   */
  toDataverse(mapping: string, bcValue: string, bcKey: 'code' | 'id'): Promise<string | undefined>;
  /** Dataverse id of a row of `mapping` → the coupled BC record's code/number or SystemId. */
  toBc(mapping: string, dataverseId: string, bcKey: 'code' | 'id'): Promise<string | undefined>;
  /** Option value for a BC code of an option mapping (PAYMENT TERMS…); undefined when not mapped. */
  optionToDataverse(optionMapping: string, bcValue: string, bcKey: 'code' | 'id'): Promise<number | undefined>;
  optionToBc(optionMapping: string, option: number, bcKey: 'code' | 'id'): Promise<string | undefined>;
}

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
  if (!field.dataverseColumn) return undefined;
  return isReference(field.transformation) ? `_${field.dataverseColumn}_value` : field.dataverseColumn;
}

/** Dataverse property a write uses: `<navigation>@odata.bind` for lookups, the column otherwise. */
export function dataverseWriteKey(field: FieldMapping): string | undefined {
  if (!field.dataverseColumn) return undefined;
  const t = field.transformation;
  if (isReference(t)) {
    const nav = t.kind === 'lookup' ? (t.navigationProperty ?? field.dataverseColumn) : field.dataverseColumn;
    return `${nav}@odata.bind`;
  }
  return field.dataverseColumn;
}

/** The columns to `$select` on each side for a mapping, so reads stay small. */
export function selectColumns(mapping: TableMapping, side: 'bc' | 'dataverse'): string[] {
  const cols = new Set<string>();
  for (const f of activeFields(mapping)) {
    if (side === 'bc' && f.bcField && !f.bcExtension) cols.add(f.bcField);
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

/** Translates one field for one pass. `sourceValues` are the source record's values. */
export async function translateField(
  field: FieldMapping,
  pass: SyncDirection,
  sourceValues: Record<string, unknown>,
  resolver: ReferenceResolver,
): Promise<Translated> {
  const toDv = pass === 'ToIntegrationTable';
  const writeKey = toDv ? dataverseWriteKey(field) : field.bcField;
  if (!writeKey) return { ok: 'skip' };
  if (field.constant) {
    // Constants only flow toward the side whose counterpart is null.
    const targetsThisSide = toDv ? field.bcField === null : field.dataverseColumn === null;
    if (!targetsThisSide) return { ok: 'skip' };
    // `owneridtype` only qualifies ownerid's bind; it is not a column of its own.
    if (field.dataverseType === 'EntityName') return { ok: 'skip' };
    return { ok: true, comparable: field.constant.value, payload: field.constant.value, writeKey };
  }
  const raw = sideValue(field, toDv ? 'bc' : 'dataverse', sourceValues);
  const t = field.transformation;
  const label = `${field.bcField ?? ''} -> ${field.dataverseColumn ?? ''}`;

  if (isReference(t)) {
    const refMapping = t.mapping;
    const bcKey = t.kind === 'unit' ? 'code' : t.bcKey;
    const empty = raw === null || raw === undefined || raw === '' || raw === '00000000-0000-0000-0000-000000000000';
    if (toDv) {
      if (empty) return { ok: true, comparable: null, payload: null, writeKey };
      let key = String(raw);
      if (t.kind === 'unit' && t.ownerBcField) key = `${String(sourceValues[t.ownerBcField] ?? '')}|${key}`;
      const candidates = t.kind === 'lookup' ? [refMapping, ...t.alsoMappings] : [refMapping];
      for (const m of candidates) {
        const id = await resolver.toDataverse(m, key, bcKey);
        if (id) return { ok: true, comparable: id, payload: `/${t.entitySet}(${id})`, writeKey };
      }
      if (field.clearValueOnFailedSync) return { ok: true, comparable: null, payload: null, writeKey };
      if (field.notNull) return { ok: 'skip' };
      return { ok: false, missing: { field: label, mapping: refMapping, sourceValue: key, bcKey } };
    }
    if (empty) return { ok: true, comparable: null, payload: bcKey === 'id' ? '00000000-0000-0000-0000-000000000000' : '', writeKey };
    const candidates = t.kind === 'lookup' ? [refMapping, ...t.alsoMappings] : [refMapping];
    for (const m of candidates) {
      const value = await resolver.toBc(m, String(raw), bcKey);
      if (value !== undefined) {
        const v = t.kind === 'unit' && value.includes('|') ? value.slice(value.indexOf('|') + 1) : value;
        return { ok: true, comparable: v, payload: v, writeKey };
      }
    }
    if (field.clearValueOnFailedSync)
      return { ok: true, comparable: null, payload: bcKey === 'id' ? '00000000-0000-0000-0000-000000000000' : '', writeKey };
    if (field.notNull) return { ok: 'skip' };
    return { ok: false, missing: { field: label, mapping: refMapping, sourceValue: String(raw), bcKey } };
  }

  if (t?.kind === 'optionMap') {
    if (toDv) {
      if (raw === null || raw === undefined || raw === '' || raw === '00000000-0000-0000-0000-000000000000')
        return { ok: true, comparable: null, payload: null, writeKey };
      const key = String(raw);
      const option = t.map[key] ?? (await resolver.optionToDataverse(t.optionMapping, key, t.bcKey));
      // BC's rule: an option without a mapping is written blank and the record still syncs.
      return { ok: true, comparable: option ?? null, payload: option ?? null, writeKey };
    }
    if (raw === null || raw === undefined)
      return { ok: true, comparable: null, payload: t.bcKey === 'id' ? '00000000-0000-0000-0000-000000000000' : '', writeKey };
    const option = Number(raw);
    const fromStatic = Object.entries(t.map).find(([, v]) => v === option)?.[0];
    const code = fromStatic ?? (await resolver.optionToBc(t.optionMapping, option, t.bcKey));
    const blank = t.bcKey === 'id' ? '00000000-0000-0000-0000-000000000000' : '';
    return { ok: true, comparable: code ?? null, payload: code ?? blank, writeKey };
  }

  const value = applyPlainTransformation(t, pass, raw, sourceValues);
  return { ok: true, comparable: value, payload: value, writeKey };
}

/** Transformations that need no I/O. */
export function applyPlainTransformation(
  t: Transformation | undefined,
  pass: SyncDirection,
  raw: unknown,
  sourceValues: Record<string, unknown>,
): unknown {
  if (!t) return raw ?? null;
  switch (t.kind) {
    case 'truncate':
      return typeof raw === 'string' && raw.length > t.maxLength ? raw.slice(0, t.maxLength) : (raw ?? null);
    case 'nonNegative':
      return typeof raw === 'number' && raw < 0 ? 0 : (raw ?? null);
    case 'valueMap': {
      const entries = Object.entries(t.map);
      if (pass === 'ToIntegrationTable') {
        const hit = entries.find(([k]) => k === String(raw));
        return hit ? hit[1] : t.unmapped === 'blank' ? null : (raw ?? null);
      }
      const hit = entries.find(([, v]) => v === raw);
      return hit ? hit[0] : t.unmapped === 'blank' ? null : (raw ?? null);
    }
    case 'format': {
      if (pass !== 'ToIntegrationTable') return raw ?? null;
      const text = t.template.replace(/\{([A-Za-z0-9_]+)\}/g, (_, key: string) =>
        key === 'value' ? String(raw ?? '') : String(sourceValues[key] ?? ''),
      );
      return t.uppercase ? text.toUpperCase() : text;
    }
    default:
      return raw ?? null;
  }
}
