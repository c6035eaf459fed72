import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SyncErrorRecord } from '../../shared/domain/ports';
import type { FullSyncProgress } from '../../shared/operations/full-sync';
import { getRuntime } from '../../shared/runtime';
import { type Stack, startStack, TEST_LOCAL_KEY } from '../support/stack';
import { until } from '../support/until';
import { adminClient, columnValues, customerByName, seedCustomers, seedMatchingAccounts } from './helpers';

/**
 * A small full sync of generated customers through the whole local stack, on the bulk write path: matching
 * accounts are coupled by name, the rest created with CreateMultiple; one customer's account number is already
 * taken in Dataverse, so its chunk is rejected (all-or-nothing) and split down to single rows: that customer
 * becomes one sync error and every other row lands. A second run finds everything coupled and creates nothing.
 * The 10,000-customer run with a host restart half-way is `npm run bench` (bench/full-sync.ts).
 */
const N = 300;
const MATCHING = N / 10;
/** Customer whose account number another Dataverse account already has (alternate key `accountnumber`). */
const TAKEN = 5;
const BUDGET_MS = 120_000;

let stack: Stack;

async function dvCounters(): Promise<{ total: number; byMethod: Record<string, number> }> {
  return (await (await fetch(`${stack.dataverse.url}/_sim/counters`)).json()) as { total: number; byMethod: Record<string, number> };
}

beforeAll(async () => {
  stack = await startStack({ functions: ['full-sync', 'admin-api', 'sync'], dataverse: { seed: 'empty' } });
  // Mapping changes are validated against BC metadata, which the simulator infers from records: set CUSTOMER up
  // while the demo company has data (couple by name, write the number to the account's alternate key), then empty it.
  const admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
  const byName = customerByName(await admin.ok('GET', 'mappings/CUSTOMER'));
  // One direction, so the account holding the taken number is not pulled into BC (and renumbered) meanwhile.
  await admin.ok('PUT', 'mappings/CUSTOMER', {
    ...byName,
    direction: 'ToIntegrationTable',
    fields: byName.fields.map((f) => (f.bcField === 'number' ? { ...f, status: 'Enabled' } : f)),
  });
  const reset = await fetch(`${stack.bc.url}/_sim/reset?seed=empty`, { method: 'POST' });
  if (!reset.ok) throw new Error(`BC reset: ${reset.status}`);
  await seedCustomers(stack, N);
  await seedMatchingAccounts(Array.from({ length: MATCHING }, (_, i) => i * 10 + 1));
  const rt = await getRuntime();
  const [taken] = await rt.dataverse.batch([
    {
      method: 'POST',
      url: 'accounts',
      body: { name: 'Someone Else', accountnumber: `GC${String(TAKEN).padStart(7, '0')}`, customertypecode: 3 },
    },
  ]);
  if (!taken || taken.status >= 300) throw new Error(`seeding the taken account number: ${JSON.stringify(taken?.body)}`);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

it('creates in bulk, splits a rejected chunk so only the bad row fails, and a second run duplicates nothing', {
  timeout: 2 * BUDGET_MS,
}, async () => {
  const admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
  await fetch(`${stack.dataverse.url}/_sim/counters`, { method: 'DELETE' });
  const started = await admin.ok<FullSyncProgress>('POST', 'full-sync', { mappings: ['CUSTOMER'] });
  const done = await until(
    'the full sync to finish',
    async () => {
      const p = await admin.ok<FullSyncProgress>('GET', `full-sync?runId=${started.runId}`);
      return p.status !== 'running' && p;
    },
    { timeoutMs: BUDGET_MS, intervalMs: 200 },
  );
  expect(done.status).toBe('completed');
  expect(done.counters.coupled).toBe(MATCHING);
  expect(done.counters.failed).toBe(1);
  expect(done.counters.inserted).toBe(N - MATCHING - 1);

  // Bulk: the new rows went in CreateMultiple requests (POST), far fewer than rows; single-row writes (PATCH) are
  // the matched accounts' updates and the bad row's own attempts after its chunk was split.
  const writes = (await dvCounters()).byMethod;
  expect(writes.POST ?? 0).toBeGreaterThan(0);
  expect(writes.POST ?? 0).toBeLessThan((N - MATCHING) / 5);
  expect(writes.PATCH ?? 0).toBeLessThan(MATCHING + 10);

  // The bad row is its own sync error, naming the clash; every other customer has its account.
  const rt = await getRuntime();
  const errors = await rt.syncDeps.errors.list({ mapping: 'CUSTOMER', status: 'open', pageSize: 100 });
  expect(errors.items.map((e: SyncErrorRecord) => e.code)).toEqual(['DV.VALIDATION']);
  expect(errors.items[0]?.message).toMatch(/same key already exists/);
  const bcNames = await columnValues('bc', 'displayName');
  const dvNames = await columnValues('dataverse', 'name');
  expect(dvNames).toEqual([...bcNames.filter((n) => n !== `Generated Customer ${TAKEN}`), 'Someone Else'].sort());
  expect(await rt.stores.couplings.count('CUSTOMER')).toBe(N - 1);

  // A second run: everything is coupled (learnt in bulk) and unchanged; nothing new is written.
  const again = await admin.ok<FullSyncProgress>('POST', 'full-sync', { mappings: ['CUSTOMER'] });
  const second = await until(
    'the second full sync to finish',
    async () => {
      const p = await admin.ok<FullSyncProgress>('GET', `full-sync?runId=${again.runId}`);
      return p.status !== 'running' && p;
    },
    { timeoutMs: BUDGET_MS, intervalMs: 200 },
  );
  expect(second.counters.inserted).toBe(0);
  expect(second.counters.coupled).toBe(0);
  expect(second.counters.failed).toBe(1);
  expect(second.counters.unchanged + second.counters.modified).toBe(N - 1);
  expect(await columnValues('dataverse', 'name')).toEqual(dvNames);
});
