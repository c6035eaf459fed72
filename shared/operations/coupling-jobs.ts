import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { bcTarget } from '../domain/mappings/targets';
import { resolveFilter } from '../domain/odata/literal';
import type { SyncDeps } from '../domain/sync/types';
import { SyncError, toSyncError } from '../errors';
import { bulkCouple, uncoupleRecord } from './couplings';
import { isStateConflict, type StatePort } from './ports';

/**
 * Coupling work that can take long, as background jobs with progress (BC's "Uncouple" / "Delete Couplings" job
 * queue entries and match-based coupling in the background, with a coupling log): a job is a state row
 * `coupling-jobs/<id>` that the admin API starts and the `admin-jobs` timer advances a page at a time. Each page
 * is committed with the row's ETag, so two runners never process the same page, and a crash resumes from the
 * last committed page.
 *
 * - `uncouple`: removes every coupling of a mapping (neither record is changed), page by page.
 * - `match-couple`: match-based coupling of every BC record of the mapping in pages of BC records, with the
 *   mapping's criteria, create-new and synch-after flags (or the job's), and a result list.
 */

export const JOB_PREFIX = 'coupling-jobs/';
/** Results kept on a job for the console (the counters cover everything). */
const MAX_RESULTS = 500;
const PAGE = 100;

export const jobStateSchema = z.object({
  id: z.string(),
  kind: z.enum(['uncouple', 'match-couple']),
  mapping: z.string(),
  status: z.enum(['running', 'completed', 'failed', 'cancelled']),
  by: z.string(),
  startedAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().optional(),
  createNew: z.boolean().optional(),
  synchronizeAfter: z.boolean().optional(),
  continuation: z.string().optional(),
  done: z.number().int(),
  total: z.number().int().optional(),
  counters: z.record(z.string(), z.number().int()),
  results: z.array(z.object({ bcId: z.string(), result: z.string(), dataverseId: z.string().optional(), message: z.string().optional() })),
  error: z.string().optional(),
});
export type CouplingJob = z.infer<typeof jobStateSchema>;

export interface JobDeps {
  sync: SyncDeps;
  state: StatePort;
}

export async function startCouplingJob(
  deps: JobDeps,
  req: { kind: CouplingJob['kind']; mapping: string; by: string; createNew?: boolean; synchronizeAfter?: boolean },
): Promise<CouplingJob> {
  const m = await deps.sync.mappings.get(req.mapping);
  if (!m) throw new SyncError('MAP.INVALID', `There is no table mapping named ${req.mapping}.`, { details: { mapping: req.mapping } });
  if (req.kind === 'match-couple' && m.couplingRules.matchFields.length === 0 && !(req.createNew ?? m.couplingRules.createNewIfNoMatch))
    throw new SyncError('MAP.INVALID', `Set the match-based coupling fields of ${m.name} first (mappings set-match).`);
  const now = deps.sync.clock.now();
  const job: CouplingJob = {
    id: `${now.getTime().toString(36)}-${randomBytes(3).toString('hex')}`,
    kind: req.kind,
    mapping: m.name,
    status: 'running',
    by: req.by,
    startedAt: now.toISOString(),
    updatedAt: now.toISOString(),
    done: 0,
    counters: {},
    results: [],
    ...(req.kind === 'uncouple' ? { total: await deps.sync.couplings.count(m.name) } : {}),
    ...(req.kind === 'match-couple'
      ? {
          createNew: req.createNew ?? m.couplingRules.createNewIfNoMatch,
          synchronizeAfter: req.synchronizeAfter ?? m.couplingRules.synchAfterMatchBasedCoupling,
        }
      : {}),
  };
  await deps.state.put(JOB_PREFIX + job.id, job, { ifNotExists: true });
  return job;
}

export async function getCouplingJob(deps: JobDeps, id: string): Promise<CouplingJob | undefined> {
  return (await deps.state.get(JOB_PREFIX + id, jobStateSchema))?.value;
}

/** Newest first. */
export async function listCouplingJobs(deps: JobDeps): Promise<CouplingJob[]> {
  const rows = await deps.state.list(JOB_PREFIX, jobStateSchema);
  return rows.map((r) => r.value).sort((a, b) => b.startedAt.localeCompare(a.startedAt));
}

export async function cancelCouplingJob(deps: JobDeps, id: string): Promise<CouplingJob | undefined> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const row = await deps.state.get(JOB_PREFIX + id, jobStateSchema);
    if (!row) return undefined;
    if (row.value.status !== 'running') return row.value;
    const now = deps.sync.clock.now().toISOString();
    const next: CouplingJob = { ...row.value, status: 'cancelled', updatedAt: now, finishedAt: now };
    try {
      await deps.state.put(JOB_PREFIX + id, next, { etag: row.etag });
      return next;
    } catch (err) {
      if (!isStateConflict(err)) throw err;
    }
  }
  throw new SyncError('STORE.UNAVAILABLE', `coupling job ${id}: too much contention to cancel`);
}

/**
 * Advances one running job by one page and commits it; returns the job, or undefined when it is not running,
 * another runner committed first (that runner has the page) or a transient failure leaves the page for later.
 */
export async function runCouplingJobPage(deps: JobDeps, id: string): Promise<CouplingJob | undefined> {
  const row = await deps.state.get(JOB_PREFIX + id, jobStateSchema);
  if (row?.value.status !== 'running') return undefined;
  const job = structuredClone(row.value);
  job.updatedAt = deps.sync.clock.now().toISOString();
  const add = (k: string, n: number) => {
    if (n) job.counters[k] = (job.counters[k] ?? 0) + n;
  };
  try {
    if (job.kind === 'uncouple') {
      const page = await deps.sync.couplings.list(job.mapping, {
        pageSize: PAGE,
        ...(job.continuation ? { continuation: job.continuation } : {}),
      });
      for (const c of page.items) {
        const r = await uncoupleRecord(deps.sync, { mapping: job.mapping, bcId: c.bcId });
        add(r.uncoupled ? 'uncoupled' : 'alreadyUncoupled', 1);
      }
      job.done += page.items.length;
      finishPage(job, page.continuation);
    } else {
      const m = await deps.sync.mappings.get(job.mapping);
      if (!m) throw new SyncError('MAP.INVALID', `The table mapping ${job.mapping} no longer exists.`);
      const filter = resolveFilter(m.tableFilter, deps.sync.options.dataverseCompanyId);
      const page = await deps.sync.bc.listPage(bcTarget(m), {
        select: ['id'],
        pageSize: PAGE,
        ...(filter ? { filter } : {}),
        ...(job.continuation ? { continuation: job.continuation } : {}),
      });
      if (page.items.length > 0) {
        const r = await bulkCouple(deps.sync, {
          mapping: job.mapping,
          bcIds: page.items.map((i) => i.id),
          createNew: job.createNew ?? false,
          synchronizeAfter: job.synchronizeAfter ?? false,
          ...(deps.sync.options.dataverseCompanyId ? { companyId: deps.sync.options.dataverseCompanyId } : {}),
        });
        for (const k of ['coupled', 'created', 'alreadyCoupled', 'unmatched', 'ambiguous', 'failed'] as const) add(k, r[k]);
        // The list keeps what needs a look first: everything but "already coupled".
        job.results = [...job.results, ...r.results].slice(0, MAX_RESULTS);
      }
      job.done += page.items.length;
      finishPage(job, page.continuation);
    }
  } catch (err) {
    const e = toSyncError(err);
    // A transient failure leaves the page to the next run of the timer; anything else ends the job with its reason.
    if (e.transient) return undefined;
    job.status = 'failed';
    job.error = `${e.code}: ${e.message}`;
    job.finishedAt = job.updatedAt;
  }
  try {
    await deps.state.put(JOB_PREFIX + id, job, { etag: row.etag });
  } catch (err) {
    if (isStateConflict(err)) return undefined;
    throw err;
  }
  return job;
}

function finishPage(job: CouplingJob, continuation: string | undefined): void {
  if (continuation) job.continuation = continuation;
  else {
    delete job.continuation;
    job.status = 'completed';
    job.finishedAt = job.updatedAt;
  }
}

/** The timer's work: advances every running job, page by page, until each is done or `budgetMs` is spent. */
export async function runCouplingJobs(deps: JobDeps, options: { budgetMs: number; now?: () => number }): Promise<CouplingJob[]> {
  const now = options.now ?? Date.now;
  const deadline = now() + options.budgetMs;
  const touched: CouplingJob[] = [];
  for (const job of (await listCouplingJobs(deps)).filter((j) => j.status === 'running')) {
    let last: CouplingJob | undefined = job;
    while (last?.status === 'running' && now() < deadline) last = await runCouplingJobPage(deps, job.id);
    if (last) touched.push(last);
  }
  return touched;
}
