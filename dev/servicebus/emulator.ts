/**
 * A small Service Bus-compatible AMQP 1.0 endpoint for dev and tests, built on rhea's server side.
 * The unmodified `@azure/service-bus` SDK connects to it with `UseDevelopmentEmulator=true` (plain TCP,
 * SASL ANONYMOUS, CBS still performed). Queues only; no sessions, topics or transactions.
 *
 * Link roles, by address:
 * - `$cbs`                          claims-based auth: every put-token is accepted (202)
 * - `<entity>/$management`          request/response operations (see management.ts)
 * - `<queue>` (client sender)       enqueue
 * - `<queue>[/$deadletterqueue]`    (client receiver) deliveries in peek-lock or receive-and-delete
 */
import net from 'node:net';
import {
  type AmqpError,
  type Connection,
  type ConnectionOptions,
  type Container,
  create_container,
  type Delivery,
  type EventContext,
  type link,
  type Message,
  type Receiver,
  type Sender,
} from 'rhea';
import {
  AmqpFailure,
  Annotation,
  acceptedState,
  answerEveryDrain,
  Condition,
  decodeTransfer,
  deliveryTagForLockToken,
  MAX_MESSAGE_SIZE_BYTES,
  modifiedState,
  OrderedSettler,
  type OutcomeState,
  rejectedState,
  releasedState,
  remoteAttachField,
  SenderCredit,
  setLocalAttachField,
} from './amqp';
import { encodeStored, handleManagementRequest } from './management';
import {
  DEFAULT_HOST,
  DEFAULT_PORT,
  parseEmulatorOptions,
  parseQueueOptions,
  type QueueOptions,
  type ResolvedQueueOptions,
  resolveQueueOptions,
  type ServiceBusEmulatorOptions,
} from './options';
import { type Consumer, type DeliveredMessage, LockLostError, type MessageEntity, Queue, type Settlement } from './queue';

/** How long stop() waits for a client to answer the AMQP close before dropping its socket. */
const STOP_GRACE_MS = 1000;

export interface QueueStats {
  /** Active messages including locked ones (Service Bus `activeMessageCount`). */
  active: number;
  scheduled: number;
  deferred: number;
  /** Messages currently under a peek-lock (a subset of active + deferred). */
  locked: number;
  /** Messages in `<queue>/$deadletterqueue`. */
  deadLettered: number;
}

type Address = { kind: 'cbs' } | { kind: 'management'; entityPath: string } | { kind: 'entity'; entityPath: string };

/** What one of our link endpoints is for. */
type LinkRole =
  | { kind: 'cbs-requests' }
  | { kind: 'management-requests'; entity: MessageEntity }
  | { kind: 'enqueue'; entity: MessageEntity }
  | { kind: 'reply' }
  | { kind: 'deliver'; entity: MessageEntity; consumer: LinkConsumer };

/** Per-connection bookkeeping. */
interface ConnectionState {
  readonly socket: net.Socket;
  /** Reply links by link name and by target address: requests name them in `reply_to`. */
  readonly replyLinks: Map<string, Sender>;
  readonly consumers: Set<LinkConsumer>;
  readonly settler: OrderedSettler;
}

/** A client receiver link, seen by the store as a consumer. */
class LinkConsumer implements Consumer {
  /** Peek-lock deliveries still waiting for the client's disposition. */
  readonly lockTokens = new WeakMap<Delivery, string>();
  private readonly credit: SenderCredit;

  constructor(
    readonly sender: Sender,
    readonly receiveAndDelete: boolean,
  ) {
    this.credit = new SenderCredit(sender);
  }

  canDeliver(): boolean {
    return this.sender.is_open() && this.credit.available() > 0;
  }

  deliver(d: DeliveredMessage): void {
    const payload = encodeStored(d.message, { deliveryCount: d.deliveryCount, lockedUntilMs: d.lockedUntilMs });
    // Format 0 with a Buffer tells rhea the payload is already encoded.
    const tag = d.lockToken === undefined ? undefined : deliveryTagForLockToken(d.lockToken);
    const delivery = this.sender.send(payload, tag, 0);
    this.credit.record(delivery);
    if (d.lockToken !== undefined) this.lockTokens.set(delivery, d.lockToken);
  }
}

export class ServiceBusEmulator {
  private readonly host: string;
  private readonly requestedPort: number;
  private readonly autoCreateQueues: boolean;
  private readonly queues = new Map<string, Queue>();
  private readonly container: Container;
  private readonly linkRoles = new WeakMap<link, LinkRole>();
  private readonly connections = new Map<Connection, ConnectionState>();
  private server: net.Server | undefined;
  /** Port of the last successful listen; a restart reuses it so clients can reconnect. */
  private boundPort: number | undefined;

  constructor(opts: ServiceBusEmulatorOptions) {
    const options = parseEmulatorOptions(opts);
    this.host = options.host ?? DEFAULT_HOST;
    this.requestedPort = options.port ?? DEFAULT_PORT;
    this.autoCreateQueues = options.autoCreateQueues ?? false;
    for (const q of options.queues) this.declareQueue(q);
    this.container = create_container({
      id: 'bc-dataverse-sync-servicebus-emulator',
      // We accept or reject every incoming transfer ourselves, after storing it.
      autoaccept: false,
      // rhea would otherwise raise `released` as well for every `modified` (abandon/defer) outcome.
      treat_modified_as_released: false,
    });
    this.wireEvents();
  }

  // ------------------------------------------------------------------ public API

  /** Actual port once started (the configured one before that). */
  get port(): number {
    return this.boundPort ?? this.requestedPort;
  }

  /** The emulator-form connection string the SDK (and Microsoft's Docker emulator) uses. */
  get connectionString(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `Endpoint=sb://${host}:${this.port};SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=SAS_KEY_VALUE;UseDevelopmentEmulator=true;`;
  }

  isRunning(): boolean {
    return this.server !== undefined;
  }

  /** Listens. Rejects with a message naming the port when it is taken. */
  async start(): Promise<void> {
    if (this.server) return;
    const port = this.boundPort ?? this.requestedPort;
    const server = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        server.close();
        if (error.code === 'EADDRINUSE') {
          reject(
            new Error(
              `Service Bus emulator cannot listen on ${this.host}:${port}: port ${port} is already in use. ` +
                'Stop the other process or choose another port (SERVICEBUS_PORT).',
            ),
          );
        } else {
          reject(new Error(`Service Bus emulator cannot listen on ${this.host}:${port}: ${error.message}`));
        }
      };
      server.once('error', onError);
      server.listen(port, this.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.boundPort = (server.address() as net.AddressInfo).port;
    this.server = server;
  }

  /**
   * Closes the listener and every client connection. Messages, including locked and scheduled ones,
   * stay in memory, so `start()` resumes on the same port (tests use this to simulate an outage).
   */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const [connection, state] of this.connections) {
      // Close the AMQP way first, so clients learn of it at once and reconnect on their next operation
      // (amqp:connection:forced is retryable for the SDK). A client that does not answer within the
      // grace period is cut off.
      connection.close({ condition: Condition.connectionForced, description: 'The emulator is stopping.' });
      const cutOff = setTimeout(() => state.socket.destroy(), STOP_GRACE_MS);
      state.socket.once('close', () => clearTimeout(cutOff));
    }
    await closed;
  }

  /** Adds a queue, or updates the options of an existing one (its messages are kept). */
  declareQueue(q: QueueOptions): void {
    const options = resolveQueueOptions(parseQueueOptions(q));
    const existing = this.queues.get(options.name.toLowerCase());
    if (existing) existing.update(options);
    else this.queues.set(options.name.toLowerCase(), new Queue(options));
  }

  stats(queue: string): QueueStats {
    const q = this.queue(queue);
    return { ...q.main.stats(), deadLettered: q.deadLetter.stats().active };
  }

  /**
   * A queue's settings as the service reports them (`QueueProperties` of the SDK's administration client, which
   * this endpoint does not serve over ATOM), plus how many sends duplicate detection dropped.
   */
  queueProperties(queue: string): ResolvedQueueOptions & { duplicatesDropped: number } {
    const q = this.queue(queue);
    return { ...q.options, duplicatesDropped: q.main.duplicatesDropped };
  }

  private queue(name: string): Queue {
    const q = this.queues.get(name.toLowerCase());
    if (!q) throw new Error(`Unknown queue '${name}'. Declared queues: ${[...this.queues.keys()].join(', ') || '(none)'}.`);
    return q;
  }

  // ------------------------------------------------------------------ connections

  private accept(socket: net.Socket): void {
    // Nagle plus delayed ACKs would cap request/response round trips at ~50/s.
    socket.setNoDelay(true);
    // host/port are client-side settings; a server connection only needs an id for rhea's logs.
    const connection = this.container.create_connection({
      id: `conn-${socket.remotePort}`,
    } as ConnectionOptions);
    this.connections.set(connection, {
      socket,
      replyLinks: new Map(),
      consumers: new Set(),
      settler: new OrderedSettler(),
    });
    socket.on('close', () => this.forgetConnection(connection));
    // Connection.accept is rhea's server-side entry point (what container.listen calls).
    connection.accept(socket);
  }

  private forgetConnection(connection: Connection): void {
    const state = this.connections.get(connection);
    if (!state) return;
    // Locks survive the link, as in Service Bus: the client may still settle through $management,
    // and otherwise the lock expires and the message is redelivered.
    for (const consumer of state.consumers) this.dropConsumer(consumer.sender);
    this.connections.delete(connection);
  }

  private stateOf(l: link): ConnectionState | undefined {
    return this.connections.get(l.connection);
  }

  private roleOf(l: link): LinkRole | undefined {
    return this.linkRoles.get(l);
  }

  private dropConsumer(sender: Sender): void {
    const role = this.roleOf(sender);
    if (role?.kind !== 'deliver') return;
    role.entity.removeConsumer(role.consumer);
    this.stateOf(sender)?.consumers.delete(role.consumer);
    this.linkRoles.delete(sender);
  }

  // ------------------------------------------------------------------ events

  private wireEvents(): void {
    const c = this.container;
    c.on('receiver_open', (ctx: EventContext) => ctx.receiver && this.onClientSender(ctx.receiver));
    c.on('sender_open', (ctx: EventContext) => ctx.sender && this.onClientReceiver(ctx.sender));
    c.on('message', (ctx: EventContext) => this.onTransfer(ctx));
    c.on('sendable', (ctx: EventContext) => this.onCredit(ctx.sender));
    c.on('sender_draining', (ctx: EventContext) => this.onDrain(ctx.sender));
    for (const outcome of ['accepted', 'rejected', 'modified', 'released'] as const) {
      c.on(outcome, (ctx: EventContext) => this.onDisposition(ctx));
    }
    c.on('sender_close', (ctx: EventContext) => ctx.sender && this.onLinkClosed(ctx.sender));
    c.on('receiver_close', (ctx: EventContext) => ctx.receiver && this.linkRoles.delete(ctx.receiver));
    // A misbehaving or vanished client must not take the emulator down; rhea throws on an unhandled
    // 'error' event. The close/disconnect paths above clean up.
    c.on('error', () => undefined);
    // Socket 'close' (see accept) does the clean-up; this only stops rhea warning on every client drop.
    c.on('disconnected', () => undefined);
  }

  /** The client attached a sender: our side is a receiver. */
  private onClientSender(receiver: Receiver): void {
    const address = parseAddress(receiver.target?.address);
    receiver.set_target({ address: receiver.target?.address });
    setLocalAttachField(receiver, 'rcv_settle_mode', remoteAttachField(receiver, 'rcv_settle_mode') ?? 0);
    // The SDK sizes ServiceBusMessageBatch from this value and refuses to send without it.
    setLocalAttachField(receiver, 'max_message_size', MAX_MESSAGE_SIZE_BYTES);
    try {
      if (address.kind === 'cbs') {
        this.linkRoles.set(receiver, { kind: 'cbs-requests' });
      } else if (address.kind === 'management') {
        this.linkRoles.set(receiver, { kind: 'management-requests', entity: this.resolveEntity(address.entityPath) });
      } else {
        const entity = this.resolveEntity(address.entityPath);
        if (entity.isDeadLetterQueue) {
          throw new AmqpFailure(Condition.notFound, `Cannot send to the dead-letter queue '${entity.path}'.`, 404);
        }
        this.linkRoles.set(receiver, { kind: 'enqueue', entity });
      }
    } catch (error) {
      closeWithError(receiver, error);
    }
  }

  /** The client attached a receiver: our side is a sender. */
  private onClientReceiver(sender: Sender): void {
    const sourceAddress = sender.source?.address;
    const address = parseAddress(sourceAddress);
    sender.set_source({ address: sourceAddress });
    sender.set_target({ address: sender.target?.address });
    const state = this.stateOf(sender);
    if (!state) return;
    if (address.kind === 'cbs' || address.kind === 'management') {
      // Request/response clients name this link (or its target address) in `reply_to`.
      state.replyLinks.set(sender.name, sender);
      const target = sender.target?.address;
      if (target) state.replyLinks.set(target, sender);
      this.linkRoles.set(sender, { kind: 'reply' });
      return;
    }
    try {
      const entity = this.resolveEntity(address.entityPath);
      // receiveAndDelete asks for settled transfers (snd_settle_mode 1); peek-lock for unsettled (0)
      // with the receiver settling second. Echo both so rhea marks our deliveries accordingly.
      const sndSettleMode = remoteAttachField(sender, 'snd_settle_mode') === 1 ? 1 : 0;
      setLocalAttachField(sender, 'snd_settle_mode', sndSettleMode);
      setLocalAttachField(sender, 'rcv_settle_mode', remoteAttachField(sender, 'rcv_settle_mode') ?? 0);
      answerEveryDrain(sender);
      const consumer = new LinkConsumer(sender, sndSettleMode === 1);
      this.linkRoles.set(sender, { kind: 'deliver', entity, consumer });
      state.consumers.add(consumer);
      entity.addConsumer(consumer);
    } catch (error) {
      closeWithError(sender, error);
    }
  }

  private onLinkClosed(sender: Sender): void {
    const role = this.roleOf(sender);
    if (role?.kind === 'deliver') this.dropConsumer(sender);
    else if (role?.kind === 'reply') {
      const state = this.stateOf(sender);
      for (const [key, s] of state?.replyLinks ?? []) if (s === sender) state?.replyLinks.delete(key);
      this.linkRoles.delete(sender);
    }
  }

  private onCredit(sender: Sender | undefined): void {
    const role = sender && this.roleOf(sender);
    if (role?.kind === 'deliver') role.entity.pump();
  }

  private onDrain(sender: Sender | undefined): void {
    if (!sender) return;
    const role = this.roleOf(sender);
    // Hand over what is ready, then give back the rest of the credit (the SDK waits for this).
    if (role?.kind === 'deliver') role.entity.pump();
    sender.set_drained(true);
  }

  private onTransfer(ctx: EventContext): void {
    const receiver = ctx.receiver;
    const delivery = ctx.delivery;
    const message = ctx.message as Message | Buffer | undefined;
    if (!receiver || !delivery || message === undefined) return;
    const state = this.stateOf(receiver);
    const role = this.roleOf(receiver);
    if (!state) return;
    let outcome: OutcomeState = acceptedState();
    try {
      switch (role?.kind) {
        case 'cbs-requests':
          // Any token is good enough for a local emulator; the SDK only checks for a 2xx status.
          this.reply(state, message as Message, { 'status-code': 202, 'status-description': 'Accepted' });
          break;
        case 'management-requests': {
          const request = message as Message;
          const response = handleManagementRequest(role.entity, request);
          const props: Record<string, unknown> = {
            statusCode: response.statusCode,
            statusDescription: response.statusDescription,
          };
          if (response.errorCondition) props.errorCondition = response.errorCondition;
          this.reply(state, request, props, response.body);
          break;
        }
        case 'enqueue': {
          const format = (ctx as EventContext & { format?: number }).format;
          for (const m of decodeTransfer(message, format)) {
            const at = m.message_annotations?.[Annotation.scheduledEnqueueTime];
            role.entity.enqueue(m, at instanceof Date ? at.getTime() : undefined);
          }
          break;
        }
        default:
          throw new AmqpFailure(Condition.notFound, 'Link is not attached to a known entity.', 404);
      }
    } catch (error) {
      outcome = rejectedState(asFailure(error));
    }
    state.settler.settle(delivery, outcome);
  }

  private reply(state: ConnectionState, request: Message, applicationProperties: Record<string, unknown>, body?: unknown): void {
    const replyTo = request.reply_to;
    const link = replyTo === undefined ? undefined : state.replyLinks.get(replyTo);
    if (!link) {
      throw new AmqpFailure(Condition.notFound, `No reply link '${String(replyTo)}' is attached.`, 404);
    }
    link.send({ correlation_id: request.message_id, application_properties: applicationProperties, body });
  }

  /** A disposition from the client for one of our peek-lock deliveries. */
  private onDisposition(ctx: EventContext): void {
    const sender = ctx.sender;
    const delivery = ctx.delivery;
    if (!sender || !delivery) return;
    const role = this.roleOf(sender);
    const state = this.stateOf(sender);
    if (role?.kind !== 'deliver' || !state) return;
    const lockToken = role.consumer.lockTokens.get(delivery);
    if (lockToken === undefined) return; // presettled (receive-and-delete) or already handled
    role.consumer.lockTokens.delete(delivery);
    const remote = delivery.remote_state as RemoteOutcome | undefined;
    const { settlement, echo } = settlementFor(remote);
    try {
      role.entity.settle(lockToken, settlement);
      state.settler.settle(delivery, echo);
    } catch (error) {
      state.settler.settle(delivery, rejectedState(asFailure(error)));
    }
  }

  // ------------------------------------------------------------------ entities

  private resolveEntity(entityPath: string): MessageEntity {
    const match = /^(.+?)\/\$deadletterqueue$/i.exec(entityPath);
    const queueName = match?.[1] ?? entityPath;
    let queue = this.queues.get(queueName.toLowerCase());
    if (!queue && this.autoCreateQueues) {
      this.declareQueue({ name: queueName });
      queue = this.queues.get(queueName.toLowerCase());
    }
    if (!queue) {
      // The SDK maps this description pattern to code MessagingEntityNotFound.
      throw new AmqpFailure(
        Condition.notFound,
        `The messaging entity 'sb://${this.host}:${this.port}/${entityPath}' could not be found. ` +
          `Declared queues: ${[...this.queues.values()].map((q) => q.options.name).join(', ') || '(none)'}.`,
        404,
      );
    }
    return match ? queue.deadLetter : queue.main;
  }
}

interface RemoteOutcome {
  constructor: { composite_type?: string };
  error?: { condition?: string; description?: string; info?: Record<string, unknown> };
  undeliverable_here?: boolean;
  message_annotations?: Record<string, unknown>;
}

/**
 * Maps the client's outcome to a store settlement, following the SDK's encoding:
 * complete = accepted; abandon = modified{undeliverable_here:false}; defer = modified{undeliverable_here:true};
 * dead-letter = rejected{error: com.microsoft:dead-letter, info: {DeadLetterReason, ...}}.
 */
function settlementFor(remote: RemoteOutcome | undefined): { settlement: Settlement; echo: OutcomeState } {
  switch (remote?.constructor.composite_type) {
    case 'accepted':
      return { settlement: { kind: 'complete' }, echo: acceptedState() };
    case 'modified': {
      const propertiesToModify = remote?.message_annotations;
      return remote?.undeliverable_here
        ? { settlement: { kind: 'defer', propertiesToModify }, echo: modifiedState(true) }
        : { settlement: { kind: 'abandon', propertiesToModify }, echo: modifiedState(false) };
    }
    case 'rejected': {
      const { DeadLetterReason, DeadLetterErrorDescription, ...rest } = remote?.error?.info ?? {};
      return {
        settlement: {
          kind: 'deadLetter',
          reason: typeof DeadLetterReason === 'string' ? DeadLetterReason : undefined,
          description: typeof DeadLetterErrorDescription === 'string' ? DeadLetterErrorDescription : undefined,
          propertiesToModify: rest,
        },
        // Echo the outcome without the error: an error on the settled state fails the SDK's settle call.
        echo: rejectedState(),
      };
    }
    default:
      return { settlement: { kind: 'release' }, echo: releasedState() };
  }
}

function asFailure(error: unknown): AmqpFailure {
  if (error instanceof AmqpFailure) return error;
  if (error instanceof LockLostError) return new AmqpFailure(Condition.lockLost, error.message, 410);
  return new AmqpFailure(Condition.internalError, error instanceof Error ? error.message : String(error));
}

function closeWithError(l: link, error: unknown): void {
  const failure = asFailure(error);
  // rhea has already queued our attach; the detach with the error follows it, which is how Service Bus
  // refuses a link (the SDK reads the detach error).
  l.close(failure.toAmqpError() as AmqpError);
}

function parseAddress(raw: string | undefined): Address {
  // Strip an optional `amqp://host/` or `sb://host/` prefix; clients normally send the bare path.
  const path = (raw ?? '').replace(/^(?:amqps?|sb):\/\/[^/]+\//i, '');
  if (path === '$cbs') return { kind: 'cbs' };
  const management = /^(.*?)\/?\$management$/i.exec(path);
  if (management) return { kind: 'management', entityPath: management[1] ?? '' };
  return { kind: 'entity', entityPath: path };
}
