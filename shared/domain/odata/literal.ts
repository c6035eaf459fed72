import { SyncError } from '../../errors';
import { toRecordId } from '../ids';

/** Fills `{companyId}`; without a company id the company clause is dropped (single-company installations). */
export function resolveFilter(filter: string, companyId: string | undefined): string {
  if (!filter) return '';
  if (companyId) return filter.replaceAll('{companyId}', companyId);
  return filter
    .replace(/\s+and\s+\(_bcbi_companyid_value eq \{companyId\} or _bcbi_companyid_value eq null\)/g, '')
    .replace(/\(_bcbi_companyid_value eq \{companyId\} or _bcbi_companyid_value eq null\)\s+and\s+/g, '')
    .replace(/\(_bcbi_companyid_value eq \{companyId\} or _bcbi_companyid_value eq null\)/g, '')
    .trim();
}

/**
 * An OData literal for a text, number or boolean column: text is always quoted (GUID-shaped text too — a text
 * column compared with a bare GUID is a type error), numbers must be finite. GUID-typed columns take `odataGuid`.
 */
export function odataLiteral(value: unknown): string {
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new SyncError('MAP.TRANSFORM_FAILED', `${value} cannot be compared in a query: it is not a finite number.`);
    return String(value);
  }
  return `'${String(value).replaceAll("'", "''")}'`;
}

/** The OData literal of a GUID-typed column's value (unquoted); anything that is not a GUID is a data error. */
export function odataGuid(value: unknown): string {
  const id = toRecordId(value);
  if (!id) throw new SyncError('MAP.TRANSFORM_FAILED', `'${String(value)}' is not a GUID.`);
  return id;
}
