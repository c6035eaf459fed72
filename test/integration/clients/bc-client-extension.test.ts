import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BcSimulator, startBcSimulator } from '../../../dev/bc-simulator';
import { BcClient } from '../../../shared/adapters/bc/client';
import { StaticTokenSource } from '../../../shared/adapters/credentials';
import type { BcEntityTarget } from '../../../shared/domain/ports';
import { SyncError } from '../../../shared/errors';

let sim: BcSimulator;
let client: BcClient;
const customers: BcEntityTarget = { side: 'bc', kind: 'customApi', entitySet: 'customers' };

beforeAll(async () => {
  sim = await startBcSimulator({ port: 0 });
  client = new BcClient({
    apiUrl: sim.url,
    tenantId: sim.tenantId,
    environment: sim.environmentName,
    companyId: sim.companyId,
    tokens: new StaticTokenSource('bc-integration-user'),
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
  });
});
afterAll(async () => {
  await sim?.stop();
});

const extension = (body: Record<string, unknown>) =>
  fetch(`${sim.url}/_sim/extension`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

describe('BC client: a missing extension page is never a deleted record', () => {
  it('a missing record is undefined (GET) and false (DELETE)', async () => {
    const id = '3f2a1b4c-0000-4000-8000-000000000001';
    expect(await client.getRecord(customers, id)).toBeUndefined();
    expect(await client.delete({ side: 'bc', kind: 'customApi', entitySet: 'salesOrderLines' }, id)).toBe(false);
  });

  it('without the extension, GET and DELETE of a record fail with a configuration error naming the fix', async () => {
    const existing = (await client.listPage(customers, { pageSize: 1, select: ['id'] })).value[0];
    if (!existing || typeof existing.id !== 'string') throw new Error('no customer');
    await extension({ installed: false });
    try {
      const get = await client.getRecord(customers, existing.id).catch((e: unknown) => e);
      expect(get).toBeInstanceOf(SyncError);
      expect((get as SyncError).code).toBe('MAP.INVALID');
      expect((get as SyncError).message).toMatch(
        /^Business Central GET customers answered 404 BadRequest_ResourceNotFound: BC extension page missing: customers .*docs\/bc-extension\.md.*Not treated as a deleted record\.$/,
      );
      const del = await client.delete(customers, existing.id).catch((e: unknown) => e);
      expect((del as SyncError).code).toBe('MAP.INVALID');
      // The standard page over the same record still answers.
      expect(await client.getRecord({ side: 'bc', kind: 'apiV2', entitySet: 'customers' }, existing.id)).toBeDefined();
    } finally {
      await extension({ installed: true });
    }
  });
});
