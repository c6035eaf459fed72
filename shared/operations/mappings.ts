import { type MappingChange, MappingValidationError } from '../adapters/tables';
import { diffMappings, type MappingDiffEntry, type MappingProblem, type TableMapping, TableMappingSchema } from '../domain/mappings';
import { bcTarget, dataverseTarget } from '../domain/mappings/targets';
import { resolveFilter } from '../domain/odata/literal';
import type { SyncDeps } from '../domain/sync/types';
import { toSyncError } from '../errors';
import type { Runtime } from '../runtime';

/**
 * Editing table mappings from the console and the CLI, as BC's Integration Table Mappings page does: every
 * change is checked before it is saved — the schema, the whole set's structure, both systems' metadata (columns
 * and fields exist, types fit, option values exist) and the two filters, which are sent to BC and Dataverse as
 * a one-row query so the systems themselves say whether they accept them — and shown as a diff; a saved change
 * can be undone with one call.
 */

export interface MappingPreview {
  ok: boolean;
  problems: MappingProblem[];
  diff: MappingDiffEntry[];
}

/** Runs the mapping's two filters against the systems (one row at most); their refusal becomes a problem at the filter. */
export async function filterProblems(deps: Pick<SyncDeps, 'bc' | 'dataverse' | 'options'>, m: TableMapping): Promise<MappingProblem[]> {
  const problems: MappingProblem[] = [];
  const probe = async (field: 'tableFilter' | 'integrationTableFilter', run: (filter: string) => Promise<unknown>, text: string) => {
    const filter = resolveFilter(text, deps.options.dataverseCompanyId);
    if (!filter) return;
    try {
      await run(filter);
    } catch (err) {
      const e = toSyncError(err);
      // Only a refusal of the filter is the admin's to fix; an outage must not pass as "invalid filter".
      if (e.transient || e.code.endsWith('.AUTH')) throw e;
      problems.push({ mapping: m.name, field, code: 'filter-invalid', message: `${field}: ${e.message}` });
    }
  };
  // Option mappings have no table rows to filter.
  if (!m.optionMapping) {
    await probe('tableFilter', (filter) => deps.bc.listPage(bcTarget(m), { filter, pageSize: 1, select: ['id'] }), m.tableFilter);
    await probe(
      'integrationTableFilter',
      (filter) => deps.dataverse.listPage(dataverseTarget(m), { filter, pageSize: 1, select: [m.dataverse.primaryKey] }),
      m.integrationTableFilter,
    );
  }
  return problems;
}

/** Checks a proposed definition of mapping `name` without saving it, and diffs it against the saved one. */
export async function previewMapping(rt: Runtime, name: string, proposed: unknown): Promise<MappingPreview> {
  const input = withName(proposed, name);
  const current = await rt.stores.mappings.get(name, { fresh: true });
  const problems: MappingProblem[] = await rt.stores.mappings.check(input);
  const parsed = TableMappingSchema.safeParse(input);
  // Filters are checked whatever else is wrong, so the editor shows every problem at once.
  if (parsed.success) problems.push(...(await filterProblems(rt.syncDeps, parsed.data)));
  return { ok: problems.length === 0, problems, diff: parsed.success ? diffMappings(current, parsed.data) : [] };
}

/** Saves a definition after the same checks as the preview; a refusal lists every problem and saves nothing. */
export async function saveMapping(rt: Runtime, name: string, proposed: unknown, by: string): Promise<TableMapping> {
  const input = withName(proposed, name);
  const parsed = TableMappingSchema.safeParse(input);
  if (parsed.success) {
    const filters = await filterProblems(rt.syncDeps, parsed.data);
    if (filters.length > 0) throw new MappingValidationError(filters);
  }
  return rt.stores.mappings.put(input, { by, kind: 'edit' });
}

/** The change log of a mapping with each change's diff. */
export async function mappingChanges(rt: Runtime, name: string, limit?: number) {
  const changes = await rt.stores.mappings.changes(name, limit ? { limit } : {});
  return changes.map((c) => summarize(c));
}

export function summarize(c: MappingChange) {
  return { id: c.id, mapping: c.mapping, at: c.at, by: c.by, kind: c.kind, diff: diffMappings(c.before, c.after) };
}

function withName(proposed: unknown, name: string): unknown {
  if (typeof proposed !== 'object' || proposed === null || Array.isArray(proposed)) return proposed;
  return { ...proposed, name };
}
