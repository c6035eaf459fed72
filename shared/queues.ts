import { type DefaultMappingSetup, defaultMappings } from './domain/mappings/defaults';
import { CUSTOM_MAPPING_QUEUE } from './domain/mappings/queue';

/**
 * The one list of Service Bus queues. The code (workers, local host, the Service Bus emulator's declarations)
 * and the Bicep (`infra/queues.json`, written by `infra/generate-queues.ts`) both read it, so a queue the code
 * sends to always exists in Azure with the same settings.
 */

/** Queues for work that is not one table mapping's change, by role. */
export const OPERATIONAL_QUEUE = {
  /** BC `collection` notifications (> 1,000 changes in 30 s) expanded into per-record events asynchronously. */
  bcCollection: 'ops-bc-collection',
  /** Full-sync work items (one page or one record range of a mapping each). */
  fullSync: 'ops-full-sync',
  /** Sales orders submitted in Dynamics 365 Sales, created in BC ("Automatically Create Sales Orders"). */
  salesOrders: 'ops-sales-orders',
} as const;

/** The operational queues, for lists (name a queue by its role in {@link OPERATIONAL_QUEUE}). */
export const OPERATIONAL_QUEUES = [OPERATIONAL_QUEUE.bcCollection, OPERATIONAL_QUEUE.fullSync, OPERATIONAL_QUEUE.salesOrders] as const;
export type OperationalQueue = (typeof OPERATIONAL_QUEUES)[number];

/**
 * Settings of every queue. Azure (Bicep, through `infra/queues.json`) and the local emulator
 * (`emulatorQueueDeclarations`) apply the same values.
 *
 * - `maxDeliveryCount` 10: a message is tried 10 times (transient BC/Dataverse errors are also retried inside
 *   one delivery by the HTTP client) and then dead-lettered with `MaxDeliveryCountExceeded` for replay.
 * - `lockDurationSeconds` 300: the Service Bus maximum (5 min). A delivery that waits out a BC `Retry-After`
 *   or a slow BC write (operation timeout 8 min) keeps its lock through auto-renewal (host.json
 *   `maxAutoLockRenewalDuration`); the long base lock makes a lost renewal less likely to redeliver a message
 *   that is still being processed.
 * - `deadLetteringOnMessageExpiration`: an expired change is a lost change unless it is kept; the dead-letter
 *   queue keeps it for replay.
 * - `defaultMessageTimeToLive` P14D: long enough to survive a two-week outage of BC or Dataverse credentials.
 * - `requiresDuplicateDetection` with a 10-minute window: change events carry a deterministic message id
 *   (`changeEventMessageId`), so the same BC notification or Dataverse webhook delivered twice (BC retries for
 *   36 h on 5xx/408/429) is enqueued once. The id differs whenever the content to sync may differ (row version,
 *   notification id); a *deliberate* re-send of the same event (retry, reconcile, replay, rescheduling after
 *   `Retry-After`, deferral until a parent is coupled) must use a different message id, or Service Bus drops it
 *   inside the window — accepted by the broker, so the sender never learns of it.
 *   Duplicate detection cannot be switched on or off for an existing queue (it must be recreated).
 */
export const QUEUE_SETTINGS = {
  maxDeliveryCount: 10,
  lockDurationSeconds: 300,
  deadLetteringOnMessageExpiration: true,
  defaultMessageTimeToLive: 'P14D',
  requiresDuplicateDetection: true,
  duplicateDetectionHistoryTimeWindow: 'PT10M',
} as const;

const BOOLEANS = [false, true] as const;

/** Every combination of the connection switches that decide which default mappings (and so queues) exist. */
export function allDefaultMappingSetups(): DefaultMappingSetup[] {
  const setups: DefaultMappingSetup[] = [];
  for (const ownershipModel of ['Person', 'Team'] as const)
    for (const salesIntegration of BOOLEANS)
      for (const unitGroupMapping of BOOLEANS)
        for (const extendedPricing of BOOLEANS)
          for (const salesOrderIntegration of ['none', 'legacy', 'bidirectional'] as const)
            for (const defaultPriceListCodeSet of BOOLEANS)
              setups.push({
                ownershipModel,
                salesIntegration,
                unitGroupMapping,
                extendedPricing,
                salesOrderIntegration,
                defaultPriceListCodeSet,
              });
  return setups;
}

/**
 * Every queue any installation may use: each default mapping's queue over all setup variants (lines share
 * their header's queue), the one queue of user-defined mappings, then the operational queues. Deduplicated, mapping queues in BC's creation order.
 * Infrastructure creates all of them so switching a setup option never needs a redeployment.
 */
export function allQueueNames(): string[] {
  const names = new Set<string>();
  for (const setup of allDefaultMappingSetups()) for (const mapping of defaultMappings(setup)) names.add(mapping.queueName);
  names.add(CUSTOM_MAPPING_QUEUE);
  for (const name of OPERATIONAL_QUEUES) names.add(name);
  return [...names];
}

/** ISO 8601 duration of whole seconds (`PT5M`, `PT90S`), as ARM/Bicep expects for `lockDuration`. */
export function isoDurationFromSeconds(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds <= 0)
    throw new RangeError(`duration must be a positive whole number of seconds, got ${seconds}`);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `PT${h ? `${h}H` : ''}${m ? `${m}M` : ''}${s ? `${s}S` : ''}`;
}

/** Milliseconds of a `P<n>D` / `PT<n>H<n>M<n>S` duration (the forms QUEUE_SETTINGS uses). */
export function isoDurationToMs(duration: string): number {
  const match = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(duration);
  if (!match || duration === 'P' || duration.endsWith('T')) throw new RangeError(`'${duration}' is not a P<n>D / PT<n>H<n>M<n>S duration`);
  const [, d = '0', h = '0', m = '0', s = '0'] = match;
  return (((Number(d) * 24 + Number(h)) * 60 + Number(m)) * 60 + Number(s)) * 1000;
}

/** Queue declarations for the local Service Bus emulator (`dev/servicebus` `QueueOptions`), same settings as Azure. */
export function emulatorQueueDeclarations(): Array<{
  name: string;
  maxDeliveryCount: number;
  lockDurationMs: number;
  defaultMessageTtlMs: number;
  deadLetteringOnMessageExpiration: boolean;
  requiresDuplicateDetection: boolean;
  duplicateDetectionHistoryTimeWindowMs: number;
}> {
  return allQueueNames().map((name) => ({
    name,
    maxDeliveryCount: QUEUE_SETTINGS.maxDeliveryCount,
    lockDurationMs: QUEUE_SETTINGS.lockDurationSeconds * 1000,
    defaultMessageTtlMs: isoDurationToMs(QUEUE_SETTINGS.defaultMessageTimeToLive),
    deadLetteringOnMessageExpiration: QUEUE_SETTINGS.deadLetteringOnMessageExpiration,
    // Duplicate detection is on locally exactly as in Azure, so a message id that would be dropped there is
    // dropped here too and tests can see it.
    requiresDuplicateDetection: QUEUE_SETTINGS.requiresDuplicateDetection,
    duplicateDetectionHistoryTimeWindowMs: isoDurationToMs(QUEUE_SETTINGS.duplicateDetectionHistoryTimeWindow),
  }));
}

/** The content of `infra/queues.json`, which `infra/app/servicebus.bicep` loads with `loadJsonContent`. */
export interface QueuesDocument {
  $comment: string;
  queues: string[];
  maxDeliveryCount: number;
  lockDuration: string;
  deadLetteringOnMessageExpiration: boolean;
  defaultMessageTimeToLive: string;
  requiresDuplicateDetection: boolean;
  duplicateDetectionHistoryTimeWindow: string;
}

export function queuesDocument(): QueuesDocument {
  return {
    $comment:
      'Generated from shared/queues.ts by infra/generate-queues.ts. Do not edit: run `npx tsc -p infra/tsconfig.json && node dist/infra/generate-queues.js`.',
    queues: allQueueNames(),
    maxDeliveryCount: QUEUE_SETTINGS.maxDeliveryCount,
    lockDuration: isoDurationFromSeconds(QUEUE_SETTINGS.lockDurationSeconds),
    deadLetteringOnMessageExpiration: QUEUE_SETTINGS.deadLetteringOnMessageExpiration,
    defaultMessageTimeToLive: QUEUE_SETTINGS.defaultMessageTimeToLive,
    requiresDuplicateDetection: QUEUE_SETTINGS.requiresDuplicateDetection,
    duplicateDetectionHistoryTimeWindow: QUEUE_SETTINGS.duplicateDetectionHistoryTimeWindow,
  };
}
