#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { SingleBar } from 'cli-progress';
import { Command, Option } from 'commander';
import { AdminApi, AdminApiError } from './admin-client';
import { table } from './format';

/**
 * `bc-dataverse-sync`: the admin CLI over the function app's admin API (`/api/admin/...`). Every command is a
 * thin call; the service does the work, so the CLI, the web page and the API always agree.
 */

const DEFAULT_URL = 'http://127.0.0.1:7071';
const DEFAULT_LOCAL_KEY = 'local-function-key-not-secret';

interface Progress {
  runId: string;
  status: string;
  done: number;
  total?: number;
  recordsPerSecond: number;
  etaSeconds?: number;
  counters: Record<string, number>;
  mappings: Array<{ name: string; status: string; done: number; total?: number; message?: string }>;
}

export function buildProgram(out: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): Command {
  const program = new Command('bc-dataverse-sync')
    .description('Administer the Business Central ⇄ Dataverse sync service')
    .addOption(new Option('--url <url>', 'function app base URL').default(DEFAULT_URL).env('SYNC_ADMIN_URL'))
    .addOption(new Option('--key <key>', 'function key (authLevel function)').env('LOCAL_FUNCTION_KEY'))
    .option('--json', 'print raw JSON instead of tables', false)
    .showHelpAfterError();

  const api = () => {
    const o = program.opts<{ url: string; key?: string }>();
    return new AdminApi(o.url, o.key ?? DEFAULT_LOCAL_KEY);
  };
  const json = () => program.opts<{ json: boolean }>().json;
  const print = (value: unknown, asTable: () => string) => out(json() ? JSON.stringify(value, null, 2) : asTable());

  program
    .command('status')
    .description('connection check (credentials, company, integration user, tables)')
    .action(async () => {
      const r = await api().call<{ ok: boolean; checks: Array<{ id: string; ok: boolean; detail: string }> }>('GET', 'connection');
      print(
        r,
        () =>
          `${r.ok ? 'OK' : 'PROBLEMS'}\n${table(
            ['check', 'ok', 'detail'],
            r.checks.map((c) => [c.id, c.ok ? 'yes' : 'NO', c.detail]),
            100,
          )}`,
      );
      if (!r.ok) process.exitCode = 1;
    });

  // --- mappings -------------------------------------------------------------------------------------------
  const mappings = program.command('mappings').description('integration table mappings');
  mappings.command('list').action(async () => {
    const r = await api().call<
      Array<{ mapping: string; enabled: boolean; direction: string; queue: string; counters: Record<string, number>; lagSeconds: number }>
    >('GET', 'stats');
    print(r, () =>
      table(
        ['mapping', 'enabled', 'direction', 'inserted', 'modified', 'coupled', 'failed', 'lag s'],
        r.map((m) => [
          m.mapping,
          m.enabled,
          m.direction,
          m.counters.inserted,
          m.counters.modified,
          m.counters.coupled,
          m.counters.failed,
          m.lagSeconds,
        ]),
      ),
    );
  });
  mappings
    .command('get <name>')
    .action(async (name: string) => out(JSON.stringify(await api().call('GET', `mappings/${encodeURIComponent(name)}`), null, 2)));
  mappings.command('disable <name>').action(async (name: string) => {
    await api().call('POST', `mappings/${encodeURIComponent(name)}/disable`);
    out(`${name} disabled`);
  });
  mappings.command('enable <name>').action(async (name: string) => {
    await api().call('POST', `mappings/${encodeURIComponent(name)}/enable`);
    out(`${name} enabled`);
  });
  mappings
    .command('export [file]')
    .description('write every mapping as JSON (stdout without a file)')
    .action(async (file?: string) => {
      const doc = await api().call('GET', 'mappings/export');
      if (file) {
        writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
        out(`written ${file}`);
      } else out(JSON.stringify(doc, null, 2));
    });
  mappings
    .command('import <file>')
    .option('--merge', 'add/replace the given mappings instead of replacing the set', false)
    .action(async (file: string, o: { merge: boolean }) => {
      const r = await api().call<{ count: number }>(
        'POST',
        `mappings/import?mode=${o.merge ? 'merge' : 'replace'}`,
        JSON.parse(readFileSync(file, 'utf8')),
      );
      out(`imported; ${r.count} mappings now`);
    });
  mappings
    .command('set-match <name> <bcField> <dataverseColumn>')
    .description('set the match-based coupling criterion of a mapping (e.g. CUSTOMER displayName name)')
    .option('--create-new', 'create a new record when no match is found', false)
    .action(async (name: string, bcField: string, dataverseColumn: string, o: { createNew: boolean }) => {
      const a = api();
      const m = await a.call<Record<string, unknown> & { couplingRules?: Record<string, unknown> }>(
        'GET',
        `mappings/${encodeURIComponent(name)}`,
      );
      await a.call('PUT', `mappings/${encodeURIComponent(name)}`, {
        ...m,
        couplingRules: {
          ...(m.couplingRules ?? {}),
          matchFields: [{ bcField, dataverseColumn, priority: 0, caseSensitive: false }],
          createNewIfNoMatch: o.createNew,
        },
      });
      out(`${name}: couples by ${bcField} = ${dataverseColumn}`);
    });

  // --- couplings --------------------------------------------------------------------------------------------
  const couplings = program.command('couplings').description('couple, search and uncouple records');
  couplings
    .command('search')
    .requiredOption('-m, --mapping <name>')
    .option('--id <id>', 'BC SystemId or Dataverse id')
    .option('--page-size <n>', 'rows', '50')
    .action(async (o: { mapping: string; id?: string; pageSize: string }) => {
      const q = new URLSearchParams({ mapping: o.mapping, pageSize: o.pageSize, ...(o.id ? { id: o.id } : {}) });
      const r = await api().call<{ items: Array<Record<string, unknown>> }>('GET', `couplings?${q}`);
      print(r, () =>
        table(
          ['bcId', 'dataverseId', 'lastResult', 'lastSyncedAt', 'skipped'],
          r.items.map((c) => [c.bcId, c.dataverseId, c.lastResult, c.lastSyncedAt, c.skipped]),
        ),
      );
    });
  couplings
    .command('couple')
    .description('couple one record to a chosen row, or (without the other id) to a new one')
    .requiredOption('-m, --mapping <name>')
    .option('--bc-id <id>')
    .option('--dataverse-id <id>')
    .addOption(new Option('--sync <direction>', 'synchronize now after coupling').choices(['to-dataverse', 'to-bc']))
    .action(async (o: { mapping: string; bcId?: string; dataverseId?: string; sync?: string }) => {
      const r = await api().call('POST', 'couplings', {
        mapping: o.mapping,
        ...(o.bcId ? { bcId: o.bcId } : {}),
        ...(o.dataverseId ? { dataverseId: o.dataverseId } : {}),
        ...(o.sync ? { synchronize: o.sync === 'to-bc' ? 'FromIntegrationTable' : 'ToIntegrationTable' } : {}),
      });
      out(JSON.stringify(r, null, 2));
    });
  couplings
    .command('bulk')
    .description('match-based coupling of every uncoupled record of a mapping')
    .requiredOption('-m, --mapping <name>')
    .option('--create-new', 'create records that have no match', false)
    .option('--sync-after', 'synchronize the newly coupled records', false)
    .action(async (o: { mapping: string; createNew: boolean; syncAfter: boolean }) => {
      const r = await api().call<Record<string, number>>('POST', 'couplings/bulk', {
        mapping: o.mapping,
        createNew: o.createNew,
        synchronizeAfter: o.syncAfter,
      });
      print(r, () =>
        table(
          ['examined', 'coupled', 'created', 'already', 'unmatched', 'ambiguous', 'failed'],
          [[r.examined, r.coupled, r.created, r.alreadyCoupled, r.unmatched, r.ambiguous, r.failed]],
        ),
      );
    });
  couplings
    .command('uncouple')
    .requiredOption('-m, --mapping <name>')
    .option('--bc-id <id>')
    .option('--dataverse-id <id>')
    .action(async (o: { mapping: string; bcId?: string; dataverseId?: string }) => {
      const r = await api().call<{ uncoupled: boolean }>('POST', 'couplings/uncouple', o);
      out(r.uncoupled ? 'uncoupled' : 'was not coupled');
    });

  program
    .command('sync-now')
    .description('synchronize one record now')
    .requiredOption('-m, --mapping <name>')
    .option('--bc-id <id>')
    .option('--dataverse-id <id>')
    .addOption(new Option('--direction <d>', 'direction').choices(['to-dataverse', 'to-bc']))
    .action(async (o: { mapping: string; bcId?: string; dataverseId?: string; direction?: string }) => {
      const r = await api().call<{ result: string; message?: string }>('POST', 'sync-now', {
        mapping: o.mapping,
        ...(o.bcId ? { bcId: o.bcId } : {}),
        ...(o.dataverseId ? { dataverseId: o.dataverseId } : {}),
        ...(o.direction ? { direction: o.direction === 'to-bc' ? 'FromIntegrationTable' : 'ToIntegrationTable' } : {}),
      });
      print(r, () => `${r.result}${r.message ? `: ${r.message}` : ''}`);
    });

  program
    .command('history')
    .requiredOption('-m, --mapping <name>')
    .option('--bc-id <id>')
    .option('--dataverse-id <id>')
    .action(async (o: { mapping: string; bcId?: string; dataverseId?: string }) => {
      const q = new URLSearchParams({
        mapping: o.mapping,
        ...(o.bcId ? { bcId: o.bcId } : {}),
        ...(o.dataverseId ? { dataverseId: o.dataverseId } : {}),
      });
      const r = await api().call<Array<Record<string, unknown>>>('GET', `history?${q}`);
      print(r, () =>
        table(
          ['at', 'direction', 'result', 'changes'],
          r.map((h) => [h.at, h.direction, h.result, Object.keys((h.changes as object) ?? {}).join(', ')]),
          80,
        ),
      );
    });

  // --- full sync ----------------------------------------------------------------------------------------------
  const full = program.command('full-sync').description('full synchronization (resumable)');
  full
    .command('start [mappings...]')
    .description('start a full sync of the given mappings (default all, in dependency order) and show its progress')
    .option('--no-wait', 'return after starting')
    .action(async (names: string[], o: { wait: boolean }) => {
      const r = await api().call<Progress>('POST', 'full-sync', names.length ? { mappings: names } : {});
      out(`full sync ${r.runId} started`);
      if (o.wait) await watch(api(), r.runId, out);
    });
  full
    .command('status')
    .option('--run <id>')
    .option('--watch', 'follow with a progress bar until it ends', false)
    .action(async (o: { run?: string; watch: boolean }) => {
      const r = await api().call<Progress>('GET', `full-sync${o.run ? `?runId=${encodeURIComponent(o.run)}` : ''}`);
      if (o.watch && r.status === 'running') return watch(api(), r.runId, out);
      print(r, () => progressText(r));
    });
  full
    .command('cancel')
    .option('--run <id>')
    .action(async (o: { run?: string }) => {
      const r = await api().call<Progress>('POST', 'full-sync/cancel', o.run ? { runId: o.run } : {});
      out(`full sync ${r.runId}: ${r.status}`);
    });
  full
    .command('resume')
    .option('--run <id>')
    .action(async (o: { run?: string }) => {
      const r = await api().call<Progress>('POST', 'full-sync/resume', o.run ? { runId: o.run } : {});
      out(`full sync ${r.runId}: ${r.status} (work re-queued)`);
    });

  program
    .command('reconcile [mappings...]')
    .description('publish what changed since each watermark now (the timer does this on its schedule)')
    .action(async (names: string[]) => {
      const r = await api().call<Array<Record<string, unknown>>>('POST', 'reconcile', names.length ? { mappings: names } : {});
      print(r, () =>
        table(
          ['mapping', 'from BC', 'from Dataverse', 'initialized', 'error'],
          r.map((x) => [x.mapping, x.bcPublished, x.dataversePublished, x.initialized, x.error]),
        ),
      );
    });

  // --- errors ---------------------------------------------------------------------------------------------------
  const errors = program.command('errors').description('synchronization errors');
  errors
    .command('list')
    .option('-m, --mapping <name>')
    .option('--code <code>')
    .addOption(new Option('--status <s>').choices(['open', 'resolved', 'dismissed']).default('open'))
    .action(async (o: { mapping?: string; code?: string; status: string }) => {
      const q = new URLSearchParams({
        status: o.status,
        ...(o.mapping ? { mapping: o.mapping } : {}),
        ...(o.code ? { code: o.code } : {}),
      });
      const r = await api().call<{ items: Array<Record<string, unknown>> }>('GET', `errors?${q}`);
      print(r, () =>
        table(
          ['id', 'mapping', 'code', 'record', 'attempts', 'last seen', 'message'],
          r.items.map((e) => [e.id, e.mapping, e.code, e.bcId ?? e.dataverseId, e.attempts, e.lastSeen, e.message]),
          70,
        ),
      );
    });
  errors.command('retry <id>').action(async (id: string) => {
    await api().call('POST', `errors/${encodeURIComponent(id)}/retry`);
    out('retry queued');
  });
  errors
    .command('retry-all')
    .requiredOption('-m, --mapping <name>')
    .action(async (o: { mapping: string }) => {
      const r = await api().call<{ republished: number }>('POST', 'errors/retry-all', { mapping: o.mapping });
      out(`${r.republished} retries queued`);
    });
  errors.command('dismiss <id>').action(async (id: string) => {
    await api().call('POST', `errors/${encodeURIComponent(id)}/dismiss`);
    out('dismissed');
  });

  // --- dead letters -----------------------------------------------------------------------------------------------
  const dl = program.command('dead-letters').description('dead-lettered messages of every queue (sync-* and ops-*)');
  dl.command('list')
    .option('--queue <q>')
    .option('-m, --mapping <name>')
    .option('--reason <r>')
    .action(async (o: { queue?: string; mapping?: string; reason?: string }) => {
      const q = new URLSearchParams({
        ...(o.queue ? { queue: o.queue } : {}),
        ...(o.mapping ? { mapping: o.mapping } : {}),
        ...(o.reason ? { reason: o.reason } : {}),
      });
      const r = await api().call<Array<Record<string, unknown>>>('GET', `dead-letters?${q}`);
      print(r, () =>
        table(
          ['queue', 'seq', 'reason', 'mapping', 'what', 'replays', 'enqueued', 'description'],
          r.map((d) => [d.queue, d.sequenceNumber, d.reason, d.mapping, d.subject ?? d.kind, d.replayCount, d.enqueuedAt, d.description]),
          60,
        ),
      );
    });
  const selector = (cmd: Command) =>
    cmd
      .option('--queue <q>')
      .option('--seq <n...>', 'sequence numbers')
      .option('--message-id <id>')
      .option('--reason <r>')
      .option('-m, --mapping <name>')
      .option('--all', 'every dead letter', false);
  const selectorBody = (o: { queue?: string; seq?: string[]; messageId?: string; reason?: string; mapping?: string; all: boolean }) => ({
    ...(o.queue ? { queue: o.queue } : {}),
    ...(o.seq ? { sequenceNumbers: o.seq } : {}),
    ...(o.messageId ? { messageId: o.messageId } : {}),
    ...(o.reason ? { reason: o.reason } : {}),
    ...(o.mapping ? { mapping: o.mapping } : {}),
    ...(o.all ? { all: true } : {}),
  });
  selector(dl.command('replay').description('send dead letters back to their queue')).action(async (o) => {
    const r = await api().call<{ replayed: number }>('POST', 'dead-letters/replay', selectorBody(o));
    out(`${r.replayed} replayed`);
  });
  selector(dl.command('purge').description('delete dead letters')).action(async (o) => {
    const r = await api().call<{ purged: number }>('POST', 'dead-letters/purge', selectorBody(o));
    out(`${r.purged} purged`);
  });

  program
    .command('setup')
    .description(
      "assisted setup (BC's Dataverse Connection Setup): check, columns, webhooks, subscriptions, mappings, coupling, first full sync",
    )
    .option('--yes', 'answer yes to every question (non-interactive)', false)
    .option(
      '--couple <mapping>',
      'match-based coupling for this mapping (repeatable)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--full-sync', 'start the first full sync', false)
    .action(async (o: { yes: boolean; couple: string[]; fullSync: boolean }) => {
      const a = api();
      out('Assisted setup — every step can be re-run safely.');
      const r = await a.call<{ ok: boolean; steps: Array<{ step: string; ok: boolean; detail: string }> }>('POST', 'setup', {});
      out(
        table(
          ['step', 'ok', 'detail'],
          r.steps.map((s) => [s.step, s.ok ? 'yes' : 'NO', s.detail]),
          110,
        ),
      );
      const ask = async (q: string, flag: boolean) => {
        if (flag || o.yes) return true;
        if (!process.stdin.isTTY) return false;
        const rl = createInterface({ input: process.stdin, output: process.stdout });
        try {
          return /^y/i.test(await rl.question(`${q} [y/N] `));
        } finally {
          rl.close();
        }
      };
      const toCouple = o.couple.length ? o.couple : (await ask('Run match-based coupling for CUSTOMER now?', false)) ? ['CUSTOMER'] : [];
      for (const m of toCouple) {
        const c = await a.call<Record<string, number>>('POST', 'couplings/bulk', { mapping: m, createNew: false });
        out(`${m}: ${c.coupled} coupled, ${c.unmatched} unmatched, ${c.ambiguous} ambiguous`);
      }
      if (await ask('Start the first full synchronization now?', o.fullSync)) {
        const p = await a.call<Progress>('POST', 'full-sync', {});
        out(`full sync ${p.runId} started`);
        await watch(a, p.runId, out);
      }
      if (!r.ok) process.exitCode = 1;
    });

  return program;
}

function progressText(r: Progress): string {
  const head = `run ${r.runId}: ${r.status} — ${r.done}${r.total !== undefined ? `/${r.total}` : ''} records, ${r.recordsPerSecond}/s${r.etaSeconds !== undefined ? `, ETA ${r.etaSeconds}s` : ''}`;
  const counters = Object.entries(r.counters)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `${head}\n${counters || 'no results yet'}\n${table(
    ['mapping', 'status', 'done', 'total', 'note'],
    r.mappings.map((m) => [m.name, m.status, m.done, m.total, m.message]),
    70,
  )}`;
}

/** Follows a run with a progress bar (plain lines when not a terminal) until it ends. */
async function watch(api: AdminApi, runId: string, out: (s: string) => void): Promise<void> {
  const tty = Boolean(process.stdout.isTTY);
  const bar = tty
    ? new SingleBar({ format: ' {bar} {percentage}% | {value}/{total} | {rate}/s | ETA {eta_s}s | {status}', hideCursor: true })
    : undefined;
  let started = false;
  for (;;) {
    const r = await api.call<Progress>('GET', `full-sync?runId=${encodeURIComponent(runId)}`);
    const total = r.total ?? Math.max(r.done, 1);
    if (bar) {
      if (!started) bar.start(total, r.done, { rate: r.recordsPerSecond, eta_s: r.etaSeconds ?? '?', status: r.status });
      bar.setTotal(total);
      bar.update(r.done, { rate: r.recordsPerSecond, eta_s: r.etaSeconds ?? '?', status: r.status });
    } else if (!started || r.status !== 'running') out(`${r.done}/${r.total ?? '?'} ${r.status}`);
    started = true;
    if (r.status !== 'running') {
      bar?.stop();
      out(progressText(r));
      if (r.status !== 'completed') process.exitCode = 1;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

export async function main(argv = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof AdminApiError) {
      process.stderr.write(`error${err.status ? ` ${err.status}` : ''}: ${err.message}${err.field ? ` (field ${err.field})` : ''}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}

if (require.main === module) void main();
