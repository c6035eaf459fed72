// bc-dataverse-sync: everything one `azd up` creates. Identity only: no key, connection string or password is
// created, stored in an app setting or returned as an output; the BC and Dataverse app-registration secrets and
// the two webhook secrets live in Key Vault and reach the app as Key Vault references.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; part of every resource name and the azd-env-name tag.')
param environmentName string

@minLength(1)
@description('Azure region of every resource. Flex Consumption must be available there.')
@metadata({ azd: { type: 'location' } })
param location string

@description('Resource group name. Default rg-<environmentName>.')
param resourceGroupName string = ''

// --- Business Central ------------------------------------------------------------------------------------
@description('Microsoft Entra tenant id of the BC environment (BC_TENANT_ID).')
param bcTenantId string

@description('BC environment name, e.g. Production (BC_ENVIRONMENT).')
param bcEnvironment string

@description('SystemId (GUID) of the integrated BC company (BC_COMPANY_ID).')
param bcCompanyId string

@description('Client id of the app registration entered on BC\'s Microsoft Entra Applications card (BC_CLIENT_ID).')
param bcClientId string

@secure()
@minLength(1)
@description('Client secret of the BC app registration; stored in Key Vault only.')
param bcClientSecret string

@secure()
@minLength(16)
@description('Secret from which BC subscription clientState values are derived; stored in Key Vault only. Keep it stable: changing it invalidates existing BC subscriptions.')
param bcWebhookSecret string

@description('BC API host (BC_API_URL).')
param bcApiUrl string = 'https://api.businesscentral.dynamics.com'

// --- Dataverse -------------------------------------------------------------------------------------------
@description('Dataverse environment URL, e.g. https://contoso.crm.dynamics.com (DATAVERSE_URL).')
param dataverseUrl string

@description('Tenant of the Dataverse app registration (DATAVERSE_TENANT_ID). Default: the BC tenant.')
param dataverseTenantId string = ''

@description('Client id of the app registration behind the Dataverse application user (DATAVERSE_CLIENT_ID).')
param dataverseClientId string

@secure()
@minLength(1)
@description('Client secret of the Dataverse app registration; stored in Key Vault only.')
param dataverseClientSecret string

@secure()
@minLength(16)
@description('Key that Dataverse webhook steps send; stored in Key Vault only. Keep it stable: the registered webhooks carry it.')
param dataverseWebhookKey string

@secure()
@minLength(16)
@description('Key Dynamics 365 Sales sends (x-availability-key) to GET /api/availability/{productId}; stored in Key Vault only.')
param availabilityKey string

@description('Client id of the Entra app registration for admin sign-in, with the app roles Sync.Reader and Sync.Admin (docs/operations.md "Roles").')
param adminAppClientId string

@description('systemuserid of the application user (DATAVERSE_INTEGRATION_USER_ID). Empty: discovered with WhoAmI.')
param dataverseIntegrationUserId string = ''

// --- Connection setup (decides which mappings, and so which queues, are active) --------------------------
@allowed(['Person', 'Team'])
param ownershipModel string = 'Person'
@description('Owner team (name or teamid) that owns new rows with ownershipModel Team (DATAVERSE_OWNING_TEAM); required then.')
param dataverseOwningTeam string = ''
@description('Several BC companies or environments share the Dataverse org (MULTI_COMPANY_SYNC, BC\'s "Multi Company Synch. Enabled").')
param multiCompanySync bool = false
@description('This installation\'s name, at most 30 characters (INSTALLATION_NAME); empty = <environment> <first 8 of the company id>.')
@maxLength(30)
param installationName string = ''
param salesIntegration bool = true
param unitGroupMapping bool = true
param extendedPricing bool = false
@allowed(['none', 'legacy', 'bidirectional'])
param salesOrderIntegration string = 'legacy'

@description('Prefix of the service\'s Table Storage tables (TABLE_PREFIX).')
param tablePrefix string = 'sync'

// --- Throttles (docs/deployment.md "Throttling arithmetic"; test/infra/limits.test.ts checks them) --------
// One BC service principal may have 5 requests processed at once (more are queued by BC, 100 connections
// → 429), 6,000 per 5 min. One Dataverse application user may have 52 concurrent requests per web server
// (more fail immediately), 6,000 requests and 1,200 s of execution per 5 min. Our HTTP client limits
// concurrency per process, so the app-wide ceiling is instances × per-instance limit:
//   BC:        maximumInstanceCount × bcMaxConcurrency        ≤ 5   (5 × 1 = 5)
//   Dataverse: maximumInstanceCount × dataverseMaxConcurrency ≤ 52  (5 × 8 = 40; 12 left for the admin CLI)
// Raising maximumInstanceCount without lowering the per-instance limits breaks these bounds.
@minValue(1)
@maxValue(1000)
@description('Flex Consumption maximumInstanceCount (app-wide). See the arithmetic above before raising it.')
param maximumInstanceCount int = 5

@allowed([512, 2048, 4096])
@description('Flex Consumption instance memory. The work is I/O bound; 2048 MB is the platform default.')
param instanceMemoryMB int = 2048

@minValue(1)
@maxValue(5)
@description('BC_MAX_CONCURRENCY: concurrent BC requests per instance.')
param bcMaxConcurrency int = 1

@minValue(1)
@maxValue(52)
@description('DATAVERSE_MAX_CONCURRENCY: concurrent Dataverse requests per instance (x-ms-dop-hint can lower it).')
param dataverseMaxConcurrency int = 8

var abbrs = loadJsonContent('abbreviations.json')
// Deterministic per subscription + environment + region, so re-running `azd up` updates the same resources.
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    appInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: 'app-package-${resourceToken}'
  }
}

module serviceBus 'app/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    name: '${abbrs.serviceBusNamespaces}${resourceToken}'
    location: location
    tags: tags
  }
}

module keyVault 'app/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    bcClientSecret: bcClientSecret
    bcWebhookSecret: bcWebhookSecret
    dataverseClientSecret: dataverseClientSecret
    dataverseWebhookKey: dataverseWebhookKey
    availabilityKey: availabilityKey
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    serviceBusNamespaceName: serviceBus.outputs.name
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module functionApp 'app/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  // Roles first: the host reads storage, Service Bus and Key Vault with the identity as soon as it starts.
  dependsOn: [rbac]
  params: {
    name: '${abbrs.webSitesFunctions}${resourceToken}'
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    appInsightsName: monitoring.outputs.appInsightsName
    vaultReferences: keyVault.outputs.vaultReferences
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    bcMaxConcurrency: bcMaxConcurrency
    dataverseMaxConcurrency: dataverseMaxConcurrency
    bcApiUrl: bcApiUrl
    bcTenantId: bcTenantId
    bcEnvironment: bcEnvironment
    bcCompanyId: bcCompanyId
    bcClientId: bcClientId
    dataverseUrl: dataverseUrl
    dataverseTenantId: !empty(dataverseTenantId) ? dataverseTenantId : bcTenantId
    dataverseClientId: dataverseClientId
    dataverseIntegrationUserId: dataverseIntegrationUserId
    ownershipModel: ownershipModel
    dataverseOwningTeam: dataverseOwningTeam
    multiCompanySync: multiCompanySync
    installationName: installationName
    salesIntegration: salesIntegration
    unitGroupMapping: unitGroupMapping
    extendedPricing: extendedPricing
    salesOrderIntegration: salesOrderIntegration
    tablePrefix: tablePrefix
    adminAppClientId: adminAppClientId
  }
}

// UPPER_SNAKE outputs become azd environment values (`azd env get-values`); none of them is a secret.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_CLIENT_ID string = identity.outputs.clientId
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output SERVICEBUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output SERVICE_API_NAME string = functionApp.outputs.name
output PUBLIC_BASE_URL string = functionApp.outputs.publicBaseUrl
