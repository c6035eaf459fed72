import { workQueue } from '../adapters/servicebus/work-queue';
import { OPERATIONAL_QUEUE } from '../queues';
import { getRuntime, type Runtime } from '../runtime';
import { type CollectionWork, collectionWorkSchema } from './bc-collection';
import { collectionMessageId } from './bc-webhook';
import { type CaptureDeps, type CaptureLogLevel, DEFAULT_PUBLISH_TIMEOUT_MS } from './deps';

export interface CaptureOptions {
  /** See {@link CaptureDeps.publishTimeoutMs}. Default 10,000 ms. */
  publishTimeoutMs?: number;
  /** Where capture logs go. Default console (the Functions host collects it). */
  log?: (level: CaptureLogLevel, message: string) => void;
}

let options: CaptureOptions = {};
let cached: { runtime: Runtime; deps: CaptureDeps } | undefined;

/** Tests and the bench: shorter publish deadline, captured logs. Applies to the next `captureDeps()`. */
export function configureCapture(o: CaptureOptions): void {
  options = o;
  cached = undefined;
}

/** Change capture's dependencies over the process runtime (`getRuntime()`), built once per runtime. */
export async function captureDeps(): Promise<CaptureDeps> {
  const runtime = await getRuntime();
  if (cached?.runtime === runtime) return cached.deps;
  const deps = captureDepsFrom(runtime, options);
  cached = { runtime, deps };
  return deps;
}

export function captureDepsFrom(runtime: Runtime, o: CaptureOptions = {}): CaptureDeps {
  // BC collection notifications wait on their own queue for expansion (functions/bc-collection.ts).
  const collections = workQueue(runtime.serviceBus, OPERATIONAL_QUEUE.bcCollection, collectionWorkSchema, (body) => ({
    messageId: collectionMessageId(body),
    correlationId: body.correlationId,
    subject: body.entitySet,
  }));
  let integrationUser = runtime.integrationUserId;
  const log =
    o.log ??
    ((level: CaptureLogLevel, message: string) => {
      if (level === 'error') console.error(message);
      else if (level === 'warn') console.warn(message);
      else console.info(message);
    });
  return {
    settings: runtime.settings,
    mappings: () => runtime.mappings.all(),
    publish: (events) => runtime.publisher.publish(events),
    enqueueCollection: (work: CollectionWork) => collections.send(work),
    bc: runtime.bc,
    checkpoints: runtime.stores.checkpoints,
    couplings: runtime.stores.couplings,
    integrationUserId: async () => {
      // The runtime leaves it undefined when Dataverse was down at start-up; ask again rather than let echoes through.
      integrationUser ??= (await runtime.dataverse.whoAmI()).UserId.toLowerCase();
      return integrationUser;
    },
    clock: runtime.clock,
    publishTimeoutMs: o.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS,
    log,
    ...(runtime.syncDeps.options.company?.id ? { companyId: runtime.syncDeps.options.company.id } : {}),
  };
}
