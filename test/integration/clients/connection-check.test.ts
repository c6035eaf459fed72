import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BcSimulator, startBcSimulator } from '../../../dev/bc-simulator';
import { type DataverseSimulator, startDataverseSimulator } from '../../../dev/dataverse-simulator';
import { BcClient } from '../../../shared/adapters/bc/client';
import { type ConnectionCheckSettings, checkConnections, formatConnectionReport } from '../../../shared/adapters/connection-check';
import { StaticTokenSource } from '../../../shared/adapters/credentials';
import { DataverseClient } from '../../../shared/adapters/dataverse/client';
import { ClientMappingMetadata } from '../../../shared/adapters/dataverse/mapping-metadata';

let bc: BcSimulator;
let dv: DataverseSimulator;

beforeAll(async () => {
  [bc, dv] = await Promise.all([startBcSimulator({ port: 0 }), startDataverseSimulator({ port: 0 })]);
});

afterAll(async () => {
  await Promise.all([bc?.stop(), dv?.stop()]);
});

function settings(overrides: Partial<ConnectionCheckSettings> = {}): ConnectionCheckSettings {
  return {
    BC_API_URL: bc.url,
    BC_TENANT_ID: bc.tenantId,
    BC_ENVIRONMENT: bc.environmentName,
    BC_COMPANY_ID: bc.companyId,
    BC_AUTH: 'static-token',
    BC_STATIC_TOKEN: 'bc-integration-user',
    DATAVERSE_URL: dv.url,
    DATAVERSE_AUTH: 'static-token',
    DATAVERSE_STATIC_TOKEN: dv.integrationUserToken,
    DATAVERSE_INTEGRATION_USER_ID: dv.integrationUserId,
    ...overrides,
  };
}

describe('checkConnections', () => {
  it('reports every check OK against both simulators', async () => {
    const report = await checkConnections(settings(), {
      dataverseTables: [{ logicalName: 'account', columns: ['name', 'paymenttermscode'] }, { logicalName: 'contact' }],
      bcEntitySets: [{ kind: 'apiV2', entitySet: 'customers', fields: ['displayName', 'salespersonCode'] }],
    });
    expect(formatConnectionReport(report)).not.toContain('FAIL');
    expect(report.ok).toBe(true);
    expect(report.checks.map((c) => c.id)).toEqual([
      'bc.credentials',
      'bc.company',
      'bc.entitySet.apiV2.customers',
      'bc.extension',
      'dataverse.credentials',
      'dataverse.whoAmI',
      'dataverse.integrationUser',
      'dataverse.privileges',
      'dataverse.metadata.account',
      'dataverse.metadata.contact',
    ]);
    expect(report.bc.companyName).toBe(bc.companyName);
    expect(report.dataverse.userId).toBe(dv.integrationUserId);
  });

  it('names what is missing: wrong company, wrong integration user, missing columns and tables', async () => {
    const report = await checkConnections(
      settings({ BC_COMPANY_ID: '11111111-2222-3333-4444-555555555555', DATAVERSE_INTEGRATION_USER_ID: dv.adminUserId }),
      { dataverseTables: [{ logicalName: 'account', columns: ['nosuchcolumn'] }, { logicalName: 'nosuchtable' }] },
    );
    expect(report.ok).toBe(false);
    const byId = new Map(report.checks.map((c) => [c.id, c]));
    expect(byId.get('bc.company')).toMatchObject({ ok: false, code: 'BC.NOT_FOUND' });
    expect(byId.get('bc.company')?.detail).toContain(bc.companyName);
    expect(byId.has('bc.entitySet.apiV2.customers')).toBe(false);
    expect(byId.get('dataverse.integrationUser')).toMatchObject({ ok: false, code: 'CONFIG.INVALID' });
    expect(byId.get('dataverse.metadata.account')).toMatchObject({ ok: false, code: 'MAP.INVALID' });
    expect(byId.get('dataverse.metadata.account')?.detail).toContain('nosuchcolumn');
    expect(byId.get('dataverse.metadata.nosuchtable')).toMatchObject({ ok: false, code: 'MAP.INVALID' });
  });

  it('reports credentials it cannot use and an unreachable service', async () => {
    const report = await checkConnections(settings({ DATAVERSE_STATIC_TOKEN: 'unknown-token', DATAVERSE_INTEGRATION_USER_ID: undefined }));
    const who = report.checks.find((c) => c.id === 'dataverse.whoAmI');
    expect(who).toMatchObject({ ok: false, code: 'DV.AUTH' });
    expect(who?.detail).not.toContain('unknown-token');

    const discovered = await checkConnections(settings({ DATAVERSE_INTEGRATION_USER_ID: undefined }));
    expect(discovered.checks.find((c) => c.id === 'dataverse.integrationUser')?.detail).toContain(dv.integrationUserId);

    const down = await checkConnections(settings({ BC_API_URL: 'http://127.0.0.1:9', BC_AUTH: 'client-secret', BC_CLIENT_ID: undefined }));
    expect(down.checks[0]).toMatchObject({ id: 'bc.credentials', ok: false, code: 'CONFIG.INVALID' });
  });
});

describe('ClientMappingMetadata', () => {
  it('answers the mapping validation port from both clients', async () => {
    const meta = new ClientMappingMetadata(
      new BcClient({
        apiUrl: bc.url,
        tenantId: bc.tenantId,
        environment: bc.environmentName,
        companyId: bc.companyId,
        tokens: new StaticTokenSource('u'),
      }),
      new DataverseClient({ url: dv.url, tokens: new StaticTokenSource(dv.integrationUserToken) }),
    );
    expect(await meta.dataverseColumn('account', 'paymenttermscode')).toEqual({
      type: 'Picklist',
      options: expect.arrayContaining([1, 2, 3, 4]),
      validForCreate: true,
      validForUpdate: true,
    });
    expect(await meta.dataverseColumn('productpricelevel', 'productnumber')).toMatchObject({
      validForCreate: false,
      validForUpdate: false,
    });
    expect(await meta.dataverseColumn('account', 'nosuchcolumn')).toBeUndefined();
    expect(await meta.bcField('customers', 'displayName')).toEqual({ type: 'Edm.String' });
    // Only the custom API page has shipping agents.
    expect(await meta.bcField('shippingAgents', 'code')).toEqual({ type: 'Edm.String' });
    expect(await meta.bcField('customers', 'noSuchField')).toBeUndefined();
  });
});
