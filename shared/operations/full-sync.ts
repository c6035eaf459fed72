import { type ChangeEvent, newChangeEvent } from '../domain/change-event';
import type { TableMapping } from '../domain/mappings/schema';
import { bcTarget, dataverseTarget } from '../domain/mappings/targets';
import type { Clock, EntityTarget, RecordGateway, Side, SyncResult, VersionedRecord } from '../domain/ports';
import { syncRecord } from '../domain/sync/sync-record';
import type { SyncDeps, SyncOutcome } from '../domain/sync/types';
import { toSyncError } from '../errors';
import { BatchedSyncDeps } from './batched-deps';
import { parallel } from './batching';
import { BulkPace, bulkOptions } from './bulk-pace';
import { syncedInRun, syncWave } from './full-sync-bulk';
import {
  checkpoint,
  comparePosition,
  emptyCounters,
  type FullSyncCounters,
  type FullSyncDelivery,
  type FullSyncDeps,
  type FullSyncItemResult,
  type FullSyncOptions,
  type FullSyncWorkItem,
  finishMapping,
  fullSyncRunSchema,
  itemId,
  type MappingRun,
  runKey,
  updateRun,
} from './full-sync-run';

export {
  cancelFullSync,
  FULL_SYNC_RESULTS,
  FullSyncConflictError,
  type FullSyncCounters,
  type FullSyncDelivery,
  type FullSyncDeps,
  type FullSyncItemResult,
  type FullSyncOptions,
  type FullSyncProgress,
  type FullSyncRun,
  type FullSyncWorkItem,
  fullSyncProgress,
  fullSyncRunSchema,
  fullSyncStatus,
  fullSyncWorkItemSchema,
  listFullSyncRuns,
  type MappingRun,
  mappingRunSchema,
  resumeFullSync,
  startFullSync,
} from './full-sync-run';

/**
 * Full synchronization (BC's "Full Synch. Review", bc-integration-reference 4.5/4.6), resumable:
 *
 * - A run is one checkpoint record (`fullsync/run/<id>`) with a line per table mapping: status, the position
 *   reached (pass, page, offset, continuation link), total, done and per-result counters.
 * - Work travels as items on the `ops-full-sync` queue, "continue mapping M from position P", so a crash or a
 *   restart loses nothing: the unfinished item is redelivered, or the next one is already queued. Every record
 *   goes through `syncRecord` (origin `full-sync`), which couples by the match rules before creating, parks an
 *   ambiguous match as a COUPLE.AMBIGUOUS error, and creates Dataverse rows under deterministic ids — so
 *   re-processing a chunk after a crash never duplicates anything.
 * - A mapping starts when every mapping it depends on (within the run) has finished, as BC releases the lines
 *   of its review page.
 * - Pages of 5,000 records are read one at a time and processed in chunks: memory is bounded by one page,
 *   whatever the table size.
 */

/**
 * Processes one work item: continues its mapping from the item's position until the page set ends or the time
 * budget is spent, checkpointing after every chunk, then queues the next item (or releases dependants).
 *
 * Throws on transient failures so the broker redelivers the item — except on its last delivery, where the mapping
 * is marked failed first, so a dead-lettered item never leaves its run `running`. Any other failure ends the
 * mapping `failed` with the error as its message; its dependants are skipped naming it, and the run ends.
 */
export async function processFullSyncItem(
  deps: FullSyncDeps,
  item: FullSyncWorkItem,
  delivery?: FullSyncDelivery,
): Promise<FullSyncItemResult> {
  try {
    return await processItem(deps, item);
  } catch (err) {
    const e = toSyncError(err);
    const last = delivery !== undefined && delivery.deliveryCount >= delivery.maxDeliveryCount;
    if (e.transient && !last) throw e;
    const suffix = e.transient ? ` (dead-lettered after ${delivery?.deliveryCount} deliveries)` : '';
    const runEnded = await finishMapping(deps, item.runId, item.mapping, 'failed', `${e.code}: ${e.message}${suffix}`);
    if (e.transient) throw e;
    return { processed: 0, runEnded };
  }
}

/** Default records per page (see `FullSyncOptions.pageSize`). */
const PAGE_SIZE = 5_000;
/** How often a page being synchronized looks whether its run was cancelled. */
const CANCEL_POLL_MS = 1_000;

/** What an item works on once its run, its line and its mapping are known. */
interface ItemContext {
  item: FullSyncWorkItem;
  line: MappingRun;
  mapping: TableMapping;
  runCreatedAt: string;
  opts: FullSyncOptions;
  pace: BulkPace | undefined;
  chunkSize: number;
  budget: ItemBudget;
}

/** The time one item may run before it hands the rest of its mapping to the next item, on the runtime's clock. */
class ItemBudget {
  private readonly started: number;

  constructor(
    private readonly clock: Clock,
    private readonly ms: number,
  ) {
    this.started = clock.now().getTime();
  }

  spent(): boolean {
    return this.clock.now().getTime() - this.started > this.ms;
  }
}

async function processItem(deps: FullSyncDeps, item: FullSyncWorkItem): Promise<FullSyncItemResult> {
  const opened = await openItem(deps, item);
  if ('processed' in opened) return opened;
  const { line } = opened;
  let pos: FullSyncWorkItem = { ...item };
  let processed = 0;
  for (;;) {
    const side = line.passes[pos.pass];
    if (!side) break;
    const page = await readPage(deps, opened, side, pos);
    if ('failed' in page) return { processed, runEnded: await finishMapping(deps, item.runId, item.mapping, 'failed', page.failed) };
    const done = await syncPage(deps, opened, side, pos, page.items.slice(pos.offset));
    processed += done.processed;
    pos = done.pos;
    if (done.stop) return { processed };
    // Page finished: the next page, the next pass, or the mapping is done.
    if (page.continuation) pos = { ...pos, page: pos.page + 1, offset: 0, continuation: page.continuation };
    else if (pos.pass + 1 < line.passes.length) {
      pos = { runId: pos.runId, mapping: pos.mapping, pass: pos.pass + 1, page: 0, offset: 0 };
      await recountFrom(deps, opened, pos.pass);
    } else return { processed, runEnded: await finishMapping(deps, item.runId, item.mapping, 'completed') };
    if (opened.budget.spent()) {
      await deps.queue.send(pos, { messageId: itemId(pos) });
      await checkpoint(deps, pos, 0, emptyCounters());
      return { processed };
    }
    if ((await checkpoint(deps, pos, 0, emptyCounters())) !== 'running') return { processed };
  }
  return { processed, runEnded: await finishMapping(deps, item.runId, item.mapping, 'completed') };
}

/**
 * Loads the item's run and line, and the line's total on its first item. An item with nothing to do (its run or
 * line no longer running, a duplicate delivery behind the checkpoint, a mapping gone) answers its result instead.
 */
async function openItem(deps: FullSyncDeps, item: FullSyncWorkItem): Promise<ItemContext | FullSyncItemResult> {
  const opts = deps.options ?? {};
  const pace = opts.bulk === false ? undefined : new BulkPace(bulkOptions(opts.bulk));
  const budget = new ItemBudget(deps.sync.clock, opts.itemBudgetMs ?? 20_000);
  const loaded = await deps.state.get(runKey(item.runId), fullSyncRunSchema);
  if (loaded?.value.status !== 'running') return { processed: 0 };
  const line = loaded.value.mappings.find((m) => m.name === item.mapping);
  if (line?.status !== 'running') return { processed: 0 };
  // An item behind the checkpoint is a duplicate delivery: its work is done.
  if (comparePosition(item, line) < 0) return { processed: 0 };
  const mapping = await deps.sync.mappings.get(item.mapping);
  if (!mapping) {
    const runEnded = await finishMapping(deps, item.runId, item.mapping, 'failed', `There is no table mapping named '${item.mapping}'.`);
    return { processed: 0, runEnded };
  }
  if (line.total === undefined) {
    const total = await countRecords(deps, mapping, line.passes, opts);
    await updateRun(deps, item.runId, (r) => {
      const l = r.mappings.find((m) => m.name === item.mapping);
      if (l) l.total = total;
      return [];
    });
  }
  // A bulk wave keeps several bulk requests busy; one record at a time needs no more than 500 between checkpoints.
  const chunkSize = opts.chunkSize ?? (pace ? 5000 : 500);
  return { item, line, mapping, runCreatedAt: loaded.value.createdAt, opts, pace, chunkSize, budget };
}

/** One page of the pass's side from the item's position; a non-transient failure fails the line (`failed`). */
async function readPage(
  deps: FullSyncDeps,
  ctx: ItemContext,
  side: Side,
  pos: FullSyncWorkItem,
): Promise<{ items: VersionedRecord[]; continuation?: string } | { failed: string }> {
  const { mapping, opts } = ctx;
  const target = side === 'bc' ? bcTarget(mapping) : dataverseTarget(mapping);
  const gateway = (side === 'bc' ? deps.sync.bc : deps.sync.dataverse) as RecordGateway;
  const filter = BatchedSyncDeps.sideFilter(mapping, side, opts.dataverseCompanyId);
  const select = BatchedSyncDeps.engineSelect(mapping, side);
  try {
    return await gateway.listPage(target, {
      ...(pos.continuation ? { continuation: pos.continuation } : filter ? { filter } : {}),
      ...(select ? { select } : {}),
      pageSize: opts.pageSize ?? PAGE_SIZE,
    });
  } catch (err) {
    const e = toSyncError(err);
    if (e.transient) throw e;
    return { failed: `Reading ${side === 'bc' ? 'Business Central' : 'Dataverse'}: ${e.message}` };
  }
}

/**
 * Synchronizes the rest of a page chunk by chunk, checkpointing after each. Stops early (`stop`) when the run is
 * no longer running, or when the budget is spent with records left: the rest is then handed to a new item.
 */
async function syncPage(
  deps: FullSyncDeps,
  ctx: ItemContext,
  side: Side,
  start: FullSyncWorkItem,
  rest: VersionedRecord[],
): Promise<{ pos: FullSyncWorkItem; processed: number; stop: boolean }> {
  const filter = BatchedSyncDeps.sideFilter(ctx.mapping, side, ctx.opts.dataverseCompanyId);
  const watch = new CancelWatch(deps, ctx.item.runId);
  let pos = start;
  let processed = 0;
  try {
    for (let at = 0; at < rest.length; ) {
      const chunk = rest.slice(at, at + ctx.chunkSize);
      const { counters, done } = await syncChunk(deps, ctx.mapping, side, chunk, filter, {
        concurrency: ctx.opts.concurrency ?? 16,
        runId: ctx.item.runId,
        runCreatedAt: ctx.runCreatedAt,
        secondPass: pos.pass > 0,
        pace: ctx.pace,
        stop: () => watch.cancelled,
      });
      at += done;
      processed += done;
      pos = { ...pos, offset: pos.offset + done };
      if ((await checkpoint(deps, pos, done, counters)) !== 'running') return { pos, processed, stop: true };
      if (at < rest.length && ctx.budget.spent()) {
        await deps.queue.send(pos, { messageId: itemId(pos) });
        return { pos, processed, stop: true };
      }
    }
  } finally {
    watch.close();
  }
  return { pos, processed, stop: false };
}

/**
 * Whether the run was cancelled (or otherwise ended) while a page is being synchronized, read every
 * {@link CANCEL_POLL_MS}: a chunk then starts no further record, so a cancel waits for the records in flight only.
 */
class CancelWatch {
  cancelled = false;
  private readonly timer: NodeJS.Timeout;

  constructor(deps: FullSyncDeps, runId: string) {
    this.timer = setInterval(() => {
      deps.state.get(runKey(runId), fullSyncRunSchema).then(
        (r) => {
          if (r && r.value.status !== 'running') this.cancelled = true;
        },
        // A failed look only leaves the check to the next one, or to the checkpoint after the chunk.
        () => undefined,
      );
    }, CANCEL_POLL_MS);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }
}

/**
 * Synchronizes a chunk; once `stop()` says so (the run was cancelled), no further record starts. Answers the
 * counters and how many of the chunk's records are done (all of them, or the first ones up to the first not started).
 */
async function syncChunk(
  deps: FullSyncDeps,
  mapping: TableMapping,
  side: Side,
  records: VersionedRecord[],
  filter: string,
  o: { concurrency: number; runId: string; runCreatedAt: string; secondPass: boolean; pace?: BulkPace; stop: () => boolean },
): Promise<{ counters: FullSyncCounters; done: number }> {
  const counters = emptyCounters();
  const batched = new BatchedSyncDeps(deps.sync, mapping);
  let todo = records.map((r, at) => ({ r, at }));
  if (o.secondPass) {
    // The first pass of this run already synchronized these pairs; reading them again from the other side would
    // only find them equal.
    const fresh = await syncedInRun(deps.sync.couplings, mapping.name, side, records, {
      since: o.runCreatedAt,
      integrationUserId: deps.sync.options.integrationUserId,
      concurrency: o.concurrency,
    });
    todo = todo.filter((_, i) => !fresh[i]);
  }
  const unchangedBefore = (end: number) => end - todo.filter((t) => t.at < end).length;
  if (todo.length === 0) {
    counters.unchanged += records.length;
    return { counters, done: records.length };
  }
  const sources = todo.map((t) => t.r);
  batched.rememberSource(side, sources, filter);
  // Deterministic-id rows need no look-up: the engine creates with If-None-Match: * and reads only on a 412.
  await Promise.all([batched.loadOpenErrors(), batched.prefetchMatches(side, sources, deps.options?.dataverseCompanyId)]);
  const observedAt = deps.sync.clock.now().toISOString();
  const sync = (r: VersionedRecord, syncDeps: SyncDeps) =>
    syncWithRetry(
      newChangeEvent({
        mapping: mapping.name,
        source: side,
        recordId: r.id,
        origin: 'full-sync',
        correlationId: `fullsync-${o.runId}`,
        observedAt,
      }),
      syncDeps,
    );
  const outcomes = o.pace
    ? await syncWave(deps.sync, batched.deps, mapping, side, sources, o.pace, sync, o.stop)
    : await mapLimit(sources, o.concurrency, (r) => sync(r, batched.deps), o.stop);
  await batched.flush();
  batched.clear();
  for (const out of outcomes) counters[out.result] += 1;
  // Records are started in order: those before the first not started are done (synced here, or fresh).
  const done = outcomes.length === sources.length ? records.length : (todo[outcomes.length]?.at ?? records.length);
  counters.unchanged += unchangedBefore(done);
  return { counters, done };
}

/** Transient failures (throttling, a brief outage) are retried in place a few times before the item fails. */
async function syncWithRetry(event: ChangeEvent, deps: SyncDeps): Promise<SyncOutcome> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await syncRecord(event, deps);
    } catch (err) {
      const e = toSyncError(err);
      if (!e.transient || attempt >= 4) throw e;
      await new Promise((r) => setTimeout(r, Math.min(e.retryAfterMs ?? 500 * 2 ** attempt, 10_000)));
    }
  }
}

/**
 * The line's total again when a pass starts: it was counted before the first pass wrote anything, and a later pass
 * also reads the rows the earlier one created (a bidirectional mapping's second pass), so done could pass the total.
 */
async function recountFrom(deps: FullSyncDeps, ctx: ItemContext, pass: number): Promise<void> {
  const rest = await countRecords(deps, ctx.mapping, ctx.line.passes.slice(pass), ctx.opts);
  await updateRun(deps, ctx.item.runId, (r) => {
    const l = r.mappings.find((m) => m.name === ctx.item.mapping);
    if (l) l.total = l.done + rest;
    return [];
  });
}

async function countRecords(deps: FullSyncDeps, mapping: TableMapping, passes: Side[], opts: FullSyncOptions): Promise<number> {
  let total = 0;
  for (const side of passes) {
    const target: EntityTarget = side === 'bc' ? bcTarget(mapping) : dataverseTarget(mapping);
    const gateway = (side === 'bc' ? deps.sync.bc : deps.sync.dataverse) as RecordGateway;
    const filter = BatchedSyncDeps.sideFilter(mapping, side, opts.dataverseCompanyId);
    const key = side === 'bc' ? 'id' : mapping.dataverse.primaryKey;
    try {
      for await (const page of gateway.list(target, { ...(filter ? { filter } : {}), select: [key] })) total += page.length;
    } catch (err) {
      const e = toSyncError(err);
      if (e.transient) throw e;
      // The real read reports the problem; the total stays unknown-ish rather than failing here.
    }
  }
  return total;
}

async function mapLimit<T, R>(items: T[], limit: number, f: (item: T) => Promise<R>, stop: () => boolean): Promise<R[]> {
  const out = new Array<R>(items.length);
  const started = await parallel(
    items.map((item, i) => ({ item, i })),
    () => limit,
    async ({ item, i }) => {
      out[i] = await f(item);
    },
    stop,
  );
  out.length = started;
  return out;
}

export type { SyncResult };
