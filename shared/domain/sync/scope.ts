import type { VersionedRecord } from '../ports';
import type { RecordContext } from './context';

/**
 * Why the source record is outside what the mapping synchronizes, or undefined when it is inside: the table
 * filter (BC) or integration table filter (Dataverse), then the special rules' exclusions (`SyncHooks.exclude`).
 */
export async function outsideFilters(ctx: RecordContext, record: VersionedRecord): Promise<string | undefined> {
  const filter = ctx.filterOf(ctx.source);
  if (filter && !(await sideAdmits(ctx, record, filter))) {
    return `outside the ${ctx.source === 'bc' ? 'table filter' : 'integration table filter'} (${filter})`;
  }
  return ctx.deps.hooks?.exclude?.(ctx.mapping, ctx.source, record);
}

/** Whether the source side's own filter admits the record: asked of the side, so the semantics are exactly its own. */
async function sideAdmits(ctx: RecordContext, record: VersionedRecord, filter: string): Promise<boolean> {
  const key = ctx.source === 'bc' ? 'id' : ctx.mapping.dataverse.primaryKey;
  const page = await ctx.gateway(ctx.source).listPage(ctx.target(ctx.source), {
    filter: `${key} eq ${record.id} and (${filter})`,
    select: [key],
    pageSize: 1,
  });
  return page.items.length > 0;
}
