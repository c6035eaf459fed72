import type { ServiceBusSender } from '@azure/service-bus';
import type { Runtime } from '../runtime';
import type { FullSyncDeps, FullSyncOptions, FullSyncWorkItem } from './full-sync';
import type { StatePort, WorkQueue } from './ports';

export const FULL_SYNC_QUEUE = 'ops-full-sync';

const senders = new WeakMap<Runtime, ServiceBusSender>();

/** The `ops-full-sync` queue of a runtime (one sender per runtime). */
export function fullSyncQueue(runtime: Runtime): WorkQueue<FullSyncWorkItem> {
  return {
    send: async (item, options = {}) => {
      let sender = senders.get(runtime);
      if (!sender) {
        sender = runtime.serviceBus.createSender(FULL_SYNC_QUEUE);
        senders.set(runtime, sender);
      }
      await sender.sendMessages({
        body: item,
        contentType: 'application/json',
        ...(options.messageId ? { messageId: options.messageId } : {}),
      });
    },
  };
}

/** Full-sync ports from the composition root. */
export function fullSyncDeps(runtime: Runtime, options: FullSyncOptions = {}): FullSyncDeps {
  return {
    sync: runtime.syncDeps,
    state: runtime.stores.checkpoints as unknown as StatePort,
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
