import { z } from 'zod';

/**
 * Queue declaration. Names follow Service Bus rules loosely (letters, digits, `.-_/`), and are matched
 * case-insensitively like the real service.
 */
export interface QueueOptions {
  /** Queue name, e.g. `bc-changes`. */
  name: string;
  /** Deliveries before a message moves to the dead-letter queue with `MaxDeliveryCountExceeded`. Default 10. */
  maxDeliveryCount?: number;
  /** Peek-lock duration in ms. Default 60000 (the Service Bus default of one minute). */
  lockDurationMs?: number;
  /** Default time to live in ms; a message's own `timeToLive` wins when shorter. Default: unlimited. */
  defaultMessageTtlMs?: number;
  /** Expired messages go to the dead-letter queue (`TTLExpiredException`) instead of being dropped. Default false. */
  deadLetteringOnMessageExpiration?: boolean;
  /**
   * Duplicate detection (Service Bus `requiresDuplicateDetection`): a message whose `messageId` was already sent to
   * the queue within `duplicateDetectionHistoryTimeWindowMs` is accepted and silently dropped. Default false, as
   * in Service Bus. Cannot be changed on an existing queue (the service refuses it too).
   */
  requiresDuplicateDetection?: boolean;
  /** How long sent message ids are remembered, in ms. Default 600000 (10 min); 20 s .. 7 days as in Service Bus. */
  duplicateDetectionHistoryTimeWindowMs?: number;
}

export interface ServiceBusEmulatorOptions {
  /** Loopback address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** TCP port. Default 5672 (the AMQP port the SDK uses with `UseDevelopmentEmulator=true`); 0 = ephemeral. */
  port?: number;
  /** Queues that exist from the start. */
  queues: QueueOptions[];
  /** Create unknown queues on first use instead of answering `MessagingEntityNotFound`. Default false. */
  autoCreateQueues?: boolean;
}

export const DEFAULT_MAX_DELIVERY_COUNT = 10;
export const DEFAULT_LOCK_DURATION_MS = 60_000;
export const DEFAULT_PORT = 5672;
export const DEFAULT_HOST = '127.0.0.1';
/** Service Bus duplicate detection window: default 10 minutes, minimum 20 seconds, maximum 7 days (duplicate-detection.md). */
export const DEFAULT_DUPLICATE_DETECTION_WINDOW_MS = 600_000;
export const MIN_DUPLICATE_DETECTION_WINDOW_MS = 20_000;
export const MAX_DUPLICATE_DETECTION_WINDOW_MS = 7 * 24 * 3_600_000;

/** Queue options after defaults are applied; the store reads these on every decision. */
export interface ResolvedQueueOptions {
  name: string;
  maxDeliveryCount: number;
  lockDurationMs: number;
  defaultMessageTtlMs: number | undefined;
  deadLetteringOnMessageExpiration: boolean;
  requiresDuplicateDetection: boolean;
  duplicateDetectionHistoryTimeWindowMs: number;
}

// Service Bus allows up to 260 chars; `$` is reserved for sub-queues ($deadletterqueue, $management).
const queueName = z
  .string()
  .min(1)
  .max(260)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._\-/]*$/, 'letters, digits, ".", "_", "-", "/" only; must start with a letter or digit');

export const queueOptionsSchema = z.strictObject({
  name: queueName,
  maxDeliveryCount: z.int().min(1).max(2000).optional(),
  // Service Bus accepts 5 s .. 5 min; shorter locks are allowed here because tests exercise expiry.
  lockDurationMs: z.int().min(100).max(300_000).optional(),
  defaultMessageTtlMs: z.int().min(1).optional(),
  deadLetteringOnMessageExpiration: z.boolean().optional(),
  requiresDuplicateDetection: z.boolean().optional(),
  // Unlike the lock duration, the documented bounds are kept: a shorter window would hide drops tests must see.
  duplicateDetectionHistoryTimeWindowMs: z.int().min(MIN_DUPLICATE_DETECTION_WINDOW_MS).max(MAX_DUPLICATE_DETECTION_WINDOW_MS).optional(),
});

// Project rule: only loopback addresses.
const loopbackHost = z.string().refine((h) => h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h), {
  message: 'must be a loopback address (127.x.x.x, ::1 or localhost)',
});

export const emulatorOptionsSchema = z.strictObject({
  host: loopbackHost.optional(),
  port: z.int().min(0).max(65_535).optional(),
  queues: z.array(queueOptionsSchema),
  autoCreateQueues: z.boolean().optional(),
});

/** Validates options with a message naming every bad field. */
export function parseEmulatorOptions(input: unknown): ServiceBusEmulatorOptions {
  const result = emulatorOptionsSchema.safeParse(input);
  if (!result.success) {
    throw new Error(`Invalid Service Bus emulator options:\n${z.prettifyError(result.error)}`);
  }
  return result.data;
}

export function parseQueueOptions(input: unknown): QueueOptions {
  const result = queueOptionsSchema.safeParse(input);
  if (!result.success) {
    throw new Error(`Invalid queue options:\n${z.prettifyError(result.error)}`);
  }
  return result.data;
}

export function resolveQueueOptions(q: QueueOptions): ResolvedQueueOptions {
  return {
    name: q.name,
    maxDeliveryCount: q.maxDeliveryCount ?? DEFAULT_MAX_DELIVERY_COUNT,
    lockDurationMs: q.lockDurationMs ?? DEFAULT_LOCK_DURATION_MS,
    defaultMessageTtlMs: q.defaultMessageTtlMs,
    deadLetteringOnMessageExpiration: q.deadLetteringOnMessageExpiration ?? false,
    requiresDuplicateDetection: q.requiresDuplicateDetection ?? false,
    duplicateDetectionHistoryTimeWindowMs: q.duplicateDetectionHistoryTimeWindowMs ?? DEFAULT_DUPLICATE_DETECTION_WINDOW_MS,
  };
}
