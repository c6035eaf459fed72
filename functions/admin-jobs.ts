import { app, type InvocationContext, type Timer } from '@azure/functions';
import { fullSyncDeps } from '../shared/operations/context';
import { runCouplingJobs } from '../shared/operations/coupling-jobs';
import { getRuntime } from '../shared/runtime';

/**
 * Background coupling jobs (bulk uncouple, match-based coupling): every minute, advances each running job page by
 * page for up to 50 s, so ticks rarely overlap (and when they do, a page's ETag keeps runners apart).
 */
export async function adminJobsTimer(_timer: Timer, context: InvocationContext): Promise<void> {
  const runtime = await getRuntime();
  const jobs = await runCouplingJobs({ sync: runtime.syncDeps, state: fullSyncDeps(runtime).state }, { budgetMs: 50_000 });
  for (const j of jobs) context.log(`coupling job ${j.id} (${j.kind} ${j.mapping}): ${j.status}, ${j.done} done`);
}

app.timer('admin-jobs', { schedule: '0 * * * * *', handler: adminJobsTimer });
