/**
 * Full-sync throughput through the whole local stack (Azurite, Service Bus endpoint, both simulators, the local
 * Functions host running the `full-sync` worker): records per second, peak RSS of the process, and API requests
 * per record from the simulators' counters. Sizes: 500 (quick); 10,000 and 100,000 (full). A size that does
 * not finish inside its time cap is cancelled and reported as partial (rate over what was done).
 */

import path from 'node:path';
import { LocalFunctionsHost } from '../dev/local-host/host';
import { fullSyncDeps } from '../shared/operations/context';
import { cancelFullSync, fullSyncProgress, fullSyncStatus, startFullSync } from '../shared/operations/full-sync';
import { getRuntime } from '../shared/runtime';
import { type Stack, startStack } from '../test/support/stack';

export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
}

async function post(url: string): Promise<void> {
  const res = await fetch(url, { method: 'POST' });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
}

async function requests(url: string): Promise<number> {
  const body = (await (await fetch(url)).json()) as { total?: number };
  return body.total ?? 0;
}

async function one(direction: 'bc-to-dv' | 'dv-to-bc', n: number, capMs: number): Promise<BenchFigure[]> {
  let stack: Stack | undefined;
  let host: LocalFunctionsHost | undefined;
  try {
    stack = await startStack({ functions: [], bc: { seed: 'empty' }, dataverse: { seed: 'empty' } });
    // The worker module as this file was loaded: .ts under vitest/tsx, .js from dist (`npm run bench`).
    const worker = path.join(__dirname, '..', 'functions', `full-sync${path.extname(__filename)}`);
    host = await new LocalFunctionsHost({ modules: [worker], port: 0, log: () => undefined }).start();
    if (direction === 'bc-to-dv') await post(`${stack.bc.url}/_sim/seed?customers=${n}`);
    else await post(`${stack.dataverse.url}/_sim/seed?accounts=${n}`);
    const rt = await getRuntime();
    await fetch(`${stack.bc.url}/_sim/counters`, { method: 'DELETE' });
    await fetch(`${stack.dataverse.url}/_sim/counters`, { method: 'DELETE' });
    const deps = fullSyncDeps(rt);
    let peak = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 100);
    const started = Date.now();
    const run = await startFullSync(deps, { mappings: ['CUSTOMER'] });
    let status = run;
    while (status.status === 'running' && Date.now() - started < capMs) {
      await new Promise((r) => setTimeout(r, 250));
      status = (await fullSyncStatus(deps, run.runId)) ?? status;
    }
    const partial = status.status === 'running';
    if (partial) status = await cancelFullSync(deps, run.runId);
    clearInterval(sampler);
    const seconds = (Date.now() - started) / 1000;
    const p = fullSyncProgress(status, new Date());
    const synced = p.counters.inserted + p.counters.coupled + p.counters.modified;
    const calls = (await requests(`${stack.bc.url}/_sim/counters`)) + (await requests(`${stack.dataverse.url}/_sim/counters`));
    const label = `${direction} @${n.toLocaleString('en-US')}${partial ? ` (partial: ${synced} in ${Math.round(seconds)} s)` : ''}`;
    return [
      { name: `full-sync records/s ${label}`, value: Math.round((synced / seconds) * 10) / 10, unit: 'records/s' },
      { name: `full-sync peak RSS ${label}`, value: Math.round(peak / 1024 / 1024), unit: 'MiB' },
      {
        name: `full-sync API requests per record ${label}`,
        value: synced ? Math.round((calls / synced) * 100) / 100 : 0,
        unit: 'requests',
      },
    ];
  } finally {
    await host?.stop();
    await stack?.stop();
  }
}

export async function benchFullSync(opts: { quick: boolean }): Promise<BenchFigure[]> {
  if (opts.quick) return one('bc-to-dv', 500, 20_000);
  return [
    ...(await one('bc-to-dv', 10_000, 60_000)),
    ...(await one('bc-to-dv', 100_000, 45_000)),
    ...(await one('dv-to-bc', 2_000, 30_000)),
  ];
}

if (require.main === module) {
  benchFullSync({ quick: process.argv.includes('--quick') })
    .then((figures) => {
      for (const f of figures) process.stdout.write(`${f.name}: ${f.value} ${f.unit}\n`);
      process.exit(0);
    })
    .catch((err) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    });
}
