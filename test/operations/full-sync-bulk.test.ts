import { describe, expect, it } from 'vitest';
import { defaultMappings } from '../../shared/domain/mappings/defaults';
import type { TableMapping } from '../../shared/domain/mappings/schema';
import { dataverseTarget } from '../../shared/domain/mappings/targets';
import type { DataverseEntityTarget, VersionedRecord } from '../../shared/domain/ports';
import type { SyncDeps } from '../../shared/domain/sync/types';
import { SyncError } from '../../shared/errors';
import { BulkPace, BulkWrites, bulkOptions } from '../../shared/operations/full-sync-bulk';

/**
 * The bulk write path on its own, with a Dataverse gateway whose CreateMultiple takes a fixed server time per row
 * (as the simulator's `rowCostMs`): what reaches Dataverse — how many requests, how many rows each — is the figure.
 */

const customer = defaultMappings({
  ownershipModel: 'Person',
  salesIntegration: true,
  unitGroupMapping: false,
  extendedPricing: false,
  salesOrderIntegration: 'none',
}).find((m) => m.name === 'CUSTOMER') as TableMapping;

interface Gateway {
  bulkSizes: number[];
  singles: number;
  throttleFirst: number;
}

function ports(g: Gateway, perRowMs: number): { raw: SyncDeps; wrapped: SyncDeps } {
  const createMany = async (
    _t: DataverseEntityTarget,
    rows: Array<{ id: string; values: Record<string, unknown> }>,
  ): Promise<VersionedRecord[]> => {
    if (g.throttleFirst > 0) {
      g.throttleFirst--;
      throw new SyncError('DV.THROTTLED', 'Number of requests exceeded the limit of 200 over time window of 10 seconds.', {
        retryAfterMs: 20,
      });
    }
    g.bulkSizes.push(rows.length);
    await new Promise((r) => setTimeout(r, rows.length * perRowMs));
    return rows.map((r) => ({ id: r.id, etag: 'W/"1"', modifiedOn: '2026-12-06T00:00:00Z', values: r.values }));
  };
  const dataverse = {
    side: 'dataverse',
    create: async (_t: DataverseEntityTarget, values: Record<string, unknown>, o?: { id?: string }) => {
      g.singles++;
      return { id: o?.id ?? 'x', etag: 'W/"1"', values };
    },
  };
  const deps = {
    mappings: { get: async () => customer, all: async () => [customer] },
    bc: { side: 'bc' },
    dataverse,
    couplings: {},
    history: { append: async () => undefined },
  } as unknown as SyncDeps;
  return { raw: { ...deps, dataverse: { ...dataverse, createMany } } as unknown as SyncDeps, wrapped: deps };
}

async function createAll(bulk: BulkWrites, n: number, inFlight: number, arrivalMs = 0): Promise<void> {
  const target = dataverseTarget(customer);
  const records = Array.from({ length: n }, (_, i) => ({ id: `r${i}`, etag: '', values: {} }) as VersionedRecord);
  await bulk.run(
    records,
    async (r) => {
      // The engine reads and maps before it creates; rows come ready 100 at a time, faster than Dataverse takes them.
      const ready = Math.floor(Number(r.id.slice(1)) / 100) * arrivalMs;
      await new Promise((resolve) => (ready > 0 ? setTimeout(resolve, ready) : setImmediate(resolve)));
      await bulk.deps.dataverse.create(
        target,
        { name: r.id },
        { id: `00000000-0000-4000-8000-${String(r.id.slice(1)).padStart(12, '0')}` },
      );
      return { result: 'inserted', mapping: 'CUSTOMER' };
    },
    () => inFlight,
  );
}

describe('full sync bulk writes (CreateMultiple pacing)', () => {
  it('sizes chunks from the server time per row, not from the time a chunk waited for a free slot', async () => {
    // 4 ms per row and a 200 ms target: 50 rows per request. Two requests at a time while the records produce
    // rows far faster, so chunks queue for a slot; a pace that counted that wait as server time would shrink the
    // chunks towards single rows (spending the request limit, not execution time).
    const g: Gateway = { bulkSizes: [], singles: 0, throttleFirst: 0 };
    const { raw, wrapped } = ports(g, 4);
    const pace = new BulkPace(bulkOptions({ targetRequestMs: 200, firstRows: 50, maxParallel: 2 }));
    pace.parallel = 2;
    const bulk = new BulkWrites(raw, wrapped, customer, pace);
    await createAll(bulk, 1500, 1500, 100);
    expect(g.singles).toBe(0);
    expect(g.bulkSizes.reduce((a, b) => a + b, 0)).toBe(1500);
    // Every request but the wave's last few carries a full chunk's worth (timer jitter allowed).
    const sorted = [...g.bulkSizes].sort((a, b) => a - b);
    expect(sorted[Math.floor(sorted.length / 2)]).toBeGreaterThanOrEqual(25);
    expect(g.bulkSizes.length).toBeLessThanOrEqual(1500 / 25 + 4);
  });

  it('sizes the chunks after the first request from its time per row, though the whole wave came before it ended', async () => {
    // 4 ms per row and a 100 ms target: 25 rows per request once the first request (10 rows) has measured. All 600
    // rows are ready at once, before that first request ends; chunks cut when they arrive would all have its
    // 10 rows (60 requests). A window of its own, so no earlier test's measurements are remembered.
    const g: Gateway = { bulkSizes: [], singles: 0, throttleFirst: 0 };
    const { raw, wrapped } = ports(g, 4);
    const pace = new BulkPace(bulkOptions({ targetRequestMs: 100, firstRows: 10, executionWindowMs: 299_000 }));
    const bulk = new BulkWrites(raw, wrapped, customer, pace);
    await createAll(bulk, 600, 600);
    expect(g.singles).toBe(0);
    expect(g.bulkSizes.reduce((a, b) => a + b, 0)).toBe(600);
    expect(g.bulkSizes[0]).toBe(10);
    const sorted = [...g.bulkSizes.slice(1)].sort((a, b) => a - b);
    expect(sorted[Math.floor(sorted.length / 2)]).toBeGreaterThanOrEqual(18);
    expect(g.bulkSizes.length).toBeLessThanOrEqual(1 + 590 / 18 + 6);
  });

  it('aims a request at 1/20 of a short execution window (2 s at most)', () => {
    expect(bulkOptions({ executionWindowMs: 10_000 }).targetRequestMs).toBe(500);
    expect(bulkOptions().targetRequestMs).toBe(2_000);
    expect(bulkOptions({ executionWindowMs: 10_000, targetRequestMs: 800 }).targetRequestMs).toBe(800);
  });

  it("keeps its bulk requests inside Dataverse's execution-time window, the first request alone", async () => {
    // 300 ms of execution per 1 s window; 12 requests of 20 rows at 5 ms per row are 1.2 s of execution.
    const pace = new BulkPace(bulkOptions({ executionBudgetMs: 300, executionWindowMs: 1_000, firstRows: 20 }));
    const spans: Array<{ start: number; end?: number }> = [];
    await Promise.all(
      Array.from({ length: 12 }, () =>
        pace.run(20, async () => {
          const span: { start: number; end?: number } = { start: Date.now() };
          spans.push(span);
          await new Promise((r) => setTimeout(r, 100));
          span.end = Date.now();
        }),
      ),
    );
    const [first, ...rest] = spans as [{ start: number; end: number }, ...Array<{ start: number; end: number }>];
    expect(rest.every((s) => s.start >= first.end)).toBe(true);
    // When each request started, the window held less than the budget (running ones at their expected 100 ms),
    // allowing the timers' lateness.
    for (const s of rest as Array<{ start: number; end: number }>) {
      let used = 0;
      for (const o of spans as Array<{ start: number; end: number }>) {
        if (o === s || o.start > s.start) continue;
        if (o.end <= s.start) used += o.end > s.start - 1_000 ? o.end - o.start : 0;
        else used += Math.max(100, s.start - o.start);
      }
      expect(used).toBeLessThan(300 + 60);
    }
    // Admitted while the window holds less than 300 ms, a window holds at most 400 ms (300 + one request): 1.2 s of
    // execution cannot end inside 2 s (unpaced, six at a time, it ends in about 0.3 s).
    const last = Math.max(...spans.map((s) => s.end as number));
    expect(last - first.start).toBeGreaterThanOrEqual(1_900);
  });

  it('sends a throttled chunk again as a chunk after Retry-After, not split into single rows', async () => {
    const g: Gateway = { bulkSizes: [], singles: 0, throttleFirst: 3 };
    const { raw, wrapped } = ports(g, 0);
    const pace = new BulkPace(bulkOptions({ firstRows: 100 }));
    const bulk = new BulkWrites(raw, wrapped, customer, pace);
    await createAll(bulk, 300, 300);
    expect(g.singles).toBe(0);
    expect(g.bulkSizes.reduce((a, b) => a + b, 0)).toBe(300);
  });
});

describe('full sync bulk writes (coupling looks)', () => {
  it("answers a record's first two looks from the wave's prefetch, and reads fresh after that or once it couples", async () => {
    const reads: string[] = [];
    const coupled = new Set<string>();
    const store = {
      couplingsIn: async (_m: string, _side: string, ids: string[]) => {
        reads.push(`range:${ids.length}`);
        return { found: new Map(ids.filter((id) => coupled.has(id)).map((id) => [id, {}])), complete: true };
      },
      getByBcId: async (_m: string, id: string) => {
        reads.push(`point:${id}`);
        return coupled.has(id) ? ({ bcId: id, dataverseId: `dv-${id}` } as never) : undefined;
      },
      couple: async () => {
        throw new Error('coupleMany is used');
      },
      coupleMany: async (inputs: Array<{ bcId: string }>) =>
        inputs.map((i) => {
          coupled.add(i.bcId);
          return { ...i, etag: 'bc:1' };
        }),
    };
    const g: Gateway = { bulkSizes: [], singles: 0, throttleFirst: 0 };
    const { raw, wrapped } = ports(g, 0);
    const deps = { ...wrapped, couplings: store } as unknown as SyncDeps;
    const bulk = new BulkWrites({ ...raw, couplings: store } as unknown as SyncDeps, deps, customer, new BulkPace(bulkOptions()));
    const records = ['a', 'b'].map((id) => ({ id, etag: '', values: {} }) as VersionedRecord);
    await bulk.prefetchCouplings('bc', records);
    expect(reads).toEqual(['range:2']);
    const looks: Array<unknown> = [];
    await bulk.run(
      records,
      async (r) => {
        // The engine's own-echo check: answered without a read.
        looks.push(await bulk.deps.couplings.getByBcId('CUSTOMER', r.id));
        if (r.id === 'a') {
          await bulk.deps.couplings.couple({ mapping: 'CUSTOMER', bcId: 'a', dataverseId: 'dv-a', environment: 'e' });
          // Once the record coupled, a look reads (gathered with the wave's other looks, then read whole).
          looks.push(await bulk.deps.couplings.getByBcId('CUSTOMER', 'a'));
        } else {
          // The first attempt is answered from the prefetch too; a third look (a retry after a conflict) reads.
          looks.push(await bulk.deps.couplings.getByBcId('CUSTOMER', 'b'));
          looks.push(await bulk.deps.couplings.getByBcId('CUSTOMER', 'b'));
        }
        return { result: 'inserted', mapping: 'CUSTOMER' };
      },
      () => 2,
    );
    expect(looks.filter((l) => l === undefined)).toHaveLength(4);
    expect(looks).toContainEqual({ bcId: 'a', dataverseId: 'dv-a' });
    expect(reads.filter((r) => r.startsWith('range:')).length).toBeGreaterThanOrEqual(2);
    expect(reads).toContain('point:a');
    expect(reads).not.toContain('point:b');
  });
});
