import type { FieldMapping } from './schema';

/** Which BC field types and Dataverse column types a field mapping may join, and with which transformation. */

/** What a column's type is for mapping checks: BC and Dataverse types that hold the same kind of value meet here. */
export type TypeCategory = 'text' | 'number' | 'boolean' | 'date' | 'guid' | 'lookup' | 'picklist' | 'entityname' | 'other';

const DATAVERSE_CATEGORY: Record<string, TypeCategory> = {
  string: 'text',
  memo: 'text',
  integer: 'number',
  bigint: 'number',
  decimal: 'number',
  double: 'number',
  money: 'number',
  boolean: 'boolean',
  datetime: 'date',
  uniqueidentifier: 'guid',
  lookup: 'lookup',
  customer: 'lookup',
  owner: 'lookup',
  picklist: 'picklist',
  state: 'picklist',
  status: 'picklist',
  entityname: 'entityname',
};

const BC_CATEGORY: Record<string, TypeCategory> = {
  string: 'text',
  decimal: 'number',
  double: 'number',
  int16: 'number',
  int32: 'number',
  int64: 'number',
  boolean: 'boolean',
  date: 'date',
  datetimeoffset: 'date',
  guid: 'guid',
};

/** Dataverse `AttributeType` (e.g. `Lookup`, `Picklist`, `String`) → comparison category. */
export function dataverseTypeCategory(type: string): TypeCategory {
  return DATAVERSE_CATEGORY[type.replace(/Type$/, '').toLowerCase()] ?? 'other';
}

/** BC `$metadata` type (e.g. `Edm.String`, `Microsoft.NAV.blocked` enums) → comparison category. */
export function bcTypeCategory(type: string): TypeCategory {
  const t = type.toLowerCase();
  if (t.startsWith('edm.')) return BC_CATEGORY[t.slice(4)] ?? 'other';
  // AL enums and options are serialized as their captions.
  if (t.startsWith('microsoft.nav.')) return 'text';
  return BC_CATEGORY[t] ?? 'other';
}

/**
 * Why a field mapping cannot carry values between a BC field and a Dataverse column of these categories, or undefined
 * when it can (or when a side's type is unknown).
 */
export function incompatibility(
  f: FieldMapping,
  bc: TypeCategory | undefined,
  dv: TypeCategory | undefined,
  optionMapping: boolean,
): string | undefined {
  const t = f.transformation;
  if (optionMapping && f.constant === undefined) {
    // An option mapping couples BC codes with the option set's values; the code becomes the option label.
    if (dv !== undefined && dv !== 'picklist') return `an option mapping needs a Picklist column, found ${dv}`;
    if (bc !== undefined && bc !== 'text') return `an option mapping needs a BC code field, found ${bc}`;
    return undefined;
  }
  if (f.constant !== undefined) {
    const v = f.constant.value;
    const target = f.bcField === null ? dv : bc;
    if (target === undefined || v === null) return undefined;
    const ok =
      (target === 'text' && typeof v === 'string') ||
      (target === 'entityname' && typeof v === 'string') ||
      ((target === 'number' || target === 'picklist') && typeof v === 'number') ||
      (target === 'boolean' && typeof v === 'boolean');
    return ok ? undefined : `constant ${JSON.stringify(v)} does not fit a ${target} column`;
  }
  if (bc === undefined || dv === undefined) return undefined;
  switch (t?.kind) {
    case 'lookup':
    case 'currency':
    case 'unit':
      if (dv !== 'lookup') return `a lookup needs a Lookup/Customer/Owner column, found ${dv}`;
      if (bc !== 'text' && bc !== 'guid') return `a lookup needs a BC code or id field, found ${bc}`;
      return undefined;
    case 'optionMap':
      if (dv !== 'picklist') return `an option map needs a Picklist column, found ${dv}`;
      if (bc !== 'text' && bc !== 'guid') return `an option map needs a BC code or id field, found ${bc}`;
      return undefined;
    case 'valueMap':
      return undefined;
    default:
      if (dv === 'lookup' || dv === 'picklist') return `a ${dv} column needs a lookup/currency/unit/option/value transformation`;
      if (bc === dv) return undefined;
      // A number or date rendered into a text column is lossless one way only.
      if (dv === 'text' && f.direction === 'ToIntegrationTable' && bc !== 'guid') return undefined;
      if (bc === 'text' && f.direction === 'FromIntegrationTable') return undefined;
      return `BC ${bc} and Dataverse ${dv} are not compatible`;
  }
}
