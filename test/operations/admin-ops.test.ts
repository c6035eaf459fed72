import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack, TEST_LOCAL_KEY } from '../support/stack';
import { until } from '../support/until';
import { adminClient } from './helpers';

/**
 * Admin operations not covered elsewhere, through the admin API on the local host: bulk match-based coupling,
 * cancelling a full sync, reconciliation picking up a change no webhook brought, history and stats.
 */
describe('admin operations', () => {
  let stack: Stack;
  let admin: ReturnType<typeof adminClient>;
  const bc = { Authorization: 'Bearer t', 'Content-Type': 'application/json' };

  beforeAll(async () => {
    stack = await startStack({ functions: ['admin-api', 'sync', 'full-sync'] });
    admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
    const mapping = await admin.ok<Record<string, unknown> & { couplingRules: Record<string, unknown> }>('GET', 'mappings/CUSTOMER');
    await admin.ok('PUT', 'mappings/CUSTOMER', {
      ...mapping,
      couplingRules: {
        ...mapping.couplingRules,
        matchFields: [{ bcField: 'displayName', dataverseColumn: 'name', priority: 0, caseSensitive: false }],
      },
    });
  });
  // stop() waits for work items still in flight (a full-sync item can hold a page of records), longer than the
  // default hook timeout on a loaded machine.
  afterAll(async () => {
    await stack?.stop();
  }, 120_000);

  it('bulk-couples the demo customers whose names match an account, and creates nothing', async () => {
    const before = await (
      await fetch(`${stack.dataverse.apiBase}/accounts/$count`, { headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}` } })
    ).text();
    const result = await admin.ok<{ examined: number; coupled: number; created: number; unmatched: number }>('POST', 'couplings/bulk', {
      mapping: 'CUSTOMER',
    });
    // Five demo customers share a name with an account (Adatum, Trey Research, School of Fine Art, Alpine Ski House, Relecloud).
    expect(result.coupled).toBe(5);
    expect(result.created).toBe(0);
    expect(result.unmatched).toBe(result.examined - result.coupled);
    const after = await (
      await fetch(`${stack.dataverse.apiBase}/accounts/$count`, { headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}` } })
    ).text();
    expect(after).toBe(before);
    const search = await admin.ok<{ items: unknown[] }>('GET', 'couplings?mapping=CUSTOMER');
    expect(search.items).toHaveLength(5);
    // A second run finds them coupled already.
    const again = await admin.ok<{ coupled: number; alreadyCoupled: number }>('POST', 'couplings/bulk', { mapping: 'CUSTOMER' });
    expect(again.coupled).toBe(0);
    expect(again.alreadyCoupled).toBe(5);
  });

  it('refuses bad input naming the field', async () => {
    const res = await admin.call<{ error: string; field?: string }>('POST', 'couplings/bulk', { mapping: 'CUSTOMER', max: -1 });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain('max');
  });

  it('reconciles a BC change no webhook announced, and keeps its history', async () => {
    // The first pass only records the watermark; a change after it is what reconciliation must find.
    await admin.ok('POST', 'reconcile', { mappings: ['CUSTOMER'] });
    const [adatum] = (
      (await (
        await fetch(`${stack.bc.apiBase()}/customers?$filter=${encodeURIComponent("displayName eq 'Adatum Corporation'")}`, { headers: bc })
      ).json()) as { value: Array<{ id: string; '@odata.etag': string }> }
    ).value;
    if (!adatum) throw new Error('no Adatum');
    const patch = await fetch(`${stack.bc.apiBase()}/customers(${adatum.id})`, {
      method: 'PATCH',
      headers: { ...bc, 'If-Match': adatum['@odata.etag'] },
      body: JSON.stringify({ city: 'Reconciled City' }),
    });
    expect(patch.status).toBe(200);
    // The timer would run again; so does this, until the pass that sees the change (normally the first).
    const result = await until('a reconciliation pass that publishes the change', async () => {
      const [r] = await admin.ok<Array<{ mapping: string; bcPublished: number }>>('POST', 'reconcile', { mappings: ['CUSTOMER'] });
      return r && r.bcPublished >= 1 && r;
    });
    expect(result.mapping).toBe('CUSTOMER');
    const coupling = await admin.ok<{ items: Array<{ bcId: string; dataverseId: string }> }>(
      'GET',
      `couplings?mapping=CUSTOMER&id=${adatum.id}`,
    );
    const dvId = coupling.items[0]?.dataverseId;
    await until('the reconciled city in Dataverse', async () => {
      const row = (await (
        await fetch(`${stack.dataverse.apiBase}/accounts(${dvId})?$select=address1_city`, {
          headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}` },
        })
      ).json()) as { address1_city: string };
      return row.address1_city === 'Reconciled City';
    });
    // History is appended just after the write becomes visible in Dataverse.
    await until('the change in the record history', async () => {
      const history = await admin.ok<Array<{ result: string; changes: Record<string, unknown> }>>(
        'GET',
        `history?mapping=CUSTOMER&bcId=${adatum.id}`,
      );
      return history.some((h) => h.result === 'modified' && Object.keys(h.changes).includes('city -> address1_city'));
    });
    const stats = await admin.ok<unknown>('GET', 'stats');
    expect(JSON.stringify(stats)).toContain('CUSTOMER');
  });

  it('cancels a running full sync, which then stops', async () => {
    await fetch(`${stack.bc.url}/_sim/seed?customers=3000`, { method: 'POST' });
    const run = await admin.ok<{ runId: string; status: string }>('POST', 'full-sync', { mappings: ['CUSTOMER'] });
    expect(run.status).toBe('running');
    const cancelled = await admin.ok<{ status: string }>('POST', 'full-sync/cancel', { runId: run.runId });
    expect(cancelled.status).toBe('cancelled');
    const final = await until('the run to stop', async () => {
      const p = await admin.ok<{ status: string; done: number }>('GET', `full-sync?runId=${run.runId}`);
      return p.status !== 'running' && p;
    });
    expect(final.status).toBe('cancelled');
    expect(final.done).toBeLessThan(3000);
    // A new run may start once the cancelled one is over.
    const next = await admin.call<{ status: string }>('POST', 'full-sync', { mappings: ['CURRENCY'] });
    expect(next.status).toBe(200);
  });
});
