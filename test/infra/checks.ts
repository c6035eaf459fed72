import type { Node, Tree } from 'web-tree-sitter';
import { SETTING_NAMES } from '../../shared/config';
import type { QueuesDocument } from '../../shared/queues';
import {
  at,
  declarations,
  find,
  isExisting,
  literal,
  objectEntries,
  parseBicep,
  resourceBody,
  resourcesOfType,
  stringValue,
} from './bicep';

/**
 * Cross-checks between the Bicep and the code, as functions of source text returning problems, so each test can
 * run them on the real files (no problems) and on a deliberately broken copy (a problem) to prove they can fail.
 */

export type Sources = Record<string, string>;

async function tree(sources: Sources, file: string): Promise<Tree> {
  const text = sources[file];
  if (text === undefined) throw new Error(`source ${file} not given`);
  return parseBicep(text);
}

// --- Queues ------------------------------------------------------------------------------------------------

/** Queue properties that must come from queues.json, each from the json key of the same name. */
export const QUEUE_PROPERTY_KEYS = [
  'maxDeliveryCount',
  'lockDuration',
  'deadLetteringOnMessageExpiration',
  'defaultMessageTimeToLive',
  'requiresDuplicateDetection',
  'duplicateDetectionHistoryTimeWindow',
] as const satisfies ReadonlyArray<keyof QueuesDocument>;

/** servicebus.bicep creates one queue per `queues.json` name, every setting read from the same json. */
export async function queueLoopProblems(servicebusText: string): Promise<string[]> {
  const problems: string[] = [];
  const t = await parseBicep(servicebusText);
  const decls = declarations(t);
  const jsonVar = decls.find(
    (d) => d.kind === 'var' && d.value?.type === 'call_expression' && /^loadJsonContent\(\s*'\.\.\/queues\.json'\s*\)$/.test(d.value.text),
  );
  if (!jsonVar) return ["no `var … = loadJsonContent('../queues.json')`"];
  const queues = resourcesOfType(t, 'Microsoft.ServiceBus/namespaces/queues');
  if (queues.length !== 1) return [`expected exactly one queue resource (the loop), found ${queues.length}`];
  const [queue] = queues as [Node];
  const loop = queue.namedChildren.find((c) => c?.type === 'for_statement');
  if (!loop) return ['the queue resource is not a `for` loop'];
  const loopVar = loop.childForFieldName('initializer')?.text;
  const iterable = loop.namedChildren.find((c) => c?.type === 'member_expression');
  if (iterable?.text !== `${jsonVar.name}.queues`) problems.push(`the loop iterates ${iterable?.text}, not ${jsonVar.name}.queues`);
  const body = resourceBody(queue);
  if (at(body, 'name')?.text !== loopVar) problems.push(`queue name is ${at(body, 'name')?.text}, not the loop variable ${loopVar}`);
  for (const key of QUEUE_PROPERTY_KEYS) {
    const value = at(body, `properties.${key}`)?.text;
    if (value !== `${jsonVar.name}.${key}`) problems.push(`properties.${key} is ${value ?? 'missing'}, not ${jsonVar.name}.${key}`);
  }
  const ns = resourcesOfType(t, 'Microsoft.ServiceBus/namespaces')[0];
  if (!ns || literal(at(resourceBody(ns), 'properties.disableLocalAuth')) !== true) problems.push('namespace lacks disableLocalAuth: true');
  return problems;
}

// --- App settings --------------------------------------------------------------------------------------------

/**
 * Functions platform settings the app may carry besides the config's own. Everything else must be a setting
 * shared/config.ts reads or an identity-based suffix of one.
 */
export const PLATFORM_SETTINGS = [
  'AzureWebJobsStorage__accountName',
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
] as const;

/** Suffixes the Functions identity-based connection convention adds to a connection name. */
export const IDENTITY_SUFFIXES = ['credential', 'clientId'] as const;

/** Secrets: their app settings must be Key Vault references. */
export const SECRET_SETTINGS = [
  'BC_CLIENT_SECRET',
  'DATAVERSE_CLIENT_SECRET',
  'BC_WEBHOOK_SECRET',
  'DATAVERSE_WEBHOOK_KEY',
  'AVAILABILITY_KEY',
] as const;

/** The app settings of functionapp.bicep: the `appsettings` config resource's `union(var, var, …)` of object vars. */
export async function appSettings(functionappText: string): Promise<Map<string, Node>> {
  const t = await parseBicep(functionappText);
  const decls = declarations(t);
  const configs = resourcesOfType(t, 'Microsoft.Web/sites/config').filter(
    (r) => stringValue(at(resourceBody(r), 'name')) === 'appsettings',
  );
  if (configs.length !== 1) throw new Error(`expected one sites/config 'appsettings' resource, found ${configs.length}`);
  const props = at(resourceBody(configs[0] as Node), 'properties');
  const vars: Node[] = [];
  if (props?.type === 'object') vars.push(props);
  else if (props?.type === 'call_expression' && props.childForFieldName('function')?.text === 'union') {
    for (const arg of props.childForFieldName('arguments')?.namedChildren ?? []) {
      if (!arg) continue;
      if (arg.type !== 'identifier') throw new Error(`union argument is not a variable: ${arg.text}`);
      const v = find(decls, 'var', arg.text).value;
      if (!v) throw new Error(`var ${arg.text} has no value`);
      vars.push(v);
    }
  } else throw new Error(`appsettings properties is neither an object nor union(...): ${props?.text.slice(0, 80)}`);
  const settings = new Map<string, Node>();
  for (const v of vars)
    for (const [k, value] of objectEntries(v)) {
      if (settings.has(k)) throw new Error(`app setting ${k} is set twice`);
      settings.set(k, value);
    }
  return settings;
}

const CONFIG_NAMES = new Set<string>(SETTING_NAMES);

/** Why an app setting name is allowed, or undefined when it is not. */
export function settingOrigin(name: string): 'config' | 'identity-suffix' | 'platform' | undefined {
  if (CONFIG_NAMES.has(name)) return 'config';
  if ((PLATFORM_SETTINGS as readonly string[]).includes(name)) return 'platform';
  const [base, suffix, ...rest] = name.split('__');
  if (rest.length === 0 && base && suffix && CONFIG_NAMES.has(base) && (IDENTITY_SUFFIXES as readonly string[]).includes(suffix))
    return 'identity-suffix';
  return undefined;
}

/** Names in the settings that are neither config settings, identity suffixes of one, nor platform settings. */
export function unknownSettings(settings: Map<string, Node>): string[] {
  return [...settings.keys()].filter((k) => settingOrigin(k) === undefined);
}

/** Identity-based connections, secrets as Key Vault references, no connection strings or static tokens. */
export function settingFormProblems(settings: Map<string, Node>): string[] {
  const problems: string[] = [];
  const text = (k: string) => settings.get(k)?.text;
  for (const name of ['SERVICEBUS_CONNECTION', 'TABLES_CONNECTION', 'AzureWebJobsStorage']) {
    if (settings.has(name)) problems.push(`${name} is set (a connection string); use the identity-based form`);
    if (stringValue(settings.get(`${name}__credential`)) !== 'managedidentity')
      problems.push(`${name}__credential is not 'managedidentity'`);
    if (text(`${name}__clientId`) !== 'identityClientId') problems.push(`${name}__clientId is not the user-assigned identity's client id`);
  }
  if (text('AZURE_CLIENT_ID') !== 'identityClientId') problems.push("AZURE_CLIENT_ID is not the user-assigned identity's client id");
  for (const name of SECRET_SETTINGS)
    if (text(name) !== `vaultReferences.${name}`)
      problems.push(`${name} is ${text(name) ?? 'missing'}, not the Key Vault reference vaultReferences.${name}`);
  for (const name of ['BC_STATIC_TOKEN', 'DATAVERSE_STATIC_TOKEN', 'BC_CLIENT_CERTIFICATE_PATH', 'DATAVERSE_CLIENT_CERTIFICATE_PATH'])
    if (settings.has(name)) problems.push(`${name} is a local/simulator setting and must not be deployed`);
  const auth = text('APPLICATIONINSIGHTS_AUTHENTICATION_STRING') ?? '';
  if (!/Authorization=AAD/.test(auth) || !auth.includes('identityClientId'))
    problems.push('APPLICATIONINSIGHTS_AUTHENTICATION_STRING does not use Entra (Authorization=AAD) with the identity');
  return problems;
}

/** keyvault.bicep's `vaultReferences` output: one `@Microsoft.KeyVault(SecretUri=…)` per secret setting. */
export async function vaultReferenceProblems(keyvaultText: string): Promise<string[]> {
  const t = await parseBicep(keyvaultText);
  const decls = declarations(t);
  const problems: string[] = [];
  const vault = resourcesOfType(t, 'Microsoft.KeyVault/vaults')[0];
  if (!vault || literal(at(resourceBody(vault), 'properties.enableRbacAuthorization')) !== true)
    problems.push('Key Vault lacks enableRbacAuthorization: true');
  const refs = objectEntries(find(decls, 'output', 'vaultReferences').value);
  for (const name of SECRET_SETTINGS) {
    const ref = refs.get(name)?.text ?? '';
    if (!/^'@Microsoft\.KeyVault\(SecretUri=\$\{\w+\.properties\.secretUri\}\)'$/.test(ref))
      problems.push(`vaultReferences.${name} is not a Key Vault reference: ${ref || 'missing'}`);
  }
  for (const d of decls.filter((x) => x.kind === 'param' && x.decorators.some((dec) => dec.name === 'secure'))) {
    const used = decls.filter((x) => x.kind === 'output' && new RegExp(`\\b${d.name}\\b`).test(x.value?.text ?? ''));
    if (used.length) problems.push(`secure param ${d.name} is used in output ${used.map((u) => u.name).join(', ')}`);
  }
  return problems;
}

// --- Secrets in outputs and settings -------------------------------------------------------------------------

const LEAKS = [/AccountKey=/i, /SharedAccessKey=/i, /listKeys\(/i, /listConnectionStrings\(/i, /listSecrets\(/i, /connectionString/i];

/**
 * The one documented exception: the Application Insights connection string (ingestion endpoint + instrumentation
 * key, not a credential once the component has DisableLocalAuth) in the platform setting that carries it.
 */
const ALLOWED_LEAK_LIKE = { setting: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: 'appInsights.properties.ConnectionString' };

/** Outputs of every file and the function app's settings containing a key, a connection string or `list*(`. */
export async function leakProblems(sources: Sources, functionappFile = 'app/functionapp.bicep'): Promise<string[]> {
  const problems: string[] = [];
  for (const [file, text] of Object.entries(sources)) {
    if (/listKeys\(|listConnectionStrings\(|listSecrets\(/.test(text)) problems.push(`${file} calls a list*() function`);
    for (const d of declarations(await parseBicep(text)).filter((x) => x.kind === 'output')) {
      const both = `${d.name} ${d.value?.text ?? ''}`;
      for (const re of LEAKS) if (re.test(both)) problems.push(`${file}: output ${d.name} matches ${re}`);
    }
  }
  const functionapp = sources[functionappFile];
  if (functionapp === undefined) throw new Error(`${functionappFile} not given`);
  for (const [name, value] of await appSettings(functionapp)) {
    if (name === ALLOWED_LEAK_LIKE.setting && value.text === ALLOWED_LEAK_LIKE.value) continue;
    for (const re of LEAKS) if (re.test(`${name} ${value.text}`)) problems.push(`app setting ${name} matches ${re}`);
  }
  return problems;
}

/** Local (key-based) authentication switched off wherever the service supports it. */
export async function localAuthProblems(sources: Sources): Promise<string[]> {
  const problems: string[] = [];
  const expect = async (file: string, type: string, path: string, value: unknown) => {
    const t = await tree(sources, file);
    const resources = resourcesOfType(t, type).filter((r) => !isExisting(r));
    if (resources.length === 0) problems.push(`${file}: no ${type}`);
    for (const r of resources) {
      const actual = literal(at(resourceBody(r), path));
      if (actual !== value) problems.push(`${file}: ${type} ${path} is ${JSON.stringify(actual)}, expected ${JSON.stringify(value)}`);
    }
  };
  await expect('app/servicebus.bicep', 'Microsoft.ServiceBus/namespaces', 'properties.disableLocalAuth', true);
  await expect('app/storage.bicep', 'Microsoft.Storage/storageAccounts', 'properties.allowSharedKeyAccess', false);
  await expect('app/storage.bicep', 'Microsoft.Storage/storageAccounts', 'properties.allowBlobPublicAccess', false);
  await expect('app/storage.bicep', 'Microsoft.Storage/storageAccounts', 'properties.minimumTlsVersion', 'TLS1_2');
  await expect('app/monitoring.bicep', 'Microsoft.Insights/components', 'properties.DisableLocalAuth', true);
  await expect('app/monitoring.bicep', 'Microsoft.OperationalInsights/workspaces', 'properties.features.disableLocalAuth', true);
  await expect('app/keyvault.bicep', 'Microsoft.KeyVault/vaults', 'properties.enableRbacAuthorization', true);
  return problems;
}

// --- Roles ---------------------------------------------------------------------------------------------------

/** Built-in role definition ids (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles). */
export const ROLE_IDS = {
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39',
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0',
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419',
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
} as const;

/** Roles that must never be granted by this deployment. */
export const FORBIDDEN_ROLE_IDS = {
  Owner: '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  Contributor: 'b24988ac-6181-4b20-a0c2-d8caee8ab0b6',
  'User Access Administrator': '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
} as const;

export interface NeededRole {
  why: string;
  /** Any one of these role sets satisfies the need. */
  anyOf: string[][];
  /** Type of the resource the assignment must be scoped to. */
  scopeType: string;
}

/** The roles the app's settings imply: each identity-based connection and reference needs a data role. */
export function neededRoles(settings: Map<string, Node>): NeededRole[] {
  const needs: NeededRole[] = [];
  if (settings.has('SERVICEBUS_CONNECTION__fullyQualifiedNamespace'))
    needs.push({
      why: 'Service Bus: send (webhooks, reschedule) and receive (triggers)',
      anyOf: [[ROLE_IDS.serviceBusDataSender, ROLE_IDS.serviceBusDataReceiver], [ROLE_IDS.serviceBusDataOwner]],
      scopeType: 'Microsoft.ServiceBus/namespaces',
    });
  if (settings.has('TABLES_CONNECTION__tableServiceUri'))
    needs.push({ why: 'tables', anyOf: [[ROLE_IDS.storageTableDataContributor]], scopeType: 'Microsoft.Storage/storageAccounts' });
  if (settings.has('AzureWebJobsStorage__accountName'))
    needs.push({
      why: 'host storage and deployment package',
      anyOf: [[ROLE_IDS.storageBlobDataOwner]],
      scopeType: 'Microsoft.Storage/storageAccounts',
    });
  if ([...settings.values()].some((v) => /^vaultReferences\./.test(v.text)))
    needs.push({ why: 'Key Vault references', anyOf: [[ROLE_IDS.keyVaultSecretsUser]], scopeType: 'Microsoft.KeyVault/vaults' });
  if (settings.has('APPLICATIONINSIGHTS_AUTHENTICATION_STRING'))
    needs.push({
      why: 'Entra telemetry ingestion',
      anyOf: [[ROLE_IDS.monitoringMetricsPublisher]],
      scopeType: 'Microsoft.Insights/components',
    });
  return needs;
}

export interface Assignment {
  roleId: string;
  scopeType: string;
  principal: string;
}

/** Role assignments of rbac.bicep, role ids resolved through its `roles` var, scopes through `existing` resources. */
export async function roleAssignments(rbacText: string): Promise<Assignment[]> {
  const t = await parseBicep(rbacText);
  const decls = declarations(t);
  const roles = objectEntries(find(decls, 'var', 'roles').value);
  const symbolTypes = new Map(decls.filter((d) => d.kind === 'resource').map((d) => [d.name, d.typeText.split('@')[0] ?? ''] as const));
  return resourcesOfType(t, 'Microsoft.Authorization/roleAssignments').map((r) => {
    const body = resourceBody(r);
    const def = at(body, 'properties.roleDefinitionId')?.text ?? '';
    const ref = /roles\.(\w+)/.exec(def)?.[1];
    const guid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i.exec(def)?.[0];
    const roleId = ref ? stringValue(roles.get(ref)) : (guid ?? def);
    const scope = at(body, 'scope')?.text ?? '';
    return {
      roleId,
      scopeType: symbolTypes.get(scope) ?? `(scope ${scope || 'missing'})`,
      principal: at(body, 'properties.principalId')?.text ?? '',
    };
  });
}

/** Needed roles missing, forbidden roles present, assignments outside rbac.bicep or to another principal. */
export async function roleProblems(sources: Sources, settings: Map<string, Node>, rbacFile = 'app/rbac.bicep'): Promise<string[]> {
  const problems: string[] = [];
  for (const [file, text] of Object.entries(sources)) {
    for (const [name, id] of Object.entries(FORBIDDEN_ROLE_IDS))
      if (text.toLowerCase().includes(id)) problems.push(`${file} mentions the ${name} role`);
    if (file !== rbacFile && resourcesOfType(await parseBicep(text), 'Microsoft.Authorization/roleAssignments').length)
      problems.push(`${file} has a role assignment outside ${rbacFile}`);
  }
  const rbac = sources[rbacFile];
  if (rbac === undefined) throw new Error(`${rbacFile} not given`);
  const assignments = await roleAssignments(rbac);
  for (const a of assignments)
    if (a.principal !== 'principalId') problems.push(`assignment of ${a.roleId} goes to ${a.principal}, not the app identity`);
  for (const need of neededRoles(settings)) {
    const ok = need.anyOf.some((set) => set.every((id) => assignments.some((a) => a.roleId === id && a.scopeType === need.scopeType)));
    if (!ok) problems.push(`missing role for ${need.why} on ${need.scopeType}`);
  }
  return problems;
}

// --- Admin sign-in ---------------------------------------------------------------------------------------------

/**
 * App Service authentication on the function app, as shared/operations/admin-access.ts relies on it: one
 * `authsettingsV2` with the platform on (so App Service strips outside `x-ms-client-principal` headers and sets
 * WEBSITE_AUTH_ENABLED), Entra ID signing in with the admin app registration (whose app roles are Sync.Reader /
 * Sync.Admin) and no client secret, tokens for that app only, HTTPS only, and the code told to read roles
 * (`ADMIN_AUTH=entra`).
 */
export async function easyAuthProblems(functionappText: string): Promise<string[]> {
  const t = await parseBicep(functionappText);
  const problems: string[] = [];
  const auth = resourcesOfType(t, 'Microsoft.Web/sites/config').filter(
    (r) => stringValue(at(resourceBody(r), 'name')) === 'authsettingsV2',
  );
  if (auth.length !== 1) return [`expected one sites/config 'authsettingsV2' resource, found ${auth.length}`];
  const body = resourceBody(auth[0] as Node);
  const p = (path: string) => at(body, `properties.${path}`);
  if (at(body, 'parent')?.text !== 'functionApp') problems.push('authsettingsV2 is not on the function app');
  if (literal(p('platform.enabled')) !== true) problems.push('platform.enabled is not true');
  if (literal(p('httpSettings.requireHttps')) !== true) problems.push('httpSettings.requireHttps is not true');
  if (literal(p('identityProviders.azureActiveDirectory.enabled')) !== true) problems.push('the Entra ID provider is not enabled');
  if (p('identityProviders.azureActiveDirectory.registration.clientId')?.text !== 'adminAppClientId')
    problems.push('the Entra ID registration is not the admin app (adminAppClientId)');
  if (p('identityProviders.azureActiveDirectory.registration.clientSecretSettingName'))
    problems.push('the Entra ID registration names a client secret setting (sign-in needs no secret)');
  const issuer = p('identityProviders.azureActiveDirectory.registration.openIdIssuer')?.text ?? '';
  if (!issuer.includes('tenant().tenantId')) problems.push('the OpenID issuer is not this tenant');
  const audiences = p('identityProviders.azureActiveDirectory.validation.allowedAudiences');
  if (!audiences || !/\badminAppClientId\b/.test(audiences.text)) problems.push('allowedAudiences does not name the admin app');
  const action = stringValue(p('globalValidation.unauthenticatedClientAction'));
  if (!['AllowAnonymous', 'Return401', 'RedirectToLoginPage'].includes(action))
    problems.push(`globalValidation.unauthenticatedClientAction '${action}' is not a known value`);
  const settings = await appSettings(functionappText);
  if (stringValue(settings.get('ADMIN_AUTH')) !== 'entra') problems.push("app setting ADMIN_AUTH is not 'entra'");
  for (const name of ['SYNC_ADMIN_KEY', 'SYNC_READER_KEY'])
    if (settings.has(name)) problems.push(`${name} is a local key and must not be deployed`);
  return problems;
}
