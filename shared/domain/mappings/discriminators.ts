import type { TableMapping } from './schema';

/**
 * Several mappings can read one Dataverse table (account → CUSTOMER and VENDOR, told apart by `customertypecode`).
 * Webhook registration puts the columns that tell them apart in the steps' images, and routing reads them back:
 * both take them from here, so they always agree.
 */

/** The `<column> eq <number>` clauses of a mapping's integration table filter. */
export function numericClauses(mapping: TableMapping): Map<string, number> {
  const clauses = new Map<string, number>();
  for (const [, column, value] of mapping.integrationTableFilter.matchAll(/\b([a-z_][a-z0-9_]*)\s+eq\s+(-?\d+)\b/g))
    if (column !== undefined) clauses.set(column, Number(value));
  return clauses;
}

/**
 * Columns with a `<column> eq <number>` clause in every mapping of a table, with different numbers, sorted. None
 * when one mapping reads the table; clauses every mapping shares (`statecode eq 0`) tell nothing apart.
 */
export function discriminatingColumns(tableMappings: TableMapping[]): string[] {
  if (tableMappings.length < 2) return [];
  const clauses = tableMappings.map(numericClauses);
  const first = clauses[0] ?? new Map<string, number>();
  return [...first.keys()].filter((c) => clauses.every((m) => m.has(c)) && new Set(clauses.map((m) => m.get(c))).size > 1).sort();
}
