/**
 * Throughput of the local Service Bus emulator as the real SDK sees it, for comparing runs over time.
 * Each figure uses a fresh emulator on an ephemeral port, so nothing else competes for it.
 */
import { ServiceBusClient, type ServiceBusMessage } from '@azure/service-bus';
import { ServiceBusEmulator } from '../dev/servicebus';

export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
}

interface Counts {
  sequentialSends: number;
  batchMessages: number;
  batchSize: number;
  receiveMessages: number;
  receiveChunk: number;
}

// Quick mode stays well under 5 s including connection set-up.
const QUICK: Counts = { sequentialSends: 300, batchMessages: 3_000, batchSize: 100, receiveMessages: 1_000, receiveChunk: 100 };
const FULL: Counts = { sequentialSends: 2_000, batchMessages: 20_000, batchSize: 100, receiveMessages: 5_000, receiveChunk: 100 };

function message(i: number): ServiceBusMessage {
  return { body: { itemNo: `ITEM-${i}`, qty: i, changedAt: '2026-01-01T00:00:00Z' }, applicationProperties: { entity: 'item' } };
}

function perSecond(count: number, startedAt: bigint): number {
  const seconds = Number(process.hrtime.bigint() - startedAt) / 1e9;
  return Math.round(count / seconds);
}

async function withEmulator<T>(run: (client: ServiceBusClient, emulator: ServiceBusEmulator) => Promise<T>): Promise<T> {
  const emulator = new ServiceBusEmulator({ port: 0, queues: [{ name: 'bench' }] });
  await emulator.start();
  const client = new ServiceBusClient(emulator.connectionString);
  try {
    return await run(client, emulator);
  } finally {
    await client.close();
    await emulator.stop();
  }
}

async function sendInBatches(client: ServiceBusClient, total: number, size: number): Promise<void> {
  const sender = client.createSender('bench');
  for (let i = 0; i < total; i += size) {
    await sender.sendMessages(Array.from({ length: Math.min(size, total - i) }, (_, j) => message(i + j)));
  }
  await sender.close();
}

export async function benchServiceBus(opts: { quick: boolean }): Promise<BenchFigure[]> {
  const counts = opts.quick ? QUICK : FULL;
  const figures: BenchFigure[] = [];

  figures.push(
    await withEmulator(async (client) => {
      const sender = client.createSender('bench');
      await sender.sendMessages(message(-1)); // connect, CBS and attach happen outside the timing
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < counts.sequentialSends; i++) await sender.sendMessages(message(i));
      return { name: 'servicebus.send.sequential', value: perSecond(counts.sequentialSends, t0), unit: 'msg/s' };
    }),
  );

  figures.push(
    await withEmulator(async (client) => {
      await sendInBatches(client, counts.batchSize, counts.batchSize); // warm-up
      const t0 = process.hrtime.bigint();
      await sendInBatches(client, counts.batchMessages, counts.batchSize);
      return {
        name: `servicebus.send.batch${counts.batchSize}`,
        value: perSecond(counts.batchMessages, t0),
        unit: 'msg/s',
      };
    }),
  );

  figures.push(
    await withEmulator(async (client, emulator) => {
      await sendInBatches(client, counts.receiveMessages, counts.batchSize);
      const receiver = client.createReceiver('bench');
      let received = 0;
      const t0 = process.hrtime.bigint();
      while (received < counts.receiveMessages) {
        const chunk = Math.min(counts.receiveChunk, counts.receiveMessages - received);
        const got = await receiver.receiveMessages(chunk, { maxWaitTimeInMs: 5_000 });
        if (got.length === 0) throw new Error(`bench: receive stalled after ${received} messages`);
        await Promise.all(got.map((m) => receiver.completeMessage(m)));
        received += got.length;
      }
      const value = perSecond(received, t0);
      const left = emulator.stats('bench');
      if (left.active !== 0) throw new Error(`bench: ${left.active} messages left after receive+complete`);
      return { name: 'servicebus.receive.peeklock+complete', value, unit: 'msg/s' };
    }),
  );

  return figures;
}
