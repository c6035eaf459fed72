/**
 * Client throughput against the local simulators (unthrottled, no added latency): what our HTTP plumbing, zod
 * validation and the simulators cost per request. Not a claim about Business Central or Dataverse online, whose
 * limits (BC 5 concurrent / 6,000 per 5 min; Dataverse 52 concurrent) bound real throughput far lower.
 */
import { startBcSimulator } from '../dev/bc-simulator';
import { startDataverseSimulator } from '../dev/dataverse-simulator';
import { BcClient } from '../shared/adapters/bc/client';
import { BcGateway } from '../shared/adapters/bc/gateway';
import { StaticTokenSource } from '../shared/adapters/credentials';
import { DataverseClient } from '../shared/adapters/dataverse/client';
import { DataverseGateway } from '../shared/adapters/dataverse/gateway';
import { RequestCounter } from '../shared/adapters/http/counters';
import type { BcEntityTarget, DataverseEntityTarget, RecordGateway, VersionedRecord } from '../shared/domain/ports';

interface Counts {
  records: number;
  gets: number;
  patches: number;
  listRecords: number;
}

const QUICK: Counts = { records: 100, gets: 300, patches: 200, listRecords: 5_000 };
const FULL: Counts = { records: 2_000, gets: 5_000, patches: 3_000, listRecords: 25_000 };

type Figure = { name: string; value: number; unit: string };

async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function measure<T extends BcEntityTarget | DataverseEntityTarget>(
  side: string,
  gateway: RecordGateway<T>,
  target: T,
  counter: RequestCounter,
  concurrency: number,
  counts: Counts,
  patchValues: (i: number) => Record<string, unknown>,
): Promise<Figure[]> {
  const records: VersionedRecord[] = [];
  for await (const page of gateway.list(target, { pageSize: counts.records })) {
    records.push(...page);
    if (records.length >= counts.records) break;
  }
  const figures: Figure[] = [];

  counter.reset();
  const gets = Array.from({ length: counts.gets }, (_, i) => records[i % records.length] as VersionedRecord);
  const getSeconds = await timed(() =>
    pool(gets, concurrency, async (r) => {
      await gateway.get(target, r.id);
    }),
  );
  figures.push({ name: `${side} client GET by id`, value: Math.round(counts.gets / getSeconds), unit: 'req/s' });

  // One worker per record slice so no two PATCHes race for one ETag: every PATCH is expected to succeed first time.
  counter.reset();
  const etags = new Map(records.map((r) => [r.id, r.etag]));
  const patches = Array.from({ length: counts.patches }, (_, i) => i);
  const slices = Array.from({ length: concurrency }, (_, w) => patches.filter((i) => i % concurrency === w));
  const patchSeconds = await timed(async () => {
    await Promise.all(
      slices.map(async (slice, w) => {
        const mine = records.filter((_, i) => i % concurrency === w);
        for (const [n, i] of slice.entries()) {
          const r = mine[n % mine.length] as VersionedRecord;
          const updated = await gateway.update(target, r.id, patchValues(i), etags.get(r.id) as string);
          etags.set(r.id, updated.etag);
        }
      }),
    );
  });
  figures.push({ name: `${side} client PATCH with If-Match`, value: Math.round(counts.patches / patchSeconds), unit: 'req/s' });
  figures.push({
    name: `${side} client requests per PATCH`,
    value: Number((counter.requests / counts.patches).toFixed(2)),
    unit: 'req/record',
  });

  counter.reset();
  let listed = 0;
  const listSeconds = await timed(async () => {
    for await (const page of gateway.list(target, {})) {
      listed += page.length;
      if (listed >= counts.listRecords) break;
    }
  });
  figures.push({ name: `${side} client list (max page size)`, value: Math.round(listed / listSeconds), unit: 'records/s' });
  return figures;
}

export async function benchClients(opts: { quick: boolean }): Promise<Figure[]> {
  const counts = opts.quick ? QUICK : FULL;
  const figures: Figure[] = [];

  const bcSim = await startBcSimulator({ port: 0, seed: 'empty', webhookDelayMs: 3_600_000 });
  try {
    await fetch(`${bcSim.url}/_sim/seed?customers=${Math.max(counts.records, counts.listRecords)}`, { method: 'POST' });
    const counter = new RequestCounter();
    const client = new BcClient({
      apiUrl: bcSim.url,
      tenantId: bcSim.tenantId,
      environment: bcSim.environmentName,
      companyId: bcSim.companyId,
      tokens: new StaticTokenSource('bench'),
      hooks: counter,
    });
    const target: BcEntityTarget = { side: 'bc', kind: 'apiV2', entitySet: 'customers' };
    figures.push(...(await measure('BC', new BcGateway(client), target, counter, 5, counts, (i) => ({ city: `City ${i}` }))));
  } finally {
    await bcSim.stop();
  }

  const dvSim = await startDataverseSimulator({ port: 0, seed: 'empty', webhookDelayMs: 3_600_000 });
  try {
    await fetch(`${dvSim.url}/_sim/seed?accounts=${Math.max(counts.records, counts.listRecords)}`, { method: 'POST' });
    const counter = new RequestCounter();
    const client = new DataverseClient({
      url: dvSim.url,
      tokens: new StaticTokenSource(dvSim.integrationUserToken),
      hooks: counter,
      maxConcurrency: 16,
    });
    const target: DataverseEntityTarget = { side: 'dataverse', entitySet: 'accounts', logicalName: 'account', primaryKey: 'accountid' };
    figures.push(
      ...(await measure('Dataverse', new DataverseGateway(client), target, counter, 16, counts, (i) => ({
        telephone1: `555-${String(i).padStart(4, '0')}`,
      }))),
    );
  } finally {
    await dvSim.stop();
  }
  return figures;
}
