import { app, type InvocationContext, type Timer } from '@azure/functions';
import { fullSyncDeps } from '../shared/operations/context';
import { purgeExpired } from '../shared/operations/retention';
import { getRuntime } from '../shared/runtime';

/** Retention timer (`RETENTION_SCHEDULE`): deletes rows older than `RETENTION_DAYS`, a bounded amount per run. */
export async function retentionTimer(_timer: Timer, context: InvocationContext): Promise<void> {
  const runtime = await getRuntime();
  const r = await purgeExpired(
    { stores: runtime.stores, state: fullSyncDeps(runtime).state },
    { days: runtime.settings.RETENTION_DAYS, now: () => runtime.clock.now() },
  );
  context.log(
    `retention: before ${r.cutoff} deleted ${r.history.deleted} history, ${r.syncErrors.deleted} closed error, ${r.runLog.deleted} run-log rows` +
      (r.history.more || r.syncErrors.more || r.runLog.more ? ' (more left for the next run)' : ''),
  );
}

app.timer('retention', { schedule: '%RETENTION_SCHEDULE%', handler: retentionTimer });
