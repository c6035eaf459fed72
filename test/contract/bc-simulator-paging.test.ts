import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BcSimulator } from '../../dev/bc-simulator';
import { call, startSim } from './bc-simulator-helpers';

let sim: BcSimulator;

beforeAll(async () => {
  sim = await startSim();
});
afterAll(async () => {
  await sim.stop();
});

async function allPages(url: string, prefer?: string): Promise<{ pages: number[]; ids: string[]; numbers: string[] }> {
  const pages: number[] = [];
  const ids: string[] = [];
  const numbers: string[] = [];
  let next: string | undefined = url;
  while (next) {
    const r = await call(next, { headers: prefer ? { Prefer: prefer } : {} });
    expect(r.status).toBe(200);
    pages.push(r.body.value.length);
    for (const v of r.body.value) {
      ids.push(v.id);
      numbers.push(v.number);
    }
    next = r.body['@odata.nextLink'];
  }
  return { pages, ids, numbers };
}

/** Page sizes a server-driven pager must produce for `total` rows at `size` per page. */
function expectedPages(total: number, size: number): number[] {
  return Array.from({ length: Math.ceil(total / size) }, (_, i) => Math.min(size, total - i * size));
}

async function itemCount(): Promise<number> {
  const r = await call(`${sim.apiBase()}/items`);
  expect(r.body['@odata.nextLink']).toBeUndefined();
  return r.body.value.length;
}

describe('server-driven paging', () => {
  it('pages with Prefer: odata.maxpagesize and an opaque $skiptoken', async () => {
    const first = await call(`${sim.apiBase()}/items`, { headers: { Prefer: 'odata.maxpagesize=4' } });
    expect(first.headers.get('preference-applied')).toBe('odata.maxpagesize=4');
    expect(first.body.value).toHaveLength(4);
    expect(first.body['@odata.nextLink']).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v2\.0\/.*\/items\?\$skiptoken=[A-Za-z0-9_-]+$/);
    const all = await allPages(`${sim.apiBase()}/items`, 'odata.maxpagesize=4');
    const total = await itemCount();
    expect(total).toBeGreaterThan(8);
    expect(all.pages).toEqual(expectedPages(total, 4));
    expect(new Set(all.ids).size).toBe(total);
    expect(all.numbers).toEqual([...all.numbers].sort());
  });

  it('keeps filters and $top across pages', async () => {
    const all = await allPages(`${sim.apiBase()}/items?$filter=unitPrice lt 300&$top=5`, 'odata.maxpagesize=2');
    expect(all.pages).toEqual([2, 2, 1]);
    const ordered = await allPages(`${sim.apiBase()}/items?$orderby=unitPrice desc,number`, 'odata.maxpagesize=3');
    const total = await itemCount();
    expect(ordered.ids).toHaveLength(total);
    expect(new Set(ordered.ids).size).toBe(total);
    expect(ordered.pages).toEqual(expectedPages(total, 3));
  });

  it('refuses a page size above 20,000 with 413 (or clamps when configured)', async () => {
    const r = await call(`${sim.apiBase()}/items`, { headers: { Prefer: 'odata.maxpagesize=20001' } });
    expect(r.status).toBe(413);
    await call(`${sim.url}/_sim/settings`, { method: 'POST', body: { pageSizeOverLimit: 'clamp' } });
    const clamped = await call(`${sim.apiBase()}/items`, { headers: { Prefer: 'odata.maxpagesize=50000' } });
    expect(clamped.status).toBe(200);
    expect(clamped.headers.get('preference-applied')).toBe('odata.maxpagesize=20000');
    await call(`${sim.url}/_sim/settings`, { method: 'POST', body: { pageSizeOverLimit: '413' } });
  });

  it('continues correctly when rows change between pages (key-based continuation)', async () => {
    const s = await startSim();
    try {
      const base = `${s.apiBase()}/customers`;
      const p1 = await call(base, { headers: { Prefer: 'odata.maxpagesize=3' } });
      const seen: string[] = p1.body.value.map((c: { number: string }) => c.number);
      expect(seen).toEqual(['10000', '20000', '30000']);
      // Insert before the cursor and delete the next row: neither a repeat nor a skipped survivor may follow.
      await call(base, { method: 'POST', body: { displayName: 'Early', number: '15000' } });
      const p2url = p1.body['@odata.nextLink'];
      const fourth = (await call(`${base}?$filter=number eq '40000'`)).body.value[0];
      await call(`${base}(${fourth.id})`, { method: 'DELETE', headers: { 'If-Match': '*' } });
      let next: string | undefined = p2url;
      while (next) {
        const r = await call(next, { headers: { Prefer: 'odata.maxpagesize=3' } });
        seen.push(...r.body.value.map((c: { number: string }) => c.number));
        next = r.body['@odata.nextLink'];
      }
      expect(seen).toEqual(['10000', '20000', '30000', '50000', '60000']);
    } finally {
      await s.stop();
    }
  });

  it('rejects a malformed $skiptoken', async () => {
    const r = await call(`${sim.apiBase()}/items?$skiptoken=notatoken`);
    expect(r.status).toBe(400);
  });

  it('holds 100,000 generated customers and pages through them at 20,000 per page', async () => {
    const s = await startSim({ seed: 'empty' });
    try {
      const seeded = await call(`${s.url}/_sim/seed?customers=100000`, { method: 'POST' });
      expect(seeded.status).toBe(200);
      expect(seeded.body.created.customer).toBe(100000);
      const all = await allPages(`${s.apiBase()}/customers?$select=id,number`, 'odata.maxpagesize=20000');
      expect(all.pages).toEqual([20000, 20000, 20000, 20000, 20000]);
      expect(new Set(all.ids).size).toBe(100000);
      const one = await call(`${s.apiBase()}/customers(${all.ids[54321]})`);
      expect(one.body.number).toBe(all.numbers[54321]);
      const noPrefer = await call(`${s.apiBase()}/customers?$select=number`);
      expect(noPrefer.body.value).toHaveLength(20000);
      expect(noPrefer.body['@odata.nextLink']).toBeDefined();
    } finally {
      await s.stop();
    }
  });
});

describe('JSON $batch', () => {
  it('runs the documented example (Company header, relative url, If-Match *) and reports per-operation results', async () => {
    const item = (await call(`${sim.apiBase()}/items?$filter=number eq '1896-S'`)).body.value[0];
    const r = await call(`${sim.apiRoot()}/$batch`, {
      method: 'POST',
      body: {
        requests: [
          {
            method: 'PATCH',
            url: `items(${item.id})`,
            headers: { Company: 'CRONUS International Ltd.', 'Content-Type': 'application/json', 'If-Match': '*' },
            body: { displayName: 'Touring Bicycle v2' },
          },
          {
            method: 'PATCH',
            url: `items(${item.id})`,
            headers: { Company: 'CRONUS International Ltd.', 'Content-Type': 'application/json', 'If-Match': '*' },
            body: { type: 'Invalid Type' },
          },
        ],
      },
    });
    expect(r.status).toBe(200);
    const [ok, bad] = r.body.responses;
    expect(ok).toMatchObject({
      id: null,
      status: 200,
      headers: { 'content-type': 'application/json; odata.metadata=minimal', 'odata-version': '4.0' },
    });
    expect(ok.body.displayName).toBe('Touring Bicycle v2');
    expect(bad).toMatchObject({
      id: null,
      status: 400,
      headers: { 'content-type': 'application/json; odata.metadata=minimal', 'odata-version': '4.0' },
    });
    expect(bad.body.error.code).toBe('Unknown');
    expect(bad.body.error.message).toMatch(
      /^'Invalid Type' is not an option\. The existing options are: Inventory,Service,Non-Inventory {2}CorrelationId: {2}[0-9a-f-]{36}\.$/,
    );
  });

  it('echoes operation ids and accepts companies(...) urls', async () => {
    const r = await call(`${sim.apiRoot()}/$batch`, {
      method: 'POST',
      body: {
        requests: [
          { id: '1', method: 'GET', url: `companies(${sim.companyId})/currencies?$filter=code eq 'EUR'` },
          { id: '2', method: 'POST', url: `companies(${sim.companyId})/customers`, body: { displayName: 'Batch Customer' } },
        ],
      },
    });
    expect(r.body.responses.map((x: { id: string; status: number }) => [x.id, x.status])).toEqual([
      ['1', 200],
      ['2', 201],
    ]);
    expect(r.body.responses[0].body.value[0].code).toBe('EUR');
  });

  it('refuses more than 100 operations', async () => {
    const requests = Array.from({ length: 101 }, (_, i) => ({
      id: String(i),
      method: 'GET',
      url: `companies(${sim.companyId})/currencies`,
    }));
    const r = await call(`${sim.apiRoot()}/$batch`, { method: 'POST', body: { requests } });
    expect(r.status).toBe(400);
    const hundred = await call(`${sim.apiRoot()}/$batch`, { method: 'POST', body: { requests: requests.slice(0, 100) } });
    expect(hundred.status).toBe(200);
    expect(hundred.body.responses).toHaveLength(100);
  });

  it('rolls back everything with Isolation: snapshot when an operation fails', async () => {
    const before = (await call(`${sim.apiBase()}/customers?$filter=displayName eq 'Snapshot A'`)).body.value;
    expect(before).toHaveLength(0);
    const r = await call(`${sim.apiRoot()}/$batch`, {
      method: 'POST',
      headers: { Isolation: 'snapshot' },
      body: {
        requests: [
          { id: 'a', method: 'POST', url: `companies(${sim.companyId})/customers`, body: { displayName: 'Snapshot A' } },
          { id: 'b', method: 'POST', url: `companies(${sim.companyId})/customers`, body: { city: 'no name' } },
          { id: 'c', method: 'POST', url: `companies(${sim.companyId})/customers`, body: { displayName: 'Snapshot C' } },
        ],
      },
    });
    expect(r.body.responses.map((x: { status: number }) => x.status)).toEqual([201, 400, 424]);
    const after = (await call(`${sim.apiBase()}/customers?$filter=displayName eq 'Snapshot A'`)).body.value;
    expect(after).toHaveLength(0);
    const without = await call(`${sim.apiRoot()}/$batch`, {
      method: 'POST',
      body: {
        requests: [
          { id: 'a', method: 'POST', url: `companies(${sim.companyId})/customers`, body: { displayName: 'Snapshot A' } },
          { id: 'b', method: 'POST', url: `companies(${sim.companyId})/customers`, body: { city: 'no name' } },
        ],
      },
    });
    expect(without.body.responses.map((x: { status: number }) => x.status)).toEqual([201, 400]);
    expect((await call(`${sim.apiBase()}/customers?$filter=displayName eq 'Snapshot A'`)).body.value).toHaveLength(1);
  });

  it('requires the JSON batch format', async () => {
    const r = await call(`${sim.apiRoot()}/$batch`, {
      method: 'POST',
      headers: { 'Content-Type': 'multipart/mixed; boundary=x' },
      body: '--x--',
    });
    expect(r.status).toBe(415);
  });
});
