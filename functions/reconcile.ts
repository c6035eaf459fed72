import { app, type InvocationContext, type Timer } from '@azure/functions';
import { fullSyncDeps } from '../shared/operations/context';
import { reconcile } from '../shared/operations/reconcile';
import { getRuntime } from '../shared/runtime';

/** Reconciliation timer (`RECONCILE_SCHEDULE`, NCRONTAB): publishes what changed since each mapping's watermark. */
export async function reconcileTimer(_timer: Timer, context: InvocationContext): Promise<void> {
  const runtime = await getRuntime();
  const results = await reconcile({ sync: runtime.syncDeps, state: fullSyncDeps(runtime).state });
  for (const r of results) {
    if (r.error) context.warn(`reconcile ${r.mapping}: ${r.error}`);
    else if (r.bcPublished || r.dataversePublished)
      context.log(`reconcile ${r.mapping}: ${r.bcPublished} from BC, ${r.dataversePublished} from Dataverse`);
  }
}

app.timer('reconcile', { schedule: '%RECONCILE_SCHEDULE%', handler: reconcileTimer });
