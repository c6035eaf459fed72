/**
 * In-memory message store for one queue and its dead-letter sub-queue. No AMQP here: links plug in as
 * `Consumer`s, and settlement arrives as lock tokens. The rules follow Service Bus queue semantics:
 * peek-lock with expiring locks, delivery counting, max-delivery-count dead-lettering, deferral,
 * scheduling and TTL expiry.
 */
import { randomUUID } from 'node:crypto';
import type { Message } from 'rhea';
import type { ResolvedQueueOptions } from './options';

export type MessageState = 'active' | 'deferred' | 'scheduled';

export interface StoredMessage {
  /** Unique within the entity, increasing in enqueue order (scheduled messages get theirs when scheduled). */
  readonly sequenceNumber: number;
  /** rhea's decoded form of the message as the client sent it; application properties may be updated. */
  amqp: Message;
  enqueuedAtMs: number;
  state: MessageState;
  scheduledAtMs?: number;
  expiresAtMs?: number;
  /** Deliveries so far. The AMQP header of a delivery carries the count *before* that delivery. */
  deliveryCount: number;
  /** Queue a dead-lettered message came from. */
  deadLetterSource?: string;
  lock?: { token: string; lockedUntilMs: number; expiry: Deadline };
  scheduleTimer?: Deadline;
}

/** One message handed to a consumer or returned by receive-by-sequence-number. */
export interface DeliveredMessage {
  message: StoredMessage;
  /** Header delivery count for this delivery (prior deliveries). */
  deliveryCount: number;
  /** Present in peek-lock mode. */
  lockToken?: string;
  lockedUntilMs?: number;
}

/** A receiving link, as the store sees it. */
export interface Consumer {
  readonly receiveAndDelete: boolean;
  /** True while the link has credit and room to send. */
  canDeliver(): boolean;
  deliver(delivery: DeliveredMessage): void;
}

export type Settlement =
  | { kind: 'complete' }
  | { kind: 'abandon'; propertiesToModify?: Record<string, unknown> }
  | { kind: 'defer'; propertiesToModify?: Record<string, unknown> }
  | {
      kind: 'deadLetter';
      reason?: string;
      description?: string;
      propertiesToModify?: Record<string, unknown>;
    }
  /** AMQP `released`: the client never looked at it, so the delivery does not count. */
  | { kind: 'release' };

export class LockLostError extends Error {}
export class MessageNotFoundError extends Error {}

export interface EntityStats {
  /** Messages in the active state, including locked ones (Service Bus `activeMessageCount`). */
  active: number;
  scheduled: number;
  deferred: number;
  /** Messages currently held under a peek-lock (active or deferred). */
  locked: number;
}

/**
 * A one-shot timer for an absolute time. Node timers overflow above 2^31-1 ms (~24.8 days) and would
 * fire at once, so long waits re-arm in steps. Unref'd: an idle emulator must not keep a process alive.
 */
class Deadline {
  private static readonly MAX_TIMER_MS = 2_147_483_647;
  private timer: NodeJS.Timeout;

  constructor(
    private readonly atMs: number,
    private readonly fire: () => void,
  ) {
    this.timer = this.arm();
  }

  private arm(): NodeJS.Timeout {
    const delay = this.atMs - Date.now();
    const timer =
      delay > Deadline.MAX_TIMER_MS
        ? setTimeout(() => {
            this.timer = this.arm();
          }, Deadline.MAX_TIMER_MS)
        : setTimeout(this.fire, Math.max(0, delay));
    timer.unref();
    return timer;
  }

  cancel(): void {
    clearTimeout(this.timer);
  }
}

/** Dead-letter reasons Service Bus itself uses. */
export const DeadLetterReason = {
  maxDeliveryCountExceeded: 'MaxDeliveryCountExceeded',
  ttlExpired: 'TTLExpiredException',
} as const;

/**
 * A message entity: a queue, or the dead-letter queue of one (`deadLetterTarget` undefined).
 */
export class MessageEntity {
  private nextSequenceNumber = 1;
  /** Every message held, in sequence-number order (Map keeps insertion order and inserts are monotonic). */
  private readonly messages = new Map<number, StoredMessage>();
  /** Active, unlocked messages in sequence order: what a receiver gets next. */
  private readonly ready: StoredMessage[] = [];
  private readonly locks = new Map<string, StoredMessage>();
  private readonly consumers: Consumer[] = [];
  private nextConsumer = 0;
  private pumping = false;
  /**
   * Duplicate detection history: message id key → when it was logged. Map order is logging order (a key is
   * logged once and never refreshed), so expired entries are always at the front.
   */
  private readonly sentIds = new Map<string, number>();
  /** Messages accepted but dropped as duplicates, for tests and `stats()`. */
  private droppedDuplicates = 0;

  constructor(
    /** Entity path as clients address it, e.g. `orders` or `orders/$deadletterqueue`. */
    readonly path: string,
    private readonly options: () => ResolvedQueueOptions,
    private readonly deadLetterTarget: MessageEntity | undefined,
  ) {}

  get isDeadLetterQueue(): boolean {
    return this.deadLetterTarget === undefined;
  }

  get size(): number {
    return this.messages.size;
  }

  // ------------------------------------------------------------------ enqueue

  /**
   * Stores a message; returns its sequence number. `scheduledAtMs` in the future holds it back until then.
   * With duplicate detection on, a message id already logged within the window is accepted (the sender sees
   * success) and dropped: the returned sequence number then belongs to no message.
   */
  enqueue(amqp: Message, scheduledAtMs?: number): number {
    // The SDK's lock renewer and the Functions trigger metadata both need a message id; Service Bus
    // assigns one when the sender did not.
    if (amqp.message_id === undefined || amqp.message_id === null || amqp.message_id === '') {
      amqp.message_id = randomUUID().replace(/-/g, '');
    }
    const now = Date.now();
    if (this.isDuplicate(amqp, now)) {
      this.droppedDuplicates++;
      return this.nextSequenceNumber++;
    }
    const message: StoredMessage = {
      sequenceNumber: this.nextSequenceNumber++,
      amqp,
      enqueuedAtMs: now,
      state: 'active',
      deliveryCount: 0,
    };
    this.messages.set(message.sequenceNumber, message);
    if (scheduledAtMs !== undefined && scheduledAtMs > now) {
      message.state = 'scheduled';
      message.scheduledAtMs = scheduledAtMs;
      message.scheduleTimer = new Deadline(scheduledAtMs, () => this.activateScheduled(message));
    } else {
      this.activate(message, now);
    }
    return message.sequenceNumber;
  }

  /**
   * Service Bus duplicate detection (learn.microsoft.com/azure/service-bus-messaging/duplicate-detection): only the
   * `MessageId` counts (queues here are never partitioned), every message sent to the queue within the window is
   * logged, scheduled ones included (a scheduled and a plain send with one id are duplicates either way), and a
   * duplicate is reported as accepted. Dead-letter queues take no sends, so they keep no history. Logs and
   * checks in one step, so a batch carrying one id twice keeps only its first copy.
   */
  private isDuplicate(amqp: Message, nowMs: number): boolean {
    const options = this.options();
    if (this.isDeadLetterQueue || !options.requiresDuplicateDetection) return false;
    const horizon = nowMs - options.duplicateDetectionHistoryTimeWindowMs;
    for (const [key, at] of this.sentIds) {
      if (at > horizon) break;
      this.sentIds.delete(key);
    }
    const key = messageIdKey(amqp.message_id);
    if (this.sentIds.has(key)) return true;
    this.sentIds.set(key, nowMs);
    return false;
  }

  /** Messages accepted and dropped by duplicate detection since the queue was declared. */
  get duplicatesDropped(): number {
    return this.droppedDuplicates;
  }

  /** Cancels scheduled messages. Unknown or already-enqueued sequence numbers are an error, like the service. */
  cancelScheduled(sequenceNumbers: number[]): void {
    const missing = sequenceNumbers.filter((n) => this.messages.get(n)?.state !== 'scheduled');
    if (missing.length > 0) {
      throw new MessageNotFoundError(
        `No scheduled message with sequence number ${missing.join(', ')} in '${this.path}' (already enqueued, cancelled or never scheduled).`,
      );
    }
    for (const n of sequenceNumbers) {
      const message = this.messages.get(n);
      message?.scheduleTimer?.cancel();
      this.messages.delete(n);
    }
  }

  private activateScheduled(message: StoredMessage): void {
    message.scheduleTimer = undefined;
    if (this.messages.get(message.sequenceNumber) !== message) return; // cancelled meanwhile
    this.activate(message, Date.now());
  }

  private activate(message: StoredMessage, nowMs: number): void {
    message.state = 'active';
    message.enqueuedAtMs = nowMs;
    message.expiresAtMs = this.expiryFor(message, nowMs);
    this.makeReady(message);
  }

  private expiryFor(message: StoredMessage, fromMs: number): number | undefined {
    if (this.isDeadLetterQueue) return undefined; // the dead-letter queue keeps messages until removed
    const own = typeof message.amqp.ttl === 'number' && message.amqp.ttl > 0 ? message.amqp.ttl : undefined;
    const queueDefault = this.options().defaultMessageTtlMs;
    const ttl = own === undefined ? queueDefault : queueDefault === undefined ? own : Math.min(own, queueDefault);
    return ttl === undefined ? undefined : fromMs + ttl;
  }

  // ------------------------------------------------------------------ delivery to links

  addConsumer(consumer: Consumer): void {
    this.consumers.push(consumer);
    this.pump();
  }

  removeConsumer(consumer: Consumer): void {
    const i = this.consumers.indexOf(consumer);
    if (i >= 0) this.consumers.splice(i, 1);
  }

  /** Hands ready messages to consumers with credit, round-robin. Call when credit or messages appear. */
  pump(): void {
    if (this.pumping) return; // deliver() must not re-enter through a synchronous credit event
    this.pumping = true;
    try {
      while (this.ready.length > 0) {
        const consumer = this.pickConsumer();
        if (!consumer) break;
        const message = this.ready.shift() as StoredMessage;
        if (this.isExpired(message, Date.now())) {
          this.expire(message);
          continue;
        }
        if (consumer.receiveAndDelete) {
          this.messages.delete(message.sequenceNumber);
          consumer.deliver({ message, deliveryCount: message.deliveryCount++ });
        } else {
          consumer.deliver(this.lock(message));
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private pickConsumer(): Consumer | undefined {
    for (let i = 0; i < this.consumers.length; i++) {
      const index = (this.nextConsumer + i) % this.consumers.length;
      const consumer = this.consumers[index];
      if (consumer?.canDeliver()) {
        this.nextConsumer = index + 1;
        return consumer;
      }
    }
    return undefined;
  }

  private lock(message: StoredMessage): DeliveredMessage {
    const token = randomUUID();
    const lockedUntilMs = Date.now() + this.options().lockDurationMs;
    message.lock = { token, lockedUntilMs, expiry: new Deadline(lockedUntilMs, () => this.onLockExpired(message, token)) };
    this.locks.set(token, message);
    const deliveryCount = message.deliveryCount++;
    return { message, deliveryCount, lockToken: token, lockedUntilMs };
  }

  private unlock(message: StoredMessage): void {
    if (!message.lock) return;
    message.lock.expiry.cancel();
    this.locks.delete(message.lock.token);
    message.lock = undefined;
  }

  private onLockExpired(message: StoredMessage, token: string): void {
    if (message.lock?.token !== token) return;
    // Expiry counts as a failed delivery, exactly like an abandon.
    this.unlock(message);
    this.returnAfterFailedDelivery(message);
  }

  private returnAfterFailedDelivery(message: StoredMessage): void {
    if (message.state === 'deferred') return; // deferred messages stay deferred
    if (this.deadLetterTarget && message.deliveryCount >= this.options().maxDeliveryCount) {
      this.moveToDeadLetter(message, {
        DeadLetterReason: DeadLetterReason.maxDeliveryCountExceeded,
        DeadLetterErrorDescription: `Message could not be consumed after ${message.deliveryCount} delivery attempts.`,
      });
      return;
    }
    this.makeReady(message);
  }

  private makeReady(message: StoredMessage): void {
    // Binary insert: abandoned messages go back to their place in sequence order, as in Service Bus.
    let lo = 0;
    let hi = this.ready.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ready[mid] as StoredMessage).sequenceNumber < message.sequenceNumber) lo = mid + 1;
      else hi = mid;
    }
    this.ready.splice(lo, 0, message);
    this.pump();
  }

  // ------------------------------------------------------------------ settlement

  /** Settles a locked message. Throws `LockLostError` when the lock expired, was settled, or never existed. */
  settle(lockToken: string, settlement: Settlement): void {
    const message = this.locks.get(lockToken);
    if (!message) {
      throw new LockLostError(
        `The lock supplied is invalid. Either the lock expired, or the message has already been removed from '${this.path}'.`,
      );
    }
    this.unlock(message);
    switch (settlement.kind) {
      case 'complete':
        this.messages.delete(message.sequenceNumber);
        return;
      case 'release':
        message.deliveryCount = Math.max(0, message.deliveryCount - 1);
        if (message.state !== 'deferred') this.makeReady(message);
        return;
      case 'abandon':
        applyProperties(message, settlement.propertiesToModify);
        this.returnAfterFailedDelivery(message);
        return;
      case 'defer':
        applyProperties(message, settlement.propertiesToModify);
        message.state = 'deferred';
        return;
      case 'deadLetter': {
        const props: Record<string, unknown> = { ...settlement.propertiesToModify };
        if (settlement.reason !== undefined) props.DeadLetterReason = settlement.reason;
        if (settlement.description !== undefined) props.DeadLetterErrorDescription = settlement.description;
        this.moveToDeadLetter(message, props);
        return;
      }
    }
  }

  /** Extends a lock by the queue's lock duration from now. */
  renewLock(lockToken: string): number {
    const message = this.locks.get(lockToken);
    if (!message?.lock) {
      throw new LockLostError(`The lock supplied is invalid or expired for '${this.path}'.`);
    }
    message.lock.expiry.cancel();
    const lockedUntilMs = Date.now() + this.options().lockDurationMs;
    message.lock.lockedUntilMs = lockedUntilMs;
    message.lock.expiry = new Deadline(lockedUntilMs, () => this.onLockExpired(message, lockToken));
    return lockedUntilMs;
  }

  hasLock(lockToken: string): boolean {
    return this.locks.has(lockToken);
  }

  private moveToDeadLetter(message: StoredMessage, properties: Record<string, unknown>): void {
    message.amqp.application_properties = { ...message.amqp.application_properties, ...properties };
    if (!this.deadLetterTarget) {
      // Dead-lettering a dead-letter message: it stays where it is with the new reason, unlocked again.
      message.state = 'active';
      this.makeReady(message);
      return;
    }
    this.messages.delete(message.sequenceNumber);
    this.deadLetterTarget.acceptDeadLetter(message, this.options().name);
  }

  private acceptDeadLetter(from: StoredMessage, source: string): void {
    const message: StoredMessage = {
      sequenceNumber: this.nextSequenceNumber++,
      amqp: from.amqp,
      // Service Bus keeps the original enqueue time and delivery count on dead-lettered messages.
      enqueuedAtMs: from.enqueuedAtMs,
      state: 'active',
      deliveryCount: from.deliveryCount,
      deadLetterSource: source,
    };
    this.messages.set(message.sequenceNumber, message);
    this.makeReady(message);
  }

  private isExpired(message: StoredMessage, nowMs: number): boolean {
    return message.expiresAtMs !== undefined && message.expiresAtMs <= nowMs;
  }

  private expire(message: StoredMessage): void {
    if (this.options().deadLetteringOnMessageExpiration) {
      this.moveToDeadLetter(message, {
        DeadLetterReason: DeadLetterReason.ttlExpired,
        DeadLetterErrorDescription: 'The message expired and was dead lettered.',
      });
    } else {
      this.messages.delete(message.sequenceNumber);
    }
  }

  /** Expiry is applied lazily; reads that report state call this first so counts are never stale. */
  private purgeExpired(): void {
    const now = Date.now();
    for (let i = this.ready.length - 1; i >= 0; i--) {
      const message = this.ready[i] as StoredMessage;
      if (this.isExpired(message, now)) {
        this.ready.splice(i, 1);
        this.expire(message);
      }
    }
  }

  // ------------------------------------------------------------------ $management reads

  /** Browses messages from a sequence number on, without locking (active, locked, deferred and scheduled). */
  peek(fromSequenceNumber: number, maxCount: number): StoredMessage[] {
    this.purgeExpired();
    const out: StoredMessage[] = [];
    for (const message of this.messages.values()) {
      if (message.sequenceNumber < fromSequenceNumber) continue;
      out.push(message);
      if (out.length >= maxCount) break;
    }
    return out;
  }

  /** Receives deferred messages by sequence number. */
  receiveDeferred(sequenceNumbers: number[], receiveAndDelete: boolean): DeliveredMessage[] {
    const problems = sequenceNumbers.filter((n) => {
      const m = this.messages.get(n);
      return m === undefined || m.state !== 'deferred' || m.lock !== undefined;
    });
    if (problems.length > 0) {
      throw new MessageNotFoundError(`No deferred, unlocked message with sequence number ${problems.join(', ')} in '${this.path}'.`);
    }
    return sequenceNumbers.map((n) => {
      const message = this.messages.get(n) as StoredMessage;
      if (receiveAndDelete) {
        this.messages.delete(n);
        return { message, deliveryCount: message.deliveryCount++ };
      }
      return this.lock(message);
    });
  }

  stats(): EntityStats {
    this.purgeExpired();
    const stats: EntityStats = { active: 0, scheduled: 0, deferred: 0, locked: 0 };
    for (const m of this.messages.values()) {
      stats[m.state]++;
      if (m.lock) stats.locked++;
    }
    return stats;
  }
}

/**
 * AMQP message ids may be strings, ulongs, uuids or binary; Service Bus compares them as the same value of the
 * same type. Strings are compared exactly (case-sensitively): the docs do not say otherwise, and the stricter
 * reading drops fewer distinct messages only when ids differ in case, which ours never do.
 */
function messageIdKey(id: unknown): string {
  if (Buffer.isBuffer(id)) return `b:${id.toString('hex')}`;
  return `${typeof id}:${String(id)}`;
}

function applyProperties(message: StoredMessage, properties: Record<string, unknown> | undefined): void {
  if (!properties || Object.keys(properties).length === 0) return;
  message.amqp.application_properties = { ...message.amqp.application_properties, ...properties };
}

/** A queue with its dead-letter sub-queue. Options are read live so `declareQueue` can update them. */
export class Queue {
  readonly main: MessageEntity;
  readonly deadLetter: MessageEntity;
  private settings: ResolvedQueueOptions;

  constructor(options: ResolvedQueueOptions) {
    this.settings = options;
    this.deadLetter = new MessageEntity(`${options.name}/$deadletterqueue`, () => this.settings, undefined);
    this.main = new MessageEntity(options.name, () => this.settings, this.deadLetter);
  }

  get options(): ResolvedQueueOptions {
    return this.settings;
  }

  update(options: ResolvedQueueOptions): void {
    if (options.requiresDuplicateDetection !== this.settings.requiresDuplicateDetection) {
      // enable-duplicate-detection.md: duplicate detection cannot be enabled or disabled after the queue is created.
      throw new Error(
        `Queue '${options.name}': requiresDuplicateDetection cannot be changed on an existing queue; delete and recreate it.`,
      );
    }
    this.settings = options;
  }
}
