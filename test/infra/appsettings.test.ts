import { describe, expect, it } from 'vitest';
import { parseSettings, REQUIRED_SETTING_NAMES, SETTING_NAMES } from '../../shared/config';
import { readInfra } from './bicep';
import { appSettings, PLATFORM_SETTINGS, settingFormProblems, settingOrigin, unknownSettings, vaultReferenceProblems } from './checks';

const functionapp = readInfra('app/functionapp.bicep');

/** Sample values of functionapp.bicep's parameters, typed as ARM passes them. */
const PARAM_SAMPLES: Record<string, string | number | boolean> = {
  identityClientId: '0e0e0e0e-1111-2222-3333-444444444444',
  serviceBusFullyQualifiedNamespace: 'sb-abc.servicebus.windows.net',
  tablePrefix: 'sync',
  bcApiUrl: 'https://api.businesscentral.dynamics.com',
  bcTenantId: '11111111-2222-3333-4444-555555555555',
  bcEnvironment: 'Production',
  bcCompanyId: 'f516767b-be29-4c6d-af54-21cadea6abb4',
  bcClientId: '99999999-8888-7777-6666-555555555555',
  dataverseUrl: 'https://contoso.crm.dynamics.com',
  dataverseTenantId: '11111111-2222-3333-4444-555555555555',
  dataverseClientId: '99999999-8888-7777-6666-444444444444',
  dataverseIntegrationUserId: '',
  ownershipModel: 'Person',
  dataverseOwningTeam: '',
  multiCompanySync: false,
  installationName: '',
  salesIntegration: true,
  unitGroupMapping: true,
  extendedPricing: false,
  salesOrderIntegration: 'legacy',
  bcMaxConcurrency: 1,
  dataverseMaxConcurrency: 8,
  adminAppClientId: '77777777-6666-5555-4444-333333333333',
};

/** Sample values of resource properties and module outputs; Key Vault references as the host resolves them. */
const EXPRESSION_SAMPLES: Record<string, string> = {
  'storage.properties.primaryEndpoints.table': 'https://stabc.table.core.windows.net/',
  'functionApp.properties.defaultHostName': 'func-abc.azurewebsites.net',
  'vaultReferences.BC_CLIENT_SECRET': 'resolved-bc-client-secret',
  'vaultReferences.BC_WEBHOOK_SECRET': 'resolved-bc-webhook-secret-0123456789',
  'vaultReferences.DATAVERSE_CLIENT_SECRET': 'resolved-dataverse-client-secret',
  'vaultReferences.DATAVERSE_WEBHOOK_KEY': 'resolved-dataverse-webhook-key-0123456789',
  'vaultReferences.AVAILABILITY_KEY': 'resolved-availability-key-0123456789',
};

/** ARM's string(): booleans become 'True'/'False' (which is why the Bicep must not use it for booleans). */
function armString(v: string | number | boolean): string {
  return typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
}

/** Evaluates the few expression forms the settings use, as ARM would, against the samples. */
function evaluate(text: string): string {
  const param = (name: string) => {
    if (!(name in PARAM_SAMPLES)) throw new Error(`no sample for ${name}`);
    return PARAM_SAMPLES[name] as string | number | boolean;
  };
  let m = /^'([^'$]*)'$/.exec(text);
  if (m) return m[1] as string;
  if (/^\w+$/.test(text)) return armString(param(text));
  m = /^string\((\w+)\)$/.exec(text);
  if (m) return armString(param(m[1] as string));
  m = /^(\w+) \? '([^']*)' : '([^']*)'$/.exec(text);
  if (m) return param(m[1] as string) === true ? (m[2] as string) : (m[3] as string);
  if (text in EXPRESSION_SAMPLES) return EXPRESSION_SAMPLES[text] as string;
  m = /^'(.*)'$/.exec(text);
  if (m)
    return (m[1] as string).replace(/\$\{([^}]+)\}/g, (_, inner: string) => {
      if (inner in EXPRESSION_SAMPLES) return EXPRESSION_SAMPLES[inner] as string;
      return armString(param(inner));
    });
  throw new Error(`cannot evaluate ${text}`);
}

/** The environment a sample deployment's app settings give the code (platform settings left out). */
async function sampleEnvironment(text: string): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  for (const [name, value] of await appSettings(text)) if (settingOrigin(name) !== 'platform') env[name] = evaluate(value.text);
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
    expect(settings.SALES_INTEGRATION).toBe(true);
    expect(settings.EXTENDED_PRICING).toBe(false);
    expect(settings.PUBLIC_BASE_URL).toBe('https://func-abc.azurewebsites.net');
    expect(settings.TABLES_CONNECTION__tableServiceUri).toBe('https://stabc.table.core.windows.net/');
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

    const armBool = functionapp.replace(
      "SALES_INTEGRATION: salesIntegration ? 'true' : 'false'",
      'SALES_INTEGRATION: string(salesIntegration)',
    );
    await expect(async () => parseSettings(await sampleEnvironment(armBool))).rejects.toThrow(/SALES_INTEGRATION/);

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
