/**
 * Service Bus queue triggers and output bindings over the real `@azure/service-bus` SDK. Receivers run in
 * peek-lock: success completes, a throw abandons, so the broker counts deliveries and dead-letters at
 * maxDeliveryCount. `triggerMetadata` is filled as the host fills it. Outputs (`extraOutputs` and `$return`) are
 * sent after the handler returned, one client per connection shared by receivers and senders.
 */
import type { ServiceBusClient, ServiceBusReceivedMessage, ServiceBusReceiver, ServiceBusSender } from '@azure/service-bus';
import {
  createServiceBusClient,
  type ServiceBusConnection,
  serviceBusConnectionFromAppSettings,
} from '../../../shared/adapters/servicebus/client';
import type { CapturedFunction, CoreBindingInfo, RpcInvocationResponse, RpcTypedData } from '../core-shim';
import { type HostJson, timeSpanToMs } from '../host-json';
import { errorText } from '../invoke';
import { type ListenerContext, typedDataBytes } from './context';

export type ServiceBusContext = Pick<ListenerContext, 'invoke' | 'track' | 'log' | 'resolveExpressions' | 'stopping'>;

type ServiceBusHostJson = NonNullable<NonNullable<HostJson['extensions']>['serviceBus']>;

interface ServiceBusPlan {
  fn: CapturedFunction;
  queueName: string;
  connection: ServiceBusConnection;
  connectionKey: string;
  autoComplete: boolean;
  binary: boolean;
}

interface OutputTarget {
  queueName: string;
  connection: ServiceBusConnection;
  connectionKey: string;
}

export class ServiceBusListener {
  private readonly plans: ServiceBusPlan[] = [];
  private readonly outputs = new Map<string, Map<string, OutputTarget>>();
  private readonly clients = new Map<string, ServiceBusClient>();
  private readonly receivers: ServiceBusReceiver[] = [];
  private readonly subscriptions: Array<{ close(): Promise<void> }> = [];
  private readonly senders = new Map<string, ServiceBusSender>();
  private maxAutoLockRenewalMs = 5 * 60_000;
  private defaultAutoComplete = true;

  constructor(
    private readonly ctx: ServiceBusContext,
    private readonly env: Record<string, string | undefined>,
  ) {}

  /** Applies host.json `extensions.serviceBus`; call before `add`, which reads the default for `autoCompleteMessages`. */
  configure(hostJson: ServiceBusHostJson | undefined): void {
    if (hostJson?.maxAutoLockRenewalDuration) this.maxAutoLockRenewalMs = timeSpanToMs(hostJson.maxAutoLockRenewalDuration);
    if (hostJson?.autoCompleteMessages !== undefined) this.defaultAutoComplete = hostJson.autoCompleteMessages;
  }

  /** Indexes a `serviceBusTrigger`; throws for what the local host cannot serve. */
  add(fn: CapturedFunction, trigger: CoreBindingInfo): void {
    if (trigger.topicName) throw new Error('Service Bus topic triggers are not supported by the local host (queues only)');
    if (trigger.isSessionsEnabled) throw new Error('session-enabled Service Bus triggers are not supported by the local host');
    if (trigger.cardinality === 'many') throw new Error("Service Bus trigger cardinality 'many' is not supported by the local host");
    if (trigger.properties?.supportsDeferredBinding === 'true')
      throw new Error('sdkBinding Service Bus triggers need the real host (settlement over gRPC)');
    const queueName = this.ctx.resolveExpressions(String(trigger.queueName ?? ''));
    if (!queueName) throw new Error('serviceBusTrigger has no queueName');
    const { connection, key } = this.connectionFor(trigger);
    this.plans.push({
      fn,
      queueName,
      connection,
      connectionKey: key,
      autoComplete: typeof trigger.autoCompleteMessages === 'boolean' ? trigger.autoCompleteMessages : this.defaultAutoComplete,
      binary: String(trigger.dataType ?? '').toLowerCase() === 'binary',
    });
  }

  /** Indexes a function's output bindings; Service Bus is the only output type besides the HTTP response. */
  addOutputs(fn: CapturedFunction): void {
    const targets = new Map<string, OutputTarget>();
    for (const [name, binding] of Object.entries(fn.metadata.bindings)) {
      if (binding.direction !== 'out') continue;
      const outType = (binding.type ?? '').toLowerCase();
      if (outType === 'http') continue;
      if (outType !== 'servicebus')
        throw new Error(`output binding "${name}" of type "${binding.type}" is not supported by the local host`);
      const queueName = this.ctx.resolveExpressions(String(binding.queueName ?? binding.topicName ?? ''));
      if (!queueName) throw new Error(`output binding "${name}" has no queueName`);
      const { connection, key } = this.connectionFor(binding);
      targets.set(name, { queueName, connection, connectionKey: key });
    }
    this.outputs.set(fn.name, targets);
  }

  /** Every queue a trigger receives from or an output sends to. */
  queueNames(): string[] {
    const names = new Set<string>(this.plans.map((p) => p.queueName));
    for (const targets of this.outputs.values()) for (const t of targets.values()) names.add(t.queueName);
    return [...names];
  }

  start(): void {
    for (const plan of this.plans) {
      const receiver = this.client(plan.connectionKey, plan.connection).createReceiver(plan.queueName, {
        receiveMode: 'peekLock',
        maxAutoLockRenewalDurationInMs: this.maxAutoLockRenewalMs,
      });
      this.receivers.push(receiver);
      let warnedNoComplete = false;
      const subscription = receiver.subscribe(
        {
          processMessage: async (message) => {
            const succeeded = await this.ctx.track(this.invoke(plan, message));
            if (this.ctx.stopping() && !succeeded) return; // the lock expires; the broker redelivers
            if (!plan.autoComplete) {
              if (!warnedNoComplete) {
                warnedNoComplete = true;
                this.ctx.log({
                  level: 'warning',
                  category: 'host',
                  functionName: plan.fn.name,
                  message: 'autoCompleteMessages is false: messages are left to lock expiry (the local host has no settlement API)',
                });
              }
              return;
            }
            // One message at a time per receiver: rhea merges different outcomes settled in one tick.
            if (succeeded) await receiver.completeMessage(message);
            else await receiver.abandonMessage(message);
          },
          processError: async (args) => {
            if (this.ctx.stopping()) return;
            this.ctx.log({
              level: 'error',
              category: 'host',
              functionName: plan.fn.name,
              message: `Service Bus receiver for "${plan.queueName}" (${args.errorSource}): ${errorText(args.error)}`,
            });
          },
        },
        { autoCompleteMessages: false, maxConcurrentCalls: 1 },
      );
      this.subscriptions.push(subscription);
    }
  }

  /** Stops taking messages; the ones being handled finish (the host waits for them before `close`). */
  async stopReceiving(): Promise<void> {
    await Promise.allSettled(this.subscriptions.map((s) => s.close()));
  }

  /** Closes receivers, then senders, then the clients they share. */
  async close(): Promise<void> {
    await Promise.allSettled(this.receivers.map((r) => r.close()));
    await Promise.allSettled([...this.senders.values()].map((s) => s.close()));
    await Promise.allSettled([...this.clients.values()].map((c) => c.close()));
  }

  /** Sends the invocation's Service Bus outputs; a failed send fails the invocation. */
  async sendOutputs(fn: CapturedFunction, response: RpcInvocationResponse): Promise<void> {
    const targets = this.outputs.get(fn.name);
    if (!targets || targets.size === 0) return;
    const values: Array<[string, RpcTypedData | null | undefined]> = (response.outputData ?? []).map((o) => [o.name ?? '', o.data]);
    if (targets.has('$return')) values.push(['$return', response.returnValue]);
    for (const [name, data] of values) {
      const target = targets.get(name);
      if (!target || !data) continue;
      const bodies = outputMessages(data);
      if (bodies.length === 0) continue;
      const senderKey = `${target.connectionKey}|${target.queueName}`;
      let sender = this.senders.get(senderKey);
      if (!sender) {
        sender = this.client(target.connectionKey, target.connection).createSender(target.queueName);
        this.senders.set(senderKey, sender);
      }
      await sender.sendMessages(bodies);
    }
  }

  private connectionFor(binding: CoreBindingInfo): { connection: ServiceBusConnection; key: string } {
    const name = typeof binding.connection === 'string' && binding.connection ? binding.connection : 'AzureWebJobsServiceBus';
    const connection = serviceBusConnectionFromAppSettings(this.env, name);
    if (!connection) throw new Error(`connection "${name}": app setting ${name} (or ${name}__fullyQualifiedNamespace) is not set`);
    return { connection, key: JSON.stringify(connection) };
  }

  private client(key: string, connection: ServiceBusConnection): ServiceBusClient {
    let client = this.clients.get(key);
    if (!client) {
      client = createServiceBusClient(connection);
      this.clients.set(key, client);
    }
    return client;
  }

  private async invoke(plan: ServiceBusPlan, message: ServiceBusReceivedMessage): Promise<boolean> {
    try {
      await this.ctx.invoke(plan.fn, serviceBusBody(message, plan.binary), serviceBusTriggerMetadata(message));
      return true;
    } catch {
      return false;
    }
  }
}

/** Messages for one Service Bus output value: an array sends one message per element, as the host does. */
function outputMessages(data: RpcTypedData): Array<{ body: Buffer; contentType?: string }> {
  if (data.json !== undefined && data.json !== null) {
    const value: unknown = JSON.parse(data.json);
    const items = Array.isArray(value) ? value : [value];
    return items.map((item) =>
      typeof item === 'string'
        ? { body: Buffer.from(item, 'utf8') }
        : { body: Buffer.from(JSON.stringify(item), 'utf8'), contentType: 'application/json' },
    );
  }
  if (data.collectionString?.string) return data.collectionString.string.map((s) => ({ body: Buffer.from(s, 'utf8') }));
  return [{ body: typedDataBytes(data) }];
}

/** The trigger input: text (the library JSON-parses it when it can), or bytes when the binding says `dataType: binary`. */
function serviceBusBody(message: ServiceBusReceivedMessage, binary: boolean): RpcTypedData {
  const body: unknown = message.body;
  let bytes: Buffer;
  if (Buffer.isBuffer(body)) bytes = body;
  else if (body instanceof Uint8Array) bytes = Buffer.from(body);
  else if (typeof body === 'string') bytes = Buffer.from(body, 'utf8');
  else if (body === undefined || body === null) bytes = Buffer.alloc(0);
  else bytes = Buffer.from(JSON.stringify(body), 'utf8');
  return binary ? { bytes } : { string: bytes.toString('utf8') };
}

/**
 * Trigger metadata with the names the Service Bus extension binds (PascalCase on the wire; `@azure/functions`
 * camel-cases them, so handlers read `context.triggerMetadata.deliveryCount` etc.). DeliveryCount follows the
 * .NET SDK the host uses: 1 on the first delivery (the AMQP header counts earlier attempts only).
 */
function serviceBusTriggerMetadata(m: ServiceBusReceivedMessage): Record<string, RpcTypedData> {
  const out: Record<string, RpcTypedData> = {};
  const str = (key: string, value: unknown) => {
    if (value !== undefined && value !== null && value !== '') out[key] = { string: String(value) };
  };
  const date = (key: string, value: Date | undefined) => {
    if (value) out[key] = { string: value.toISOString() };
  };
  str('MessageId', m.messageId);
  out.DeliveryCount = { int: (m.deliveryCount ?? 0) + 1 };
  date('EnqueuedTimeUtc', m.enqueuedTimeUtc);
  date('ExpiresAtUtc', m.expiresAtUtc);
  date('LockedUntilUtc', m.lockedUntilUtc);
  str('LockToken', m.lockToken);
  if (m.sequenceNumber !== undefined) out.SequenceNumber = { int: Number(m.sequenceNumber.toString()) };
  str('ContentType', m.contentType);
  str('CorrelationId', m.correlationId);
  str('Subject', m.subject);
  str('Label', m.subject);
  str('ReplyTo', m.replyTo);
  str('To', m.to);
  str('SessionId', m.sessionId);
  str('DeadLetterSource', m.deadLetterSource);
  const props = JSON.stringify(m.applicationProperties ?? {}, (_k, v: unknown) => (v instanceof Date ? v.toISOString() : v));
  out.ApplicationProperties = { json: props };
  out.UserProperties = { json: props };
  return out;
}
