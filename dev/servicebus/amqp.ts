/**
 * AMQP-level helpers: Service Bus wire conventions and the few rhea internals the broker side needs.
 * Everything that reaches below rhea's typed API is kept in this file so a rhea upgrade has one place
 * to check (rhea is pinned at 3.0.5).
 */
import { type Delivery, type link, type Message, message as rheaMessage, type Sender, string_to_uuid, types, uuid_to_string } from 'rhea';

/** Message format of the SDK's batch envelope: one AMQP message whose `data` sections are encoded messages. */
export const BATCH_MESSAGE_FORMAT = 0x80013700;

/** Service Bus Standard tier limit; the SDK sizes `ServiceBusMessageBatch` from the value we put in our attach. */
export const MAX_MESSAGE_SIZE_BYTES = 256 * 1024;

/** Broker-owned message annotations (the SDK reads these to fill in received-message properties). */
export const Annotation = {
  sequenceNumber: 'x-opt-sequence-number',
  enqueuedTime: 'x-opt-enqueued-time',
  lockedUntil: 'x-opt-locked-until',
  messageState: 'x-opt-message-state',
  deadLetterSource: 'x-opt-deadletter-source',
  scheduledEnqueueTime: 'x-opt-scheduled-enqueue-time',
} as const;

/** Values of `x-opt-message-state`, as the SDK maps them (0 active, 1 deferred, 2 scheduled). */
export const MessageStateCode = { active: 0, deferred: 1, scheduled: 2 } as const;

export const Condition = {
  notFound: 'amqp:not-found',
  lockLost: 'com.microsoft:message-lock-lost',
  messageNotFound: 'com.microsoft:message-not-found',
  deadLetter: 'com.microsoft:dead-letter',
  internalError: 'amqp:internal-error',
  notImplemented: 'amqp:not-implemented',
  invalidField: 'amqp:invalid-field',
  connectionForced: 'amqp:connection:forced',
} as const;

// ---------------------------------------------------------------------------------------------
// Lock tokens
// ---------------------------------------------------------------------------------------------

// Service Bus puts the lock token on the wire as a .NET Guid (first three fields little-endian).
// The SDK reverses that for link deliveries only; $management requests and responses use the plain
// RFC 4122 byte order. The swap is its own inverse, so one function converts both ways.
const GUID_BYTE_ORDER = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15] as const;

function swapGuidByteOrder(bytes: Buffer): Buffer {
  const out = Buffer.alloc(16);
  GUID_BYTE_ORDER.forEach((from, to) => {
    out[to] = bytes[from] ?? 0;
  });
  return out;
}

/** Delivery tag for a link transfer, such that the SDK derives exactly `lockToken`. */
export function deliveryTagForLockToken(lockToken: string): Buffer {
  return swapGuidByteOrder(string_to_uuid(lockToken));
}

/** Lock token from a `uuid` value in a $management request (plain byte order). */
export function lockTokenFromUuid(value: unknown): string | undefined {
  if (Buffer.isBuffer(value) && value.length === 16) return uuid_to_string(value);
  if (typeof value === 'string' && /^[0-9a-f-]{36}$/i.test(value)) return value.toLowerCase();
  return undefined;
}

export function lockTokenToUuid(lockToken: string): unknown {
  return types.wrap_uuid(string_to_uuid(lockToken));
}

// ---------------------------------------------------------------------------------------------
// Message encoding
// ---------------------------------------------------------------------------------------------

/** Broker-side facts attached to a message each time it leaves the broker. */
export interface OutgoingAnnotations {
  sequenceNumber: number;
  enqueuedAtMs: number;
  deliveryCount: number;
  lockedUntilMs?: number;
  state: keyof typeof MessageStateCode;
  deadLetterSource?: string;
}

/**
 * Encodes a stored message for a transfer or a $management response. The stored message is rhea's
 * decoded form (header and properties fields flattened onto the object), so a shallow copy with a new
 * header count and merged annotations re-encodes everything the client sent. Data sections (the SDK's
 * default body encoding) round-trip byte for byte.
 */
export function encodeOutgoing(stored: Message, facts: OutgoingAnnotations): Buffer {
  const annotations: Record<string, unknown> = { ...(stored.message_annotations ?? {}) };
  annotations[Annotation.sequenceNumber] = types.wrap_long(facts.sequenceNumber);
  annotations[Annotation.enqueuedTime] = types.wrap_timestamp(facts.enqueuedAtMs);
  if (facts.lockedUntilMs !== undefined) {
    annotations[Annotation.lockedUntil] = types.wrap_timestamp(facts.lockedUntilMs);
  } else {
    delete annotations[Annotation.lockedUntil];
  }
  if (facts.state !== 'active') {
    annotations[Annotation.messageState] = types.wrap_int(MessageStateCode[facts.state]);
  } else {
    delete annotations[Annotation.messageState];
  }
  if (facts.deadLetterSource !== undefined) {
    annotations[Annotation.deadLetterSource] = facts.deadLetterSource;
  }
  const copy: Message = Object.assign(Object.create(Object.getPrototypeOf(stored)) as Message, stored, {
    delivery_count: facts.deliveryCount,
    message_annotations: annotations,
    delivery_annotations: undefined,
  });
  return rheaMessage.encode(copy);
}

/** Decodes one encoded AMQP message. (rhea types `decode` with a second, looser Message interface.) */
export function decodeMessage(bytes: Buffer): Message {
  return rheaMessage.decode(bytes) as unknown as Message;
}

/** Decodes an incoming transfer into the individual messages it carries (one, or a batch's many). */
export function decodeTransfer(payload: Message | Buffer, format: number | undefined): Message[] {
  if (!Buffer.isBuffer(payload)) return [payload];
  if (format !== BATCH_MESSAGE_FORMAT) {
    throw new AmqpFailure(Condition.notImplemented, `Unsupported message format 0x${(format ?? 0).toString(16)}.`);
  }
  const envelope = decodeMessage(payload);
  const body: unknown = envelope.body;
  // rhea decodes data sections into a Section { typecode: 0x75, content, multiple }.
  if (!isDataSection(body)) {
    throw new AmqpFailure(Condition.invalidField, 'Batch envelope must carry its messages as data sections.');
  }
  const parts = body.multiple ? (body.content as unknown[]) : [body.content];
  return parts.map((part) => {
    if (!Buffer.isBuffer(part)) throw new AmqpFailure(Condition.invalidField, 'Batch section is not binary.');
    return decodeMessage(part);
  });
}

function isDataSection(v: unknown): v is { typecode: number; content: unknown; multiple?: boolean } {
  return typeof v === 'object' && v !== null && (v as { typecode?: unknown }).typecode === 0x75;
}

// ---------------------------------------------------------------------------------------------
// Outcomes and errors
// ---------------------------------------------------------------------------------------------

/** An AMQP error to send back to the client (disposition, detach or $management status). */
export class AmqpFailure extends Error {
  constructor(
    readonly condition: string,
    description: string,
    readonly statusCode = 500,
  ) {
    super(description);
  }
  toAmqpError(): { condition: string; description: string } {
    return { condition: this.condition, description: this.message };
  }
}

interface OutcomeComposite {
  described(): unknown;
}
// rhea defines these outcome constructors at run time but does not type them.
const outcomes = rheaMessage as unknown as {
  accepted(): OutcomeComposite;
  rejected(fields: { error?: { condition: string; description?: string } }): OutcomeComposite;
  modified(fields: { delivery_failed?: boolean; undeliverable_here?: boolean }): OutcomeComposite;
  released(): OutcomeComposite;
};

export type OutcomeState = unknown;
export const acceptedState = (): OutcomeState => outcomes.accepted().described();
export const releasedState = (): OutcomeState => outcomes.released().described();
export const modifiedState = (undeliverableHere: boolean): OutcomeState =>
  outcomes.modified({ delivery_failed: !undeliverableHere, undeliverable_here: undeliverableHere }).described();
/** Rejected *without* error: the SDK treats any error on the settled state as a failed settlement. */
export const rejectedState = (error?: AmqpFailure): OutcomeState =>
  outcomes.rejected(error ? { error: error.toAmqpError() } : {}).described();

function isAcceptedState(state: OutcomeState): boolean {
  const descriptor = (state as { descriptor?: { value?: unknown } } | undefined)?.descriptor?.value;
  return descriptor === 0x24 || descriptor === 'amqp:accepted:list';
}

/**
 * Settles deliveries so that rhea never merges two different outcomes into one disposition frame.
 *
 * rhea 3.0.5 batches the dispositions of one tick per session, and only compares outcomes once a range
 * already holds two deliveries: settling delivery N (abandon) and N+1 (lock lost) in the same tick goes
 * out as one frame carrying the first outcome. The SDK would then resolve a settlement that actually
 * failed. This queue releases either a run of `accepted` settlements (rhea may merge those safely) or a
 * single other outcome per macrotask; `setImmediate` lets rhea's `nextTick` flush run in between.
 */
export class OrderedSettler {
  private pending: Array<{ delivery: Delivery; state: OutcomeState }> = [];
  private scheduled = false;

  settle(delivery: Delivery, state: OutcomeState): void {
    this.pending.push({ delivery, state });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const first = this.pending[0];
    if (!first) return;
    let take = 1;
    if (isAcceptedState(first.state)) {
      while (take < this.pending.length && isAcceptedState(this.pending[take]?.state)) take++;
    }
    const batch = this.pending.splice(0, take);
    for (const { delivery, state } of batch) {
      // A delivery whose link is gone cannot carry a disposition any more; rhea would throw.
      if (!delivery.link.is_open()) continue;
      delivery.update(true, state);
      if (delivery.link.is_sender()) forgetSettledTransfer(delivery);
    }
    if (this.pending.length > 0) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  };
}

/**
 * Lets rhea drop one of our transfers once we have settled it.
 *
 * rhea frees an outgoing delivery only when both ends have settled it. In peek-lock the SDK's
 * receiver settles *second* (rcv_settle_mode=second) and then settles silently, sending no frame,
 * so every peek-lock delivery would stay in the session's 2048-slot buffer and the link would stall
 * after 2048 messages. Our settled disposition is the last word on the delivery, so mark it done.
 */
function forgetSettledTransfer(delivery: Delivery): void {
  (delivery as unknown as { remote_settled: boolean }).remote_settled = true;
}

// ---------------------------------------------------------------------------------------------
// Link internals
// ---------------------------------------------------------------------------------------------

interface LinkInternals {
  local: { attach: Record<string, unknown> };
  remote: { attach?: Record<string, unknown> };
}

/** Fields of the attach frame we are about to send back (rhea writes it on the next tick). */
export function setLocalAttachField(l: link, field: string, value: unknown): void {
  (l as unknown as LinkInternals).local.attach[field] = value;
}

export function remoteAttachField(l: link, field: string): unknown {
  return (l as unknown as LinkInternals).remote.attach?.[field];
}

interface SenderDrainInternals {
  _draining: boolean;
  _drained: boolean;
  credit: number;
  delivery_count: number;
  _get_drain(): boolean;
}

/**
 * Makes a drain request always get its answering flow (drain=true, credit consumed).
 *
 * rhea's sender only answers a drain while it still has credit. When our transfers crossed the
 * client's drain flow and used up the credit, no answer goes out and the SDK waits for
 * `receiver_drained` until its drain timeout, then closes the receiver. The AMQP spec says the sender
 * must echo the drain in any case.
 */
export function answerEveryDrain(sender: Sender): void {
  const s = sender as unknown as SenderDrainInternals;
  s._get_drain = function answerDrain(this: SenderDrainInternals): boolean {
    if (this._draining && this._drained) {
      this.delivery_count += this.credit;
      this.credit = 0;
      this._drained = false; // answer once per drain request
      return true;
    }
    return false;
  };
}

/**
 * Credit still usable on a sender link, counting transfers we queued this tick.
 *
 * rhea only decrements `sender.credit` when it writes the transfer (next tick), so a synchronous loop
 * that checks `sendable()` after each `send()` would overrun the client's credit; the surplus stays
 * queued in rhea, bound to that link, locked but unseen by the client. A delivery has been written once
 * its id is below the session's `next_pending_delivery`.
 */
export class SenderCredit {
  private readonly queued: Delivery[] = [];

  constructor(private readonly sender: Sender) {}

  /** Call after every `sender.send()`. */
  record(delivery: Delivery): void {
    this.queued.push(delivery);
  }

  available(): number {
    const outgoing = (this.sender.session as unknown as { outgoing: { next_pending_delivery: number } }).outgoing;
    while (this.queued.length > 0 && (this.queued[0] as Delivery).id < outgoing.next_pending_delivery) {
      this.queued.shift();
    }
    const credit = (this.sender as unknown as { credit: number }).credit;
    return this.sender.sendable() ? credit - this.queued.length : 0;
  }
}
