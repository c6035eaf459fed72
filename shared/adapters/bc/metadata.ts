import { isGuid } from '../../domain/ids';
/**
 * Field types of BC entity sets, for mapping validation. Read from the CSDL `$metadata` document each API route
 * serves (`<EntitySet Name="customers" EntityType="Microsoft.NAV.customer"/>` → `<EntityType Name="customer">`
 * → `<Property Name="displayName" Type="Edm.String" MaxLength="100"/>`). When a server does not serve
 * `$metadata`, the client falls back to inferring types from the first record (see `inferFieldsFromRecord`).
 */
export interface BcFieldInfo {
  /** EDM type, e.g. `Edm.String`, `Edm.Guid`, `Edm.Decimal`, `Edm.DateTimeOffset`, or an enum type name. */
  type: string;
  nullable?: boolean;
  maxLength?: number;
  /** True when the type was guessed from a record's JSON value rather than read from `$metadata`. */
  inferred?: boolean;
}

export type BcEntityFields = Map<string, BcFieldInfo>;

const attr = (tag: string, name: string): string | undefined => {
  const m = new RegExp(`\\b${name}="([^"]*)"`).exec(tag);
  return m?.[1];
};

/** Parses CSDL XML into entity set → (field → info). Tolerant: unknown elements are skipped. */
export function parseCsdl(xml: string): Map<string, BcEntityFields> {
  const types = new Map<string, BcEntityFields>();
  const typeRe = /<EntityType\b([^>]*)>([\s\S]*?)<\/EntityType>/g;
  for (let m = typeRe.exec(xml); m !== null; m = typeRe.exec(xml)) {
    const name = attr(m[1] ?? '', 'Name');
    if (!name) continue;
    const fields: BcEntityFields = new Map();
    const propRe = /<Property\b([^>]*?)\/?>/g;
    const body = m[2] ?? '';
    for (let p = propRe.exec(body); p !== null; p = propRe.exec(body)) {
      const tag = p[1] ?? '';
      const pname = attr(tag, 'Name');
      const type = attr(tag, 'Type');
      if (!pname || !type) continue;
      const maxLength = attr(tag, 'MaxLength');
      const nullable = attr(tag, 'Nullable');
      fields.set(pname, {
        type,
        ...(nullable !== undefined ? { nullable: nullable !== 'false' } : {}),
        ...(maxLength && /^\d+$/.test(maxLength) ? { maxLength: Number(maxLength) } : {}),
      });
    }
    types.set(name, fields);
  }
  const sets = new Map<string, BcEntityFields>();
  const setRe = /<EntitySet\b([^>]*?)\/?>/g;
  for (let m = setRe.exec(xml); m !== null; m = setRe.exec(xml)) {
    const tag = m[1] ?? '';
    const setName = attr(tag, 'Name');
    const typeName = attr(tag, 'EntityType')?.split('.').pop();
    const fields = typeName ? types.get(typeName) : undefined;
    if (setName && fields) sets.set(setName, fields);
  }
  return sets;
}

/** Best-effort EDM types from one record's JSON. A null value says nothing, so it reports `Edm.Untyped`. */
export function inferFieldsFromRecord(record: Record<string, unknown>): BcEntityFields {
  const fields: BcEntityFields = new Map();
  for (const [name, value] of Object.entries(record)) {
    if (name.includes('@')) continue;
    fields.set(name, { type: inferType(value), inferred: true });
  }
  return fields;
}

function inferType(value: unknown): string {
  if (typeof value === 'boolean') return 'Edm.Boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'Edm.Int32' : 'Edm.Decimal';
  if (typeof value === 'string') {
    if (isGuid(value)) return 'Edm.Guid';
    if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) return 'Edm.DateTimeOffset';
    if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return 'Edm.Date';
    return 'Edm.String';
  }
  if (Array.isArray(value)) return 'Collection';
  if (value !== null && typeof value === 'object') return 'Edm.ComplexType';
  return 'Edm.Untyped';
}
