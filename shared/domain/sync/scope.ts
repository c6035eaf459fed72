/**
 * Table filters (BC) and integration table filters (Dataverse): is a record the engine read inside its mapping's
 * scope? Decided on the record already read when the answer is certain, so the common change costs no second query;
 * otherwise the side answers its own filter, whose semantics stay the final word.
 */
import { evaluateFilter, filterProperties } from '../odata/filter';
import type { EntityTarget, RecordGateway, VersionedRecord } from '../ports';
import type { RecordContext } from './context';

/**
 * Why the source record is outside what the mapping synchronizes, or undefined when it is inside: the table
 * filter (BC) or integration table filter (Dataverse), then the special rules' exclusions (`SyncHooks.exclude`).
 */
export async function outsideFilters(ctx: RecordContext, record: VersionedRecord): Promise<string | undefined> {
  const filter = ctx.filterOf(ctx.source);
  const key = ctx.source === 'bc' ? 'id' : ctx.mapping.dataverse.primaryKey;
  if (filter && !(await inScope(ctx.gateway(ctx.source), ctx.target(ctx.source), key, filter, record))) {
    return `outside the ${ctx.source === 'bc' ? 'table filter' : 'integration table filter'} (${filter})`;
  }
  return ctx.deps.hooks?.exclude?.(ctx.mapping, ctx.source, record);
}

/**
 * True when `record` satisfies `filter` (already resolved: no `{companyId}` left). `key` is the target's key column
 * (`id` in BC, the primary key in Dataverse), used only when the side has to be asked.
 */
export async function inScope(
  gateway: RecordGateway,
  target: EntityTarget,
  key: string,
  filter: string,
  record: VersionedRecord,
): Promise<boolean> {
  const decided = evaluateFilter(filter, record.values);
  if (decided !== undefined) return decided;
  const page = await gateway.listPage(target, { filter: `${key} eq ${record.id} and (${filter})`, select: [key], pageSize: 1 });
  return page.items.length > 0;
}

/**
 * The columns a (resolved) filter compares, for the record's `$select`, so `inScope` finds them on the record read.
 * Navigation paths are left out (they are not columns; the side answers those), and so is everything of a filter
 * this parser refuses.
 */
export function filterColumns(filter: string): string[] {
  if (!filter) return [];
  try {
    return filterProperties(filter).filter((p) => !p.includes('/'));
  } catch {
    return [];
  }
}
