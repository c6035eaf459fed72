import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAzurite, startAzurite } from '../../../dev/azurite';
import { MappingValidationError, TableMappingStore } from '../../../shared/adapters/tables/mapping-store';
import { defaultMappings, type MappingMetadataPort, queueNameFor, type TableMapping } from '../../../shared/domain/mappings';
import type { Clock } from '../../../shared/domain/ports';
import { freshTable } from './fixture';

const SETUP = {
  ownershipModel: 'Person',
  salesIntegration: true,
  unitGroupMapping: true,
  extendedPricing: false,
  salesOrderIntegration: 'legacy',
} as const;
const DEFAULTS = defaultMappings(SETUP);

class ManualClock implements Clock {
  t = Date.parse('2024-05-01T08:00:00.000Z');
  now(): Date {
    return new Date(this.t);
  }
}

function customCurrency(name: string, extra: Partial<TableMapping> = {}): TableMapping {
  const currency = structuredClone(DEFAULTS.find((m) => m.name === 'CURRENCY')!);
  return { ...currency, name, queueName: queueNameFor(name), userDefined: true, dependencies: [], ...extra };
}

async function rowCount(store: TableMappingStore): Promise<number> {
  let n = 0;
  for await (const _ of store.client.listEntities()) n++;
  return n;
}

describe('TableMappingStore (Azurite)', () => {
  let azurite: RunningAzurite;

  beforeAll(async () => {
    azurite = await startAzurite({ port: 0 });
  });
  afterAll(async () => {
    await azurite.stop();
  });

  it('seeds the defaults once, even when several instances start together', async () => {
    const table = await freshTable(azurite.connectionString, 'MapSeed');
    const stores = Array.from({ length: 4 }, () => new TableMappingStore(table, { defaults: () => defaultMappings(SETUP) }));
    const lists = await Promise.all(stores.map((s) => s.list()));
    const names = DEFAULTS.map((m) => m.name).sort();
    for (const l of lists) expect(l.map((m) => m.name)).toEqual(names);
    expect(lists[0]).toEqual(lists[3]);
    // One generation plus the pointer: the losing seeders removed what they wrote.
    expect(await rowCount(stores[0]!)).toBe(DEFAULTS.length + 1);
    expect(await stores[1]!.get('CUSTOMER')).toEqual(DEFAULTS.find((m) => m.name === 'CUSTOMER'));
  });

  it('adds, changes, disables and deletes mappings, validating the whole set', async () => {
    const store = new TableMappingStore(await freshTable(azurite.connectionString, 'MapEdit'), { defaults: DEFAULTS });
    await store.put(customCurrency('CUSTOM CURRENCY'));
    expect((await store.get('CUSTOM CURRENCY'))?.userDefined).toBe(true);

    const customer = (await store.get('CUSTOMER'))!;
    customer.fields.push({
      bcField: 'website',
      alField: 'Home Page',
      dataverseColumn: 'websiteurl',
      direction: 'Bidirectional',
      status: 'Enabled',
      validateOnWrite: true,
      validateIntegrationTableField: false,
      clearValueOnFailedSync: false,
      notNull: false,
      bcExtension: false,
    });
    await store.put(customer);
    expect((await store.get('CUSTOMER'))?.fields.at(-1)).toMatchObject({ bcField: 'website', dataverseColumn: 'websiteurl' });

    expect((await store.disable('CUSTOM CURRENCY')).enabled).toBe(false);
    expect((await store.get('CUSTOM CURRENCY'))?.enabled).toBe(false);
    expect((await store.enabled()).some((m) => m.name === 'CUSTOM CURRENCY')).toBe(false);
    await store.enable('CUSTOM CURRENCY');
    await expect(store.disable('NO SUCH')).rejects.toThrow(/no table mapping named NO SUCH/);

    expect(await store.delete('CUSTOM CURRENCY')).toBe(true);
    expect(await store.delete('CUSTOM CURRENCY')).toBe(false);
    // CUSTOMER depends on CURRENCY and SALESPEOPLE: removing CURRENCY would break it, so it is refused.
    const refused = await store.delete('CURRENCY').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MappingValidationError);
    expect((refused as Error).message).toContain('CURRENCY');
    expect(await store.get('CURRENCY')).toBeDefined();
  });

  it('refuses a bad change with a message naming the field, and keeps the old mapping', async () => {
    const store = new TableMappingStore(await freshTable(azurite.connectionString, 'MapBad'), { defaults: DEFAULTS });
    const before = await store.export();
    const rowsBefore = await rowCount(store);
    const bad = structuredClone(before.find((m) => m.name === 'PAYMENT TERMS')!);
    bad.direction = 'Bidirectional';
    bad.fields = bad.fields.map((f) => ({ ...f, direction: 'Bidirectional' }));
    const err = await store.put(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MappingValidationError);
    expect((err as MappingValidationError).code).toBe('MAP.INVALID');
    expect((err as MappingValidationError).problems.some((p) => p.code === 'option-bidirectional')).toBe(true);

    const badField = structuredClone(before.find((m) => m.name === 'CUSTOMER')!);
    badField.fields[0]!.dataverseColumn = 'not a column';
    const err2 = await store.put(badField).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(MappingValidationError);
    expect((err2 as Error).message).toMatch(/CUSTOMER/);
    expect((err2 as Error).message).toMatch(/dataverseColumn/);
    expect((err2 as MappingValidationError).problems[0]?.field).toBeDefined();
    expect(await store.export()).toEqual(before);
    expect(await rowCount(store)).toBe(rowsBefore);
  });

  it('checks changes against both systems metadata when given', async () => {
    const columns: Record<string, string> = { isocurrencycode: 'String', currencysymbol: 'String', currencyname: 'String' };
    const metadata: MappingMetadataPort = {
      dataverseColumn: async (entity, column) =>
        entity === 'transactioncurrency' && columns[column] ? { type: columns[column]! } : undefined,
      bcField: async (entitySet, field) =>
        entitySet === 'currencies' && ['code', 'symbol', 'displayName'].includes(field) ? { type: 'Edm.String' } : undefined,
    };
    const defaults = [customCurrency('CURRENCY')];
    const store = new TableMappingStore(await freshTable(azurite.connectionString, 'MapMeta'), { defaults, metadata });
    const m = (await store.get('CURRENCY'))!;
    m.fields.push({ ...m.fields[0]!, dataverseColumn: 'new_legacycode' });
    const err = await store.put(m).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MappingValidationError);
    expect((err as Error).message).toContain("column 'new_legacycode' does not exist on transactioncurrency");
    columns.new_legacycode = 'String';
    await expect(store.put(m)).resolves.toMatchObject({ name: 'CURRENCY' });
  });

  it('serves reads from a short cache and sees other instances changes after it expires', async () => {
    const table = await freshTable(azurite.connectionString, 'MapCache');
    const clock = new ManualClock();
    const reader = new TableMappingStore(table, { defaults: DEFAULTS, cacheTtlMs: 10_000, clock });
    const writer = new TableMappingStore(table, { defaults: DEFAULTS });
    expect((await reader.get('VENDOR'))?.enabled).toBe(true);
    await writer.disable('VENDOR');
    clock.t += 5_000;
    expect((await reader.get('VENDOR'))?.enabled).toBe(true); // still cached
    expect((await reader.get('VENDOR', { fresh: true }))?.enabled).toBe(false);
    await writer.enable('VENDOR');
    clock.t += 10_001;
    expect((await reader.get('VENDOR'))?.enabled).toBe(true);
  });

  it('round-trips export and import exactly, and an invalid import changes nothing', async () => {
    const source = new TableMappingStore(await freshTable(azurite.connectionString, 'MapExport'), { defaults: DEFAULTS });
    await source.put(customCurrency('EXTRA'));
    const exported = JSON.parse(JSON.stringify(await source.export())) as unknown[];

    const target = new TableMappingStore(await freshTable(azurite.connectionString, 'MapImport'), { defaults: [customCurrency('ONLY')] });
    expect((await target.list()).map((m) => m.name)).toEqual(['ONLY']);
    await expect(target.import(exported)).resolves.toEqual({ count: DEFAULTS.length + 1 });
    expect(await target.export()).toEqual(await source.export());

    const before = await target.export();
    const broken = structuredClone(exported) as Array<Record<string, unknown>>;
    (broken[3] as { direction: string }).direction = 'Sideways';
    broken.push({ ...(customCurrency('DEPENDENT') as unknown as Record<string, unknown>), dependencies: ['MISSING'] });
    const err = await target.import(broken).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MappingValidationError);
    expect((err as Error).message).toContain(String(broken[3]!.name));
    expect(await target.export()).toEqual(before);
    await expect(target.import({ nope: true })).rejects.toThrow(/expected a JSON array/);

    await target.import({ mappings: [customCurrency('MERGED')] }, { mode: 'merge' });
    expect((await target.list()).map((m) => m.name)).toContain('MERGED');
    expect((await target.list()).length).toBe(DEFAULTS.length + 2);
  });

  it('stores mappings larger than a property (compressed chunks) and sets needing several transactions', async () => {
    const store = new TableMappingStore(await freshTable(azurite.connectionString, 'MapBig'), { defaults: [customCurrency('SEED')] });
    const big = customCurrency('BIG', { tableFilter: `code ne '${'X'.repeat(70_000)}'` });
    expect(JSON.stringify(big).length).toBeGreaterThan(64 * 1024);
    await store.put(big);
    expect((await store.get('BIG', { fresh: true }))?.tableFilter).toBe(big.tableFilter);
    const many = Array.from({ length: 130 }, (_, i) => customCurrency(`C${String(i).padStart(3, '0')}`));
    await store.import(many);
    expect(await store.export()).toEqual(many);
  });

  it('keeps concurrent changes from two instances', async () => {
    const table = await freshTable(azurite.connectionString, 'MapRace');
    const a = new TableMappingStore(table, { defaults: [customCurrency('SEED')] });
    const b = new TableMappingStore(table, { defaults: [customCurrency('SEED')] });
    await a.list();
    await Promise.all([a.put(customCurrency('FROM A')), b.put(customCurrency('FROM B')), a.put(customCurrency('FROM A2'))]);
    expect((await b.list({ fresh: true })).map((m) => m.name)).toEqual(['FROM A', 'FROM A2', 'FROM B', 'SEED']);
  });
});
