import { afterAll, beforeAll, expect, it } from 'vitest';
import { SyncError } from '../../shared/errors';
import { fullSyncDeps } from '../../shared/operations/context';
import {
  type FullSyncProgress,
  type FullSyncWorkItem,
  fullSyncStatus,
  processFullSyncItem,
  startFullSync,
} from '../../shared/operations/full-sync';
import { getRuntime } from '../../shared/runtime';
import { type Stack, startStack, TEST_LOCAL_KEY } from '../support/stack';
import { until } from '../support/until';
import { adminClient } from './helpers';

/**
 * The first full sync of the demo company on the whole local stack: the option mappings (payment terms, shipment
 * methods, shipping agents) finish instead of failing every delivery, and the run ends.
 */
let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ functions: ['full-sync', 'admin-api', 'sync'], maxDeliveryCount: 3 });
});

afterAll(async () => {
  await stack?.stop();
});

it('synchronizes the option mappings of the demo company and ends the run', { timeout: 120_000 }, async () => {
  const admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
  const started = await admin.ok<FullSyncProgress>('POST', 'full-sync', {
    mappings: ['PAYMENT TERMS', 'SHIPMENT METHOD', 'SHIPPING AGENT'],
  });
  const done = await until(
    'the run to end',
    async () => {
      const p = await admin.ok<FullSyncProgress>('GET', `full-sync?runId=${started.runId}`);
      return p.status !== 'running' && p;
    },
    { timeoutMs: 90_000, intervalMs: 200 },
  );
  expect(done.mappings.map((m) => [m.name, m.status, m.message])).toEqual([
    ['PAYMENT TERMS', 'completed', undefined],
    ['SHIPMENT METHOD', 'completed', undefined],
    ['SHIPPING AGENT', 'completed', undefined],
  ]);
  expect(done.status).toBe('completed');
  for (const m of done.mappings) expect(m.counters.failed).toBe(0);
});

it('ends a mapping whose work fails as failed with the error, skips its dependants naming it, and ends the run', async () => {
  const rt = await getRuntime();
  const base = fullSyncDeps(rt);
  const sent: FullSyncWorkItem[] = [];
  const queue = { send: async (item: FullSyncWorkItem) => void sent.push(item) };
  const run = await startFullSync({ ...base, queue }, { mappings: ['CUSTOMER', 'CONTACT'] });
  const line = (r: typeof run | undefined, name: string) => r?.mappings.find((m) => m.name === name);
  expect(line(run, 'CUSTOMER')?.status).toBe('running');
  expect(line(run, 'CONTACT')).toMatchObject({ status: 'waiting', message: 'waiting for CUSTOMER' });
  // Matching reads Dataverse in bulk; Dataverse refuses the query (a data error, never worth a redelivery).
  const refused = new SyncError('DV.VALIDATION', "Could not find a property named 'nosuchcolumn' on type 'account'.");
  const customer = await rt.syncDeps.mappings.get('CUSTOMER');
  if (!customer) throw new Error('CUSTOMER mapping missing');
  const byName = {
    ...customer,
    couplingRules: {
      ...customer.couplingRules,
      matchFields: [{ bcField: 'displayName', dataverseColumn: 'nosuchcolumn', priority: 0, caseSensitive: false }],
    },
  };
  const mappings = { ...base.sync.mappings, get: async (n: string) => (n === 'CUSTOMER' ? byName : base.sync.mappings.get(n)) };
  const dataverse = { ...base.sync.dataverse, list: () => failingList(refused) };
  const deps = { ...base, queue, sync: { ...base.sync, mappings, dataverse: dataverse as typeof base.sync.dataverse } };

  await processFullSyncItem(deps, sent[0] as FullSyncWorkItem, { deliveryCount: 1, maxDeliveryCount: 10 });
  const done = await fullSyncStatus(base, run.runId);
  expect(done?.status).toBe('failed');
  const cust = line(done, 'CUSTOMER');
  const contact = line(done, 'CONTACT');
  expect(cust?.status).toBe('failed');
  expect(cust?.message).toBe(`DV.VALIDATION: ${refused.message}`);
  expect(contact?.status).toBe('skipped');
  expect(contact?.message).toBe(`skipped: depends on CUSTOMER, which failed (DV.VALIDATION: ${refused.message})`);
  expect(sent.map((i) => i.mapping)).toEqual(['CUSTOMER']);
});

it('marks the mapping failed on the last delivery of a work item that keeps failing transiently', async () => {
  const rt = await getRuntime();
  const base = fullSyncDeps(rt);
  const outage = new SyncError('BC.UNAVAILABLE', 'Business Central is unavailable (503).');
  const bc = { ...base.sync.bc, listPage: async () => Promise.reject(outage), list: () => failingList(outage) };
  const deps = { ...base, sync: { ...base.sync, bc: bc as typeof base.sync.bc } };
  const run = await startFullSync({ ...base, queue: { send: async () => undefined } }, { mappings: ['PAYMENT TERMS'] });
  const item = { runId: run.runId, mapping: 'PAYMENT TERMS', pass: 0, page: 0, offset: 0 };

  await expect(processFullSyncItem(deps, item, { deliveryCount: 1, maxDeliveryCount: 3 })).rejects.toThrow(/unavailable/);
  expect((await fullSyncStatus(base, run.runId))?.status).toBe('running');

  await expect(processFullSyncItem(deps, item, { deliveryCount: 3, maxDeliveryCount: 3 })).rejects.toThrow(/unavailable/);
  const after = await fullSyncStatus(base, run.runId);
  expect(after?.status).toBe('failed');
  expect(after?.mappings[0]?.status).toBe('failed');
  expect(after?.mappings[0]?.message).toMatch(/BC\.UNAVAILABLE: .*dead-lettered after 3 deliveries/);
});

async function* failingList(error: Error): AsyncGenerator<never> {
  yield* [];
  throw error;
}
