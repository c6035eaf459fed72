/**
 * Event latency through the real path, and the sync engine's own speed.
 *
 * `benchLatency`: BC change → Dataverse written, and Dataverse change → BC written, measured from the user's
 * change to the moment the other side shows the value: simulator webhook → our webhook function → Service Bus →
 * sync function (local Functions host) → the other simulator. Once with the simulators' notification delays at
 * zero (our own overhead), once with the real ones (BC 30 s, documented; Dataverse's asynchronous service 1 s, the
 * simulator default — Microsoft publishes no figure). The quick run skips the 30 s BC case and takes three samples
 * of the 1 s Dataverse case.
 *
 * `benchSyncRecord`: records/s and p50/p95 ms per record through `syncRecord` directly (no queue, no host)
 * against simulators with no added latency (issue 7's figure): inserts (BC customer → new account) and updates, and
 * Dataverse → BC updates; with each, issue 14's API requests per change (`BENCH_DEBUG=1` prints where they went).
 */
import { type ChangeEvent, newChangeEvent } from '../shared/domain/change-event';
import { syncRecord } from '../shared/domain/sync/sync-record';
import { getRuntime, type Runtime } from '../shared/runtime';
import { PROOF_SECRETS, type ProofStack, startProofStack } from '../test/proof/harness';
import { until } from '../test/support/until';

export interface Figure {
  name: string;
  value: number;
  unit: string;
}

const bcUser = { Authorization: 'Bearer bench-user', 'Content-Type': 'application/json' };
const dvHeaders = (token: string) => ({
  Authorization: `Bearer ${token}`,
  'Content-Type': 'application/json',
  Accept: 'application/json',
  'OData-Version': '4.0',
});

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

function manual(recordId: string, source: 'bc' | 'dataverse', origin: ChangeEvent['origin'] = 'manual'): ChangeEvent {
  return newChangeEvent({
    mapping: 'CUSTOMER',
    source,
    recordId,
    changeType: 'updated',
    origin,
    correlationId: `bench-${recordId}`,
    observedAt: new Date(),
  });
}

async function asUser(stack: ProofStack, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${stack.bc.url}/_sim/as-user`, { method: 'POST', headers: bcUser, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`BC as-user answered ${res.status}: ${await res.text()}`);
  return res.status === 204 ? {} : ((await res.json()) as Record<string, unknown>);
}

/** Creates `n` BC customers and couples each to a new account through `syncRecord` (as "synchronize now" does). */
async function coupledPairs(stack: ProofStack, rt: Runtime, n: number, tag: string): Promise<Array<{ bcId: string; dvId: string }>> {
  const pairs: Array<{ bcId: string; dvId: string }> = [];
  for (let i = 0; i < n; i++) {
    const created = await asUser(stack, {
      method: 'POST',
      entitySet: 'customers',
      body: { displayName: `${tag} ${i}`, phoneNumber: '0', city: 'Bench' },
    });
    const bcId = String(created.id).toLowerCase();
    const outcome = await syncRecord(manual(bcId, 'bc'), rt.syncDeps);
    if (!outcome.dataverseId) throw new Error(`could not couple ${tag} ${i}: ${outcome.result} ${outcome.message ?? ''}`);
    pairs.push({ bcId, dvId: outcome.dataverseId });
  }
  return pairs;
}

async function startCaptureStack(): Promise<{ stack: ProofStack; rt: Runtime }> {
  const stack = await startProofStack({
    functions: ['sync', 'bc-webhook', 'dataverse-webhook', 'bc-subscriptions', 'bc-collection'],
    bc: { seed: 'demo', webhookDelayMs: 0 },
    dataverse: { seed: 'demo', webhookDelayMs: 0 },
  });
  const rt = await getRuntime();
  await until('the BC customers subscription', async () => {
    const body = (await (await fetch(`${stack.bc.apiRoot()}/subscriptions`, { headers: bcUser })).json()) as {
      value?: Array<{ resource: string }>;
    };
    return body.value?.some((s) => s.resource.toLowerCase().includes('/customers')) || undefined;
  });
  const reg = await fetch(stack.hosts[0]?.apiUrl('admin/dataverse-webhooks') ?? '', {
    method: 'POST',
    headers: { 'x-functions-key': PROOF_SECRETS.masterKey },
  });
  if (reg.status !== 200) throw new Error(`Dataverse webhook registration answered ${reg.status}: ${await reg.text()}`);
  return { stack, rt };
}

/** One BC user edit; resolves with ms until the coupled account shows it. */
async function bcToDataverse(stack: ProofStack, pair: { bcId: string; dvId: string }, value: string, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  await asUser(stack, { method: 'PATCH', entitySet: 'customers', id: pair.bcId, body: { phoneNumber: value } });
  await until(
    `account ${pair.dvId} to show ${value}`,
    async () => {
      const res = await fetch(`${stack.dataverse.apiBase}/accounts(${pair.dvId})?$select=telephone1`, {
        headers: dvHeaders(stack.dataverse.adminUserToken),
      });
      return ((await res.json()) as { telephone1?: string }).telephone1 === value || undefined;
    },
    timeoutMs,
  );
  return performance.now() - t0;
}

/** One Dataverse user edit; resolves with ms until the coupled BC customer shows it. */
async function dataverseToBc(stack: ProofStack, pair: { bcId: string; dvId: string }, value: string, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${stack.dataverse.apiBase}/accounts(${pair.dvId})`, {
    method: 'PATCH',
    headers: { ...dvHeaders(stack.dataverse.adminUserToken), 'If-Match': '*' },
    body: JSON.stringify({ telephone1: value }),
  });
  if (res.status !== 204) throw new Error(`Dataverse PATCH answered ${res.status}: ${await res.text()}`);
  await until(
    `customer ${pair.bcId} to show ${value}`,
    async () => {
      const r = await fetch(`${stack.bc.apiBase()}/customers(${pair.bcId})?$select=phoneNumber`, { headers: bcUser });
      return ((await r.json()) as { phoneNumber?: string }).phoneNumber === value || undefined;
    },
    timeoutMs,
  );
  return performance.now() - t0;
}

function latencyFigures(prefix: string, samples: number[], unit: 'ms' | 's'): Figure[] {
  const sorted = [...samples].sort((a, b) => a - b);
  const scale = unit === 's' ? 1 / 1000 : 1;
  const digits = unit === 's' ? 2 : 0;
  return [
    { name: `${prefix} p50 (n=${samples.length})`, value: round(percentile(sorted, 50) * scale, digits), unit },
    { name: `${prefix} p95`, value: round(percentile(sorted, 95) * scale, digits), unit },
    { name: `${prefix} p99`, value: round(percentile(sorted, 99) * scale, digits), unit },
  ];
}

export async function benchLatency(opts: { quick: boolean }): Promise<Figure[]> {
  const { stack, rt } = await startCaptureStack();
  try {
    const zeroSamples = opts.quick ? 5 : 40;
    const pairs = await coupledPairs(stack, rt, zeroSamples, 'Latency');
    const figures: Figure[] = [];

    // Our own overhead: notification delays zero. Sequential, one change in flight at a time.
    const bcZero: number[] = [];
    const dvZero: number[] = [];
    for (let i = 0; i < zeroSamples; i++) {
      const pair = pairs[i] as { bcId: string; dvId: string };
      bcZero.push(await bcToDataverse(stack, pair, `bc0-${i}`, 15_000));
      dvZero.push(await dataverseToBc(stack, pair, `dv0-${i}`, 15_000));
    }
    figures.push(...latencyFigures('BC → Dataverse, webhook delay 0', bcZero, 'ms'));
    figures.push(...latencyFigures('Dataverse → BC, webhook delay 0', dvZero, 'ms'));

    // The real delays. Dataverse: 1 s asynchronous service (simulator default; undocumented in production).
    await fetch(`${stack.dataverse.url}/_sim/limits`, { method: 'POST', headers: bcUser, body: JSON.stringify({ webhookDelayMs: 1_000 }) });
    const dvReal: number[] = [];
    const dvRealSamples = opts.quick ? 3 : 12;
    for (let i = 0; i < dvRealSamples; i++)
      dvReal.push(await dataverseToBc(stack, pairs[i] as { bcId: string; dvId: string }, `dv1-${i}`, 20_000));
    figures.push(...latencyFigures('Dataverse → BC, async service delay 1 s', dvReal, 's'));

    if (!opts.quick) {
      // BC: notifications 30 s after the first change of a window. Changes spread over one window (one every
      // 2.5 s on different records), so the samples see the whole range of positions in the window.
      await fetch(`${stack.bc.url}/_sim/settings`, { method: 'POST', headers: bcUser, body: JSON.stringify({ webhookDelayMs: 30_000 }) });
      const bcReal = await Promise.all(
        Array.from({ length: 12 }, async (_, i) => {
          await new Promise((r) => setTimeout(r, i * 2_500)); // pacing the users, not synchronisation
          return bcToDataverse(stack, pairs[i] as { bcId: string; dvId: string }, `bc30-${i}`, 75_000);
        }),
      );
      figures.push(...latencyFigures('BC → Dataverse, webhook delay 30 s', bcReal, 's'));
    }
    return figures;
  } finally {
    await stack.stop();
  }
}

export async function benchSyncRecord(opts: { quick: boolean }): Promise<Figure[]> {
  const stack = await startProofStack({ functions: [], serve: [], bc: { seed: 'demo' }, dataverse: { seed: 'demo' } });
  try {
    const rt = await getRuntime();
    const n = opts.quick ? 50 : 400;
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const created = await asUser(stack, {
        method: 'POST',
        entitySet: 'customers',
        body: { displayName: `SyncRecord ${i}`, phoneNumber: `${i}`, city: 'Bench', addressLine1: `${i} Bench Street` },
      });
      ids.push(String(created.id).toLowerCase());
    }
    // Warm-up: the first record couples the salesperson/currency dependencies and fills caches.
    await syncRecord(manual(ids[0] as string, 'bc'), rt.syncDeps);

    const requestsMade = () => {
      let n = 0;
      for (const m of [stack.integrationStatuses.bc, stack.integrationStatuses.dataverse]) for (const v of m.values()) n += v;
      return n;
    };
    const dvIdOf = new Map<string, string>();
    const timed = async (label: string, events: ChangeEvent[], expected: string[]): Promise<Figure[]> => {
      const durations: number[] = [];
      stack.integrationStatuses.bc.clear();
      stack.integrationStatuses.dataverse.clear();
      for (const url of [stack.bc.url, stack.dataverse.url]) await fetch(`${url}/_sim/counters`, { method: 'DELETE', headers: bcUser });
      const t0 = performance.now();
      for (const e of events) {
        const s = performance.now();
        const outcome = await syncRecord(e, rt.syncDeps);
        durations.push(performance.now() - s);
        if (outcome.bcId && outcome.dataverseId) dvIdOf.set(outcome.bcId, outcome.dataverseId);
        if (!expected.includes(outcome.result))
          throw new Error(`${label}: record ${e.recordId} ended ${outcome.result}: ${outcome.message ?? ''}`);
      }
      const seconds = (performance.now() - t0) / 1000;
      if (process.env.BENCH_DEBUG) {
        // Where the requests went (per method and entity set): to explain the requests-per-change figure.
        for (const url of [stack.bc.url, stack.dataverse.url]) {
          const body = (await (await fetch(`${url}/_sim/counters`, { headers: bcUser })).json()) as { rows?: unknown };
          console.error(label, url, JSON.stringify(body.rows ?? body));
        }
      }
      const sorted = durations.sort((a, b) => a - b);
      return [
        { name: `syncRecord ${label} (n=${events.length}, sequential)`, value: round(events.length / seconds), unit: 'records/s' },
        { name: `syncRecord ${label} p50`, value: round(percentile(sorted, 50)), unit: 'ms/record' },
        { name: `syncRecord ${label} p95`, value: round(percentile(sorted, 95)), unit: 'ms/record' },
        // Issue 14's target: at most 3 in the common case (the event path's requests, both sides, per change).
        { name: `event path API requests per change ${label}`, value: round(requestsMade() / events.length), unit: 'requests' },
      ];
    };
    const figures: Figure[] = [];
    figures.push(
      ...(await timed(
        'insert BC → Dataverse',
        ids.slice(1).map((id) => manual(id, 'bc')),
        ['inserted', 'coupled'],
      )),
    );
    for (const [i, id] of ids.entries()) {
      await asUser(stack, { method: 'PATCH', entitySet: 'customers', id, body: { phoneNumber: `changed-${i}` } });
    }
    figures.push(
      ...(await timed(
        'update BC → Dataverse',
        ids.map((id) => manual(id, 'bc', 'webhook')),
        ['modified'],
      )),
    );
    // Concurrency as the host gives it (several messages in flight): records/s with 8 at a time.
    for (const [i, id] of ids.entries()) {
      await asUser(stack, { method: 'PATCH', entitySet: 'customers', id, body: { phoneNumber: `again-${i}` } });
    }
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < ids.length) {
          const id = ids[next++] as string;
          const outcome = await syncRecord(manual(id, 'bc', 'webhook'), rt.syncDeps);
          if (outcome.result !== 'modified')
            throw new Error(`concurrent update of ${id} ended ${outcome.result}: ${outcome.message ?? ''}`);
        }
      }),
    );
    figures.push({
      name: `syncRecord update BC → Dataverse (n=${ids.length}, 8 concurrent)`,
      value: round(ids.length / ((performance.now() - t0) / 1000)),
      unit: 'records/s',
    });
    // A Dataverse user's edit of a coupled account, back to BC (the other direction of issue 14's target).
    const dvIds = ids.map((id) => dvIdOf.get(id)).filter((id): id is string => id !== undefined);
    if (dvIds.length !== ids.length) throw new Error(`only ${dvIds.length} of ${ids.length} customers are coupled to an account`);
    for (const [i, id] of dvIds.entries()) {
      const res = await fetch(`${stack.dataverse.apiBase}/accounts(${id})`, {
        method: 'PATCH',
        headers: { ...dvHeaders(stack.dataverse.adminUserToken), 'If-Match': '*' },
        body: JSON.stringify({ telephone1: `dv-${i}` }),
      });
      if (res.status !== 204) throw new Error(`Dataverse PATCH answered ${res.status}: ${await res.text()}`);
    }
    figures.push(
      ...(await timed(
        'update Dataverse → BC',
        dvIds.map((id) => manual(id, 'dataverse', 'webhook')),
        ['modified'],
      )),
    );
    return figures;
  } finally {
    await stack.stop();
  }
}
