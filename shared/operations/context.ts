import { workQueue } from '../adapters/servicebus/work-queue';
import { OPERATIONAL_QUEUE } from '../queues';
import type { Runtime } from '../runtime';
import { type FullSyncDeps, type FullSyncOptions, type FullSyncWorkItem, fullSyncWorkItemSchema } from './full-sync';
import type { WorkQueue } from './ports';

/** The `ops-full-sync` queue of a runtime (one sender per runtime). */
export function fullSyncQueue(runtime: Runtime): WorkQueue<FullSyncWorkItem> {
  return workQueue(runtime.serviceBus, OPERATIONAL_QUEUE.fullSync, fullSyncWorkItemSchema);
}

/** Full-sync ports from the composition root. */
export function fullSyncDeps(runtime: Runtime, options: FullSyncOptions = {}): FullSyncDeps {
  return {
    sync: runtime.syncDeps,
    state: runtime.stores.checkpoints,
    queue: fullSyncQueue(runtime),
    options: {
      dataverseCompanyId: runtime.syncDeps.options.dataverseCompanyId,
      bulk: {
        executionBudgetMs: runtime.settings.DATAVERSE_EXECUTION_LIMIT_SECONDS * 1000,
        executionWindowMs: runtime.settings.DATAVERSE_LIMIT_WINDOW_SECONDS * 1000,
      },
      ...options,
    },
  };
}
