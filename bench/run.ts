/**
 * `npm run bench`: runs every bench piece that exists, prints one table and writes it as JSON to
 * `bench/results/bench-<date>.json` and `bench/results/latest.json`.
 *
 *   npm run bench                 full run (about 25 minutes on 2 cores: the full-sync sizes dominate)
 *   npm run bench -- --quick      quick run (about 2 minutes)
 *   npm run bench -- --only=latency,throttled   only the named pieces
 *   npm run bench -- --strict     exit non-zero when a piece fails or times out
 *
 * Pieces are imported dynamically, so a piece that is missing (being written) or broken is reported in the table
 * and does not stop the others. Each piece runs under a time budget; a piece over budget is reported as timed out
 * and the run moves on (its servers are left to the process exit).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

export interface Figure {
  name: string;
  value: number;
  unit: string;
}

type BenchFn = (opts: { quick: boolean }) => Promise<Figure[]>;

interface Piece {
  /** Section shown in the table, also the `--only` name. */
  section: string;
  /** Module path relative to this file, without extension (CJS output resolves `.js`). */
  module: string;
  /** Exported function name. */
  exportName: string;
  /** Time budget in seconds: quick, full. */
  budgetS: [number, number];
}

/** Ordered cheap first; budgets are caps (quick pieces finish in about 2 minutes together; the full run is long: 100,000-record full syncs). */
const PIECES: Piece[] = [
  { section: 'servicebus', module: './servicebus', exportName: 'benchServiceBus', budgetS: [4, 30] },
  { section: 'tables', module: './tables', exportName: 'benchTables', budgetS: [4, 30] },
  { section: 'coupling', module: './coupling', exportName: 'benchCoupling', budgetS: [4, 30] },
  { section: 'clients', module: './clients', exportName: 'benchClients', budgetS: [4, 40] },
  { section: 'bc-simulator', module: './bc-simulator', exportName: 'benchBcSimulator', budgetS: [5, 30] },
  { section: 'dataverse-simulator', module: './dataverse-simulator', exportName: 'benchDataverseSimulator', budgetS: [4, 30] },
  { section: 'webhooks', module: './webhooks', exportName: 'benchWebhooks', budgetS: [8, 30] },
  { section: 'sync-record', module: './latency', exportName: 'benchSyncRecord', budgetS: [7, 60] },
  { section: 'latency', module: './latency', exportName: 'benchLatency', budgetS: [9, 120] },
  { section: 'throttled', module: './throttled', exportName: 'benchThrottled', budgetS: [15, 90] },
  { section: 'full-sync', module: './full-sync', exportName: 'benchFullSync', budgetS: [20, 900] },
  { section: 'full-sync-limits', module: './throttled', exportName: 'benchFullSyncUnderLimits', budgetS: [70, 300] },
  { section: 'full-sync-restart', module: './full-sync', exportName: 'benchFullSyncRestart', budgetS: [0, 600] },
  { section: 'convergence', module: './convergence', exportName: 'benchConvergence', budgetS: [0, 90] },
];

const figureSchema = z.object({ name: z.string().min(1), value: z.number(), unit: z.string() });

export interface Row {
  section: string;
  figure: string;
  value: number | null;
  unit: string;
  /** Set when the piece failed, timed out or is missing. */
  error?: string;
}

export interface BenchReport {
  date: string;
  mode: 'quick' | 'full';
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; platform: string };
  durationS: number;
  rows: Row[];
  pieces: Array<{ section: string; status: 'ok' | 'missing' | 'failed' | 'timeout' | 'skipped'; seconds: number; message?: string }>;
}

function machineFacts(): BenchReport['machine'] {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
}

interface Args {
  quick: boolean;
  strict: boolean;
  only?: Set<string>;
  /** Multiplies every budget (slow machines). Default 1. */
  budgetScale: number;
}

function parseArgs(argv: string[]): Args {
  const known = new Set(PIECES.map((p) => p.section));
  let only: Set<string> | undefined;
  let budgetScale = 1;
  for (const a of argv) {
    if (a.startsWith('--budget-scale=')) {
      budgetScale = Number(a.slice('--budget-scale='.length));
      if (!(budgetScale > 0)) throw new Error(`--budget-scale must be a positive number, got '${a}'`);
      continue;
    }
    if (a === '--quick' || a === '--strict') continue;
    if (a.startsWith('--only=')) {
      only = new Set(a.slice('--only='.length).split(',').filter(Boolean));
      const unknown = [...only].filter((s) => !known.has(s));
      if (unknown.length) throw new Error(`--only names unknown pieces: ${unknown.join(', ')} (known: ${[...known].join(', ')})`);
      continue;
    }
    throw new Error(`unknown argument '${a}' (use --quick, --strict, --only=a,b, --budget-scale=2)`);
  }
  return { quick: argv.includes('--quick'), strict: argv.includes('--strict'), only, budgetScale };
}

function isModuleMissing(err: unknown, module: string): boolean {
  const e = err as { code?: string; message?: string };
  // Only the piece itself being absent counts as missing; a piece whose own import fails is broken.
  return e?.code === 'MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.includes(`'${module}'`);
}

async function withBudget<T>(promise: Promise<T>, seconds: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BudgetExceeded(seconds)), seconds * 1000);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

class BudgetExceeded extends Error {
  constructor(seconds: number) {
    super(`over its ${seconds} s budget`);
  }
}

async function runPiece(
  piece: Piece,
  quick: boolean,
  budgetScale: number,
): Promise<{ rows: Row[]; status: BenchReport['pieces'][number] }> {
  const started = Date.now();
  const seconds = () => Math.round((Date.now() - started) / 100) / 10;
  const budget = (quick ? piece.budgetS[0] : piece.budgetS[1]) * budgetScale;
  if (budget === 0) {
    return { rows: [], status: { section: piece.section, status: 'skipped', seconds: 0, message: 'full run only' } };
  }
  let fn: BenchFn;
  try {
    // require, not import(): the output is CommonJS and ESM import() would need file extensions.
    const mod = require(piece.module) as Record<string, unknown>;
    const exported = mod[piece.exportName];
    if (typeof exported !== 'function') throw new Error(`${piece.module} does not export ${piece.exportName}()`);
    fn = exported as BenchFn;
  } catch (err) {
    const missing = isModuleMissing(err, piece.module);
    const message = missing ? `bench/${piece.module.slice(2)}.ts is not there yet` : String((err as Error).message ?? err);
    return {
      rows: [{ section: piece.section, figure: '(not run)', value: null, unit: '', error: message }],
      status: { section: piece.section, status: missing ? 'missing' : 'failed', seconds: seconds(), message },
    };
  }
  try {
    const raw = await withBudget(fn({ quick }), budget);
    const figures = z.array(figureSchema).parse(raw);
    return {
      rows: figures.map((f) => ({ section: piece.section, figure: f.name, value: f.value, unit: f.unit })),
      status: { section: piece.section, status: 'ok', seconds: seconds() },
    };
  } catch (err) {
    const timedOut = err instanceof BudgetExceeded;
    const message = err instanceof Error ? err.message : String(err);
    return {
      rows: [{ section: piece.section, figure: '(failed)', value: null, unit: '', error: message }],
      status: { section: piece.section, status: timedOut ? 'timeout' : 'failed', seconds: seconds(), message },
    };
  }
}

function formatValue(v: number | null): string {
  if (v === null) return '—';
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return v.toLocaleString('en-US', { maximumFractionDigits: Math.abs(v) < 10 ? 2 : 1 });
}

export function renderTable(rows: Row[]): string {
  const head = ['section', 'figure', 'value', 'unit'];
  const body = rows.map((r) => [r.section, r.error ? `${r.figure} ${r.error}` : r.figure, formatValue(r.value), r.unit]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** Markdown version of the same table (docs/benchmarks.md is written from it). */
export function renderMarkdown(rows: Row[]): string {
  const out = ['| section | figure | value | unit |', '|---|---|--:|---|'];
  for (const r of rows)
    out.push(`| ${r.section} | ${r.error ? `${r.figure} — ${r.error}` : r.figure} | ${formatValue(r.value)} | ${r.unit} |`);
  return out.join('\n');
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const machine = machineFacts();
  const date = new Date().toISOString();
  console.log(
    `bc-dataverse-sync bench (${args.quick ? 'quick' : 'full'}) — ${date}\n` +
      `machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, node ${machine.node}, ${machine.platform}\n`,
  );
  const rows: Row[] = [];
  const pieces: BenchReport['pieces'] = [];
  for (const piece of PIECES) {
    if (args.only && !args.only.has(piece.section)) continue;
    process.stdout.write(`running ${piece.section}… `);
    const { rows: r, status } = await runPiece(piece, args.quick, args.budgetScale);
    console.log(`${status.status} (${status.seconds} s)${status.message && status.status !== 'ok' ? `: ${status.message}` : ''}`);
    rows.push(...r);
    pieces.push(status);
  }
  const report: BenchReport = {
    date,
    mode: args.quick ? 'quick' : 'full',
    machine,
    durationS: Math.round((Date.now() - started) / 1000),
    rows,
    pieces,
  };
  console.log(`\n${renderTable(rows)}\n\ntotal ${report.durationS} s`);
  const dir = path.join(__dirname, '..', '..', 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `bench-${date.replace(/[:.]/g, '-')}${args.quick ? '-quick' : ''}.json`);
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(file, json);
  writeFileSync(path.join(dir, 'latest.json'), json);
  console.log(`written ${path.relative(process.cwd(), file)} and bench/results/latest.json`);
  const bad = pieces.filter((p) => p.status === 'failed' || p.status === 'timeout' || p.status === 'missing');
  return args.strict && bad.length > 0 ? 1 : 0;
}

if (require.main === module) {
  main().then(
    (code) => {
      // Pieces over budget may leave servers running; the table is written, so leave.
      process.exit(code);
    },
    (err) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(2);
    },
  );
}
