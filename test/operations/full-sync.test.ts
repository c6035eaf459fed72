import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LocalFunctionsHost } from '../../dev/local-host/host';
import { fullSyncDeps } from '../../shared/operations/context';
import { type FullSyncProgress, fullSyncStatus } from '../../shared/operations/full-sync';
import { getRuntime } from '../../shared/runtime';
import { eventually, type Stack, startStack, TEST_LOCAL_KEY } from '../support/stack';
import { adminClient, columnValues, customerByName, seedCustomers, seedMatchingAccounts } from './helpers';

/**
 * A full sync of generated customers through the whole local stack, interrupted half-way by stopping the
 * Functions host and finished by a new host: matching accounts are coupled by name, the rest created, both
 * sides end equal and nothing is duplicated. Size: FULL_SYNC_TEST_RECORDS (default 10,000, the size:
 * about 7 minutes on 2 cores, most of it Azurite's partition scans; set it lower for a quick local run).
 */
const N = Number(process.env.FULL_SYNC_TEST_RECORDS ?? 10_000);
const MATCHING = Math.floor(N / 10);
/** Time budgets grow with N (a deadline to poll against, not a speed assertion: figures live in the bench). */
const BUDGET_MS = Math.max(240_000, N * 150);

let stack: Stack;
let second: LocalFunctionsHost | undefined;
const modules = ['full-sync', 'admin-api', 'sync'].map((f) => path.join(__dirname, '..', '..', 'functions', `${f}.ts`));

beforeAll(async () => {
  stack = await startStack({ functions: ['full-sync', 'admin-api', 'sync'], dataverse: { seed: 'empty' } });
  // Mapping changes are validated against BC metadata, which the simulator infers from records: the admin sets
  // CUSTOMER's coupling criteria while the demo company has data, then the company is emptied for the test.
  const admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
  await admin.ok('PUT', 'mappings/CUSTOMER', customerByName(await admin.ok('GET', 'mappings/CUSTOMER')));
  const reset = await fetch(`${stack.bc.url}/_sim/reset?seed=empty`, { method: 'POST' });
  if (!reset.ok) throw new Error(`BC reset: ${reset.status}`);
  await seedCustomers(stack, N);
  // Every tenth customer already exists in Dataverse under its name (different city): to be coupled, not duplicated.
  await seedMatchingAccounts(Array.from({ length: MATCHING }, (_, i) => i * 10 + 1));
});

afterAll(async () => {
  await second?.stop();
  await stack?.stop();
});

it('couples matches, creates the rest, survives a host restart half-way, and leaves both sides equal', {
  timeout: BUDGET_MS + 60_000,
}, async () => {
  const admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
  const mapping = await admin.ok<{ couplingRules: { matchFields: unknown[] } }>('GET', 'mappings/CUSTOMER');
  expect(mapping.couplingRules.matchFields).toEqual([
    { bcField: 'displayName', dataverseColumn: 'name', priority: 0, caseSensitive: false },
  ]);

  const bad = await admin.call<{ field?: string }>('POST', 'full-sync', { mappings: 'CUSTOMER' });
  expect(bad.status).toBe(400);
  expect(bad.body.field).toBe('mappings');

  const started = await admin.ok<FullSyncProgress>('POST', 'full-sync', { mappings: ['CUSTOMER'] });
  expect(started.status).toBe('running');
  const again = await admin.call('POST', 'full-sync', { mappings: ['CUSTOMER'] });
  expect(again.status).toBe(409);

  // Half-way: stop the host (its current work item finishes its chunk; the next item stays queued).
  await eventually(
    async () => {
      const p = await admin.ok<FullSyncProgress>('GET', 'full-sync');
      return p.done >= N / 2 && p;
    },
    { timeoutMs: BUDGET_MS / 2, intervalMs: 200, what: 'half of the records' },
  );
  await stack.host.stop();
  const rt = await getRuntime();
  const paused = await fullSyncStatus(fullSyncDeps(rt), started.runId);
  expect(paused?.status).toBe('running');
  expect(paused?.mappings[0]?.done).toBeLessThan(2 * N);

  // A new host picks the queued work item up and finishes.
  second = await new LocalFunctionsHost({ modules, port: 0, log: () => undefined }).start();
  const admin2 = adminClient((r) => second!.apiUrl(r), TEST_LOCAL_KEY);
  const done = await eventually(
    async () => {
      const p = await admin2.ok<FullSyncProgress>('GET', `full-sync?runId=${started.runId}`);
      return p.status !== 'running' && p;
    },
    { timeoutMs: BUDGET_MS, intervalMs: 250, what: 'the full sync to finish' },
  );
  expect(done.status).toBe('completed');
  expect(done.counters.coupled).toBe(MATCHING);
  expect(done.counters.inserted).toBe(N - MATCHING);
  expect(done.counters.failed).toBe(0);
  expect(done.total).toBeGreaterThanOrEqual(N);
  expect(done.recordsPerSecond).toBeGreaterThan(0);

  // No duplicates, both sides equal, every pair coupled.
  const bcNames = await columnValues('bc', 'displayName');
  const dvNames = await columnValues('dataverse', 'name');
  expect(bcNames.length).toBe(N);
  expect(dvNames).toEqual(bcNames);
  expect(await rt.stores.couplings.count('CUSTOMER')).toBe(N);
  // The matched accounts took BC's values (BC's ForceModify after a match).
  const cities = await columnValues('dataverse', 'address1_city');
  expect(cities.filter((c) => c === 'Old City')).toEqual([]);
});
