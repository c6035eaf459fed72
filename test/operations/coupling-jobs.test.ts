import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/main';
import type { TableMapping } from '../../shared/domain/mappings';
import type { CouplingJob } from '../../shared/operations/coupling-jobs';
import { type Stack, startStack, TEST_LOCAL_KEY, TEST_READER_KEY } from '../support/stack';
import { until } from '../support/until';
import { adminClient, customerByName, seedCustomers, seedMatchingAccounts } from './helpers';

/**
 * Match-based coupling and bulk uncoupling as background jobs: the admin API starts a job and runs its first page,
 * the `admin-jobs` timer runs the rest, and the job shows its progress, counters and result list throughout.
 */
describe('coupling jobs', () => {
  let stack: Stack;
  let admin: ReturnType<typeof adminClient>;
  let reader: ReturnType<typeof adminClient>;

  beforeAll(async () => {
    stack = await startStack({ functions: ['admin-api', 'admin-jobs', 'sync'] });
    admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
    reader = adminClient((r) => stack.host.apiUrl(r), TEST_READER_KEY);
    await admin.ok('PUT', 'mappings/CUSTOMER', customerByName(await admin.ok<TableMapping>('GET', 'mappings/CUSTOMER')));
    // More BC customers than one page of the job (100); 30 of them have an account of the same name.
    await seedCustomers(stack, 150);
    await seedMatchingAccounts(Array.from({ length: 30 }, (_, i) => i + 1));
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const finished = async (id: string) =>
    until(
      `coupling job ${id}`,
      async () => {
        await stack.host.runTimer('admin-jobs');
        const job = await reader.ok<CouplingJob>('GET', `couplings/jobs/${id}`);
        return job.status !== 'running' ? job : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );

  it('couples by match in the background with progress and a result list, then uncouples everything', { timeout: 120_000 }, async () => {
    const started = await admin.ok<CouplingJob>('POST', 'couplings/jobs', { kind: 'match-couple', mapping: 'CUSTOMER' });
    // The first page ran at once; more pages remain for the timer.
    expect(started).toMatchObject({ kind: 'match-couple', mapping: 'CUSTOMER', status: 'running', done: 100, by: 'key:Sync.Admin' });
    expect(started.continuation).toBeDefined();
    const done = await finished(started.id);
    expect(done.status).toBe('completed');
    expect(done.done).toBeGreaterThan(150);
    // The demo's five name matches plus the thirty generated ones; nothing created (createNew is off).
    expect(done.counters.coupled).toBe(35);
    expect(done.counters.created ?? 0).toBe(0);
    expect(done.counters.unmatched).toBe(done.done - 35 - (done.counters.ambiguous ?? 0) - (done.counters.alreadyCoupled ?? 0));
    expect(done.results.filter((r) => r.result === 'coupled')).toHaveLength(35);
    expect(done.results.find((r) => r.result === 'coupled')?.dataverseId).toMatch(/^[0-9a-f-]{36}$/);
    const couplings = await reader.ok<{ items: unknown[] }>('GET', 'couplings?mapping=CUSTOMER&pageSize=1000');
    expect(couplings.items).toHaveLength(35);
    expect((await reader.ok<CouplingJob[]>('GET', 'couplings/jobs')).map((j) => j.id)).toContain(started.id);

    // A Reader follows jobs but cannot start one.
    expect((await reader.call('POST', 'couplings/jobs', { kind: 'uncouple', mapping: 'CUSTOMER' })).status).toBe(403);

    const uncouple = await admin.ok<CouplingJob>('POST', 'couplings/jobs', { kind: 'uncouple', mapping: 'CUSTOMER' });
    expect(uncouple.total).toBe(35);
    const gone = await finished(uncouple.id);
    expect(gone).toMatchObject({ status: 'completed', done: 35, counters: { uncoupled: 35 } });
    expect((await reader.ok<{ items: unknown[] }>('GET', 'couplings?mapping=CUSTOMER')).items).toEqual([]);
  });

  it('refuses a match job without criteria, and cancels a running job', async () => {
    const vendor = await admin.ok<TableMapping>('GET', 'mappings/VENDOR');
    expect(vendor.couplingRules.matchFields).toEqual([]);
    const refused = await admin.call<{ error: string }>('POST', 'couplings/jobs', { kind: 'match-couple', mapping: 'VENDOR' });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toContain('match-based coupling fields');
    const job = await admin.ok<CouplingJob>('POST', 'couplings/jobs', { kind: 'match-couple', mapping: 'CUSTOMER' });
    expect(job.status).toBe('running');
    const cancelled = await admin.ok<CouplingJob>('POST', `couplings/jobs/${job.id}/cancel`);
    expect(cancelled.status).toBe('cancelled');
    await stack.host.runTimer('admin-jobs');
    expect(await reader.ok<CouplingJob>('GET', `couplings/jobs/${job.id}`)).toMatchObject({ status: 'cancelled', done: 100 });
  });

  it('starts, lists and cancels jobs from the CLI', async () => {
    const base = stack.host.apiUrl('').replace(/\/api\/?$/, '');
    const cli = async (...args: string[]) => {
      const lines: string[] = [];
      await buildProgram((l) => lines.push(l)).parseAsync(['node', 'cli', '--url', base, '--key', TEST_LOCAL_KEY, ...args]);
      return lines.join('\n');
    };
    const started = await cli('couplings', 'match', '-m', 'CUSTOMER');
    expect(started).toMatch(/match-couple CUSTOMER: running, 100 done \(/);
    const id = started.split(' ')[0] ?? '';
    expect(await cli('couplings', 'jobs')).toContain(id);
    expect(await cli('couplings', 'jobs', id, '--cancel')).toContain(`${id} match-couple CUSTOMER: cancelled`);
  });
});
