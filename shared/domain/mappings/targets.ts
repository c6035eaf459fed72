import { resolveFilter } from '../odata/literal';
import type { BcEntityTarget, DataverseEntityTarget, Side } from '../ports';
import { selectColumns } from '../sync/field-values';
import { CORE_RULES } from '../sync/rules';
import { filterColumns } from '../sync/scope';
import type { TableMapping } from './schema';

/**
 * The `$select` the engine reads a mapping's records with on one side: the mapped fields, the columns the special
 * rules and format templates read, and what concurrency and echo detection need. Bulk readers (full sync) use the
 * same list so the engine can be handed their rows.
 */
export function recordSelect(mapping: TableMapping, side: Side, companyId?: string): string[] | undefined {
  const cols = selectColumns(mapping, side);
  if (cols.length === 0) return undefined;
  for (const rule of CORE_RULES) cols.push(...(rule.extraColumns?.(mapping, side) ?? []));
  // The filter's own columns, so the scope check decides on the record read instead of asking the side again.
  cols.push(...filterColumns(resolveFilter(side === 'bc' ? mapping.tableFilter : mapping.integrationTableFilter, companyId)));
  if (side === 'bc') {
    for (const f of mapping.fields) {
      if (f.status !== 'Enabled' || f.transformation?.kind !== 'format') continue;
      for (const m of f.transformation.template.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) if (m[1] && m[1] !== 'value') cols.push(m[1]);
    }
    for (const f of mapping.fields)
      if (f.status === 'Enabled' && f.transformation?.kind === 'unit' && f.transformation.ownerBcField)
        cols.push(f.transformation.ownerBcField);
  }
  if (side === 'dataverse') cols.push(mapping.dataverse.primaryKey, '_modifiedby_value');
  else cols.push('id');
  if (side === 'dataverse' && mapping.dataverse.modifiedOnColumn) cols.push(mapping.dataverse.modifiedOnColumn);
  if (side === 'bc') cols.push('lastModifiedDateTime');
  return [...new Set(cols)];
}

/** The page the engine uses for a mapping's BC records: the extended custom page when the mapping needs one. */
export function bcTarget(mapping: TableMapping): BcEntityTarget {
  if (mapping.bc.extensionEntitySet) return { side: 'bc', kind: 'customApi', entitySet: mapping.bc.extensionEntitySet };
  return { side: 'bc', kind: mapping.bc.kind, entitySet: mapping.bc.entitySet };
}

export function dataverseTarget(mapping: TableMapping): DataverseEntityTarget {
  return {
    side: 'dataverse',
    entitySet: mapping.dataverse.entitySet,
    logicalName: mapping.dataverse.entityLogicalName,
    primaryKey: mapping.dataverse.primaryKey,
  };
}

/** The BC property that holds a table's code or number, which other records use to refer to it. */
export function bcCodeField(mapping: TableMapping): string {
  return ['customers', 'vendors', 'items', 'resources', 'contacts', 'salesOrders', 'salesInvoices'].includes(mapping.bc.entitySet)
    ? 'number'
    : 'code';
}
