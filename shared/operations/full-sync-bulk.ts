import { idKey } from '../domain/ids';
import type { TableMapping } from '../domain/mappings/schema';
import { bcTarget, dataverseTarget } from '../domain/mappings/targets';
import type {
  BcEntityTarget,
  Coupling,
  CouplingStore,
  CreationClaims,
  DataverseEntityTarget,
  NewCoupling,
  RecordGateway,
  Side,
  VersionedRecord,
} from '../domain/ports';
import type { SyncDeps, SyncOutcome } from '../domain/sync/types';
import { type SyncError, toSyncError } from '../errors';
import { Batcher, Gate, limiter, parallel, sleep } from './batching';
import type { BulkPace } from './bulk-pace';

export { BulkPace, type BulkWriteOptions, bulkOptions } from './bulk-pace';

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

const BC_BATCH = 100;
/** BC processes 5 requests per user at a time (operational-limits-online.md). */
const BC_PARALLEL = 5;
const MAX_TRANSIENT_RETRIES = 6;
/** Records of a wave in the engine at once, at least. */
const RECORDS_IN_FLIGHT = 1000;
/**
 * Looks at a source record's coupling the engine makes before it writes anything: the own-echo check, then the
 * first attempt. Both are answered from the wave's prefetch; a third look is a retry after a conflict and reads.
 */
const ENGINE_LOOKS = 2;
/** Fresh coupling looks answered by one range read at most. */
const LOOKS_PER_READ = 500;
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

type ClaimAnswer = Awaited<ReturnType<CreationClaims['claim']>>;
interface ClaimsMany {
  claimMany(keys: string[], staleAfterMs: number): Promise<Array<ClaimAnswer | Error>>;
  createdMany(items: Array<{ key: string; token: string; createdId: string }>): Promise<Array<undefined | Error>>;
  releaseMany(keys: string[]): Promise<Array<undefined | Error>>;
}

function toError(e: unknown): Error {
  return e instanceof Error ? e : toSyncError(e);
}

function couplingsInOf(store: CouplingStore): CouplingsIn | undefined {
  return (store as Partial<{ couplingsIn: CouplingsIn }>).couplingsIn?.bind(store);
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
  /** Source records the prefetch found uncoupled, with how many of the engine's looks that answer still serves. */
  private readonly knownUncoupled = new Map<string, number>();
  private bulkCreateRefused = false;
  /** Fresh coupling looks gathered for a range read (where the store offers one). */
  private readonly looks: Batcher<{ side: Side; id: string; read: () => Promise<Coupling | undefined> }, Coupling | undefined> | undefined;
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
    const couplingsIn = couplingsInOf(raw.couplings);
    if (couplingsIn) {
      this.looks = new Batcher<{ side: Side; id: string; read: () => Promise<Coupling | undefined> }, Coupling | undefined>(
        this.gate,
        () => LOOKS_PER_READ,
        (items) => this.lookMany(couplingsIn, items),
      );
    }
    couplings.getByBcId = (m, id) => this.lookup(m, 'bc', id, () => wrapped.couplings.getByBcId(m, id));
    couplings.getByDataverseId = (m, id) => this.lookup(m, 'dataverse', id, () => wrapped.couplings.getByDataverseId(m, id));
    couplings.couple = (input) => {
      // Once a record tries to couple, whatever the answer, its later looks read: the prefetch may be out of date.
      this.knownUncoupled.delete(`bc|${idKey(input.bcId)}`);
      this.knownUncoupled.delete(`dataverse|${idKey(input.dataverseId)}`);
      return coupleMany && input.mapping === mapping.name ? couples.add(input) : wrapped.couplings.couple(input);
    };
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
    // Every record asks for its mapping (and a few for their parents'), and a new pair for every mapping (which of
    // them refer to it): read once per wave, not once (and one copy of every definition) per record.
    const read = new Map<string, ReturnType<SyncDeps['mappings']['get']>>();
    let every: ReturnType<SyncDeps['mappings']['all']> | undefined;
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
      all: () => {
        if (!every) {
          every = wrapped.mappings.all();
          every.catch(() => {
            every = undefined;
          });
        }
        return every;
      },
    };
    const claims = this.claimsInTransactions(wrapped.claims, raw.claims);
    this.deps = { ...wrapped, mappings, dataverse, bc, couplings, history, ...(claims ? { claims } : {}) };
  }

  /**
   * Creation claims (BC creates, one claim per new record) gathered into Table transactions where the claims store
   * offers them: claim, record the created id and release for a batch of records in one request each. Each answer
   * is the one the single call would give (a transaction that meets another claim is redone key by key).
   */
  private claimsInTransactions(wrapped: SyncDeps['claims'], raw: SyncDeps['claims']): SyncDeps['claims'] {
    const many = raw as (CreationClaims & Partial<ClaimsMany>) | undefined;
    if (!wrapped || !many?.claimMany || !many.createdMany || !many.releaseMany) return wrapped;
    const { claimMany, createdMany, releaseMany } = many as ClaimsMany;
    const full = () => 100 * 4;
    const claimB = new Batcher<{ key: string; staleAfterMs: number }, ClaimAnswer>(this.gate, full, async (items) => {
      const stale = items[0]?.staleAfterMs ?? 0;
      if (items.some((i) => i.staleAfterMs !== stale))
        return Promise.all(items.map((i) => wrapped.claim(i.key, i.staleAfterMs).catch((e: unknown) => toError(e))));
      return claimMany.call(
        many,
        items.map((i) => i.key),
        stale,
      );
    });
    const createdB = new Batcher<{ key: string; token: string; createdId: string }, undefined>(this.gate, full, (items) =>
      createdMany.call(many, items),
    );
    const releaseB = new Batcher<string, undefined>(this.gate, full, (keys) => releaseMany.call(many, keys));
    const claims: CreationClaims = Object.create(wrapped);
    claims.claim = (key, staleAfterMs) => claimB.add({ key, staleAfterMs });
    claims.created = async (key, token, createdId) => {
      await createdB.add({ key, token, createdId });
    };
    claims.release = async (key) => {
      await releaseB.add(key);
    };
    return claims;
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
      const id = idKey(r.id);
      if (!found.has(id)) this.knownUncoupled.set(`${side}|${id}`, ENGINE_LOOKS);
    }
  }

  /**
   * One engine run per record, `inFlight` at a time (each holds Table Storage and HTTP requests open: unbounded, a
   * wave of thousands would open as many connections); the gate knows how many are running. Once `stop()` says so
   * no further record starts: the outcomes are those of the records started, which are the first ones.
   */
  async run(
    records: VersionedRecord[],
    sync: (r: VersionedRecord) => Promise<SyncOutcome>,
    inFlight: () => number,
    stop?: () => boolean,
  ): Promise<SyncOutcome[]> {
    const out = new Array<SyncOutcome>(records.length);
    let started = records.length;
    // A record that still fails after its retries (a long outage) fails the wave, but only once every other record
    // of the wave has settled: the item is then redelivered with nothing of this attempt still running beside it.
    let failure: { error: unknown } | undefined;
    try {
      started = await parallel(
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
        stop,
      );
    } finally {
      this.gate.close();
    }
    if (failure) throw failure.error;
    out.length = started;
    return out;
  }

  private lookup(m: string, side: Side, id: string, read: () => Promise<Coupling | undefined>): Promise<Coupling | undefined> {
    const key = `${side}|${idKey(id)}`;
    // Answered for the engine's first looks only: a look after a conflict must see what other workers did since.
    const left = m === this.mapping.name ? this.knownUncoupled.get(key) : undefined;
    if (left !== undefined) {
      if (left <= 1) this.knownUncoupled.delete(key);
      else this.knownUncoupled.set(key, left - 1);
      return Promise.resolve(undefined);
    }
    if (m !== this.mapping.name || !this.looks) return read();
    // A fresh look, asked together with the wave's other looks of the moment: one range read for many records.
    return this.looks.add({ side, id, read });
  }

  /** Fresh coupling looks of many records: which are coupled, from range reads; a coupled one is then read whole. */
  private async lookMany(
    couplingsIn: CouplingsIn,
    items: Array<{ side: Side; id: string; read: () => Promise<Coupling | undefined> }>,
  ): Promise<Array<Coupling | undefined | Error>> {
    const out = new Array<Coupling | undefined | Error>(items.length);
    for (const side of ['bc', 'dataverse'] as const) {
      const mine = items.map((it, i) => ({ it, i })).filter((x) => x.it.side === side);
      if (mine.length === 0) continue;
      const { found, complete } = await couplingsIn(
        this.mapping.name,
        side,
        mine.map((x) => x.it.id),
      );
      await Promise.all(
        mine.map(async ({ it, i }) => {
          try {
            out[i] = complete && !found.has(idKey(it.id)) ? undefined : await it.read();
          } catch (err) {
            out[i] = err instanceof Error ? err : toSyncError(err);
          }
        }),
      );
    }
    return out;
  }

  /**
   * Creates a batch's rows in chunks cut when a bulk slot is free and the pace admits a request, each sized from the
   * time per row measured by then: chunks cut when the batch arrives would all take the first request's size (its
   * rows still unmeasured), or a stale one.
   */
  private async createDataverse(
    target: DataverseEntityTarget,
    rows: Array<{ id: string; values: Record<string, unknown> }>,
    createMany: CreateManyDataverse,
    single: RecordGateway<DataverseEntityTarget>,
  ): Promise<Array<VersionedRecord | Error>> {
    const out: Array<VersionedRecord | Error> = new Array(rows.length);
    let next = 0;
    const place = (at: number, results: Array<VersionedRecord | Error>) =>
      results.forEach((r, k) => {
        out[at + k] = r;
      });
    type Cut = { at: number; chunk: typeof rows; results?: Array<VersionedRecord | Error>; error?: unknown };
    const stream = async () => {
      while (next < rows.length) {
        const cut = await this.dvSlots(async (): Promise<Cut | undefined> => {
          for (let wait = this.pace.ready(); wait; wait = this.pace.ready()) await wait;
          if (next >= rows.length || this.bulkCreateRefused) return undefined;
          // Cut and entered into the pace in one synchronous step (the pace admits on the look just taken).
          // What is left in equal chunks of at most the pace's size: no remainder of a row or two as a request.
          const at = next;
          const left = rows.length - at;
          const chunk = rows.slice(at, at + Math.ceil(left / Math.ceil(left / this.pace.rows())));
          next += chunk.length;
          if (chunk.length === 1) return { at, chunk };
          try {
            return { at, chunk, results: await this.pace.run(chunk.length, () => createMany(target, chunk)) };
          } catch (error) {
            return { at, chunk, error };
          }
        });
        if (!cut) break;
        // A refused first attempt (or a single row) goes the ordinary way: retried, split, or created alone.
        place(cut.at, cut.results ?? (await this.dataverseChunk(target, cut.chunk, createMany, single, cut.error)));
      }
    };
    await Promise.all(Array.from({ length: Math.min(rows.length, this.pace.options.maxParallel) }, stream));
    // Rows left when bulk creates turned out refused for this table: one by one.
    if (next < rows.length) place(next, await this.dataverseChunk(target, rows.slice(next), createMany, single));
    return out;
  }

  /**
   * One CreateMultiple; a refused chunk is split, a single row takes the engine's ordinary create. `failed` is the
   * error of a first attempt already made.
   */
  private async dataverseChunk(
    target: DataverseEntityTarget,
    rows: Array<{ id: string; values: Record<string, unknown> }>,
    createMany: CreateManyDataverse,
    single: RecordGateway<DataverseEntityTarget>,
    failed?: unknown,
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
        if (attempt === 0 && failed !== undefined) throw failed;
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

/**
 * Synchronizes one wave of records with bulk writes: `raw` are the runtime's ports (whose gateways and coupling
 * store offer the bulk calls), `wrapped` the per-chunk ports the engine otherwise gets. Once `stop()` says so, no
 * further record starts: the outcomes are those of the first records, the ones started.
 */
export async function syncWave(
  raw: SyncDeps,
  wrapped: SyncDeps,
  mapping: TableMapping,
  side: Side,
  records: VersionedRecord[],
  pace: BulkPace,
  sync: (record: VersionedRecord, deps: SyncDeps) => Promise<SyncOutcome>,
  stop?: () => boolean,
): Promise<SyncOutcome[]> {
  const bulk = new BulkWrites(raw, wrapped, mapping, pace);
  await bulk.prefetchCouplings(side, records);
  // Enough records in the engine to fill every bulk request the pace allows, and never fewer than 1,000.
  return bulk.run(
    records,
    (r) => sync(r, bulk.deps),
    () => Math.max(RECORDS_IN_FLIGHT, pace.rows() * pace.options.maxParallel),
    stop,
  );
}

/**
 * Which records the first pass of this run already synchronized, so the second pass of a Bidirectional mapping
 * need not read them again:
 *
 * - a Dataverse row the integration user modified last, at or after the run's start, holds what this service wrote
 *   during the run: there is nothing in it to carry back to BC (it is our echo), and that is known from the row
 *   alone. (Dataverse's `modifiedon` comes from its own clock: a row we wrote a moment before the run, with that
 *   clock ahead of ours, counts too; it also holds only what we wrote.)
 * - any other record counts when its coupling was synced since the run started and did not fail: one range query
 *   per wave where the store offers it, else a point read per record.
 *
 * The first rule spares the coupling reads of every row the first pass created or updated; they are the costly
 * ones on this side, because a Dataverse id's coupling is reached through the BC row it names, and the BC ids of a
 * page of Dataverse rows are scattered over the whole BC side of the table.
 */
export async function syncedInRun(
  couplings: CouplingStore,
  mapping: string,
  side: Side,
  records: VersionedRecord[],
  run: { since: string; integrationUserId?: string | undefined; concurrency: number },
): Promise<boolean[]> {
  const out = new Array<boolean>(records.length).fill(false);
  const since = Date.parse(run.since);
  const own = run.integrationUserId?.toLowerCase();
  const rest: number[] = [];
  for (const [i, r] of records.entries()) {
    if (side === 'dataverse' && own && r.modifiedBy?.toLowerCase() === own && Date.parse(r.modifiedOn) >= since) out[i] = true;
    else rest.push(i);
  }
  if (rest.length === 0) return out;
  const fresh = (c: Pick<Coupling, 'lastSyncedAt' | 'lastResult'> | undefined) =>
    Boolean(c?.lastSyncedAt && c.lastSyncedAt >= run.since && c.lastResult !== 'failed');
  const couplingsIn = couplingsInOf(couplings);
  if (couplingsIn) {
    const { found, complete } = await couplingsIn(
      mapping,
      side,
      rest.map((i) => (records[i] as VersionedRecord).id),
    );
    if (complete) {
      for (const i of rest) out[i] = fresh(found.get(idKey((records[i] as VersionedRecord).id)));
      return out;
    }
  }
  await parallel(
    rest,
    () => run.concurrency,
    async (i) => {
      const id = (records[i] as VersionedRecord).id;
      out[i] = fresh(side === 'bc' ? await couplings.getByBcId(mapping, id) : await couplings.getByDataverseId(mapping, id));
    },
  );
  return out;
}
