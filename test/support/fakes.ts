/**
 * In-memory fakes of the sync engine's ports (`shared/domain/ports.ts`), for unit tests that run `syncRecord` with
 * no stack. They refuse what the real parts refuse where the engine relies on it:
 * - record gateways: If-Match with a stale ETag → 412 (`BC.CONCURRENCY` / `DV.CONCURRENCY`, as the clients map it);
 *   a Dataverse create with an id (`If-None-Match: *`) onto an existing row → 412 `DV.CONCURRENCY`; an update of a
 *   missing record → 404 `*.NOT_FOUND`; a delete of a missing record is no error (as both clients); `$filter` is
 *   evaluated by the simulators' own OData evaluator (`dev/odata`), so a filter the simulators refuse fails here too;
 * - the coupling store: coupling an already coupled record → `CouplingConflictError`; an update with a stale
 *   coupling ETag → `CouplingConflictError`;
 * - the error store: one open error per record and direction, bumped on repeat, closed by `resolve`.
 * Every write is logged (`writes`) so a test can assert what was — and was not — written.
 */
import { randomUUID } from 'node:crypto';
import { compileFilter } from '../../dev/odata';
import type { ChangeEvent } from '../../shared/domain/change-event';
import type { TableMapping } from '../../shared/domain/mappings/schema';
import {
  type BcEntityTarget,
  type ChangePublisher,
  type Clock,
  type CounterStore,
  type Coupling,
  CouplingConflictError,
  type CouplingStore,
  type CreationClaims,
  type DataverseEntityTarget,
  type EntityTarget,
  type HistoryEntry,
  type HistoryStore,
  type ListOptions,
  type NewCoupling,
  type Page,
  type RecordGateway,
  type Side,
  SYNC_RESULTS,
  type SyncErrorRecord,
  type SyncErrorStore,
  type SyncResult,
  type VersionedRecord,
} from '../../shared/domain/ports';
import type { MappingProvider, SyncDeps, SyncEngineOptions } from '../../shared/domain/sync/types';
import { SyncError } from '../../shared/errors';

/** A clock that moves only when told (and by one second on every gateway write, so modified-on values differ). */
export class FakeClock implements Clock {
  private t: number;
  constructor(start = '2026-01-01T00:00:00.000Z') {
    this.t = Date.parse(start);
  }
  now(): Date {
    return new Date(this.t);
  }
  advance(ms = 1000): Date {
    this.t += ms;
    return this.now();
  }
}

interface StoredRecord {
  id: string;
  etag: string;
  modifiedOn: string;
  modifiedBy?: string;
  values: Record<string, unknown>;
}

export type GatewayWrite =
  | { op: 'create'; entitySet: string; id: string; values: Record<string, unknown> }
  | { op: 'update'; entitySet: string; id: string; values: Record<string, unknown> }
  | { op: 'delete'; entitySet: string; id: string };

/**
 * One side's records, per entity set. Writes through the port are made as `writer` (the integration user);
 * `seed`/`edit`/`remove` act as a person in the app (`user`), as a test's own changes would.
 */
export class FakeGateway<T extends EntityTarget> implements RecordGateway<T> {
  readonly writes: GatewayWrite[] = [];
  /** Runs before each write through the port is checked: lets a test make a change race the engine's write. */
  beforeWrite: ((op: GatewayWrite['op'], id: string) => void) | undefined;
  private readonly sets = new Map<string, Map<string, StoredRecord>>();
  private version = 0;

  constructor(
    readonly side: Side,
    private readonly clock: FakeClock,
    private readonly writer: string,
    private readonly user = 'a-person',
  ) {}

  private table(entitySet: string): Map<string, StoredRecord> {
    const t = this.sets.get(entitySet) ?? new Map<string, StoredRecord>();
    this.sets.set(entitySet, t);
    return t;
  }

  private keyOf(target: EntityTarget): string {
    return target.side === 'dataverse' ? target.primaryKey : (target.key ?? 'id');
  }

  private concurrency(message: string, status: number): SyncError {
    return new SyncError(this.side === 'bc' ? 'BC.CONCURRENCY' : 'DV.CONCURRENCY', message, { details: { status } });
  }

  private notFound(entitySet: string, id: string): SyncError {
    return new SyncError(this.side === 'bc' ? 'BC.NOT_FOUND' : 'DV.NOT_FOUND', `${entitySet}(${id}) does not exist`, {
      details: { status: 404 },
    });
  }

  private store(entitySet: string, id: string, values: Record<string, unknown>, by: string): StoredRecord {
    const at = this.clock.advance(1000).toISOString();
    const rec: StoredRecord = { id, etag: `W/"${++this.version}"`, modifiedOn: at, modifiedBy: by, values: { ...values } };
    this.table(entitySet).set(id, rec);
    return rec;
  }

  private view(target: EntityTarget, rec: StoredRecord, select?: string[]): VersionedRecord {
    const values = select ? Object.fromEntries(select.map((c) => [c, rec.values[c] ?? null])) : { ...rec.values };
    values[this.keyOf(target)] = rec.id;
    return {
      id: rec.id,
      etag: rec.etag,
      modifiedOn: rec.modifiedOn,
      ...(this.side === 'dataverse' ? { modifiedBy: rec.modifiedBy } : {}),
      values,
    };
  }

  // --- the test's own hands on the data (not through the port, not logged) ---

  /** A record made by a person; returns it as the port would read it. */
  seed(target: T, values: Record<string, unknown>, id: string = randomUUID()): VersionedRecord {
    return this.view(target, this.store(target.entitySet, id, values, this.user));
  }

  /** A person changes a record (new ETag, new modified-on, modified by the person). */
  edit(target: T, id: string, values: Record<string, unknown>): VersionedRecord {
    const rec = this.table(target.entitySet).get(id);
    if (!rec) throw new Error(`no ${target.entitySet} record ${id} to edit`);
    return this.view(target, this.store(target.entitySet, id, { ...rec.values, ...values }, this.user));
  }

  /** A person deletes a record. */
  remove(target: T, id: string): void {
    if (!this.table(target.entitySet).delete(id)) throw new Error(`no ${target.entitySet} record ${id} to delete`);
  }

  /** The stored record, or undefined. */
  peek(target: T, id: string): VersionedRecord | undefined {
    const rec = this.table(target.entitySet).get(id);
    return rec ? this.view(target, rec) : undefined;
  }

  count(target: T): number {
    return this.table(target.entitySet).size;
  }

  // --- the port ---

  async get(target: T, id: string, select?: string[]): Promise<VersionedRecord | undefined> {
    const rec = this.table(target.entitySet).get(id.toLowerCase());
    return rec ? this.view(target, rec, select) : undefined;
  }

  async listPage(target: T, options: ListOptions = {}): Promise<Page<VersionedRecord>> {
    const key = this.keyOf(target);
    const matches = options.filter ? compileFilter(options.filter) : () => true;
    const since = options.modifiedSince ? Date.parse(options.modifiedSince) : undefined;
    const rows = [...this.table(target.entitySet).values()].filter(
      (r) => matches({ ...r.values, [key]: r.id }) && (since === undefined || Date.parse(r.modifiedOn) > since),
    );
    const start = options.continuation ? Number(options.continuation) : 0;
    const size = options.pageSize ?? (this.side === 'bc' ? 20_000 : 5_000);
    const items = rows.slice(start, start + size).map((r) => this.view(target, r, options.select));
    return { items, ...(start + size < rows.length ? { continuation: String(start + size) } : {}) };
  }

  async *list(target: T, options: ListOptions = {}): AsyncIterable<VersionedRecord[]> {
    let page = await this.listPage(target, options);
    yield page.items;
    while (page.continuation) {
      page = await this.listPage(target, { ...options, continuation: page.continuation });
      yield page.items;
    }
  }

  async create(target: T, values: Record<string, unknown>, options: { id?: string } = {}): Promise<VersionedRecord> {
    // BC assigns its own SystemId; Dataverse takes a client-chosen id with If-None-Match: * (create only).
    this.beforeWrite?.('create', options.id ?? '');
    if (options.id && this.side === 'bc') throw new Error('the BC gateway takes no client-chosen id');
    const id = (options.id ?? randomUUID()).toLowerCase();
    if (this.table(target.entitySet).has(id)) throw this.concurrency(`${target.entitySet}(${id}) already exists (If-None-Match: *)`, 412);
    const rec = this.store(target.entitySet, id, values, this.writer);
    this.writes.push({ op: 'create', entitySet: target.entitySet, id, values: { ...values } });
    return this.view(target, rec);
  }

  async update(target: T, id: string, values: Record<string, unknown>, etag: string): Promise<VersionedRecord> {
    this.beforeWrite?.('update', id);
    const rec = this.table(target.entitySet).get(id.toLowerCase());
    if (!rec) throw this.notFound(target.entitySet, id);
    if (etag !== '*' && etag !== rec.etag)
      throw this.concurrency(`${target.entitySet}(${id}): If-Match ${etag} is stale (now ${rec.etag})`, 412);
    const next = this.store(target.entitySet, rec.id, { ...rec.values, ...values }, this.writer);
    this.writes.push({ op: 'update', entitySet: target.entitySet, id: rec.id, values: { ...values } });
    return this.view(target, next);
  }

  async delete(target: T, id: string, etag?: string): Promise<void> {
    this.beforeWrite?.('delete', id);
    const rec = this.table(target.entitySet).get(id.toLowerCase());
    if (!rec) return;
    if (etag && etag !== '*' && etag !== rec.etag) throw this.concurrency(`${target.entitySet}(${id}): If-Match ${etag} is stale`, 412);
    this.table(target.entitySet).delete(rec.id);
    this.writes.push({ op: 'delete', entitySet: target.entitySet, id: rec.id });
  }
}

/** Couplings with both index rows in one step and ETag concurrency, like `TableCouplingStore`. */
export class FakeCouplingStore implements CouplingStore {
  private readonly rows = new Map<string, Coupling>();
  private version = 0;

  constructor(private readonly clock: Clock) {}

  private all(mapping: string): Coupling[] {
    return [...this.rows.values()].filter((c) => c.mapping === mapping);
  }

  async getByBcId(mapping: string, bcId: string): Promise<Coupling | undefined> {
    const c = this.all(mapping).find((x) => x.bcId === bcId.toLowerCase());
    return c ? { ...c } : undefined;
  }

  async getByDataverseId(mapping: string, dataverseId: string): Promise<Coupling | undefined> {
    const c = this.all(mapping).find((x) => x.dataverseId === dataverseId.toLowerCase());
    return c ? { ...c } : undefined;
  }

  async couple(input: NewCoupling): Promise<Coupling> {
    const bcId = input.bcId.toLowerCase();
    const dataverseId = input.dataverseId.toLowerCase();
    const existing = this.all(input.mapping).find((c) => c.bcId === bcId || c.dataverseId === dataverseId);
    if (existing) throw new CouplingConflictError(`${input.mapping}: ${bcId} or ${dataverseId} is already coupled`, { ...existing });
    const c: Coupling = {
      ...input,
      bcId,
      dataverseId,
      failureCount: input.failureCount ?? 0,
      skipped: input.skipped ?? false,
      createdAt: this.clock.now().toISOString(),
      etag: `c${++this.version}`,
    };
    this.rows.set(`${input.mapping}|${bcId}`, c);
    return { ...c };
  }

  async update(coupling: Coupling, patch: Partial<Coupling>): Promise<Coupling> {
    const key = `${coupling.mapping}|${coupling.bcId}`;
    const current = this.rows.get(key);
    if (!current || current.etag !== coupling.etag)
      throw new CouplingConflictError(`the coupling of ${coupling.bcId} changed meanwhile`, current);
    const next: Coupling = {
      ...current,
      ...patch,
      mapping: current.mapping,
      bcId: current.bcId,
      dataverseId: current.dataverseId,
      etag: `c${++this.version}`,
    };
    this.rows.set(key, next);
    return { ...next };
  }

  async uncouple(mapping: string, bcId: string): Promise<void> {
    this.rows.delete(`${mapping}|${bcId.toLowerCase()}`);
  }

  async list(mapping: string, options: { pageSize?: number; continuation?: string } = {}): Promise<Page<Coupling>> {
    const rows = this.all(mapping);
    const start = options.continuation ? Number(options.continuation) : 0;
    const size = options.pageSize ?? 1000;
    return { items: rows.slice(start, start + size), ...(start + size < rows.length ? { continuation: String(start + size) } : {}) };
  }

  async count(mapping: string): Promise<number> {
    return this.all(mapping).length;
  }
}

export class FakeCounters implements CounterStore {
  private readonly counts = new Map<string, Record<SyncResult, number>>();
  async increment(mapping: string, result: SyncResult, by = 1): Promise<void> {
    const c = await this.get(mapping);
    c[result] += by;
    this.counts.set(mapping, c);
  }
  async get(mapping: string): Promise<Record<SyncResult, number>> {
    return { ...(this.counts.get(mapping) ?? (Object.fromEntries(SYNC_RESULTS.map((r) => [r, 0])) as Record<SyncResult, number>)) };
  }
  clear(): void {
    this.counts.clear();
  }
  /** The non-zero counters of a mapping, for exact assertions (`{ modified: 1 }`). */
  nonZero(mapping: string): Partial<Record<SyncResult, number>> {
    return Object.fromEntries(Object.entries(this.counts.get(mapping) ?? {}).filter(([, n]) => n !== 0));
  }
}

export class FakeHistory implements HistoryStore {
  readonly entries: HistoryEntry[] = [];
  async append(entry: HistoryEntry): Promise<void> {
    this.entries.push(entry);
  }
  async forRecord(
    mapping: string,
    key: { bcId?: string; dataverseId?: string },
    options: { limit?: number } = {},
  ): Promise<HistoryEntry[]> {
    return this.entries
      .filter((e) => e.mapping === mapping && ((key.bcId && e.bcId === key.bcId) || (key.dataverseId && e.dataverseId === key.dataverseId)))
      .reverse()
      .slice(0, options.limit ?? 100);
  }
}

/** One open error per record and direction, as `TableSyncErrorStore`. */
export class FakeSyncErrors implements SyncErrorStore {
  readonly rows: SyncErrorRecord[] = [];
  constructor(private readonly clock: Clock) {}

  private matches(e: SyncErrorRecord, key: { bcId?: string; dataverseId?: string }): boolean {
    return (key.bcId !== undefined && e.bcId === key.bcId) || (key.dataverseId !== undefined && e.dataverseId === key.dataverseId);
  }

  async record(input: Omit<SyncErrorRecord, 'id' | 'attempts' | 'firstSeen' | 'lastSeen' | 'status'>): Promise<SyncErrorRecord> {
    if (!input.bcId && !input.dataverseId) throw new SyncError('EVENT.INVALID', 'invalid sync error: bcId or dataverseId is required');
    const now = this.clock.now().toISOString();
    const open = this.rows.find(
      (e) => e.status === 'open' && e.mapping === input.mapping && e.direction === input.direction && this.matches(e, input),
    );
    if (open) {
      Object.assign(open, input, { attempts: open.attempts + 1, lastSeen: now });
      return { ...open };
    }
    const rec: SyncErrorRecord = {
      ...input,
      id: `${input.mapping}:${this.rows.length}`,
      attempts: 1,
      firstSeen: now,
      lastSeen: now,
      status: 'open',
    };
    this.rows.push(rec);
    return { ...rec };
  }

  async resolve(mapping: string, key: { bcId?: string; dataverseId?: string }): Promise<void> {
    for (const e of this.rows) if (e.status === 'open' && e.mapping === mapping && this.matches(e, key)) e.status = 'resolved';
  }

  async get(id: string): Promise<SyncErrorRecord | undefined> {
    return this.rows.find((e) => e.id === id);
  }

  async list(filter: { mapping?: string; status?: SyncErrorRecord['status']; code?: string } = {}): Promise<Page<SyncErrorRecord>> {
    return {
      items: this.rows.filter(
        (e) =>
          (filter.mapping === undefined || e.mapping === filter.mapping) &&
          (filter.status === undefined || e.status === filter.status) &&
          (filter.code === undefined || e.code === filter.code),
      ),
    };
  }

  async dismiss(id: string): Promise<void> {
    const e = this.rows.find((x) => x.id === id);
    if (e) e.status = 'dismissed';
  }

  open(): SyncErrorRecord[] {
    return this.rows.filter((e) => e.status === 'open');
  }
}

/** Keeps what would have gone to Service Bus. */
export class FakePublisher implements ChangePublisher {
  readonly sent: Array<{ event: ChangeEvent; scheduledAt?: Date }> = [];
  async publish(events: ChangeEvent[], options: { scheduledAt?: Date } = {}): Promise<void> {
    for (const event of events) this.sent.push({ event, ...(options.scheduledAt ? { scheduledAt: options.scheduledAt } : {}) });
  }
}

/** Creation claims with the semantics of `TableCreationClaims` (first claimant wins; stale claims are taken over). */
export class FakeClaims implements CreationClaims {
  private readonly claims = new Map<string, { token: string; at: number; createdId?: string; abandoned?: boolean }>();
  constructor(private readonly clock: Clock) {}

  async claim(key: string, staleAfterMs: number) {
    const now = this.clock.now().getTime();
    const c = this.claims.get(key);
    if (c && !c.abandoned) {
      if (c.createdId) return { won: false as const, createdId: c.createdId };
      if (now - c.at < staleAfterMs) return { won: false as const, claimedAt: new Date(c.at).toISOString() };
    }
    const token = randomUUID();
    this.claims.set(key, { token, at: now });
    return { won: true as const, token, ...(c ? { takenOverFrom: new Date(c.at).toISOString() } : {}) };
  }
  async created(key: string, token: string, createdId: string): Promise<void> {
    const c = this.claims.get(key);
    if (c?.token === token) c.createdId = createdId;
  }
  async release(key: string): Promise<void> {
    this.claims.delete(key);
  }
  async abandon(key: string, token: string): Promise<void> {
    const c = this.claims.get(key);
    if (c?.token === token) c.abandoned = true;
  }
  held(): string[] {
    return [...this.claims.keys()];
  }
}

export class FakeMappings implements MappingProvider {
  constructor(private readonly mappings: TableMapping[]) {}
  async get(name: string): Promise<TableMapping | undefined> {
    return this.mappings.find((m) => m.name === name);
  }
  async all(): Promise<TableMapping[]> {
    return [...this.mappings];
  }
}

/** The integration user of the fakes: Dataverse rows the engine writes are modified by it. */
export const FAKE_INTEGRATION_USER = '00000000-0000-4000-8000-00000000f00d';

export interface FakeWorld {
  deps: SyncDeps;
  /** Forgets what was counted, logged and written so far (after a test's set-up). */
  forget(): void;
  clock: FakeClock;
  bc: FakeGateway<BcEntityTarget>;
  dataverse: FakeGateway<DataverseEntityTarget>;
  couplings: FakeCouplingStore;
  counters: FakeCounters;
  history: FakeHistory;
  errors: FakeSyncErrors;
  publisher: FakePublisher;
  claims: FakeClaims;
}

/** Everything `syncRecord` needs, in memory; `options` override the engine options (environment `test-env`). */
export function fakeDeps(mappings: TableMapping[], options: Partial<SyncEngineOptions> = {}): FakeWorld {
  const clock = new FakeClock();
  const bc = new FakeGateway<BcEntityTarget>('bc', clock, 'integration-user');
  const dataverse = new FakeGateway<DataverseEntityTarget>('dataverse', clock, FAKE_INTEGRATION_USER);
  const couplings = new FakeCouplingStore(clock);
  const counters = new FakeCounters();
  const history = new FakeHistory();
  const errors = new FakeSyncErrors(clock);
  const publisher = new FakePublisher();
  const claims = new FakeClaims(clock);
  const deps: SyncDeps = {
    mappings: new FakeMappings(mappings),
    bc,
    dataverse,
    couplings,
    errors,
    history,
    counters,
    publisher,
    claims,
    clock,
    options: { environment: 'test-env', integrationUserId: FAKE_INTEGRATION_USER, ...options },
  };
  const forget = () => {
    counters.clear();
    history.entries.length = 0;
    errors.rows.length = 0;
    publisher.sent.length = 0;
    bc.writes.length = 0;
    dataverse.writes.length = 0;
  };
  return { deps, forget, clock, bc, dataverse, couplings, counters, history, errors, publisher, claims };
}
