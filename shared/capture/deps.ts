import type { BcClient } from '../adapters/bc/client';
import type { Settings } from '../config';
import type { ChangeEvent } from '../domain/change-event';
import type { TableMapping } from '../domain/mappings/schema';
import type { Clock, CouplingStore } from '../domain/ports';
import { SyncError } from '../errors';
import type { StatePort } from '../operations/ports';
import type { CollectionWork } from './bc-collection';

export type CaptureLogLevel = 'info' | 'warn' | 'error';

/** What capture asks of BC: pages for polling and collections, and webhook subscriptions. */
export type CaptureBc = Pick<
  BcClient,
  | 'apiRoot'
  | 'environmentRoot'
  | 'listAll'
  | 'listPage'
  | 'webhookSupportedResources'
  | 'listSubscriptions'
  | 'createSubscription'
  | 'renewSubscription'
  | 'deleteSubscription'
>;

/** What change capture needs from the outside world; `context.ts` builds it from the runtime. */
export interface CaptureDeps {
  settings: Pick<Settings, 'BC_WEBHOOK_SECRET' | 'DATAVERSE_WEBHOOK_KEY' | 'PUBLIC_BASE_URL' | 'BC_COMPANY_ID'>;
  /** The current table mappings (all of them; capture filters by `enabled` and `changeCapture`). */
  mappings(): Promise<TableMapping[]>;
  /** Change events onto their mapping's queue; resolves only once the broker accepted them. */
  publish(events: ChangeEvent[]): Promise<void>;
  /** A collection notification onto `ops-bc-collection`; resolves only once the broker accepted it. */
  enqueueCollection(work: CollectionWork): Promise<void>;
  bc: CaptureBc;
  /** Subscription state and BC polling watermarks. */
  checkpoints: StatePort;
  couplings: CouplingStore;
  /** systemuserid of the integration user (setting, else WhoAmI); changes it made are echoes. */
  integrationUserId(): Promise<string>;
  /** Our idea of "now" (BC's clock in tests that move the simulator's clock). */
  clock: Clock;
  /**
   * How long a webhook waits for the broker before answering 503. Default 10,000 ms: well inside BC's 30 s and
   * Dataverse's 60 s timeouts, so the sender sees a retryable 503 rather than a timeout.
   */
  publishTimeoutMs: number;
  log(level: CaptureLogLevel, message: string): void;
  /**
   * Multi-company: this installation's company row id. A Dataverse change whose row carries another company is not
   * queued for mappings with BC's company clause (the engine's filter would skip it anyway, after a read).
   */
  companyId?: string;
}

export const DEFAULT_PUBLISH_TIMEOUT_MS = 10_000;

/** Runs `send` and fails with QUEUE.UNAVAILABLE when it fails or does not finish within the deadline. */
export async function withinDeadline(what: string, timeoutMs: number, send: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new SyncError('QUEUE.UNAVAILABLE', `Service Bus did not accept ${what} within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([send(), deadline]);
  } catch (err) {
    if (err instanceof SyncError) throw err;
    throw new SyncError('QUEUE.UNAVAILABLE', `Service Bus did not accept ${what}: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
