import { afterAll, beforeAll, expect, it } from 'vitest';
import { fullSyncDeps } from '../../shared/operations/context';
import { fullSyncStatus } from '../../shared/operations/full-sync';
import { getRuntime } from '../../shared/runtime';
import { type Stack, startStack, TEST_LOCAL_KEY } from '../support/stack';
import { until } from '../support/until';
import { adminClient, seedCustomers } from './helpers';

/**
 * Cancelling a full sync while a page is being synchronized: the page stops starting records within a second or
 * so (it looks at the run while it works), so the records not yet started are never written, and the host's stop
 * does not wait for the rest of the page.
 */
const N = 4000;

let stack: Stack;

async function accounts(): Promise<number> {
  const res = await fetch(`${stack.dataverse.apiBase}/accounts/$count`, {
    headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}` },
  });
  return Number(await res.text());
}

beforeAll(async () => {
  stack = await startStack({ functions: ['full-sync', 'admin-api'], dataverse: { seed: 'empty' } });
  const reset = await fetch(`${stack.bc.url}/_sim/reset?seed=empty`, { method: 'POST' });
  if (!reset.ok) throw new Error(`BC reset: ${reset.status}`);
  await seedCustomers(stack, N);
  // Every row Dataverse writes costs it 10 ms of server time (the simulator's execution-time model), so the page runs
  // for seconds after its first accounts on any machine: the cancel always lands while the page is under way.
  const slow = await fetch(`${stack.dataverse.url}/_sim/limits`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ rowCostMs: 10 }),
  });
  if (!slow.ok) throw new Error(`Dataverse limits: ${slow.status}`);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
}, 120_000);

it('stops a page being synchronized when its run is cancelled: records not yet started are not written', {
  timeout: 180_000,
}, async () => {
  const admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
  const run = await admin.ok<{ runId: string }>('POST', 'full-sync', { mappings: ['CUSTOMER'] });
  // The page (all N customers: one BC page, one chunk) is under way once its first accounts exist.
  await until('the first accounts', async () => (await accounts()) > 0, { timeoutMs: 60_000, intervalMs: 50 });
  await admin.ok('POST', 'full-sync/cancel', { runId: run.runId });
  // Stopping the host waits for the work item in flight: with the page stopped, for the records it had started.
  await stack.host.stop();
  const created = await accounts();
  expect(created).toBeGreaterThan(0);
  expect(created).toBeLessThan(N);
  const final = await fullSyncStatus(fullSyncDeps(await getRuntime()), run.runId);
  expect(final?.status).toBe('cancelled');
  // The checkpoint counts the records done: those started before the cancel, every one of them written.
  expect(final?.mappings[0]?.done).toBe(created);
});
