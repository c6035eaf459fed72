import type { CouplingRules, MatchField, TableMapping } from '../../shared/domain/mappings/schema';
import type { Runtime } from '../../shared/runtime';

/** Customers couple to accounts by name (displayName → name), as an admin sets up before the first full sync. */
export const CUSTOMERS_BY_NAME: MatchField = { bcField: 'displayName', dataverseColumn: 'name', priority: 0, caseSensitive: false };

/** Stores a suite's version of table mapping `name`, made by `change` from the stored one (as an admin edits it). */
export async function changeMapping(rt: Runtime, name: string, change: (m: TableMapping) => TableMapping): Promise<void> {
  const mapping = await rt.stores.mappings.get(name);
  if (!mapping) throw new Error(`${name} mapping missing`);
  await rt.stores.mappings.put(change(mapping));
}

/**
 * CUSTOMER couples by name; `extra` sets more of the mapping (policies, synchOnlyCoupledRecords…) and `rules` more
 * of its coupling rules (createNewIfNoMatch…).
 */
export async function matchCustomersByName(
  rt: Runtime,
  extra: Partial<TableMapping> = {},
  rules: Partial<CouplingRules> = {},
): Promise<void> {
  await changeMapping(rt, 'CUSTOMER', (m) => ({
    ...m,
    ...extra,
    couplingRules: { ...m.couplingRules, matchFields: [CUSTOMERS_BY_NAME], ...rules },
  }));
}
