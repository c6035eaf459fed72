import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/main';
import type { FieldMapping, TableMapping } from '../../shared/domain/mappings';
import { getRuntime } from '../../shared/runtime';
import { type Stack, startStack, TEST_LOCAL_KEY, TEST_READER_KEY } from '../support/stack';
import { adminClient } from './helpers';

/**
 * Editing mappings over the admin API, as the console and the CLI do: preview (validated against both systems'
 * metadata and the filters run against the systems, with a diff), save, change log, one-call undo, reset to
 * BC's defaults; and the per-run synchronization log and retention status.
 */
describe('mapping edits over the admin API', () => {
  let stack: Stack;
  let admin: ReturnType<typeof adminClient>;
  let reader: ReturnType<typeof adminClient>;
  let original: TableMapping;

  beforeAll(async () => {
    stack = await startStack({ functions: ['admin-api', 'sync'], dataverse: { seed: 'empty' } });
    admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
    reader = adminClient((r) => stack.host.apiUrl(r), TEST_READER_KEY);
    original = await admin.ok<TableMapping>('GET', 'mappings/CONTACT');
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const withField = (m: TableMapping, label: (f: FieldMapping) => boolean, change: Partial<FieldMapping>): TableMapping => ({
    ...m,
    fields: m.fields.map((f) => (label(f) ? { ...f, ...change } : f)),
  });
  const isPhone = (f: FieldMapping) => f.dataverseColumn === 'telephone1';

  it('previews a field-mapping change with its diff, saves it, logs it and undoes it in one call', async () => {
    const phone = original.fields.find(isPhone);
    expect(phone?.direction).toBe('Bidirectional');
    const edited = withField(original, isPhone, { direction: 'ToIntegrationTable' });

    const preview = await admin.ok<{ ok: boolean; problems: unknown[]; diff: unknown[] }>('POST', 'mappings/CONTACT/preview', edited);
    expect(preview).toEqual({
      ok: true,
      problems: [],
      diff: [{ path: `fields[${phone?.bcField} -> telephone1].direction`, before: 'Bidirectional', after: 'ToIntegrationTable' }],
    });
    // A preview saves nothing.
    expect((await admin.ok<TableMapping>('GET', 'mappings/CONTACT')).fields.find(isPhone)?.direction).toBe('Bidirectional');

    await admin.ok('PUT', 'mappings/CONTACT', edited);
    expect((await admin.ok<TableMapping>('GET', 'mappings/CONTACT')).fields.find(isPhone)?.direction).toBe('ToIntegrationTable');
    const log = await reader.ok<Array<{ by: string; kind: string; diff: Array<{ path: string }> }>>('GET', 'mappings/CONTACT/changes');
    expect(log[0]).toMatchObject({ by: 'key:Sync.Admin', kind: 'edit', diff: [{ path: expect.stringContaining('telephone1') }] });

    // A Reader may look but not undo.
    expect((await reader.call('POST', 'mappings/CONTACT/undo')).status).toBe(403);
    const undo = await admin.ok<{ undone: { kind: string }; mapping: TableMapping }>('POST', 'mappings/CONTACT/undo');
    expect(undo.undone.kind).toBe('edit');
    expect(undo.mapping).toEqual(original);
    expect(await admin.ok('GET', 'mappings/CONTACT')).toEqual(original);
  });

  it('adds and removes field mappings, with a constant, checked against metadata before saving', async () => {
    const constant: FieldMapping = {
      bcField: null,
      alField: null,
      dataverseColumn: 'jobtitle',
      direction: 'ToIntegrationTable',
      status: 'Enabled',
      constant: { value: 'Synchronized contact' },
      validateOnWrite: true,
      validateIntegrationTableField: false,
      clearValueOnFailedSync: false,
      notNull: false,
      bcExtension: false,
    };
    const added = { ...original, fields: [...original.fields.filter((f) => !isPhone(f)), constant] };
    const preview = await admin.ok<{ ok: boolean; diff: Array<{ path: string; before?: unknown; after?: unknown }> }>(
      'POST',
      'mappings/CONTACT/preview',
      added,
    );
    expect(preview.ok).toBe(true);
    expect(preview.diff.map((d) => [d.path, d.before === undefined ? 'added' : d.after === undefined ? 'removed' : 'changed'])).toEqual([
      [expect.stringContaining('telephone1'), 'removed'],
      ['fields[(constant) -> jobtitle]', 'added'],
    ]);
    await admin.ok('PUT', 'mappings/CONTACT', added);

    // A column Dataverse does not have is refused at the field, and nothing is saved.
    const bad = { ...added, fields: [...added.fields, { ...constant, dataverseColumn: 'nosuchcolumn' }] };
    const refused = await admin.call<{ field: string; problems: Array<{ field: string; code: string }> }>('PUT', 'mappings/CONTACT', bad);
    expect(refused.status).toBe(400);
    expect(refused.body.problems).toEqual([expect.objectContaining({ field: '(constant) -> nosuchcolumn', code: 'column-missing' })]);
    expect(refused.body.field).toBe('(constant) -> nosuchcolumn');
    expect((await admin.ok<TableMapping>('GET', 'mappings/CONTACT')).fields).toHaveLength(added.fields.length);
  });

  it('refuses a filter the system refuses, at the filter field', async () => {
    const current = await admin.ok<TableMapping>('GET', 'mappings/CONTACT');
    for (const [field, filter] of [
      ['integrationTableFilter', 'nosuchcolumn eq 1'],
      ['integrationTableFilter', "statecode eq 0 and (firstname eq 'x'"],
      ['tableFilter', "nosuchfield eq 'x'"],
    ] as const) {
      const preview = await admin.ok<{ ok: boolean; problems: Array<{ field: string; code: string; message: string }> }>(
        'POST',
        'mappings/CONTACT/preview',
        { ...current, [field]: filter },
      );
      expect(preview.ok, filter).toBe(false);
      expect(preview.problems).toEqual([expect.objectContaining({ field, code: 'filter-invalid' })]);
      const put = await admin.call<{ field: string }>('PUT', 'mappings/CONTACT', { ...current, [field]: filter });
      expect(put.status).toBe(400);
      expect(put.body.field).toBe(field);
    }
    const fine = await admin.ok<{ ok: boolean }>('POST', 'mappings/CONTACT/preview', {
      ...current,
      integrationTableFilter: 'statecode eq 0',
    });
    expect(fine.ok).toBe(true);
  });

  it('resets one mapping to the default, and all of them', async () => {
    const def = await admin.ok<TableMapping>('GET', 'mappings/CONTACT/default');
    expect(def).toEqual(original);
    expect(await admin.ok<TableMapping>('GET', 'mappings/CONTACT')).not.toEqual(def);
    expect(await admin.ok('POST', 'mappings/CONTACT/reset')).toMatchObject({ reset: ['CONTACT'], mapping: def });
    const vendor = await admin.ok<TableMapping>('GET', 'mappings/VENDOR');
    await admin.ok('PUT', 'mappings/VENDOR', { ...vendor, updateConflictResolution: 'SendUpdateToIntegration', enabled: false });
    expect(await admin.ok('POST', 'mappings/reset-all')).toEqual({ reset: ['VENDOR'] });
    expect(await admin.ok('GET', 'mappings/VENDOR')).toEqual(vendor);
    expect((await reader.call('POST', 'mappings/reset-all')).status).toBe(403);
    expect((await admin.call('POST', 'mappings/NOPE/reset')).status).toBe(400);
  });

  it('shows the per-run synchronization log and what retention keeps', async () => {
    const before = await admin.ok<Array<{ mapping: string }>>('GET', 'runs?mapping=CUSTOMER');
    const rt = await getRuntime();
    const customer = await rt.bcGateway.create({ side: 'bc', kind: 'apiV2', entitySet: 'customers' }, { displayName: 'Run Log Ltd' });
    const outcome = await admin.ok<{ result: string }>('POST', 'sync-now', {
      mapping: 'CUSTOMER',
      bcId: customer.id,
      direction: 'ToIntegrationTable',
    });
    expect(outcome.result).toBe('inserted');
    const runs = await reader.ok<Array<{ mapping: string; startedAt: string; finishedAt: string; counters: Record<string, number> }>>(
      'GET',
      'runs?mapping=CUSTOMER',
    );
    expect(runs).toHaveLength(Math.max(before.length, 1));
    expect(runs[0]?.counters.inserted).toBeGreaterThanOrEqual(1);
    expect(Date.parse(runs[0]?.finishedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(runs[0]?.startedAt ?? ''));
    // Found by its BC number or its name, on both sides, with the coupling the sync made.
    const number = String(customer.values.number);
    for (const q of [number, 'Run Log Ltd']) {
      const found = await reader.ok<{ items: Array<{ side: string; id: string; coupling?: { bcId: string; dataverseId: string } }> }>(
        'GET',
        `couplings/find?mapping=CUSTOMER&q=${encodeURIComponent(q)}`,
      );
      const bcHit = found.items.find((i) => i.side === 'bc');
      expect(bcHit, q).toMatchObject({ id: customer.id, coupling: { bcId: customer.id } });
      if (q === 'Run Log Ltd')
        expect(found.items.find((i) => i.side === 'dataverse')).toMatchObject({ coupling: { dataverseId: bcHit?.coupling?.dataverseId } });
    }
    expect((await reader.ok<{ items: unknown[] }>('GET', "couplings/find?mapping=CUSTOMER&q=No%20such%20o'name")).items).toEqual([]);
    expect(await reader.ok('GET', 'retention')).toMatchObject({ days: 30 });
    expect((await reader.call('POST', 'retention/run')).status).toBe(403);
    expect(await admin.ok('POST', 'retention/run')).toMatchObject({ history: { deleted: 0, more: false } });
  });

  it('does the same from the CLI: field change with diff, refusal at the field, undo, reset, runs, find', async () => {
    const base = stack.host.apiUrl('').replace(/\/api\/?$/, '');
    const cli = async (...args: string[]) => {
      const lines: string[] = [];
      await buildProgram((l) => lines.push(l)).parseAsync(['node', 'cli', '--url', base, '--key', TEST_LOCAL_KEY, ...args]);
      return lines.join('\n');
    };
    const start = await admin.ok<TableMapping>('GET', 'mappings/CONTACT');
    const phone = start.fields.find(isPhone);
    const bc = String(phone?.bcField);
    const saved = await cli('mappings', 'field', 'CONTACT', bc, 'telephone1', '--direction', 'FromIntegrationTable');
    expect(saved).toContain(`fields[${bc} -> telephone1].direction: Bidirectional -> FromIntegrationTable`);
    expect(saved).toContain('CONTACT saved');
    expect((await admin.ok<TableMapping>('GET', 'mappings/CONTACT')).fields.find(isPhone)?.direction).toBe('FromIntegrationTable');
    await expect(
      cli('mappings', 'field', 'CONTACT', '-', 'nosuchcolumn', '--constant', 'x', '--direction', 'ToIntegrationTable'),
    ).rejects.toMatchObject({
      status: 400,
      field: '(constant) -> nosuchcolumn',
    });
    await expect(cli('mappings', 'set', 'CONTACT', '--integration-table-filter', 'nosuchcolumn eq 1')).rejects.toMatchObject({
      field: 'integrationTableFilter',
    });
    expect(await cli('mappings', 'changes', 'CONTACT')).toContain('telephone1');
    expect(await cli('mappings', 'undo', 'CONTACT')).toContain('undid the edit');
    expect(await admin.ok('GET', 'mappings/CONTACT')).toEqual(start);
    await cli('mappings', 'set', 'CONTACT', '--deletion-conflict', 'RemoveCoupling');
    expect(await cli('mappings', 'reset', 'CONTACT')).toBe('reset: CONTACT');
    expect(await cli('runs', '-m', 'CUSTOMER')).toContain('CUSTOMER');
    expect(await cli('couplings', 'find', '-m', 'CUSTOMER', 'Run Log Ltd')).toContain('bc');
    // A Reader's key is refused a change from the CLI too.
    await expect(
      buildProgram(() => undefined).parseAsync(['node', 'cli', '--url', base, '--key', TEST_READER_KEY, 'mappings', 'reset', '--all']),
    ).rejects.toMatchObject({ status: 403 });
  });
});
