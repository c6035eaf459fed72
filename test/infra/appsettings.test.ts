import { describe, expect, it } from 'vitest';
import { parseSettings, REQUIRED_SETTING_NAMES, SETTING_NAMES } from '../../shared/config';
import { literal, readInfra } from './bicep';
import { appSettings, PLATFORM_SETTINGS, settingFormProblems, settingOrigin, unknownSettings, vaultReferenceProblems } from './checks';

const functionapp = readInfra('app/functionapp.bicep');

/**
 * What an expression in functionapp.bicep evaluates to in a sample deployment, by setting name. Literal values
 * (e.g. BC_AUTH 'client-secret') are taken from the Bicep itself, so parseSettings sees the deployed choices.
 */
const SAMPLE_VALUES: Record<string, string> = {
  TABLE_PREFIX: 'sync',
  BC_API_URL: 'https://api.businesscentral.dynamics.com',
  BC_TENANT_ID: '11111111-2222-3333-4444-555555555555',
  BC_ENVIRONMENT: 'Production',
  BC_COMPANY_ID: 'f516767b-be29-4c6d-af54-21cadea6abb4',
  BC_CLIENT_ID: '99999999-8888-7777-6666-555555555555',
  DATAVERSE_URL: 'https://contoso.crm.dynamics.com',
  DATAVERSE_TENANT_ID: '11111111-2222-3333-4444-555555555555',
  DATAVERSE_CLIENT_ID: '99999999-8888-7777-6666-444444444444',
  DATAVERSE_INTEGRATION_USER_ID: '',
  PUBLIC_BASE_URL: 'https://func-abc.azurewebsites.net',
  OWNERSHIP_MODEL: 'Person',
  SALES_INTEGRATION: 'true',
  UNIT_GROUP_MAPPING: 'true',
  EXTENDED_PRICING: 'false',
  SALES_ORDER_INTEGRATION: 'legacy',
  BC_MAX_CONCURRENCY: '1',
  DATAVERSE_MAX_CONCURRENCY: '8',
  SERVICEBUS_CONNECTION__fullyQualifiedNamespace: 'sb-abc.servicebus.windows.net',
  SERVICEBUS_CONNECTION__clientId: '0e0e0e0e-1111-2222-3333-444444444444',
  TABLES_CONNECTION__tableServiceUri: 'https://stabc.table.core.windows.net/',
  TABLES_CONNECTION__clientId: '0e0e0e0e-1111-2222-3333-444444444444',
  AZURE_CLIENT_ID: '0e0e0e0e-1111-2222-3333-444444444444',
  // What the Functions host puts in the environment once it resolved the Key Vault reference.
  BC_CLIENT_SECRET: 'resolved-bc-client-secret',
  BC_WEBHOOK_SECRET: 'resolved-bc-webhook-secret-0123456789',
  DATAVERSE_CLIENT_SECRET: 'resolved-dataverse-client-secret',
  DATAVERSE_WEBHOOK_KEY: 'resolved-dataverse-webhook-key-0123456789',
};

async function sampleEnvironment(text: string): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const [name, value] of await appSettings(text)) {
    if (settingOrigin(name) === 'platform') continue;
    const lit = literal(value);
    if (typeof lit === 'string') env[name] = lit;
    else if (name in SAMPLE_VALUES) env[name] = SAMPLE_VALUES[name] as string;
    else throw new Error(`no sample value for ${name} = ${value.text}`);
  }
  return env;
}

describe('function app settings = the settings shared/config.ts reads', () => {
  it('sets every required setting', async () => {
    const settings = await appSettings(functionapp);
    expect(REQUIRED_SETTING_NAMES.length).toBeGreaterThan(0);
    for (const name of REQUIRED_SETTING_NAMES) expect([...settings.keys()], name).toContain(name);
  });

  it('sets nothing the config does not know, except allow-listed platform settings', async () => {
    const settings = await appSettings(functionapp);
    expect(unknownSettings(settings)).toEqual([]);
    const origins = new Set([...settings.keys()].map(settingOrigin));
    expect(origins).toEqual(new Set(['config', 'identity-suffix', 'platform']));
    for (const p of PLATFORM_SETTINGS) expect([...settings.keys()]).toContain(p);
  });

  it('a sample deployment of these settings passes parseSettings (either/or connections, auth dependencies)', async () => {
    const settings = parseSettings(await sampleEnvironment(functionapp));
    expect(settings.BC_AUTH).toBe('client-secret');
    expect(settings.DATAVERSE_AUTH).toBe('client-secret');
    expect(settings.SERVICEBUS_CONNECTION).toBeUndefined();
    expect(settings.BC_MAX_CONCURRENCY).toBe(1);
  });

  it('uses identity-based connections and Key Vault references, never connection strings or tokens', async () => {
    expect(settingFormProblems(await appSettings(functionapp))).toEqual([]);
    expect(await vaultReferenceProblems(readInfra('app/keyvault.bicep'))).toEqual([]);
  });

  it('the checks fail on an unknown setting, a missing required one, a plain secret or a connection string', async () => {
    const unknown = functionapp.replace('  TABLE_PREFIX: tablePrefix\n', "  TABLE_PREFIX: tablePrefix\n  SOME_OTHER_SETTING: 'x'\n");
    expect(unknownSettings(await appSettings(unknown))).toEqual(['SOME_OTHER_SETTING']);

    const noTenant = functionapp.replace('  BC_TENANT_ID: bcTenantId\n', '');
    expect([...(await appSettings(noTenant)).keys()]).not.toContain('BC_TENANT_ID');
    await expect(async () => parseSettings(await sampleEnvironment(noTenant))).rejects.toThrow(/BC_TENANT_ID: is required/);

    const noClientId = functionapp.replace('  BC_CLIENT_ID: bcClientId\n', '');
    await expect(async () => parseSettings(await sampleEnvironment(noClientId))).rejects.toThrow(
      /BC_CLIENT_ID: required when BC_AUTH=client-secret/,
    );

    const plainSecret = functionapp.replace('BC_CLIENT_SECRET: vaultReferences.BC_CLIENT_SECRET', "BC_CLIENT_SECRET: 'hunter2'");
    expect(settingFormProblems(await appSettings(plainSecret))).toEqual([
      "BC_CLIENT_SECRET is 'hunter2', not the Key Vault reference vaultReferences.BC_CLIENT_SECRET",
    ]);

    const connString = functionapp.replace(
      '  AZURE_CLIENT_ID: identityClientId\n',
      "  AZURE_CLIENT_ID: identityClientId\n  SERVICEBUS_CONNECTION: 'Endpoint=sb://x/'\n",
    );
    expect(settingFormProblems(await appSettings(connString))).toContain(
      'SERVICEBUS_CONNECTION is set (a connection string); use the identity-based form',
    );

    const keyCredential = functionapp.replace(
      "SERVICEBUS_CONNECTION__credential: 'managedidentity'",
      "SERVICEBUS_CONNECTION__credential: 'key'",
    );
    expect(settingFormProblems(await appSettings(keyCredential))).toEqual(["SERVICEBUS_CONNECTION__credential is not 'managedidentity'"]);

    const keyvault = readInfra('app/keyvault.bicep');
    const leakedRef = keyvault.replace(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Bicep interpolation in Bicep source, not a JS template
      "BC_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${bcClientSecretValue.properties.secretUri})'",
      'BC_CLIENT_SECRET: bcClientSecret',
    );
    expect(await vaultReferenceProblems(leakedRef)).toEqual([
      'vaultReferences.BC_CLIENT_SECRET is not a Key Vault reference: bcClientSecret',
      'secure param bcClientSecret is used in output vaultReferences',
    ]);
  });

  it('the identity-suffix rule only accepts __credential/__clientId of a config connection', () => {
    expect(settingOrigin('SERVICEBUS_CONNECTION__clientId')).toBe('identity-suffix');
    expect(settingOrigin('SERVICEBUS_CONNECTION__fullyQualifiedNamespace')).toBe('config');
    expect(settingOrigin('NOT_A_SETTING__clientId')).toBeUndefined();
    expect(settingOrigin('TABLES_CONNECTION__accountKey')).toBeUndefined();
    expect(SETTING_NAMES).toContain('TABLES_CONNECTION__tableServiceUri');
  });
});
