import { otherSide } from '../domain/direction';
import { idKey } from '../domain/ids';
import type { TableMapping } from '../domain/mappings/schema';
import { bcTarget, dataverseTarget, recordSelect } from '../domain/mappings/targets';
import { resolveFilter } from '../domain/odata/literal';
import type {
  BcEntityTarget,
  CounterStore,
  DataverseEntityTarget,
  EntityTarget,
  ListOptions,
  Page,
  RecordGateway,
  Side,
  SyncErrorStore,
  SyncResult,
  VersionedRecord,
} from '../domain/ports';
import { type MatchQuery, matchQueries } from '../domain/sync/match';
import type { SyncDeps } from '../domain/sync/types';

/**
 * Ports for `syncRecord` that answer, from data the full sync already read in bulk, the questions the engine
 * asks one record at a time: "read record X", "is X inside the table filter", "which rows match by name",
 * and the like. Each remembered answer is used once; everything else —
 * and every second question about the same record, such as a re-read after a concurrency conflict — goes to
 * the real side. A miss is therefore only slower, never wrong.
 *
 * Counter increments are summed and written once per chunk (`flush`).
 */
export class BatchedSyncDeps {
  readonly deps: SyncDeps;
  private readonly gets = new Map<string, VersionedRecord | null>();
  private readonly queries = new Map<string, VersionedRecord[]>();
  private readonly counts = new Map<string, number>();
  /** Reference data (currencies, option couplings, option records) read by every record alike: shared per chunk. */
  private readonly reference = new Map<string, Promise<unknown>>();
  private openErrorKeys: Set<string> | undefined;

  constructor(
    private readonly base: SyncDeps,
    private readonly mapping: TableMapping,
  ) {
    const wrap = <T extends EntityTarget>(gw: RecordGateway<T>): RecordGateway<T> => ({
      side: gw.side,
      get: async (target, id, select) => {
        if (!this.ownTable(target))
          return this.shared(`get|${getKey(target, id)}|${select?.join(',') ?? ''}`, () => gw.get(target, id, select));
        const key = getKey(target, id);
        if (this.gets.has(key)) {
          const hit = this.gets.get(key);
          this.gets.delete(key);
          return hit ?? undefined;
        }
        return gw.get(target, id, select);
      },
      listPage: async (target, options: ListOptions = {}): Promise<Page<VersionedRecord>> => {
        if (!this.ownTable(target))
          return this.shared(`list|${target.side}|${target.entitySet}|${JSON.stringify(options)}`, () => gw.listPage(target, options));
        if (options.filter && !options.continuation && !options.modifiedSince) {
          const key = queryKey(target, options.filter);
          const hit = this.queries.get(key);
          // More hits than a page holds: the real side pages them (a miss is only slower).
          if (hit && hit.length <= (options.pageSize ?? hit.length)) {
            this.queries.delete(key);
            return { items: hit };
          }
        }
        return gw.listPage(target, options);
      },
      list: (target, options) => gw.list(target, options),
      create: (target, values, options) => gw.create(target, values, options),
      update: (target, id, values, etag) => gw.update(target, id, values, etag),
      delete: (target, id, etag) => gw.delete(target, id, etag),
    });
    const counters: CounterStore = {
      increment: async (mapping: string, result: SyncResult, by = 1) => {
        const k = `${mapping}\u0000${result}`;
        this.counts.set(k, (this.counts.get(k) ?? 0) + by);
      },
      get: (mapping) => base.counters.get(mapping),
    };
    const errors: SyncErrorStore = {
      record: (e) => base.errors.record(e),
      resolve: async (mapping, recordKey) => {
        const open = this.openErrorKeys;
        if (open && mapping === this.mapping.name) {
          const ids = [recordKey.bcId, recordKey.dataverseId].filter((x): x is string => Boolean(x)).map(idKey);
          if (!ids.some((id) => open.has(id))) return;
        }
        return base.errors.resolve(mapping, recordKey);
      },
      get: (id) => base.errors.get(id),
      list: (f) => base.errors.list(f),
      dismiss: (id) => base.errors.dismiss(id),
    };
    const couplings = Object.create(base.couplings) as SyncDeps['couplings'];
    couplings.list = (mapping, options) =>
      mapping === this.mapping.name
        ? base.couplings.list(mapping, options)
        : this.shared(`couplings|${mapping}|${JSON.stringify(options ?? {})}`, () => base.couplings.list(mapping, options));
    this.deps = {
      ...base,
      couplings,
      bc: wrap(base.bc) as RecordGateway<BcEntityTarget>,
      dataverse: wrap(base.dataverse) as RecordGateway<DataverseEntityTarget>,
      counters,
      errors,
    };
  }

  private ownTable(target: EntityTarget): boolean {
    return target.side === 'bc' ? target.entitySet === this.mapping.bc.entitySet : target.entitySet === this.mapping.dataverse.entitySet;
  }

  private shared<T>(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.reference.get(key) as Promise<T> | undefined;
    if (!p) {
      p = load();
      this.reference.set(key, p);
      p.catch(() => this.reference.delete(key));
    }
    return p;
  }

  /** The engine's own `$select` for a side, so the rows listed here can stand in for the engine's reads. */
  static engineSelect(mapping: TableMapping, side: Side): string[] | undefined {
    return recordSelect(mapping, side);
  }

  /** The side's table filter with `{companyId}` resolved, as the engine evaluates it. */
  static sideFilter(mapping: TableMapping, side: Side, companyId: string | undefined): string {
    return resolveFilter(side === 'bc' ? mapping.tableFilter : mapping.integrationTableFilter, companyId);
  }

  /**
   * Source records just listed (with the engine's `$select` and the side's filter): the engine's own read and
   * its filter check are answered from them.
   */
  rememberSource(side: Side, records: VersionedRecord[], listedWithFilter: string): void {
    const target = side === 'bc' ? bcTarget(this.mapping) : dataverseTarget(this.mapping);
    const key = side === 'bc' ? 'id' : this.mapping.dataverse.primaryKey;
    for (const r of records) {
      this.gets.set(getKey(target, r.id), r);
      if (listedWithFilter) this.queries.set(queryKey(target, `${key} eq ${r.id} and (${listedWithFilter})`), [r]);
    }
  }

  /** Open sync errors of the mapping, so the engine's "resolve" after each success is skipped when there is none. */
  async loadOpenErrors(): Promise<void> {
    const page = await this.base.errors.list({ mapping: this.mapping.name, status: 'open', pageSize: 1000 });
    if (page.continuation) {
      this.openErrorKeys = undefined;
      return;
    }
    const keys = new Set<string>();
    for (const e of page.items) {
      if (e.bcId) keys.add(idKey(e.bcId));
      if (e.dataverseId) keys.add(idKey(e.dataverseId));
    }
    this.openErrorKeys = keys;
  }

  /**
   * Match-based coupling candidates for source records, per priority group, asked in `or` batches; the engine's
   * exact per-record query is then answered from them (and the matched row's read as well).
   */
  async prefetchMatches(source: Side, records: VersionedRecord[], companyId: string | undefined, batch = 25): Promise<void> {
    // An option mapping's match rule pairs a BC code with a choice column's option label, which the engine resolves
    // through the option-set metadata: a choice column compares by option value, never by a label string.
    if (this.mapping.optionMapping || this.mapping.couplingRules.matchFields.length === 0 || records.length === 0) return;
    const dest = otherSide(source);
    const target = dest === 'bc' ? bcTarget(this.mapping) : dataverseTarget(this.mapping);
    const gateway = (dest === 'bc' ? this.base.bc : this.base.dataverse) as RecordGateway;
    const select = BatchedSyncDeps.engineSelect(this.mapping, dest);
    // The engine's own queries (`matchQueries`), grouped by priority; each answer is cached under the query itself.
    const byPriority = new Map<number, MatchQuery[]>();
    for (const r of records) {
      for (const q of matchQueries(this.mapping, source, r.values, companyId)) {
        const group = byPriority.get(q.priority) ?? [];
        group.push(q);
        byPriority.set(q.priority, group);
      }
    }
    for (const priority of [...byPriority.keys()].sort((a, b) => a - b)) {
      await forEachBatch(byPriority.get(priority) ?? [], batch, async (part) => {
        const any = part.map((q) => `(${q.conditions})`).join(' or ');
        const scope = part[0]?.scope;
        const rows = await collect(gateway, target, { filter: scope ? `(${any}) and (${scope})` : any, select });
        for (const q of part) {
          const hits = rows.filter((row) => q.values.every(([col, v]) => sameFilterValue(dest, row.values[col], v)));
          this.queries.set(queryKey(target, q.filter), hits);
          for (const h of hits) this.gets.set(getKey(target, h.id), h);
        }
      });
    }
  }

  /** Writes the summed counter increments. */
  async flush(): Promise<Partial<Record<SyncResult, number>>> {
    const out: Partial<Record<SyncResult, number>> = {};
    const entries = [...this.counts];
    this.counts.clear();
    await Promise.all(
      entries.map(async ([k, n]) => {
        const [mapping, result] = k.split('\u0000') as [string, SyncResult];
        await this.base.counters.increment(mapping, result, n);
        if (mapping === this.mapping.name) out[result] = (out[result] ?? 0) + n;
      }),
    );
    return out;
  }

  /** Forgets remembered answers (between chunks, so memory stays bounded by one chunk). */
  clear(): void {
    this.gets.clear();
    this.queries.clear();
    this.reference.clear();
  }
}

function getKey(target: EntityTarget, id: string): string {
  return `${target.side}|${target.entitySet}|${idKey(id)}`;
}

function queryKey(target: EntityTarget, filter: string): string {
  return `${target.side}|${target.entitySet}|${filter}`;
}

/** Dataverse compares text case-insensitively; BC's OData `eq` compares exactly. */
function sameFilterValue(side: Side, actual: unknown, wanted: unknown): boolean {
  if (typeof actual === 'string' && typeof wanted === 'string' && side === 'dataverse')
    return actual.toLowerCase() === wanted.toLowerCase();
  return actual === wanted;
}

async function collect(gw: RecordGateway, target: EntityTarget, options: ListOptions): Promise<VersionedRecord[]> {
  const out: VersionedRecord[] = [];
  for await (const page of gw.list(target, options)) out.push(...page);
  return out;
}

async function forEachBatch<T>(items: T[], size: number, f: (part: T[]) => Promise<void>, parallel = 4): Promise<void> {
  const parts: T[][] = [];
  for (let i = 0; i < items.length; i += size) parts.push(items.slice(i, i + size));
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, parts.length) }, async () => {
      while (next < parts.length) {
        const part = parts[next++];
        if (part) await f(part);
      }
    }),
  );
}
