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
/** The embedded local Sync.Admin key (local.settings.sample.json), for `npm start`. */
const DEFAULT_LOCAL_KEY = 'local-admin-key-not-secret';

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
    .addOption(new Option('--key <key>', 'local role key (SYNC_ADMIN_KEY or SYNC_READER_KEY), sent in x-sync-key').env('SYNC_ADMIN_KEY'))
    .addOption(
      new Option('--token <token>', 'Entra ID access token for the app in Azure (e.g. az account get-access-token)').env(
        'SYNC_ADMIN_TOKEN',
      ),
    )
    .option('--json', 'print raw JSON instead of tables', false)
    .showHelpAfterError();

  const api = () => {
    const o = program.opts<{ url: string; key?: string; token?: string }>();
    return new AdminApi(o.url, o.token ? { token: o.token } : { key: o.key ?? DEFAULT_LOCAL_KEY });
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

  /** Shows the diff and problems of a proposed definition (the API checks it); saves it unless --dry-run. */
  const edit = async (name: string, change: (m: MappingJson) => MappingJson, dryRun: boolean) => {
    const a = api();
    const path = `mappings/${encodeURIComponent(name)}`;
    const proposed = change(await a.call<MappingJson>('GET', path));
    const preview = await a.call<Preview>('POST', `${path}/preview`, proposed);
    print(preview, () => diffText(preview));
    if (!preview.ok)
      throw new AdminApiError(400, `${name}: ${preview.problems.length} problem(s); nothing saved`, preview.problems[0]?.field);
    if (dryRun || preview.diff.length === 0) return;
    await a.call('PUT', path, proposed);
    out(`${name} saved (undo: mappings undo ${name})`);
  };
  mappings
    .command('new <name>')
    .description('create a mapping for any table with an API page (checked against both systems before saving)')
    .requiredOption('--bc-entity-set <set>', 'BC API entity set, e.g. customers')
    .option('--bc-custom', "the entity set is on the service's BC extension API, not the standard API v2.0", false)
    .requiredOption('--bc-table <name>', 'AL table name, e.g. Customer')
    .requiredOption('--bc-table-id <no>', 'AL table number, e.g. 18')
    .requiredOption('--dataverse-table <logicalName>', 'Dataverse table logical name, e.g. contact')
    .requiredOption('--dataverse-entity-set <set>', 'Dataverse entity set, e.g. contacts')
    .addOption(new Option('--direction <direction>').choices(DIRECTIONS).default('Bidirectional'))
    .option('--field <bcField=column[:direction]>', 'a field mapping (repeatable)', (v: string, acc: string[]) => [...acc, v], [])
    .option('--dry-run', 'check and show the problems, save nothing', false)
    .action(async (name: string, o: NewMappingOptions) => {
      const a = api();
      const fields = o.field.map((spec) => {
        const m = /^([^=]+)=([^:]+)(?::(\w+))?$/.exec(spec);
        if (!m) throw new AdminApiError(400, `--field ${spec}: expected bcField=dataverseColumn[:direction]`, 'fields');
        return { bcField: m[1], dataverseColumn: m[2], ...(m[3] ? { direction: m[3] } : {}) };
      });
      const proposed = await a.call<MappingJson>('POST', 'mappings/draft', {
        name,
        bc: { kind: o.bcCustom ? 'customApi' : 'apiV2', entitySet: o.bcEntitySet, table: o.bcTable, tableId: o.bcTableId },
        dataverse: { entityLogicalName: o.dataverseTable, entitySet: o.dataverseEntitySet },
        direction: o.direction,
        fields,
      });
      const path = `mappings/${encodeURIComponent(name)}`;
      const preview = await a.call<Preview>('POST', `${path}/preview`, proposed);
      if (!preview.ok) {
        print(preview, () => diffText(preview));
        throw new AdminApiError(400, `${name}: ${preview.problems.length} problem(s); nothing saved`, preview.problems[0]?.field);
      }
      if (o.dryRun) return print(proposed, () => `${name}: no problems (not saved: --dry-run)`);
      const saved = await a.call<MappingJson>('PUT', path, proposed);
      print(saved, () => `${name} created (${saved.fields.length} field mapping(s), queue ${String(saved.queueName)})`);
    });
  mappings
    .command('set <name>')
    .description('change table-level settings of a mapping (checked against both systems before saving)')
    .addOption(new Option('--direction <direction>').choices(DIRECTIONS))
    .addOption(
      new Option('--update-conflict <policy>').choices(['None', 'SendUpdateToIntegration', 'GetUpdateFromIntegration', 'FieldMerge']),
    )
    .addOption(
      new Option('--deletion-conflict <policy>').choices([
        'None',
        'RemoveCoupling',
        'RestoreRecords',
        'PropagateDelete',
        'IgnoreAndReport',
      ]),
    )
    .option('--table-filter <filter>', 'BC OData $filter ("" = all records)')
    .option('--integration-table-filter <filter>', 'Dataverse OData $filter ("" = all rows)')
    .option('--only-coupled <bool>', 'Synch. Only Coupled Records (true/false)')
    .option('--dry-run', 'check and show the diff, save nothing', false)
    .action(async (name: string, o: Record<string, string | boolean | undefined>) => {
      await edit(
        name,
        (m) => ({
          ...m,
          ...(o.direction ? { direction: o.direction } : {}),
          ...(o.updateConflict ? { updateConflictResolution: o.updateConflict } : {}),
          ...(o.deletionConflict ? { deletionConflictResolution: o.deletionConflict } : {}),
          ...(o.tableFilter !== undefined ? { tableFilter: o.tableFilter } : {}),
          ...(o.integrationTableFilter !== undefined ? { integrationTableFilter: o.integrationTableFilter } : {}),
          ...(o.onlyCoupled !== undefined ? { synchOnlyCoupledRecords: o.onlyCoupled === 'true' } : {}),
        }),
        Boolean(o.dryRun),
      );
    });
  mappings
    .command('field <name> <bcField> <dataverseColumn>')
    .description('add, change or remove a field mapping ("-" for the side a constant is written to)')
    .addOption(new Option('--direction <direction>').choices(DIRECTIONS))
    .addOption(new Option('--status <status>').choices(['Enabled', 'Disabled']))
    .option('--constant <value>', 'constant written to the side given as "-" (numbers and true/false as such)')
    .option('--remove', 'remove the field mapping', false)
    .option('--dry-run', 'check and show the diff, save nothing', false)
    .action(async (name: string, bcArg: string, dvArg: string, o: FieldOptions) => {
      const bcField = bcArg === '-' ? null : bcArg;
      const dataverseColumn = dvArg === '-' ? null : dvArg;
      await edit(
        name,
        (m) => {
          const same = (f: FieldJson) => f.bcField === bcField && f.dataverseColumn === dataverseColumn;
          const existing = m.fields.find(same);
          if (o.remove) {
            if (!existing) throw new AdminApiError(400, `${name} has no field mapping ${bcArg} -> ${dvArg}`, 'fields');
            return { ...m, fields: m.fields.filter((f) => !same(f)) };
          }
          const field: FieldJson = {
            ...(existing ?? { alField: bcField, direction: 'Bidirectional', status: 'Enabled' }),
            bcField,
            dataverseColumn,
            ...(o.direction ? { direction: o.direction } : {}),
            ...(o.status ? { status: o.status } : {}),
            ...(o.constant !== undefined ? { constant: { value: constantValue(o.constant) } } : {}),
          };
          return { ...m, fields: existing ? m.fields.map((f) => (same(f) ? field : f)) : [...m.fields, field] };
        },
        o.dryRun,
      );
    });
  mappings
    .command('changes <name>')
    .description("a mapping's change log with diffs")
    .action(async (name: string) => {
      const r = await api().call<Array<{ at: string; by: string; kind: string; diff: Preview['diff'] }>>(
        'GET',
        `mappings/${encodeURIComponent(name)}/changes`,
      );
      print(r, () =>
        table(
          ['at', 'by', 'kind', 'changed'],
          r.map((c) => [c.at, c.by, c.kind, c.diff.map((d) => d.path).join(', ')]),
          90,
        ),
      );
    });
  mappings
    .command('undo <name>')
    .description("undo the mapping's latest change")
    .action(async (name: string) => {
      const r = await api().call<{ undone: { at: string; by: string; kind: string; diff: Preview['diff'] } }>(
        'POST',
        `mappings/${encodeURIComponent(name)}/undo`,
      );
      out(
        `${name}: undid the ${r.undone.kind} of ${r.undone.at} by ${r.undone.by}\n${diffText({ ok: true, problems: [], diff: r.undone.diff })}`,
      );
    });
  mappings
    .command('reset [name]')
    .description("BC's Use Default Synchronization Setup: one mapping, or with --all every default mapping")
    .option('--all', 'reset every default mapping (user-defined ones are kept)', false)
    .action(async (name: string | undefined, o: { all: boolean }) => {
      if (!name && !o.all) throw new AdminApiError(400, 'give a mapping name or --all', 'name');
      const r = await api().call<{ reset: string[] }>(
        'POST',
        name ? `mappings/${encodeURIComponent(name)}/reset` : 'mappings/reset-all',
        {},
      );
      out(r.reset.length ? `reset: ${r.reset.join(', ')}` : 'already the defaults');
    });
  mappings
    .command('delete <name>')
    .description('delete a user-defined mapping')
    .action(async (name: string) => {
      await api().call('DELETE', `mappings/${encodeURIComponent(name)}`);
      out(`${name} deleted`);
    });

  // --- synchronization log, retention ------------------------------------------------------------------------
  program
    .command('runs')
    .description("synchronization log: one run per mapping and hour (BC's Integration Synch. Jobs)")
    .option('-m, --mapping <name>')
    .option('--limit <n>', 'runs to show', '50')
    .option('--hours <n>', 'how far back, in hours', '24')
    .action(async (o: { mapping?: string; limit: string; hours: string }) => {
      const q = new URLSearchParams({ limit: o.limit, hours: o.hours, ...(o.mapping ? { mapping: o.mapping } : {}) });
      const r = await api().call<Array<{ mapping: string; startedAt: string; finishedAt: string; counters: Record<string, number> }>>(
        'GET',
        `runs?${q}`,
      );
      print(r, () =>
        table(
          ['mapping', 'started', 'finished', 'inserted', 'modified', 'coupled', 'failed', 'skipped'],
          r.map((x) => [
            x.mapping,
            x.startedAt,
            x.finishedAt,
            x.counters.inserted,
            x.counters.modified,
            x.counters.coupled,
            x.counters.failed,
            x.counters.skipped,
          ]),
        ),
      );
    });
  const retention = program.command('retention').description('how long history, run log and closed errors are kept');
  retention.command('status', { isDefault: true }).action(async () => {
    const r = await api().call<{ keeps: string; schedule: string; lastRun?: unknown }>('GET', 'retention');
    print(r, () => `keeps ${r.keeps}; timer ${r.schedule}${r.lastRun ? `\nlast run: ${JSON.stringify(r.lastRun)}` : ''}`);
  });
  retention
    .command('run')
    .description('purge now (bounded; run again while "more" is true)')
    .action(async () => {
      const r = await api().call('POST', 'retention/run', {});
      out(JSON.stringify(r, null, 2));
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
  const jobText = (j: JobJson) =>
    `${j.id} ${j.kind} ${j.mapping}: ${j.status}, ${j.done}${j.total !== undefined ? `/${j.total}` : ''} done` +
    `${
      Object.keys(j.counters).length
        ? ` (${Object.entries(j.counters)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')})`
        : ''
    }${j.error ? ` — ${j.error}` : ''}`;
  const followJob = async (a: AdminApi, job: JobJson, wait: boolean) => {
    let j = job;
    out(jobText(j));
    while (wait && j.status === 'running') {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      j = await a.call<JobJson>('GET', `couplings/jobs/${encodeURIComponent(j.id)}`);
      out(jobText(j));
    }
    if (wait)
      print(j, () =>
        table(
          ['bcId', 'result', 'dataverseId', 'message'],
          j.results.map((r) => [r.bcId, r.result, r.dataverseId, r.message]),
          90,
        ),
      );
    if (j.status === 'failed') process.exitCode = 1;
  };
  couplings
    .command('match')
    .description('match-based coupling of every BC record of a mapping, as a background job')
    .requiredOption('-m, --mapping <name>')
    .option('--create-new', "create what has no match (default: the mapping's setting)")
    .option('--sync-after', "synchronize after coupling (default: the mapping's setting)")
    .option('--wait', 'follow the job until it ends, then list its results', false)
    .action(async (o: { mapping: string; createNew?: boolean; syncAfter?: boolean; wait: boolean }) => {
      const a = api();
      const job = await a.call<JobJson>('POST', 'couplings/jobs', {
        kind: 'match-couple',
        mapping: o.mapping,
        ...(o.createNew !== undefined ? { createNew: o.createNew } : {}),
        ...(o.syncAfter !== undefined ? { synchronizeAfter: o.syncAfter } : {}),
      });
      await followJob(a, job, o.wait);
    });
  couplings
    .command('uncouple-all')
    .description('delete every coupling of a mapping (records stay), as a background job')
    .requiredOption('-m, --mapping <name>')
    .option('--wait', 'follow the job until it ends', false)
    .action(async (o: { mapping: string; wait: boolean }) => {
      const a = api();
      await followJob(a, await a.call<JobJson>('POST', 'couplings/jobs', { kind: 'uncouple', mapping: o.mapping }), o.wait);
    });
  couplings
    .command('jobs [id]')
    .description('background coupling jobs, or one job with its results')
    .option('--cancel', 'cancel the job', false)
    .action(async (id: string | undefined, o: { cancel: boolean }) => {
      const a = api();
      if (!id) {
        const jobs = await a.call<JobJson[]>('GET', 'couplings/jobs');
        print(jobs, () => jobs.map(jobText).join('\n') || 'no jobs');
        return;
      }
      const path = `couplings/jobs/${encodeURIComponent(id)}`;
      await followJob(a, await a.call<JobJson>(o.cancel ? 'POST' : 'GET', o.cancel ? `${path}/cancel` : path), true);
    });
  couplings
    .command('find <text>')
    .description('find records by BC number or Dataverse name (not only GUID), with their couplings')
    .requiredOption('-m, --mapping <name>')
    .action(async (text: string, o: { mapping: string }) => {
      const r = await api().call<{
        items: Array<{ side: string; id: string; field: string; coupling?: { bcId: string; dataverseId: string } }>;
      }>('GET', `couplings/find?mapping=${encodeURIComponent(o.mapping)}&q=${encodeURIComponent(text)}`);
      print(r, () =>
        table(
          ['side', 'id', 'matched', 'coupled to'],
          r.items.map((i) => [
            i.side,
            i.id,
            i.field,
            i.coupling ? (i.side === 'bc' ? i.coupling.dataverseId : i.coupling.bcId) : '(not coupled)',
          ]),
          80,
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

const DIRECTIONS = ['Bidirectional', 'ToIntegrationTable', 'FromIntegrationTable'];

interface NewMappingOptions {
  bcEntitySet: string;
  bcCustom: boolean;
  bcTable: string;
  bcTableId: string;
  dataverseTable: string;
  dataverseEntitySet: string;
  direction: string;
  field: string[];
  dryRun: boolean;
}
type FieldJson = Record<string, unknown> & { bcField: string | null; dataverseColumn: string | null };
type MappingJson = Record<string, unknown> & { fields: FieldJson[] };
interface Preview {
  ok: boolean;
  problems: Array<{ field?: string; message: string }>;
  diff: Array<{ path: string; before?: unknown; after?: unknown }>;
}
interface JobJson {
  id: string;
  kind: string;
  mapping: string;
  status: string;
  done: number;
  total?: number;
  counters: Record<string, number>;
  results: Array<{ bcId: string; result: string; dataverseId?: string; message?: string }>;
  error?: string;
}
interface FieldOptions {
  direction?: string;
  status?: string;
  constant?: string;
  remove: boolean;
  dryRun: boolean;
}

function constantValue(text: string): string | number | boolean | null {
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (text === 'true' || text === 'false' || text === 'null') return JSON.parse(text) as boolean | null;
  return text;
}

function diffText(p: Preview): string {
  const show = (v: unknown) => (v === undefined ? '' : typeof v === 'string' ? v : JSON.stringify(v));
  const lines = p.diff.map(
    (d) => `  ${d.path}: ${d.before === undefined ? '(added)' : show(d.before)} -> ${d.after === undefined ? '(removed)' : show(d.after)}`,
  );
  const problems = p.problems.map((x) => `  ! ${x.field ? `[${x.field}] ` : ''}${x.message}`);
  return [p.diff.length ? 'changes:' : 'no changes', ...lines, ...(problems.length ? ['problems:', ...problems] : [])].join('\n');
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
