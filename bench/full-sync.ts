/**
 * Full-sync throughput through the whole local stack: the product (runtime + the local Functions host running the
 * `full-sync` worker) in a fresh process per size; Azurite, the Service Bus endpoint and both simulators in a child
 * process of that one (`stack-child.ts`), so the product's memory is measured on its own. Figures: records per
 * second, the product's peak RSS, and API requests per record from the simulators' counters. A size that does not
 * finish inside its time cap is cancelled and its figures say `partial` (they count as not met).
 *
 * Sizes: 500 (quick); BC → Dataverse 10,000 and 100,000, Dataverse → BC 10,000 (full). `benchFullSyncRestart` is the
 * 10,000-customer end-to-end check that used to be a test: match by name, a host restart half-way, both sides equal.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { LocalFunctionsHost } from '../dev/local-host/host';
import { resetSettingsCache } from '../shared/config';
import { fullSyncDeps } from '../shared/operations/context';
import { cancelFullSync, type FullSyncRun, fullSyncProgress, fullSyncStatus, startFullSync } from '../shared/operations/full-sync';
import { getRuntime, resetRuntime } from '../shared/runtime';
import { adminClient, columnValues, customerByName, seedCustomers, seedMatchingAccounts } from '../test/operations/helpers';
import { startStack, TEST_LOCAL_KEY } from '../test/support/stack';
import { until } from '../test/support/until';
import type { ChildStack } from './stack-child';

export interface BenchFigure {
  name: string;
  value: number;
  unit: string;
}

const MiB = 1024 * 1024;

/** Starts the infrastructure in a child process and points this process's settings at it. */
export async function childStack(options: { bc?: object; dataverse?: object } = {}): Promise<ChildStack & { stop(): Promise<void> }> {
  const script = path.join(__dirname, `stack-child${path.extname(__filename)}`);
  const child: ChildProcess = spawn(process.execPath, [...process.execArgv, script, JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.once('line', (l) => resolve(l));
    child.once('exit', (code) => reject(new Error(`the bench stack exited (${code}) before it started`)));
  });
  const stack = JSON.parse(line) as ChildStack;
  Object.assign(process.env, stack.env);
  resetSettingsCache();
  await resetRuntime();
  return {
    ...stack,
    stop: async () => {
      await resetRuntime().catch(() => undefined);
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.stdin?.end();
      await Promise.race([exited, new Promise<void>((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

export async function post(url: string, body?: unknown): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    ...(body !== undefined ? { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
}

export async function requests(url: string): Promise<number> {
  const body = (await (await fetch(url)).json()) as { total?: number };
  return body.total ?? 0;
}

export function workerModules(...names: string[]): string[] {
  // The worker module as this file was loaded: .ts under vitest/tsx, .js from dist (`npm run bench`).
  return names.map((n) => path.join(__dirname, '..', 'functions', `${n}${path.extname(__filename)}`));
}

/** Polls the run until it ends or the cap passes (then cancels it); samples this process's RSS meanwhile. */
export async function followRun(
  runId: string,
  capMs: number,
): Promise<{ run: FullSyncRun; partial: boolean; seconds: number; peakRss: number; startRss: number }> {
  const rt = await getRuntime();
  const deps = fullSyncDeps(rt);
  const startRss = process.memoryUsage().rss;
  let peakRss = startRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 100);
  const started = Date.now();
  let run = (await fullSyncStatus(deps, runId)) as FullSyncRun;
  try {
    while (run.status === 'running' && Date.now() - started < capMs) {
      await new Promise((r) => setTimeout(r, 250));
      run = (await fullSyncStatus(deps, runId)) ?? run;
    }
  } finally {
    clearInterval(sampler);
  }
  const partial = run.status === 'running';
  if (partial) run = await cancelFullSync(deps, runId);
  return { run, partial, seconds: (Date.now() - started) / 1000, peakRss, startRss };
}

interface RunResult {
  figures: BenchFigure[];
  peakRss: number;
  partial: boolean;
}

export async function one(direction: 'bc-to-dv' | 'dv-to-bc', n: number, capMs: number): Promise<RunResult> {
  const stack = await childStack();
  let host: LocalFunctionsHost | undefined;
  try {
    host = await new LocalFunctionsHost({ modules: workerModules('full-sync'), port: 0, log: () => undefined }).start();
    if (direction === 'bc-to-dv') await post(`${stack.bcUrl}/_sim/seed?customers=${n}`);
    else await post(`${stack.dataverseUrl}/_sim/seed?accounts=${n}`);
    const rt = await getRuntime();
    await fetch(`${stack.bcUrl}/_sim/counters`, { method: 'DELETE' });
    await fetch(`${stack.dataverseUrl}/_sim/counters`, { method: 'DELETE' });
    const started = Date.now();
    const run = await startFullSync(fullSyncDeps(rt), { mappings: ['CUSTOMER'] });
    const r = await followRun(run.runId, capMs);
    const seconds = (Date.now() - started) / 1000;
    const p = fullSyncProgress(r.run, new Date());
    const synced = p.counters.inserted + p.counters.coupled + p.counters.modified;
    const calls = (await requests(`${stack.bcUrl}/_sim/counters`)) + (await requests(`${stack.dataverseUrl}/_sim/counters`));
    const label = `${direction} @${n.toLocaleString('en-US')}${r.partial ? ` (partial: ${synced} in ${Math.round(seconds)} s)` : ''}`;
    return {
      peakRss: r.peakRss,
      partial: r.partial,
      figures: [
        { name: `full-sync records/s ${label}`, value: Math.round((synced / seconds) * 10) / 10, unit: 'records/s' },
        { name: `full-sync product peak RSS ${label}`, value: Math.round(r.peakRss / MiB), unit: 'MiB' },
        { name: `full-sync product RSS at start ${label}`, value: Math.round(r.startRss / MiB), unit: 'MiB' },
        {
          name: `full-sync API requests per record ${label}`,
          value: synced ? Math.round((calls / synced) * 1000) / 1000 : 0,
          unit: 'requests',
        },
        { name: `full-sync records failed ${label}`, value: p.counters.failed, unit: 'records' },
      ],
    };
  } finally {
    await host?.stop();
    await stack.stop();
  }
}

const RESULT_LINE = 'full-sync-result ';

/**
 * `one` in a fresh Node process, so each size's product RSS starts from the same empty process: measured in this
 * process, a later size would carry the heap earlier bench pieces left behind (the full bench runs a dozen first).
 */
async function oneInFreshProcess(direction: 'bc-to-dv' | 'dv-to-bc', n: number, capMs: number): Promise<RunResult> {
  const child = spawn(process.execPath, [...process.execArgv, __filename, '--one', direction, String(n), String(capMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let result: RunResult | undefined;
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  lines.on('line', (l) => {
    if (l.startsWith(RESULT_LINE)) result = JSON.parse(l.slice(RESULT_LINE.length)) as RunResult;
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (!result) throw new Error(`the full sync of ${n} (${direction}) exited (${code}) without a result`);
  return result;
}

export async function benchFullSync(opts: { quick: boolean }): Promise<BenchFigure[]> {
  if (opts.quick) return (await oneInFreshProcess('bc-to-dv', 500, 20_000)).figures;
  const small = await oneInFreshProcess('bc-to-dv', 10_000, 180_000);
  const large = await oneInFreshProcess('bc-to-dv', 100_000, 300_000);
  const back = await oneInFreshProcess('dv-to-bc', 10_000, 180_000);
  const ratio = Math.round((large.peakRss / small.peakRss) * 100) / 100;
  return [
    ...small.figures,
    ...large.figures,
    {
      name: `full-sync product RSS ratio @100,000/@10,000${large.partial || small.partial ? ' (partial)' : ''}`,
      value: ratio,
      unit: '×',
    },
    ...back.figures,
  ];
}

if (require.main === module) {
  const at = process.argv.indexOf('--one');
  const done =
    at >= 0
      ? one(process.argv[at + 1] as 'bc-to-dv' | 'dv-to-bc', Number(process.argv[at + 2]), Number(process.argv[at + 3])).then((r) => {
          process.stdout.write(`${RESULT_LINE}${JSON.stringify(r)}\n`);
        })
      : benchFullSync({ quick: process.argv.includes('--quick') }).then((figures) => {
          for (const f of figures) process.stdout.write(`${f.name}: ${f.value} ${f.unit}\n`);
        });
  done
    .then(() => process.exit(0))
    .catch((err) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    });
}

/**
 * The 10,000-customer end-to-end full sync that used to be a test (moved here: minutes, not a unit of `npm test`):
 * matching accounts are coupled by name, the rest created, the host is stopped half-way and a new one finishes;
 * both sides end equal and nothing is duplicated. Throws (the piece fails) when any of that does not hold.
 */
export async function benchFullSyncRestart(): Promise<BenchFigure[]> {
  const n = 10_000;
  const matching = n / 10;
  // The stack's own host loads `.ts` modules (vitest); the bench runs compiled, so it starts its hosts itself.
  const stack = await startStack({ functions: [], dataverse: { seed: 'empty' } });
  const modules = workerModules('full-sync', 'admin-api', 'sync');
  const first = await new LocalFunctionsHost({ modules, port: 0, log: () => undefined }).start();
  let second: LocalFunctionsHost | undefined;
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`full-sync restart @10,000: ${what}`);
  };
  try {
    const admin = adminClient((r) => first.apiUrl(r), TEST_LOCAL_KEY);
    await admin.ok('PUT', 'mappings/CUSTOMER', customerByName(await admin.ok('GET', 'mappings/CUSTOMER')));
    await post(`${stack.bc.url}/_sim/reset?seed=empty`);
    await seedCustomers(stack, n);
    await seedMatchingAccounts(Array.from({ length: matching }, (_, i) => i * 10 + 1));
    const started = Date.now();
    const run = await admin.ok<{ runId: string }>('POST', 'full-sync', { mappings: ['CUSTOMER'] });
    await until(
      'half of the records',
      async () => {
        const p = await admin.ok<{ done: number }>('GET', 'full-sync');
        return p.done >= n / 2 && p;
      },
      { timeoutMs: 300_000, intervalMs: 100 },
    );
    await stack.host.stop();
    second = await new LocalFunctionsHost({
      modules: workerModules('full-sync', 'admin-api', 'sync'),
      port: 0,
      log: () => undefined,
    }).start();
    const host2 = second;
    const admin2 = adminClient((r) => host2.apiUrl(r), TEST_LOCAL_KEY);
    const done = await until(
      'the full sync to finish',
      async () => {
        const p = await admin2.ok<ReturnType<typeof fullSyncProgress>>('GET', `full-sync?runId=${run.runId}`);
        return p.status !== 'running' && p;
      },
      { timeoutMs: 300_000, intervalMs: 250 },
    );
    const seconds = (Date.now() - started) / 1000;
    check(done.status === 'completed', `status ${done.status}`);
    check(done.counters.coupled === matching, `coupled ${done.counters.coupled}, expected ${matching}`);
    check(done.counters.inserted === n - matching, `inserted ${done.counters.inserted}, expected ${n - matching}`);
    check(done.counters.failed === 0, `failed ${done.counters.failed}`);
    const bcNames = await columnValues('bc', 'displayName');
    const dvNames = await columnValues('dataverse', 'name');
    check(bcNames.length === n, `${bcNames.length} BC customers`);
    check(JSON.stringify(dvNames) === JSON.stringify(bcNames), 'Dataverse names differ from BC names (missing or duplicated rows)');
    const rt = await getRuntime();
    check((await rt.stores.couplings.count('CUSTOMER')) === n, 'not every pair is coupled');
    check(!(await columnValues('dataverse', 'address1_city')).includes('Old City'), 'a matched account kept its old city');
    return [
      {
        name: 'full-sync restart @10,000 (match, host restart half-way, both sides equal)',
        value: Math.round((n / seconds) * 10) / 10,
        unit: 'records/s',
      },
    ];
  } finally {
    await first.stop().catch(() => undefined);
    await second?.stop();
    await stack.stop();
  }
}
