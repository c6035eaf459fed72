import type { ServiceBusClient } from '@azure/service-bus';
import { queueNameForMapping } from '../domain/mappings/queue';
import type { TableMapping } from '../domain/mappings/schema';
import type { CounterStore } from '../domain/ports';

/**
 * Counters and lag per mapping. Lag is the age of the oldest message waiting in the mapping's queue: how long
 * a change that arrived now would wait at least (0 when the queue is empty).
 */
export async function mappingStats(
  deps: { counters: CounterStore; serviceBus: ServiceBusClient; now: () => Date },
  mappings: TableMapping[],
): Promise<
  Array<{
    mapping: string;
    enabled: boolean;
    direction: string;
    queue: string;
    counters: Record<string, number>;
    lagSeconds: number;
    waiting: number;
  }>
> {
  const queueLag = new Map<string, Promise<{ lagSeconds: number; waiting: number }>>();
  const lagOf = (queue: string) => {
    let p = queueLag.get(queue);
    if (!p) {
      p = (async () => {
        const receiver = deps.serviceBus.createReceiver(queue);
        try {
          const msgs = await receiver.peekMessages(100);
          const oldest = msgs.reduce<number | undefined>((min, m) => {
            const t = m.enqueuedTimeUtc?.getTime();
            return t !== undefined && (min === undefined || t < min) ? t : min;
          }, undefined);
          return {
            lagSeconds: oldest === undefined ? 0 : Math.max(0, Math.round((deps.now().getTime() - oldest) / 1000)),
            waiting: msgs.length,
          };
        } catch {
          return { lagSeconds: -1, waiting: -1 };
        } finally {
          await receiver.close().catch(() => undefined);
        }
      })();
      queueLag.set(queue, p);
    }
    return p;
  };
  return Promise.all(
    mappings.map(async (m) => {
      const [counters, lag] = await Promise.all([deps.counters.get(m.name), lagOf(queueNameForMapping(m))]);
      return { mapping: m.name, enabled: m.enabled, direction: m.direction, queue: queueNameForMapping(m), counters, ...lag };
    }),
  );
}
