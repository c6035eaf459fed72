import path from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildProgram } from '../../cli/main';
import { LocalFunctionsHost } from '../../dev/local-host/host';
import type { DeadLetter } from '../../shared/adapters/servicebus/dead-letters';
import { recordId as parseRecordId } from '../../shared/domain/ids';
import { retryDeadLetters } from '../../shared/operations/dead-letters';
import { getRuntime } from '../../shared/runtime';
import { type Stack, startStack, TEST_LOCAL_KEY } from '../support/stack';
import { until } from '../support/until';
import { adminClient, seedCustomers } from './helpers';

/**
 * Dead letters: change events dead-lettered after BC was unreachable for all their deliveries are listed,
 * replayed from the API and from the CLI, and then synchronize — the cause (the outage) being over.
 */
let stack: Stack;
let sb: ServiceBusClient;

beforeAll(async () => {
  stack = await startStack({ functions: ['admin-api'], bc: { seed: 'empty' }, dataverse: { seed: 'empty' } });
  await seedCustomers(stack, 3);
  sb = new ServiceBusClient(stack.serviceBus.connectionString);
});

afterAll(async () => {
  await sb?.close();
  await stack?.stop();
});

async function bcIds(): Promise<string[]> {
  const rt = await getRuntime();
  const page = await rt.bcGateway.listPage({ side: 'bc', kind: 'apiV2', entitySet: 'customers' }, { select: ['id'] });
  return page.items.map((r) => r.id);
}

/** Publishes a change event and dead-letters it the way the broker does after the last failed delivery. */
async function deadLetter(recordId: string): Promise<void> {
  const rt = await getRuntime();
  await rt.publisher.publish([
    {
      v: 1,
      mapping: 'CUSTOMER',
      source: 'bc',
      recordId: parseRecordId(recordId),
      changeType: 'updated',
      origin: 'webhook',
      correlationId: `dl-${recordId}`,
      observedAt: new Date().toISOString(),
      deferrals: 0,
    },
  ]);
  const receiver = sb.createReceiver('sync-customer');
  try {
    const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
    if (!m) throw new Error('the event did not arrive');
    await receiver.deadLetterMessage(m, {
      deadLetterReason: 'MaxDeliveryCountExceeded',
      deadLetterErrorDescription: 'BC.UNAVAILABLE after 10 deliveries',
    });
  } finally {
    await receiver.close();
  }
}

const CUSTOMERS = { side: 'bc' as const, kind: 'apiV2' as const, entitySet: 'customers' };
const ACCOUNTS = { side: 'dataverse' as const, entitySet: 'accounts', logicalName: 'account', primaryKey: 'accountid' };

/** A change made in BC while the service could not reach it. */
async function renameInBc(bcId: string, name: string): Promise<void> {
  const rt = await getRuntime();
  const r = await rt.bcGateway.get(CUSTOMERS, bcId);
  if (!r) throw new Error(`no customer ${bcId}`);
  await rt.bcGateway.update(CUSTOMERS, bcId, { displayName: name }, r.etag);
}

/** Whether the coupled Dataverse account carries the name. */
async function synced(bcId: string, name: string): Promise<boolean> {
  const rt = await getRuntime();
  const c = await rt.stores.couplings.getByBcId('CUSTOMER', bcId);
  if (!c) return false;
  return (await rt.dataverseGateway.get(ACCOUNTS, c.dataverseId, ['name']))?.values.name === name;
}

it('lists dead letters, replays one from the API and one from the CLI, and the changes they carry arrive', {
  timeout: 60_000,
}, async () => {
  const admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
  const [first, second, third] = await bcIds();
  if (!first || !second || !third) throw new Error('seed');
  for (const id of [first, second, third]) {
    const o = await admin.ok<{ result: string }>('POST', 'sync-now', { mapping: 'CUSTOMER', bcId: id, direction: 'ToIntegrationTable' });
    expect(o.result).toBe('inserted');
    await renameInBc(id, `Renamed ${id.slice(-4)}`);
  }
  await deadLetter(first);
  await deadLetter(second);
  await deadLetter(third);

  const listed = await admin.ok<DeadLetter[]>('GET', 'dead-letters?mapping=CUSTOMER');
  expect(listed.map((d) => d.reason)).toEqual(['MaxDeliveryCountExceeded', 'MaxDeliveryCountExceeded', 'MaxDeliveryCountExceeded']);
  expect(listed.map((d) => (d.body as { recordId: string }).recordId).sort()).toEqual([first, second, third].sort());
  const seqOf = (id: string) => listed.find((d) => (d.body as { recordId: string }).recordId === id)?.sequenceNumber ?? '';
  const bad = await admin.call<{ field?: string }>('POST', 'dead-letters/replay', { queue: 'sync-customer' });
  expect(bad.status).toBe(400);
  expect(bad.body.field).toBe('sequenceNumbers');

  // The sync worker runs from now on: BC is reachable again.
  const worker = await new LocalFunctionsHost({
    modules: [path.join(__dirname, '..', '..', 'functions', 'sync.ts')],
    functions: ['sync-customer'],
    port: 0,
    log: () => undefined,
  }).start();
  try {
    const replayed = await admin.ok<{ replayed: number; left: number }>('POST', 'dead-letters/replay', {
      queue: 'sync-customer',
      sequenceNumbers: [seqOf(first)],
    });
    expect(replayed).toMatchObject({ replayed: 1 });
    await until('the replayed customer to be synchronized', () => synced(first, `Renamed ${first.slice(-4)}`), 20_000);
    expect(await synced(second, `Renamed ${second.slice(-4)}`)).toBe(false);

    // The CLI replays another by its sequence number.
    const lines: string[] = [];
    await buildProgram((s) => lines.push(s)).parseAsync([
      'node',
      'cli',
      '--url',
      stack.host.apiUrl('').replace(/\/api\/?$/, ''),
      '--key',
      TEST_LOCAL_KEY,
      'dead-letters',
      'replay',
      '--queue',
      'sync-customer',
      '--seq',
      seqOf(second),
    ]);
    expect(lines.join('\n')).toContain('1 replayed');
    await until('the CLI-replayed customer to be synchronized', () => synced(second, `Renamed ${second.slice(-4)}`), 20_000);
    expect((await admin.ok<DeadLetter[]>('GET', 'dead-letters')).map((d) => d.sequenceNumber)).toEqual([seqOf(third)]);

    // The retry timer re-drives transient exhaustion (here without backoff) up to its limit.
    const rt = await getRuntime();
    const now = new Date();
    const r = await retryDeadLetters(rt.serviceBus, {
      now: () => now,
      policies: { MaxDeliveryCountExceeded: { maxReplays: 1, baseDelayMs: 0, maxDelayMs: 0 } },
    });
    expect(r.replayed).toBe(1);
    await until('the timer-replayed customer', () => synced(third, `Renamed ${third.slice(-4)}`), 20_000);
    expect(await admin.ok<DeadLetter[]>('GET', 'dead-letters')).toEqual([]);
  } finally {
    await worker.stop();
  }
});
