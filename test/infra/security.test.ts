import { describe, expect, it } from 'vitest';
import { at, bicepFiles, declarations, find, parseBicep, readInfra } from './bicep';
import {
  appSettings,
  easyAuthProblems,
  FORBIDDEN_ROLE_IDS,
  leakProblems,
  localAuthProblems,
  ROLE_IDS,
  roleAssignments,
  roleProblems,
  type Sources,
} from './checks';

function sources(): Sources {
  return Object.fromEntries(bicepFiles().map((f) => [f, readInfra(f)]));
}

describe('identity only: no keys, least-privilege roles', () => {
  it('no output or app setting carries a key, a connection string or a list*() result', async () => {
    expect(await leakProblems(sources())).toEqual([]);
  });

  it('the leak check fails on a listKeys() output and a storage connection string setting', async () => {
    const s = sources();
    s['app/storage.bicep'] += '\noutput key string = storage.listKeys().keys[0].value\n';
    s['app/functionapp.bicep'] = (s['app/functionapp.bicep'] as string).replace(
      '  AZURE_CLIENT_ID: identityClientId\n',
      "  AZURE_CLIENT_ID: identityClientId\n  TABLES_CONNECTION: 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=y'\n",
    );
    const problems = await leakProblems(s);
    expect(problems).toContain('app/storage.bicep calls a list*() function');
    expect(problems).toContain('app/storage.bicep: output key matches /listKeys\\(/i');
    expect(problems).toContain('app setting TABLES_CONNECTION matches /AccountKey=/i');
  });

  it('local authentication is off on Service Bus, Storage, Application Insights and Log Analytics', async () => {
    expect(await localAuthProblems(sources())).toEqual([]);
  });

  it('the local-auth check fails when a switch is flipped', async () => {
    const s = sources();
    s['app/servicebus.bicep'] = (s['app/servicebus.bicep'] as string).replace('disableLocalAuth: true', 'disableLocalAuth: false');
    s['app/storage.bicep'] = (s['app/storage.bicep'] as string).replace('allowSharedKeyAccess: false', 'allowSharedKeyAccess: true');
    expect(await localAuthProblems(s)).toEqual([
      'app/servicebus.bicep: Microsoft.ServiceBus/namespaces properties.disableLocalAuth is false, expected true',
      'app/storage.bicep: Microsoft.Storage/storageAccounts properties.allowSharedKeyAccess is true, expected false',
    ]);
  });

  it('the identity has every role the code needs, on the right resource, and no Owner/Contributor/UAA', async () => {
    const settings = await appSettings(readInfra('app/functionapp.bicep'));
    expect(await roleProblems(sources(), settings)).toEqual([]);
    const roles = new Set((await roleAssignments(readInfra('app/rbac.bicep'))).map((a) => a.roleId));
    expect(roles).toEqual(
      new Set([
        ROLE_IDS.serviceBusDataSender,
        ROLE_IDS.serviceBusDataReceiver,
        ROLE_IDS.storageBlobDataOwner,
        ROLE_IDS.storageTableDataContributor,
        ROLE_IDS.keyVaultSecretsUser,
        ROLE_IDS.monitoringMetricsPublisher,
      ]),
    );
    for (const id of Object.values(FORBIDDEN_ROLE_IDS)) expect(roles).not.toContain(id);
  });

  it('main.bicep hands rbac the principal of the app identity, and the app that identity', async () => {
    const main = declarations(await parseBicep(readInfra('main.bicep')));
    expect(find(main, 'module', 'identity').typeText).toBe('app/identity.bicep');
    expect(at(find(main, 'module', 'rbac').value, 'params.principalId')?.text).toBe('identity.outputs.principalId');
    const app = find(main, 'module', 'functionApp').value;
    expect(at(app, 'params.identityId')?.text).toBe('identity.outputs.id');
    expect(at(app, 'params.identityClientId')?.text).toBe('identity.outputs.clientId');
    expect(at(app, 'dependsOn')?.text).toBe('[rbac]');
  });

  it('the role check fails on a missing role, a wrong scope, an Owner grant and an assignment outside rbac.bicep', async () => {
    const settings = await appSettings(readInfra('app/functionapp.bicep'));
    const s = sources();
    const rbac = s['app/rbac.bicep'] as string;
    s['app/rbac.bicep'] = rbac
      .replace(/resource secretsUser [\s\S]*?\n}\n/, '')
      .replace('scope: appInsights\n  name: guid(appInsights.id', 'scope: storage\n  name: guid(appInsights.id')
      .replace(
        "monitoringMetricsPublisher: '3913510d",
        "owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635'\n  monitoringMetricsPublisher: '3913510d",
      );
    s['app/storage.bicep'] +=
      "\nresource extra 'Microsoft.Authorization/roleAssignments@2022-04-01' = {\n  name: 'x'\n  properties: {\n    roleDefinitionId: 'y'\n    principalId: 'z'\n  }\n}\n";
    expect(await roleProblems(s, settings)).toEqual([
      'app/rbac.bicep mentions the Owner role',
      'app/storage.bicep has a role assignment outside app/rbac.bicep',
      'missing role for Key Vault references on Microsoft.KeyVault/vaults',
      'missing role for Entra telemetry ingestion on Microsoft.Insights/components',
    ]);
  });
});

describe('admin sign-in: App Service authentication with Entra ID, roles read by the code', () => {
  it('authsettingsV2 signs in with the admin app registration, without a secret, and the code reads roles', async () => {
    expect(await easyAuthProblems(readInfra('app/functionapp.bicep'))).toEqual([]);
    const app = find(declarations(await parseBicep(readInfra('main.bicep'))), 'module', 'functionApp').value;
    expect(at(app, 'params.adminAppClientId')?.text).toBe('adminAppClientId');
  });

  it('the sign-in check fails when authentication is off, a secret is named or the code is left on keys', async () => {
    const text = readInfra('app/functionapp.bicep')
      .replace('platform: {\n      enabled: true', 'platform: {\n      enabled: false')
      .replace(
        'clientId: adminAppClientId\n',
        "clientId: adminAppClientId\n          clientSecretSettingName: 'MICROSOFT_PROVIDER_AUTHENTICATION_SECRET'\n",
      )
      .replace("ADMIN_AUTH: 'entra'", "ADMIN_AUTH: 'keys'\n  SYNC_ADMIN_KEY: 'x'");
    expect(await easyAuthProblems(text)).toEqual([
      'platform.enabled is not true',
      'the Entra ID registration names a client secret setting (sign-in needs no secret)',
      "app setting ADMIN_AUTH is not 'entra'",
      'SYNC_ADMIN_KEY is a local key and must not be deployed',
    ]);
    const none = readInfra('app/functionapp.bicep').replace("name: 'authsettingsV2'", "name: 'logs'");
    expect(await easyAuthProblems(none)).toEqual(["expected one sites/config 'authsettingsV2' resource, found 0"]);
  });
});
