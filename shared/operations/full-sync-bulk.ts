import type { TableMapping } from '../domain/mappings/schema';
import type {
  BcEntityTarget,
  Coupling,
  CouplingStore,
  DataverseEntityTarget,
  NewCoupling,
  RecordGateway,
  Side,
  VersionedRecord,
} from '../domain/ports';
import { bcTarget, dataverseTarget, type SyncDeps, type SyncOutcome } from '../domain/sync/sync-record';
import { type SyncError, toSyncError } from '../errors';

/**
 * The full sync's bulk write path. The engine (`syncRecord`) still decides everything per record — coupling,
 * matching, mapping, transforms, conflicts, errors — but the writes it makes for a wave of records are gathered and
 * sent together:
 *
 * - Dataverse rows are created with `CreateMultiple` (one request per chunk, under the engine's deterministic ids),
 *   in chunks sized from the measured server time per row so one request stays near `targetRequestMs` (execution
 *   time is what limits bulk writes: 1,200 s per 300 s per user and web server), with a few requests in parallel
 *   that back off when Dataverse throttles. A chunk Dataverse rejects (all-or-nothing on standard tables) is split in
 *   halves down to single rows, and a single row goes the engine's ordinary way (`PATCH` + `If-None-Match: *`), so
 *   each bad row fails on its own — a sync error for that record — and the rest land. A row left by an earlier
 *   attempt (a crash, a redelivery) fails its chunk with "duplicate key", and alone answers 412, which the engine
 *   already turns into "read it and couple": nothing is ever created twice.
 * - Business Central records are created with JSON `$batch` (100 per request, each operation on its own).
 * - Couplings are written in Table Storage entity-group transactions (50 per transaction).
 * - Before the wave, which of its source records are coupled is learnt with one range query instead of a point
 *   read per record.
 *
 * Gathering works without timers in the common case: a batch is sent when it is full, or when every record of the
 * wave still running is waiting on a batch (nothing else can add to it); a short idle timer covers the rest.
 */

/** Bulk-write options of the full sync. */
export interface BulkWriteOptions {
  /**
   * Server time one bulk request should take; chunk sizes follow the measured time per row. Short requests keep the
   * execution-time window from being overrun by a few long ones admitted just under its budget. Default 2,000 ms.
   */
  targetRequestMs?: number;
  /** Largest bulk request (Microsoft: 1,000 "a reasonable place to start" on standard tables). Default 1,000. */
  maxRows?: number;
  /** Rows of the first request, which goes alone to measure the time per row. Default 10. */
  firstRows?: number;
  /**
   * Write a history entry for every pair the full sync creates or couples (two Table requests per record), not
   * only for changes to pairs already coupled. Default false: the coupling records the creation (as BC's full sync).
   */
  historyOfNewPairs?: boolean;
  /** Most bulk requests in flight; lowered when a request fails transiently, raised again after successes. Default 6. */
  maxParallel?: number;
  /**
   * Dataverse's combined execution time per user and web server in one window, in ms; the bulk requests are paced to
   * stay inside it. Default 1,200,000 (Microsoft's documented default: "subject to change and may vary between
   * environments"; an environment whose requests reach several web servers has that much per server).
   */
  executionBudgetMs?: number;
  /** The sliding window of that limit, in ms. Default 300,000 (5 minutes, documented). */
  executionWindowMs?: number;
}

const BC_BATCH = 100;
/** BC processes 5 requests per user at a time (operational-limits-online.md). */
const BC_PARALLEL = 5;
/** Longest wait of a part-full batch for the rest of the wave (records still busy elsewhere). */
const IDLE_FLUSH_MS = 250;
const MAX_TRANSIENT_RETRIES = 6;
/** Records of a wave in the engine at once, at least. */
const RECORDS_IN_FLIGHT = 1000;
/** History appends in flight at once. */
const HISTORY_PARALLEL = 64;

type CreateManyDataverse = (
  target: DataverseEntityTarget,
  rows: Array<{ id: string; values: Record<string, unknown> }>,
) => Promise<VersionedRecord[]>;
type CreateManyBc = (target: BcEntityTarget, rows: Array<Record<string, unknown>>) => Promise<Array<VersionedRecord | SyncError>>;
type CoupleMany = (inputs: NewCoupling[]) => Promise<Array<Coupling | Error>>;
type CouplingsIn = (
  mapping: string,
  side: Side,
  ids: string[],
) => Promise<{ found: Map<string, Pick<Coupling, 'lastSyncedAt' | 'lastResult'>>; complete: boolean }>;

function couplingsInOf(store: CouplingStore): CouplingsIn | undefined {
  return (store as Partial<{ couplingsIn: CouplingsIn }>).couplingsIn?.bind(store);
}

/**
 * The execution time this process's bulk requests spent, as Dataverse counts it for the user: each finished request
 * with its duration until it leaves the window, each running one with what it is expected to cost. Shared by every
 * pace of the process (a work item's pace hands over to the next item's while the server's window still remembers).
 */
interface ExecutionLog {
  finished: Array<{ at: number; ms: number }>;
  running: Set<{ started: number; expectedMs: number }>;
  /** Server time per row of recent requests (newest last), for chunk sizes and a request's expected cost. */
  perRow: number[];
}

const executionLogs = new Map<string, ExecutionLog>();

/**
 * Recent per-row samples kept. Their minimum sizes chunks and prices a request about to start (waits only ever add to
 * a sample); their median is what a finished request is taken to have cost the server.
 */
const PER_ROW_SAMPLES = 8;

/**
 * Paces the full sync's bulk requests to Dataverse's execution-time limit (powerapps-docs `api-limits.md`: 1,200 s
 * of combined execution time per user and web server in a 300 s sliding window; bulk messages count as one request
 * each, so this limit binds). The pace keeps its own copy of that window and starts a request only while the
 * window is not used up, as Dataverse admits: steady use at the limit without spending time on 429s, and after an
 * idle stretch (a page read, the start of the run) the unused budget of the window is used up at up to
 * `maxParallel` requests at once, as the sliding window allows. Chunk sizes follow the
 * measured server time per row so one request stays near `targetRequestMs`. A 429 that still comes (another
 * process, a lower limit on the environment) is answered by the HTTP client's Retry-After hold.
 */
export class BulkPace {
  private readonly log: ExecutionLog;
  private successes = 0;
  parallel: number;

  constructor(readonly options: Required<BulkWriteOptions>) {
    this.parallel = options.maxParallel;
    const key = `${options.executionWindowMs}/${options.executionBudgetMs}`;
    let log = executionLogs.get(key);
    if (!log) {
      log = { finished: [], running: new Set(), perRow: [] };
      executionLogs.set(key, log);
    }
    this.log = log;
  }

  private perRowMs(): number | undefined {
    return this.log.perRow.length === 0 ? undefined : Math.min(...this.log.perRow);
  }

  /** The median recent time per row: what a request's rows are taken to have cost the server. */
  private typicalPerRowMs(): number | undefined {
    const sorted = [...this.log.perRow].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  rows(): number {
    const perRow = this.perRowMs();
    if (perRow === undefined) return this.options.firstRows;
    return Math.max(1, Math.min(this.options.maxRows, Math.floor(this.options.targetRequestMs / Math.max(perRow, 0.01))));
  }

  /** Execution time counted in the window now: finished requests, and running ones at no less than expected. */
  private usedMs(now: number = Date.now()): number {
    const cutoff = now - this.options.executionWindowMs;
    const f = this.log.finished;
    while (f.length > 0 && (f[0] as { at: number }).at <= cutoff) f.shift();
    let used = 0;
    for (const d of f) used += d.ms;
    for (const r of this.log.running) used += Math.max(now - r.started, r.expectedMs);
    return used;
  }

  /**
   * Runs one bulk request of `rows` rows once the window has budget left (the first request of the process alone),
   * and learns the time per row from it.
   */
  async run<T>(rows: number, request: () => Promise<T>): Promise<T> {
    // Until one request has measured the time per row, it goes alone: a burst of requests of unknown cost could
    // overrun the window many times over (six first requests of 100 rows at 100 ms per row are 60 s of a 40 s budget).
    while (this.perRowMs() === undefined && this.log.running.size > 0) await new Promise((r) => setTimeout(r, PACE_POLL_MS));
    const expectedMs = rows * (this.perRowMs() ?? this.options.targetRequestMs / Math.max(1, this.options.firstRows));
    for (;;) {
      const now = Date.now();
      // Admitted while the window is not used up, as Dataverse admits (a request that then runs past the budget is
      // what the page means by exceeding the limit "before the service protection API limits will take effect").
      if (this.usedMs(now) < this.options.executionBudgetMs) break;
      // Until the oldest finished request leaves the window, or a running one ends (whichever is first; capped).
      const oldest = this.log.finished[0];
      const wait = oldest ? oldest.at + this.options.executionWindowMs - now : PACE_POLL_MS;
      await new Promise((r) => setTimeout(r, Math.max(1, Math.min(wait, PACE_POLL_MS))));
    }
    const entry = { started: Date.now(), expectedMs };
    this.log.running.add(entry);
    let ms = 0;
    try {
      const result = await request();
      ms = Date.now() - entry.started;
      this.observe(rows, ms);
      return result;
    } finally {
      this.log.running.delete(entry);
      // What the server counted is its own time; the round trip adds transport and this process's event loop (a
      // busy host adds much), and a Retry-After wait inside the HTTP client. So a request counts its rows at the
      // median recent time per row, or its round trip when shorter; stamped when it ends here (later than there).
      const round = ms || Date.now() - entry.started;
      const typical = this.typicalPerRowMs();
      this.log.finished.push({ at: Date.now(), ms: typical === undefined ? round : Math.min(round, rows * typical) });
    }
  }

  observe(rows: number, ms: number): void {
    this.log.perRow.push(ms / Math.max(rows, 1));
    if (this.log.perRow.length > PER_ROW_SAMPLES) this.log.perRow.shift();
    if (++this.successes >= 4 && this.parallel < this.options.maxParallel) {
      this.parallel++;
      this.successes = 0;
    }
  }

  /** A bulk request failed transiently (throttled past the HTTP client's retries, or unavailable): one stream fewer. */
  throttled(): void {
    this.parallel = Math.max(2, this.parallel - 1);
    this.successes = 0;
  }
}

/** Longest sleep of a request waiting for execution budget before it looks again. */
const PACE_POLL_MS = 100;

/** Records of a wave still running, and how many of them wait on a batch. */
class Gate {
  active = 0;
  blocked = 0;
  private readonly batchers: Array<Batcher<unknown, unknown>> = [];
  private timer: NodeJS.Timeout | undefined;

  register(b: Batcher<unknown, unknown>): void {
    this.batchers.push(b);
  }

  changed(): void {
    const pending = this.batchers.some((b) => b.pendingCount() > 0);
    if (!pending) return;
    if (this.blocked >= this.active) {
      this.flushAll();
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flushAll();
      }, IDLE_FLUSH_MS);
    }
  }

  /**
   * Sends part-full batches, except where the batcher still has a batch out: its answer frees records that fill the
   * pending one (a part-full request now would queue behind it anyway and spend a request on a few rows — under the
   * request limit, the rows per request decide the rate). Its settling looks again.
   */
  private flushAll(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const b of this.batchers) if (b.outstanding === 0) b.flush();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Gathers items; `run` answers one result or error per item, in order. */
class Batcher<I, O> {
  private pending: Array<{ item: I; resolve: (o: O) => void; reject: (e: unknown) => void }> = [];
  /** Batches sent and not yet answered. */
  outstanding = 0;

  constructor(
    private readonly gate: Gate,
    private readonly fullAt: () => number,
    private readonly run: (items: I[]) => Promise<Array<O | Error>>,
  ) {
    gate.register(this as unknown as Batcher<unknown, unknown>);
  }

  pendingCount(): number {
    return this.pending.length;
  }

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.gate.blocked++;
      if (this.pending.length >= this.fullAt()) this.flush();
      else this.gate.changed();
    });
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const taken = this.pending;
    this.pending = [];
    const settle = (i: number) => {
      this.gate.blocked--;
      return taken[i] as (typeof taken)[number];
    };
    this.outstanding++;
    this.run(taken.map((t) => t.item))
      .then(
        (results) => {
          results.forEach((r, i) => {
            const t = settle(i);
            if (r instanceof Error) t.reject(r);
            else t.resolve(r as O);
          });
        },
        (err) => {
          for (let i = 0; i < taken.length; i++) settle(i).reject(err);
        },
      )
      .finally(() => {
        this.outstanding--;
        this.gate.changed();
      });
  }
}

/** Runs `f` over `items` with at most `limit()` at a time (the limit may change while it runs). */
async function parallel<T>(items: T[], limit: () => number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let running = 0;
  await new Promise<void>((resolve, reject) => {
    const pump = () => {
      if (next >= items.length && running === 0) return resolve();
      while (running < Math.max(1, limit()) && next < items.length) {
        const item = items[next++] as T;
        running++;
        f(item).then(
          () => {
            running--;
            pump();
          },
          (err) => reject(err),
        );
      }
    };
    pump();
  });
}

/** At most `n()` calls of the returned function run at once (`n` may change); the others wait their turn. */
function limiter(n: () => number): <T>(f: () => Promise<T>) => Promise<T> {
  let running = 0;
  const queue: Array<() => void> = [];
  const next = () => {
    while (running < Math.max(1, n()) && queue.length > 0) {
      running++;
      queue.shift()?.();
    }
  };
  return async <T>(f: () => Promise<T>): Promise<T> => {
    await new Promise<void>((r) => {
      queue.push(r);
      next();
    });
    try {
      return await f();
    } finally {
      running--;
      next();
    }
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Failures worth sending the same request again: throttling (nothing was run) and, for Dataverse, outages too (a
 * chunk that did land meanwhile fails the retry with "duplicate key" and is split down to the engine's own create).
 * A BC `$batch` of creates is not resent after an outage: BC takes no client ids, so it could create twice.
 */
function retryable(e: SyncError): boolean {
  return e.code === 'DV.THROTTLED' || e.code === 'DV.UNAVAILABLE' || e.code === 'BC.THROTTLED';
}

/** Bulk writes for one full-sync wave of one mapping, as ports for `syncRecord`. */
export class BulkWrites {
  readonly deps: SyncDeps;
  readonly gate = new Gate();
  private readonly knownUncoupled = new Set<string>();
  private bulkCreateRefused = false;
  /** Bulk requests in flight across every flush: the pace's parallelism is one budget for the whole wave. */
  private readonly dvSlots: <T>(f: () => Promise<T>) => Promise<T>;
  private readonly historyOfNewPairs: boolean;

  constructor(
    private readonly raw: SyncDeps,
    wrapped: SyncDeps,
    private readonly mapping: TableMapping,
    private readonly pace: BulkPace,
  ) {
    this.historyOfNewPairs = pace.options.historyOfNewPairs;
    this.dvSlots = limiter(() => pace.parallel);
    const dvTarget = dataverseTarget(mapping);
    const bcOwn = bcTarget(mapping);
    const createManyDv = (raw.dataverse as Partial<{ createMany: CreateManyDataverse }>).createMany?.bind(raw.dataverse);
    const createManyBc = (raw.bc as Partial<{ createMany: CreateManyBc }>).createMany?.bind(raw.bc);
    const coupleMany = (raw.couplings as Partial<{ coupleMany: CoupleMany }>).coupleMany?.bind(raw.couplings);

    const dvCreates = new Batcher<{ id: string; values: Record<string, unknown> }, VersionedRecord>(
      this.gate,
      () => pace.rows() * Math.max(1, pace.parallel),
      (rows) => this.createDataverse(dvTarget, rows, createManyDv as CreateManyDataverse, wrapped.dataverse),
    );
    const bcCreates = new Batcher<Record<string, unknown>, VersionedRecord>(
      this.gate,
      () => BC_BATCH * BC_PARALLEL,
      (rows) => this.createBc(bcOwn, rows, createManyBc as CreateManyBc),
    );
    const couples = new Batcher<NewCoupling, Coupling>(
      this.gate,
      () => 50 * 8,
      (inputs) => (coupleMany as CoupleMany)(inputs),
    );

    const dataverse: RecordGateway<DataverseEntityTarget> = Object.create(wrapped.dataverse);
    dataverse.create = (target, values, options) =>
      createManyDv && !this.bulkCreateRefused && options?.id && target.entitySet === dvTarget.entitySet
        ? dvCreates.add({ id: options.id, values })
        : wrapped.dataverse.create(target, values, options);
    const bc: RecordGateway<BcEntityTarget> = Object.create(wrapped.bc);
    bc.create = (target, values, options) =>
      createManyBc && !options?.id && target.entitySet === bcOwn.entitySet && target.kind !== 'odataPage'
        ? bcCreates.add(values)
        : wrapped.bc.create(target, values, options);
    const couplings: CouplingStore = Object.create(wrapped.couplings);
    couplings.getByBcId = (m, id) => this.lookup(m, 'bc', id, () => wrapped.couplings.getByBcId(m, id));
    couplings.getByDataverseId = (m, id) => this.lookup(m, 'dataverse', id, () => wrapped.couplings.getByDataverseId(m, id));
    couplings.couple = (input) => (coupleMany && input.mapping === mapping.name ? couples.add(input) : wrapped.couplings.couple(input));
    // History rows go one per record and side (their partitions differ, so no transaction can carry them): one
    // Table request per record and side would cost more than the record's share of everything else. As BC's own
    // full sync, a row the full sync creates or couples is recorded by its coupling (CRM Integration Record: result,
    // time, values written) and the run's counters; changes to pairs already coupled keep their history entry.
    const historySlots = limiter(() => HISTORY_PARALLEL);
    const history: SyncDeps['history'] = Object.create(wrapped.history);
    history.append = (entry) =>
      !this.historyOfNewPairs && (entry.result === 'inserted' || entry.result === 'coupled')
        ? Promise.resolve()
        : historySlots(() => wrapped.history.append(entry));
    // Every record asks for its mapping (and a few for their parents'): read once per wave.
    const read = new Map<string, ReturnType<SyncDeps['mappings']['get']>>();
    const mappings: SyncDeps['mappings'] = {
      get: (name) => {
        let m = read.get(name);
        if (!m) {
          m = wrapped.mappings.get(name);
          read.set(name, m);
          m.catch(() => read.delete(name));
        }
        return m;
      },
      all: () => wrapped.mappings.all(),
    };
    this.deps = { ...wrapped, mappings, dataverse, bc, couplings, history };
  }

  /** Learns which of the wave's source records are coupled, so the engine's first look-up of the others is free. */
  async prefetchCouplings(side: Side, records: VersionedRecord[]): Promise<void> {
    const couplingsIn = couplingsInOf(this.raw.couplings);
    if (!couplingsIn || records.length === 0) return;
    const { found, complete } = await couplingsIn(
      this.mapping.name,
      side,
      records.map((r) => r.id),
    );
    if (!complete) return;
    for (const r of records) {
      const id = r.id.toLowerCase();
      if (!found.has(id)) this.knownUncoupled.add(`${side}|${id}`);
    }
  }

  /**
   * One engine run per record, `inFlight` at a time (each holds Table Storage and HTTP requests open: unbounded, a
   * wave of thousands would open as many connections); the gate knows how many are running.
   */
  async run(
    records: VersionedRecord[],
    sync: (r: VersionedRecord) => Promise<SyncOutcome>,
    inFlight: () => number,
  ): Promise<SyncOutcome[]> {
    const out = new Array<SyncOutcome>(records.length);
    // A record that still fails after its retries (a long outage) fails the wave, but only once every other record
    // of the wave has settled: the item is then redelivered with nothing of this attempt still running beside it.
    let failure: { error: unknown } | undefined;
    try {
      await parallel(
        records.map((r, i) => ({ r, i })),
        inFlight,
        async ({ r, i }) => {
          this.gate.active++;
          try {
            out[i] = await sync(r);
          } catch (error) {
            failure ??= { error };
          } finally {
            this.gate.active--;
            this.gate.changed();
          }
        },
      );
    } finally {
      this.gate.close();
    }
    if (failure) throw failure.error;
    return out;
  }

  private lookup(m: string, side: Side, id: string, read: () => Promise<Coupling | undefined>): Promise<Coupling | undefined> {
    const key = `${side}|${id.toLowerCase()}`;
    // Answered once: a second look (a retry after a conflict) must see what other workers did since.
    if (m === this.mapping.name && this.knownUncoupled.delete(key)) return Promise.resolve(undefined);
    return read();
  }

  private async createDataverse(
    target: DataverseEntityTarget,
    rows: Array<{ id: string; values: Record<string, unknown> }>,
    createMany: CreateManyDataverse,
    single: RecordGateway<DataverseEntityTarget>,
  ): Promise<Array<VersionedRecord | Error>> {
    const out: Array<VersionedRecord | Error> = new Array(rows.length);
    const chunks: Array<{ at: number; rows: typeof rows }> = [];
    const size = this.pace.rows();
    for (let i = 0; i < rows.length; i += size) chunks.push({ at: i, rows: rows.slice(i, i + size) });
    await Promise.all(
      chunks.map(async (c) => {
        const results = await this.dataverseChunk(target, c.rows, createMany, single);
        results.forEach((r, k) => {
          out[c.at + k] = r;
        });
      }),
    );
    return out;
  }

  /** One CreateMultiple; a refused chunk is split, a single row takes the engine's ordinary create. */
  private async dataverseChunk(
    target: DataverseEntityTarget,
    rows: Array<{ id: string; values: Record<string, unknown> }>,
    createMany: CreateManyDataverse,
    single: RecordGateway<DataverseEntityTarget>,
  ): Promise<Array<VersionedRecord | Error>> {
    if (rows.length === 1 || this.bulkCreateRefused) {
      return Promise.all(
        rows.map((r) =>
          single.create(target, r.values, { id: r.id }).catch((err: unknown) => (err instanceof Error ? err : toSyncError(err))),
        ),
      );
    }
    for (let attempt = 0; ; attempt++) {
      try {
        // Timed inside the slot: a chunk queued behind the others must not count its wait as server time (the
        // pace would shrink chunks towards single rows and spend the request limit instead of execution time).
        return await this.dvSlots(() => this.pace.run(rows.length, () => createMany(target, rows)));
      } catch (err) {
        const e = toSyncError(err);
        if (retryable(e)) {
          this.pace.throttled();
          if (attempt >= MAX_TRANSIENT_RETRIES) return rows.map(() => e);
          await sleep(e.retryAfterMs ?? 1000 * 2 ** attempt);
          continue;
        }
        if (/does not support entities of type/i.test(e.message)) this.bulkCreateRefused = true;
        const half = Math.ceil(rows.length / 2);
        const [a, b] = await Promise.all([
          this.dataverseChunk(target, rows.slice(0, half), createMany, single),
          this.dataverseChunk(target, rows.slice(half), createMany, single),
        ]);
        return [...a, ...b];
      }
    }
  }

  private async createBc(
    target: BcEntityTarget,
    rows: Array<Record<string, unknown>>,
    createMany: CreateManyBc,
  ): Promise<Array<VersionedRecord | Error>> {
    const out: Array<VersionedRecord | Error> = new Array(rows.length);
    const chunks: Array<{ at: number; rows: typeof rows }> = [];
    for (let i = 0; i < rows.length; i += BC_BATCH) chunks.push({ at: i, rows: rows.slice(i, i + BC_BATCH) });
    await parallel(
      chunks,
      () => BC_PARALLEL,
      async (c) => {
        for (let attempt = 0; ; attempt++) {
          try {
            const results = await createMany(target, c.rows);
            results.forEach((r, k) => {
              out[c.at + k] = r;
            });
            return;
          } catch (err) {
            const e = toSyncError(err);
            if (!retryable(e) || attempt >= MAX_TRANSIENT_RETRIES) {
              c.rows.forEach((_, k) => {
                out[c.at + k] = e;
              });
              return;
            }
            await sleep(e.retryAfterMs ?? 1000 * 2 ** attempt);
          }
        }
      },
    );
    return out;
  }
}

/** Default bulk options. */
export function bulkOptions(o: BulkWriteOptions = {}): Required<BulkWriteOptions> {
  return {
    targetRequestMs: o.targetRequestMs ?? 2_000,
    maxRows: o.maxRows ?? 1000,
    firstRows: o.firstRows ?? 10,
    historyOfNewPairs: o.historyOfNewPairs ?? false,
    maxParallel: o.maxParallel ?? 6,
    executionBudgetMs: o.executionBudgetMs ?? 1_200_000,
    executionWindowMs: o.executionWindowMs ?? 300_000,
  };
}

/**
 * Synchronizes one wave of records with bulk writes: `raw` are the runtime's ports (whose gateways and coupling
 * store offer the bulk calls), `wrapped` the per-chunk ports the engine otherwise gets.
 */
export async function syncWave(
  raw: SyncDeps,
  wrapped: SyncDeps,
  mapping: TableMapping,
  side: Side,
  records: VersionedRecord[],
  pace: BulkPace,
  sync: (record: VersionedRecord, deps: SyncDeps) => Promise<SyncOutcome>,
): Promise<SyncOutcome[]> {
  const bulk = new BulkWrites(raw, wrapped, mapping, pace);
  await bulk.prefetchCouplings(side, records);
  // Enough records in the engine to fill every bulk request the pace allows, and never fewer than 1,000.
  return bulk.run(
    records,
    (r) => sync(r, bulk.deps),
    () => Math.max(RECORDS_IN_FLIGHT, pace.rows() * pace.options.maxParallel),
  );
}

/**
 * Which records the first pass of this run already synchronized (coupled, synced since the run started, not
 * failed): the second pass of a Bidirectional mapping need not read them again. One range query per wave where the
 * store offers it, else a point read per record.
 */
export async function syncedInRun(
  couplings: CouplingStore,
  mapping: string,
  side: Side,
  records: VersionedRecord[],
  since: string,
  concurrency: number,
): Promise<boolean[]> {
  const fresh = (c: Pick<Coupling, 'lastSyncedAt' | 'lastResult'> | undefined) =>
    Boolean(c?.lastSyncedAt && c.lastSyncedAt >= since && c.lastResult !== 'failed');
  const couplingsIn = couplingsInOf(couplings);
  if (couplingsIn) {
    const { found, complete } = await couplingsIn(
      mapping,
      side,
      records.map((r) => r.id),
    );
    if (complete) return records.map((r) => fresh(found.get(r.id.toLowerCase())));
  }
  const out = new Array<boolean>(records.length);
  await parallel(
    records.map((r, i) => ({ r, i })),
    () => concurrency,
    async ({ r, i }) => {
      out[i] = fresh(side === 'bc' ? await couplings.getByBcId(mapping, r.id) : await couplings.getByDataverseId(mapping, r.id));
    },
  );
  return out;
}
