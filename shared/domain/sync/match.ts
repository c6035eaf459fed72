import type { TableMapping } from '../mappings/schema';
import { odataLiteral, resolveFilter } from '../odata/literal';
import type { EntityTarget, RecordGateway, Side, VersionedRecord } from '../ports';

/**
 * Match-based coupling (BC 3.3), the one rule the engine, bulk coupling and the full sync's prefetch all use: a
 * source record matches the uncoupled destination rows whose match columns hold its values, priority group by
 * priority group; the first group that finds exactly one row wins.
 */

/** One priority group's query for one source record. */
export interface MatchQuery {
  priority: number;
  /** The match conditions alone (`name eq 'Contoso' and ...`), for batching several records into one `or`. */
  conditions: string;
  /** The destination's own filter the match must also pass ('' when it has none). */
  scope: string;
  /** The query sent to the destination: the conditions within the scope. A prefetch caches its answer under this. */
  filter: string;
  /** The destination column → value pairs the conditions compare. */
  values: Array<[string, unknown]>;
}

/**
 * The match queries of a record, in priority order. A rule whose source value is blank is left out of its group;
 * a group left with no condition is left out. `companyId` fills `{companyId}` in the destination's filter.
 */
export function matchQueries(
  mapping: TableMapping,
  source: Side,
  values: Record<string, unknown>,
  companyId: string | undefined,
): MatchQuery[] {
  const rules = mapping.couplingRules.matchFields;
  if (rules.length === 0) return [];
  const dest: Side = source === 'bc' ? 'dataverse' : 'bc';
  const scope = resolveFilter(dest === 'bc' ? mapping.tableFilter : mapping.integrationTableFilter, companyId);
  const out: MatchQuery[] = [];
  for (const priority of [...new Set(rules.map((r) => r.priority))].sort((a, b) => a - b)) {
    const pairs: Array<[string, unknown]> = [];
    for (const r of rules.filter((x) => x.priority === priority)) {
      const value = values[source === 'bc' ? r.bcField : r.dataverseColumn];
      if (value === null || value === undefined || value === '') continue;
      pairs.push([dest === 'bc' ? r.bcField : r.dataverseColumn, value]);
    }
    if (pairs.length === 0) continue;
    const conditions = pairs.map(([column, value]) => `${column} eq ${odataLiteral(value)}`).join(' and ');
    out.push({ priority, conditions, scope, filter: scope ? `${conditions} and (${scope})` : conditions, values: pairs });
  }
  return out;
}

export type Match = { kind: 'none' } | { kind: 'one'; row: VersionedRecord } | { kind: 'many'; count: number };

/** Runs the queries in order: the first that finds exactly one uncoupled row is the match. */
export async function findUncoupledMatch(
  gateway: RecordGateway,
  target: EntityTarget,
  queries: MatchQuery[],
  select: string[] | undefined,
  isCoupled: (id: string) => Promise<boolean>,
): Promise<Match> {
  let many = 0;
  for (const q of queries) {
    const uncoupled = await uncoupledMatches(gateway, target, q.filter, select, isCoupled);
    if (uncoupled.length === 1 && uncoupled[0]) return { kind: 'one', row: uncoupled[0] };
    if (uncoupled.length > 1) many = uncoupled.length;
  }
  return many > 0 ? { kind: 'many', count: many } : { kind: 'none' };
}

/**
 * The first two candidates of a match query that are not coupled yet (two are enough to call it ambiguous), read
 * page by page: candidates already coupled to other records are skipped however many there are, so a match is
 * never missed — and a duplicate never created — because the first page was all coupled.
 */
async function uncoupledMatches(
  gateway: RecordGateway,
  target: EntityTarget,
  filter: string,
  select: string[] | undefined,
  isCoupled: (id: string) => Promise<boolean>,
): Promise<VersionedRecord[]> {
  const out: VersionedRecord[] = [];
  let continuation: string | undefined;
  do {
    const page = await gateway.listPage(target, {
      ...(continuation ? { continuation } : { filter }),
      pageSize: 50,
      ...(select ? { select } : {}),
    });
    for (const candidate of page.items) {
      if (!(await isCoupled(candidate.id))) out.push(candidate);
      if (out.length >= 2) return out;
    }
    continuation = page.continuation;
  } while (continuation);
  return out;
}
