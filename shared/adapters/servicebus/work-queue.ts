import type { ServiceBusClient, ServiceBusMessage, ServiceBusSender } from '@azure/service-bus';
import type { z } from 'zod';
import { SyncError } from '../../errors';
import type { WorkMessageOptions, WorkQueue } from '../../operations/ports';
import type { OperationalQueue } from '../../queues';

/** One item and the message properties it is sent with. */
export type WorkMessage<T> = { item: T } & WorkMessageOptions;

/**
 * The {@link WorkQueue} port over one operational Service Bus queue (`ops-bc-collection`, `ops-full-sync`,
 * `ops-sales-orders`): JSON bodies, validated by the item's schema before they leave (a worker would dead-letter
 * what it cannot read), resolving only once the broker accepted them. Change events have their own adapter,
 * `ServiceBusChangePublisher`, because their queue depends on the mapping.
 */
export class ServiceBusWorkQueue<T> implements WorkQueue<T> {
  private sender: ServiceBusSender | undefined;

  /**
   * @param properties message properties derived from the item (message id, correlation id, subject); options
   *   given to `send` win. Default none.
   */
  constructor(
    private readonly client: ServiceBusClient,
    readonly queueName: OperationalQueue,
    private readonly schema: z.ZodType<T>,
    private readonly properties: (item: T) => WorkMessageOptions = () => ({}),
  ) {}

  send(item: T, options: WorkMessageOptions = {}): Promise<void> {
    return this.sendAll([{ item, ...options }]);
  }

  /** Sends in batches of 100 (sendMessages splits nothing; keep batches well under the broker's maximum size). */
  async sendAll(messages: Array<WorkMessage<T>>): Promise<void> {
    const out = messages.map((m) => this.toMessage(m));
    this.sender ??= this.client.createSender(this.queueName);
    try {
      for (let i = 0; i < out.length; i += 100) await this.sender.sendMessages(out.slice(i, i + 100));
    } catch (err) {
      throw new SyncError(
        'QUEUE.UNAVAILABLE',
        `Service Bus did not accept ${out.length} message(s) on ${this.queueName}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  private toMessage({ item, ...options }: WorkMessage<T>): ServiceBusMessage {
    const body = this.schema.parse(item);
    const p = { ...this.properties(body), ...options };
    return {
      body,
      contentType: 'application/json',
      ...(p.messageId ? { messageId: p.messageId } : {}),
      ...(p.correlationId ? { correlationId: p.correlationId } : {}),
      ...(p.subject ? { subject: p.subject } : {}),
    };
  }
}

const cache = new WeakMap<ServiceBusClient, Map<string, ServiceBusWorkQueue<unknown>>>();

/**
 * The work queue of `queueName` on a client, made once per client (one sender each; closing the client closes
 * it). Later calls with the same queue get the first call's schema and properties.
 */
export function workQueue<T>(
  client: ServiceBusClient,
  queueName: OperationalQueue,
  schema: z.ZodType<T>,
  properties?: (item: T) => WorkMessageOptions,
): ServiceBusWorkQueue<T> {
  let queues = cache.get(client);
  if (!queues) {
    queues = new Map();
    cache.set(client, queues);
  }
  let q = queues.get(queueName) as ServiceBusWorkQueue<T> | undefined;
  if (!q) {
    q = new ServiceBusWorkQueue(client, queueName, schema, properties);
    queues.set(queueName, q as ServiceBusWorkQueue<unknown>);
  }
  return q;
}
