import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { TableMapping } from '../domain/mappings/schema';
import type { Side } from '../domain/ports';
import { SYNC_RESULTS } from '../domain/ports';
import type { SyncDeps } from '../domain/sync/types';
import { SyncError } from '../errors';
import type { BulkWriteOptions } from './bulk-pace';
import { isStateConflict, type StatePort, type WorkQueue } from './ports';

/**
 * A full synchronization's run state (`shared/operations/full-sync.ts` processes its work items): the checkpoint
 * record of a run, its lines per table mapping and their release in dependency order, and the operations on a run
 * as a whole — start, status, cancel, resume, progress.
 */

/** The results a full sync counts: every sync result. */
export const FULL_SYNC_RESULTS = SYNC_RESULTS;

const countersSchema = z.object({
  inserted: z.number().int().default(0),
  modified: z.number().int().default(0),
  unchanged: z.number().int().default(0),
  skipped: z.number().int().default(0),
  failed: z.number().int().default(0),
  coupled: z.number().int().default(0),
  deleted: z.number().int().default(0),
  deferred: z.number().int().default(0),
});
export type FullSyncCounters = z.infer<typeof countersSchema>;

export const emptyCounters = (): FullSyncCounters => countersSchema.parse({});

export const mappingRunSchema = z.object({
  name: z.string(),
  status: z.enum(['waiting', 'running', 'completed', 'skipped', 'cancelled', 'failed']),
  dependsOn: z.array(z.string()),
  /** The sides read, in order: BC first for Bidirectional mappings (BC's order: To, then From). */
  passes: z.array(z.enum(['bc', 'dataverse'])),
  pass: z.number().int().min(0),
  page: z.number().int().min(0),
  offset: z.number().int().min(0),
  continuation: z.string().optional(),
  total: z.number().int().optional(),
  done: z.number().int().min(0),
  counters: countersSchema,
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  /** Why the line failed, what it waits for, or which failed dependency it was skipped because of. */
  message: z.string().optional(),
  /** Set when the line was skipped because a dependency failed: the failed mapping's name. */
  blockedBy: z.string().optional(),
});
export type MappingRun = z.infer<typeof mappingRunSchema>;

export const fullSyncRunSchema = z.object({
  runId: z.string(),
  status: z.enum(['running', 'completed', 'cancelled', 'failed']),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().optional(),
  mappings: z.array(mappingRunSchema),
});
export type FullSyncRun = z.infer<typeof fullSyncRunSchema>;

export const fullSyncWorkItemSchema = z.object({
  runId: z.string().min(1),
  mapping: z.string().min(1),
  pass: z.number().int().min(0),
  page: z.number().int().min(0),
  offset: z.number().int().min(0),
  continuation: z.string().optional(),
});
export type FullSyncWorkItem = z.infer<typeof fullSyncWorkItemSchema>;

export interface FullSyncOptions {
  /** Records per chunk between checkpoints. Default 500. */
  chunkSize?: number;
  /** Records synchronized at the same time; the BC client's own limiter keeps BC at 5 requests. Default 16. */
  concurrency?: number;
  /** Time one work item may run before it hands the rest to a new item (keeps restarts quick). Default 20,000 ms. */
  itemBudgetMs?: number;
  /**
   * Records read per page. Default 5,000 (Dataverse's maximum; BC's is 20,000): the item holds one page at a time,
   * so its memory stays the same whatever the table size.
   */
  pageSize?: number;
  /** Value of `{companyId}` in integration table filters (as the engine's option). */
  dataverseCompanyId?: string;
  /** Bulk writes (`full-sync-bulk.ts`): options, or `false` for one request per record. Default on. */
  bulk?: BulkWriteOptions | false;
}

/** What one work item did: records processed, and whether it ended its run (its last mapping finished). */
export interface FullSyncItemResult {
  processed: number;
  runEnded?: boolean;
}

/** The broker's delivery of a work item: the delivery that reaches the queue's max delivery count is the last. */
export interface FullSyncDelivery {
  /** 1-based delivery count as the Functions host reports it. */
  deliveryCount: number;
  maxDeliveryCount: number;
}

export interface FullSyncDeps {
  sync: SyncDeps;
  state: StatePort;
  queue: WorkQueue<FullSyncWorkItem>;
  options?: FullSyncOptions;
}

const RUN_PREFIX = 'fullsync/run/';
const LATEST_KEY = 'fullsync/latest';

export class FullSyncConflictError extends SyncError {
  constructor(message: string) {
    super('CONFIG.INVALID', message);
    this.name = 'FullSyncConflictError';
  }
}

function passesOf(m: TableMapping): Side[] {
  if (m.direction === 'ToIntegrationTable') return ['bc'];
  if (m.direction === 'FromIntegrationTable') return ['dataverse'];
  return ['bc', 'dataverse'];
}

/** Starts a full sync of the given mappings (default: every enabled top-level mapping) in dependency order. */
export async function startFullSync(deps: FullSyncDeps, request: { mappings?: string[] } = {}): Promise<FullSyncRun> {
  const latest = await latestRun(deps);
  if (latest?.status === 'running') {
    throw new FullSyncConflictError(`Full synchronization ${latest.runId} is still running; cancel it or wait for it to finish.`);
  }
  const all = await deps.sync.mappings.all();
  const candidates = all.filter((m) => m.enabled && m.parent === undefined);
  let chosen = candidates;
  if (request.mappings?.length) {
    const byName = new Map(all.map((m) => [m.name, m]));
    for (const name of request.mappings) {
      const m = byName.get(name);
      if (!m) throw new SyncError('MAP.INVALID', `There is no table mapping named '${name}'.`);
      if (!m.enabled) throw new SyncError('MAP.INVALID', `Table mapping '${name}' is disabled.`);
      if (m.parent !== undefined)
        throw new SyncError('MAP.INVALID', `Table mapping '${name}' is a line mapping; synchronize its header '${m.parent}'.`);
    }
    chosen = candidates.filter((m) => request.mappings?.includes(m.name));
  }
  const names = new Set(chosen.map((m) => m.name));
  const now = deps.sync.clock.now().toISOString();
  const run: FullSyncRun = {
    runId: `${now.replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomUUID().slice(0, 8)}`,
    status: 'running',
    createdAt: now,
    updatedAt: now,
    mappings: chosen.map((m) => ({
      name: m.name,
      // Option mappings couple option-set values to BC codes; there are no rows to read on the Dataverse side.
      status: 'waiting' as const,
      dependsOn: m.dependencies.filter((d) => names.has(d) && d !== m.name),
      passes: passesOf(m),
      pass: 0,
      page: 0,
      offset: 0,
      done: 0,
      counters: emptyCounters(),
    })),
  };
  if (run.mappings.length === 0) throw new SyncError('MAP.INVALID', 'There is no enabled table mapping to synchronize.');
  const stored = await deps.state.put(runKey(run.runId), run, { ifNotExists: true });
  await deps.state.put(LATEST_KEY, { runId: run.runId });
  const released = await updateRun(deps, run.runId, (r) => releaseReady(r, now), stored.etag);
  await sendReleased(deps, run.runId, released.items);
  return released.run;
}

/** The run's state; the latest run when no id is given. */
export async function fullSyncStatus(deps: Pick<FullSyncDeps, 'state'>, runId?: string): Promise<FullSyncRun | undefined> {
  if (!runId) return latestRun(deps);
  return (await deps.state.get(runKey(runId), fullSyncRunSchema))?.value;
}

/** Every run, newest first. */
export async function listFullSyncRuns(deps: Pick<FullSyncDeps, 'state'>): Promise<FullSyncRun[]> {
  const rows = await deps.state.list(RUN_PREFIX, fullSyncRunSchema);
  return rows.map((r) => r.value).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** Cancels a running run: work items still queued find it cancelled and stop. Records already synced stay. */
export async function cancelFullSync(deps: FullSyncDeps, runId?: string): Promise<FullSyncRun> {
  const id = runId ?? (await latestRun(deps))?.runId;
  if (!id) throw new SyncError('MAP.INVALID', 'There is no full synchronization to cancel.');
  const now = deps.sync.clock.now().toISOString();
  const { run } = await updateRun(deps, id, (r) => {
    if (r.status !== 'running') return [];
    r.status = 'cancelled';
    r.finishedAt = now;
    for (const m of r.mappings) {
      if (m.status === 'running' || m.status === 'waiting') {
        m.status = 'cancelled';
        m.finishedAt = now;
      }
    }
    return [];
  });
  return run;
}

/**
 * Re-queues the current position of every running mapping of a run (after the queue was purged, or to be
 * sure after an outage). Safe to call any time: an item behind the checkpoint is ignored, and re-processing
 * records is idempotent.
 */
export async function resumeFullSync(deps: FullSyncDeps, runId?: string): Promise<FullSyncRun> {
  const run = runId ? await fullSyncStatus(deps, runId) : await latestRun(deps);
  if (!run) throw new SyncError('MAP.INVALID', 'There is no full synchronization to resume.');
  if (run.status !== 'running') return run;
  for (const m of run.mappings.filter((x) => x.status === 'running')) {
    await deps.queue.send(itemAt(run.runId, m), { messageId: `${itemId(itemAt(run.runId, m))}|resume|${deps.sync.clock.now().getTime()}` });
  }
  return run;
}

/** Progress figures derived from a run: done/total, records per second, ETA. */
export function fullSyncProgress(run: FullSyncRun, now: Date) {
  const started = Date.parse(run.createdAt);
  const end = run.finishedAt ? Date.parse(run.finishedAt) : now.getTime();
  const done = run.mappings.reduce((s, m) => s + m.done, 0);
  const knownTotal = run.mappings.every((m) => m.total !== undefined || m.status === 'skipped');
  const total = run.mappings.reduce((s, m) => s + (m.total ?? 0), 0);
  const seconds = Math.max((end - started) / 1000, 0.001);
  const rate = done / seconds;
  const counters = emptyCounters();
  for (const m of run.mappings) for (const k of FULL_SYNC_RESULTS) counters[k] += m.counters[k];
  const remaining = knownTotal ? Math.max(total - done, 0) : undefined;
  return {
    runId: run.runId,
    status: run.status,
    done,
    total: knownTotal ? total : undefined,
    percent: knownTotal && total > 0 ? Math.min(100, Math.round((done / total) * 1000) / 10) : undefined,
    recordsPerSecond: Math.round(rate * 10) / 10,
    etaSeconds: run.status === 'running' && remaining !== undefined && rate > 0 ? Math.round(remaining / rate) : undefined,
    counters,
    mappings: run.mappings.map((m) => {
      const mStart = m.startedAt ? Date.parse(m.startedAt) : undefined;
      const mEnd = m.finishedAt ? Date.parse(m.finishedAt) : now.getTime();
      const mRate = mStart !== undefined ? m.done / Math.max((mEnd - mStart) / 1000, 0.001) : 0;
      return {
        ...m,
        recordsPerSecond: Math.round(mRate * 10) / 10,
        etaSeconds:
          m.status === 'running' && m.total !== undefined && mRate > 0 ? Math.round(Math.max(m.total - m.done, 0) / mRate) : undefined,
      };
    }),
    createdAt: run.createdAt,
    finishedAt: run.finishedAt,
  };
}
export type FullSyncProgress = ReturnType<typeof fullSyncProgress>;

export async function checkpoint(
  deps: FullSyncDeps,
  pos: FullSyncWorkItem,
  done: number,
  counters: FullSyncCounters,
): Promise<FullSyncRun['status']> {
  const { run } = await updateRun(deps, pos.runId, (r) => {
    const l = r.mappings.find((m) => m.name === pos.mapping);
    if (!l) return [];
    l.done += done;
    for (const k of FULL_SYNC_RESULTS) l.counters[k] += counters[k];
    if (l.status === 'running' && comparePosition(pos, l) > 0) {
      l.pass = pos.pass;
      l.page = pos.page;
      l.offset = pos.offset;
      l.continuation = pos.continuation;
    }
    return [];
  });
  return run.status;
}

/** Ends a mapping's line; true when that ended the whole run. */
export async function finishMapping(
  deps: FullSyncDeps,
  runId: string,
  name: string,
  status: 'completed' | 'failed',
  message?: string,
): Promise<boolean> {
  const now = deps.sync.clock.now().toISOString();
  let ended = false;
  const { items } = await updateRun(deps, runId, (r) => {
    ended = false;
    const l = r.mappings.find((m) => m.name === name);
    if (l?.status !== 'running') return [];
    l.status = status;
    l.finishedAt = now;
    if (message) l.message = message;
    const released = releaseReady(r, now);
    ended = r.status !== 'running';
    return released;
  });
  await sendReleased(deps, runId, items);
  return ended;
}

/**
 * Starts every waiting line whose dependencies finished (BC releases a line only when the lines in its dependency
 * filter are Finished). A failed or cancelled dependency skips its dependants, naming it; a line still waiting says
 * what for. Closes the run when nothing is left.
 */
export function releaseReady(run: FullSyncRun, now: string): FullSyncWorkItem[] {
  const out: FullSyncWorkItem[] = [];
  const byName = new Map(run.mappings.map((m) => [m.name, m]));
  for (let changed = true; changed; ) {
    changed = false;
    for (const l of run.mappings) {
      if (l.status !== 'waiting') continue;
      const deps = l.dependsOn.map((d) => byName.get(d)).filter((d): d is MappingRun => d !== undefined);
      const blocker = deps.find((d) => d.status === 'failed' || d.status === 'cancelled' || (d.status === 'skipped' && d.blockedBy));
      if (blocker) {
        const root = blocker.blockedBy ?? blocker.name;
        const cause = byName.get(root);
        l.status = 'skipped';
        l.finishedAt = now;
        l.blockedBy = root;
        l.message = `skipped: depends on ${root}, which ${cause?.status === 'cancelled' ? 'was cancelled' : 'failed'}${cause?.message && cause.status === 'failed' ? ` (${cause.message})` : ''}`;
        changed = true;
        continue;
      }
      const pending = deps.filter((d) => d.status !== 'completed' && d.status !== 'skipped');
      if (pending.length === 0) {
        l.status = 'running';
        l.startedAt = now;
        l.message = undefined;
        out.push(itemAt(run.runId, l));
        changed = true;
      } else {
        l.message = `waiting for ${pending.map((d) => d.name).join(', ')}`;
      }
    }
  }
  if (run.status === 'running' && run.mappings.every((m) => m.status !== 'waiting' && m.status !== 'running')) {
    run.status = run.mappings.some((m) => m.status === 'failed' || m.blockedBy) ? 'failed' : 'completed';
    run.finishedAt = now;
  }
  return out;
}

export async function sendReleased(deps: FullSyncDeps, _runId: string, items: FullSyncWorkItem[]): Promise<void> {
  for (const it of items) await deps.queue.send(it, { messageId: itemId(it) });
}

/** Read-modify-write of a run with ETag concurrency (two mappings' items may finish at the same time). */
export async function updateRun(
  deps: Pick<FullSyncDeps, 'state' | 'sync'>,
  runId: string,
  edit: (run: FullSyncRun) => FullSyncWorkItem[],
  knownEtag?: string,
): Promise<{ run: FullSyncRun; items: FullSyncWorkItem[] }> {
  for (let attempt = 0; ; attempt++) {
    const current = await deps.state.get(runKey(runId), fullSyncRunSchema);
    if (!current) throw new SyncError('MAP.INVALID', `There is no full synchronization '${runId}'.`);
    const run = structuredClone(current.value);
    const items = edit(run);
    run.updatedAt = deps.sync.clock.now().toISOString();
    try {
      await deps.state.put(runKey(runId), run, { etag: attempt === 0 && knownEtag ? knownEtag : current.etag });
      return { run, items };
    } catch (err) {
      if (!isStateConflict(err) || attempt >= 20) throw err;
    }
  }
}

export async function latestRun(deps: Pick<FullSyncDeps, 'state'>): Promise<FullSyncRun | undefined> {
  const p = await deps.state.get(LATEST_KEY, z.object({ runId: z.string() }));
  if (!p) return undefined;
  return (await deps.state.get(runKey(p.value.runId), fullSyncRunSchema))?.value;
}

export function runKey(runId: string): string {
  return `${RUN_PREFIX}${runId}`;
}

export function itemAt(runId: string, l: MappingRun): FullSyncWorkItem {
  return {
    runId,
    mapping: l.name,
    pass: l.pass,
    page: l.page,
    offset: l.offset,
    ...(l.continuation ? { continuation: l.continuation } : {}),
  };
}

export function itemId(i: FullSyncWorkItem): string {
  return `fs|${i.runId}|${i.mapping}|${i.pass}|${i.page}|${i.offset}`.slice(0, 128);
}

export function comparePosition(
  a: Pick<FullSyncWorkItem, 'pass' | 'page' | 'offset'>,
  b: Pick<FullSyncWorkItem, 'pass' | 'page' | 'offset'>,
): number {
  return a.pass - b.pass || a.page - b.page || a.offset - b.offset;
}
