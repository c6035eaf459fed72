import { TableServiceClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAzurite, startAzurite } from '../../../dev/azurite';
import { createStores, environmentIdentity, tableNames } from '../../../shared/adapters/tables';
import { ALL_DEFAULT_MAPPING_NAMES } from '../../../shared/domain/mappings';

describe('createStores (Azurite)', () => {
  let azurite: RunningAzurite;
  beforeAll(async () => {
    azurite = await startAzurite({ port: 0 });
  });
  afterAll(async () => {
    await azurite.stop();
  });

  it('creates every table once and wires working stores', async () => {
    const settings = { TABLES_CONNECTION: azurite.connectionString, TABLE_PREFIX: 'factory', OWNERSHIP_MODEL: 'Team' as const };
    const env = environmentIdentity({
      bcTenantId: 't',
      bcEnvironment: 'Production',
      bcCompanyId: 'c',
      dataverseUrl: 'https://org.crm.dynamics.com',
    });
    const [stores, again] = await Promise.all([createStores(settings, { environment: env }), createStores(settings)]);
    const service = TableServiceClient.fromConnectionString(azurite.connectionString, { allowInsecureConnection: true });
    const existing: string[] = [];
    for await (const t of service.listTables()) existing.push(String(t.name));
    expect(existing.sort()).toEqual(Object.values(tableNames('factory')).sort());

    const c = await stores.couplings.couple({ mapping: 'CUSTOMER', bcId: 'a', dataverseId: 'b', environment: env });
    expect(await again.couplings.getByDataverseId('CUSTOMER', 'b')).toMatchObject({ bcId: c.bcId });
    await stores.counters.increment('CUSTOMER', 'coupled');
    expect((await again.counters.get('CUSTOMER')).coupled).toBe(1);
    // Team ownership: BC drops SALESPEOPLE from the defaults.
    const names = (await stores.mappings.list()).map((m) => m.name);
    expect(names).not.toContain('SALESPEOPLE');
    expect(names).toContain('CUSTOMER');
    expect(names.every((n) => (ALL_DEFAULT_MAPPING_NAMES as readonly string[]).includes(n))).toBe(true);
    await stores.checkpoints.put('x', { ok: true });
    expect((await again.checkpoints.get('x'))?.value).toEqual({ ok: true });
  });

  it('refuses settings without a connection', async () => {
    await expect(createStores({})).rejects.toMatchObject({ code: 'CONFIG.INVALID' });
  });
});
