import {
  type FieldMapping,
  type FormatTransformation,
  fieldLabel,
  type JsonPrimitive,
  type OptionMapTransformation,
  type SyncDirection,
  type TableMapping,
  type ValueMapTransformation,
} from './schema';

/** BC's blank GUID (api-contracts C.2). */
export const BLANK_GUID = '00000000-0000-0000-0000-000000000000';

/**
 * Translates a key through the couplings of `mapping`. ToIntegrationTable: BC code/number (or SystemId when
 * `bcKey` = 'id'; for units `<owner>|<code>`) → Dataverse id. FromIntegrationTable: Dataverse id → the BC code or
 * SystemId. Undefined = not coupled.
 */
export type LookupResolver = (
  mapping: string,
  sourceId: string,
  request: { direction: SyncDirection; bcKey: 'code' | 'id'; via?: 'contactCompany' },
) => Promise<string | undefined>;

export interface MapRecordOptions {
  /**
   * Local currency. BC writes LCY as a blank currency code (API v2.0 shows the LCY code); Dataverse needs the
   * transactioncurrency whose ISO code is the LCY code.
   */
  lcy?: { code: string; transactionCurrencyId?: string };
  /** Option couplings from the store (BC value → option value), merged over the field's static map. */
  optionPairs?: (optionMapping: string) => Readonly<Record<string, number>> | undefined;
}

export interface MissingLookup {
  field: string;
  mapping: string;
  sourceId: string;
}

export interface MapRecordResult {
  values: Record<string, unknown>;
  warnings: string[];
  missingLookups: MissingLookup[];
}

const isBlank = (v: unknown) => v === null || v === undefined || v === '' || v === BLANK_GUID;

// ---------------------------------------------------------------------------------------------------------
// Value transformations (pure, synchronous)

export interface OptionMapResult {
  value: string | number | null;
  /** Set when the value had no mapping and was written blank (BC's rule: the record still syncs). */
  unmapped?: string;
}

/** Option map: BC code/id ⇄ Dataverse option value. Unmapped and blank values become blank, never an error. */
export function applyOptionMap(
  t: OptionMapTransformation,
  direction: SyncDirection,
  value: unknown,
  extraPairs?: Readonly<Record<string, number>>,
): OptionMapResult {
  const pairs: Record<string, number> = { ...t.map, ...(extraPairs ?? {}) };
  const bcBlank = t.bcKey === 'id' ? BLANK_GUID : '';
  if (direction === 'ToIntegrationTable') {
    if (isBlank(value)) return { value: null };
    const key = String(value);
    // Own properties only: a code like "valueOf" must not hit Object.prototype.
    const upper = key.toUpperCase();
    const hit = Object.hasOwn(pairs, key) ? pairs[key] : Object.hasOwn(pairs, upper) ? pairs[upper] : undefined;
    return hit === undefined ? { value: null, unmapped: key } : { value: hit };
  }
  if (value === null || value === undefined || value === '') return { value: bcBlank };
  const option = Number(value);
  const key = Object.keys(pairs).find((k) => pairs[k] === option);
  return key === undefined ? { value: bcBlank, unmapped: String(value) } : { value: key };
}

/** Value map: BC value (as text) → Dataverse value; the reverse uses the inverted map (first key wins). */
export function applyValueMap(t: ValueMapTransformation, direction: SyncDirection, value: unknown): { value: unknown; unmapped?: string } {
  const fallback = t.unmapped === 'blank' ? null : value;
  if (direction === 'ToIntegrationTable') {
    const key = String(value);
    return Object.hasOwn(t.map, key) ? { value: t.map[key] } : { value: fallback, unmapped: key };
  }
  const key = Object.keys(t.map).find((k) => t.map[k] === (value as JsonPrimitive));
  return key === undefined ? { value: fallback, unmapped: String(value) } : { value: key };
}

/** Cuts text to the destination length, as BC does for every text transfer; non-text passes through. */
export function truncate(value: unknown, maxLength: number): unknown {
  return typeof value === 'string' && value.length > maxLength ? value.slice(0, maxLength) : value;
}

/** Negative numbers become 0 (BC: item price and inventory). */
export function nonNegative(value: unknown): unknown {
  return typeof value === 'number' && value < 0 ? 0 : value;
}

/** Fills `{value}` and `{<bcField>}` placeholders from the BC record. */
export function applyFormat(t: FormatTransformation, value: unknown, record: Readonly<Record<string, unknown>>): string {
  const text = t.template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, key: string) => {
    const v = key === 'value' ? value : record[key];
    return v === null || v === undefined ? '' : String(v);
  });
  return t.uppercase ? text.toUpperCase() : text;
}

// ---------------------------------------------------------------------------------------------------------
// Field and record mapping

export interface FieldTransferResult {
  /** Property to write and its value; absent when nothing is written. */
  write?: { key: string; value: unknown };
  warning?: string;
  missing?: MissingLookup;
}

/** Source property of a field: Dataverse lookups are read from `_<column>_value`. */
function readSource(
  field: FieldMapping,
  direction: SyncDirection,
  record: Readonly<Record<string, unknown>>,
): { present: boolean; value: unknown } {
  if (direction === 'ToIntegrationTable') {
    const key = field.bcField as string;
    return { present: Object.hasOwn(record, key), value: record[key] };
  }
  const column = field.dataverseColumn as string;
  const lookupKey = `_${column}_value`;
  if (Object.hasOwn(record, lookupKey)) return { present: true, value: record[lookupKey] };
  return { present: Object.hasOwn(record, column), value: record[column] };
}

/**
 * Applies one field mapping for one pass. Returns what to write (property name on the destination: the BC field,
 * the Dataverse column, or `<navigation>@odata.bind` for Dataverse lookups), a warning, or an unresolved lookup.
 */
export async function transformField(
  mapping: Pick<TableMapping, 'name'>,
  field: FieldMapping,
  direction: SyncDirection,
  record: Readonly<Record<string, unknown>>,
  resolver: LookupResolver,
  options: MapRecordOptions = {},
): Promise<FieldTransferResult> {
  const label = fieldLabel(field);
  const toDataverse = direction === 'ToIntegrationTable';
  const targetKey = toDataverse ? field.dataverseColumn : field.bcField;
  if (targetKey === null) return {};

  if (field.constant !== undefined) {
    // EntityName constants (owneridtype, customeridtype, …) pick the target of a polymorphic lookup, which the Web
    // API expresses through the navigation property of the bind; they are not columns one can write.
    if (toDataverse && field.dataverseType === 'EntityName') return {};
    return { write: { key: targetKey, value: field.constant.value } };
  }

  const source = readSource(field, direction, record);
  if (!source.present) {
    return {
      warning: `${mapping.name}: ${label}: the source record has no '${toDataverse ? field.bcField : field.dataverseColumn}', nothing written.`,
    };
  }
  const value = source.value;
  const t = field.transformation;
  const skipNull = (v: unknown): FieldTransferResult => (field.notNull && isBlank(v) ? {} : { write: { key: targetKey, value: v } });

  switch (t?.kind) {
    case undefined:
      return skipNull(value);
    case 'truncate':
      return skipNull(truncate(value, t.maxLength));
    case 'nonNegative':
      return skipNull(toDataverse ? nonNegative(value) : value);
    case 'format':
      if (!toDataverse) return { warning: `${mapping.name}: ${label}: a format transformation cannot be reversed, nothing written.` };
      return skipNull(applyFormat(t, value, record));
    case 'valueMap': {
      const r = applyValueMap(t, direction, value);
      const out = skipNull(r.value);
      return r.unmapped === undefined
        ? out
        : { ...out, warning: `${mapping.name}: ${label}: value '${r.unmapped}' is not in the value map.` };
    }
    case 'optionMap': {
      const r = applyOptionMap(t, direction, value, options.optionPairs?.(t.optionMapping));
      const out = skipNull(r.value);
      return r.unmapped === undefined
        ? out
        : { ...out, warning: `${mapping.name}: ${label}: option '${r.unmapped}' has no ${t.optionMapping} mapping; written blank.` };
    }
    case 'lookup':
    case 'unit':
    case 'currency': {
      const mappings = t.kind === 'lookup' ? [t.mapping, ...t.alsoMappings] : [t.mapping];
      const bcKey = t.kind === 'unit' ? 'code' : t.bcKey;
      const navigation = t.kind === 'lookup' ? (t.navigationProperty ?? targetKey) : targetKey;
      const writeKey = toDataverse ? `${navigation}@odata.bind` : targetKey;
      const bcBlank = bcKey === 'id' ? BLANK_GUID : '';
      const blankValue = toDataverse ? null : bcBlank;
      const bind = (id: string) => (toDataverse ? `/${t.entitySet}(${id})` : id);

      let sourceId = isBlank(value) ? '' : String(value);
      if (t.kind === 'currency') {
        const lcy = options.lcy;
        if (toDataverse && (sourceId === '' || sourceId === lcy?.code)) {
          if (lcy?.transactionCurrencyId) return { write: { key: writeKey, value: bind(lcy.transactionCurrencyId) } };
          return { missing: { field: label, mapping: t.mapping, sourceId: lcy?.code ?? '' } };
        }
        if (!toDataverse && sourceId !== '' && sourceId === lcy?.transactionCurrencyId) return { write: { key: writeKey, value: bcBlank } };
      }
      if (sourceId === '') return field.notNull ? {} : { write: { key: writeKey, value: blankValue } };
      if (t.kind === 'unit' && toDataverse && t.ownerBcField) sourceId = `${String(record[t.ownerBcField] ?? '')}|${sourceId}`;

      for (const m of mappings) {
        const via = t.kind === 'lookup' ? t.via : undefined;
        const target = await resolver(m, sourceId, { direction, bcKey, ...(via ? { via } : {}) });
        if (target !== undefined && !isBlank(target)) return { write: { key: writeKey, value: bind(target) } };
      }
      if (field.clearValueOnFailedSync) {
        return {
          write: { key: writeKey, value: blankValue },
          warning: `${mapping.name}: ${label}: '${sourceId}' is not coupled in ${mappings.join('/')}; value cleared.`,
        };
      }
      return { missing: { field: label, mapping: t.mapping, sourceId } };
    }
  }
}

/**
 * Maps a source record for one pass of a table mapping: every enabled field flowing in `direction`. A record with
 * `missingLookups` must not be written as is (BC: "… must be coupled to a Dataverse row"); the engine syncs or
 * waits for the dependency first. Warnings (unmapped options written blank, cleared lookups) do not stop the record.
 */
export async function mapRecord(
  tableMapping: Pick<TableMapping, 'name' | 'fields'>,
  direction: SyncDirection,
  sourceRecord: Readonly<Record<string, unknown>>,
  resolver: LookupResolver,
  options: MapRecordOptions = {},
): Promise<MapRecordResult> {
  const result: MapRecordResult = { values: {}, warnings: [], missingLookups: [] };
  for (const field of tableMapping.fields) {
    if (field.status !== 'Enabled') continue;
    if (field.direction !== 'Bidirectional' && field.direction !== direction) continue;
    const r = await transformField(tableMapping, field, direction, sourceRecord, resolver, options);
    if (r.write) {
      if (Object.hasOwn(result.values, r.write.key) && result.values[r.write.key] !== r.write.value) {
        result.warnings.push(
          `${tableMapping.name}: ${fieldLabel(field)}: '${r.write.key}' is written by more than one field mapping; the last one wins.`,
        );
      }
      result.values[r.write.key] = r.write.value;
    }
    if (r.warning) result.warnings.push(r.warning);
    if (r.missing) result.missingLookups.push(r.missing);
  }
  return result;
}
