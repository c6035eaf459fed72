// The Function App on Flex Consumption (FC1, Linux, Node 20) with the user-assigned identity, and its app
// settings: exactly the settings shared/config.ts reads (identity-based connection forms, Key Vault
// references for secrets) plus the Functions platform settings. test/infra/bicep.test.ts enforces that.
param name string
param planName string
param location string
param tags object = {}

param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param serviceBusFullyQualifiedNamespace string
param appInsightsName string

@description('Key Vault reference strings keyed by app-setting name (keyvault.bicep output).')
param vaultReferences object

// --- Throttles -------------------------------------------------------------------------------------------
// BC processes at most 5 concurrent requests per service principal and queues the rest (100 connections →
// 429); Dataverse accepts 52 concurrent requests per application user per web server and fails the 53rd at
// once. The HTTP client's limiter is per process (one Node worker per instance), so the app-wide ceiling is
//   maximumInstanceCount × BC_MAX_CONCURRENCY        ≤ 5    default 5 × 1 = 5
//   maximumInstanceCount × DATAVERSE_MAX_CONCURRENCY ≤ 52   default 5 × 8 = 40
// and the Service Bus trigger keeps at most maximumInstanceCount × maxConcurrentCalls (host.json, 2) = 10
// messages in flight, each with ≤ 1 request to each system at a time: ≤ 10 BC requests wanting a slot, i.e.
// 5 processing + ≤ 5 waiting in our limiter — BC never sees more than 5, nothing waits long enough to lose a
// 5-minute lock. Sustained rates: 5 / 0.25 s (typical BC write) = 20 req/s = BC's 6,000 per 5 min; Dataverse's
// 1,200 s of execution per 5 min allows ≈ 4 requests executing continuously, so 40 is burst headroom and its
// 429 + Retry-After are honoured by the client. Reference: peers-style-perf.md 3.1, 3.3, 3.4.
@minValue(1)
@maxValue(1000)
@description('Flex Consumption maximumInstanceCount, app-wide.')
param maximumInstanceCount int

@allowed([512, 2048, 4096])
param instanceMemoryMB int

@minValue(1)
@maxValue(5)
param bcMaxConcurrency int

@minValue(1)
@maxValue(52)
param dataverseMaxConcurrency int

// --- Service settings ------------------------------------------------------------------------------------
param bcApiUrl string
param bcTenantId string
param bcEnvironment string
param bcCompanyId string
param bcClientId string
param dataverseUrl string
param dataverseTenantId string
param dataverseClientId string
param dataverseIntegrationUserId string
param ownershipModel string
param dataverseOwningTeam string
param multiCompanySync bool
param installationName string
param salesIntegration bool
param unitGroupMapping bool
param extendedPricing bool
param salesOrderIntegration string
param tablePrefix string

// --- Admin sign-in (docs/operations.md "Roles") ---------------------------------------------------------------
@description('Client id of the Entra app registration that signs admins in and defines the app roles Sync.Reader and Sync.Admin.')
param adminAppClientId string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references resolve with the user-assigned identity (the default would be a system identity).
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '20'
      }
    }
  }
}

// Publishing with user names and passwords (FTP, SCM basic auth) off: azd deploys with Microsoft Entra ID.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

// Functions platform settings (test/infra allow-lists exactly these names).
var platformSettings = {
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  // Endpoint + instrumentation key, not a credential: the component has DisableLocalAuth, so ingestion needs
  // the Entra token described by APPLICATIONINSIGHTS_AUTHENTICATION_STRING.
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

// Identity-based connections: `<NAME>__<endpoint>` + `__credential` + `__clientId`, as shared/config.ts reads them.
var connectionSettings = {
  SERVICEBUS_CONNECTION__fullyQualifiedNamespace: serviceBusFullyQualifiedNamespace
  SERVICEBUS_CONNECTION__credential: 'managedidentity'
  SERVICEBUS_CONNECTION__clientId: identityClientId
  TABLES_CONNECTION__tableServiceUri: storage.properties.primaryEndpoints.table
  TABLES_CONNECTION__credential: 'managedidentity'
  TABLES_CONNECTION__clientId: identityClientId
  AZURE_CLIENT_ID: identityClientId
}

// Booleans as 'true'/'false': ARM's string(true) is 'True', which shared/config.ts rejects.
var serviceSettings = {
  TABLE_PREFIX: tablePrefix
  BC_API_URL: bcApiUrl
  BC_TENANT_ID: bcTenantId
  BC_ENVIRONMENT: bcEnvironment
  BC_COMPANY_ID: bcCompanyId
  BC_AUTH: 'client-secret'
  BC_CLIENT_ID: bcClientId
  BC_CLIENT_SECRET: vaultReferences.BC_CLIENT_SECRET
  BC_WEBHOOK_SECRET: vaultReferences.BC_WEBHOOK_SECRET
  DATAVERSE_URL: dataverseUrl
  DATAVERSE_AUTH: 'client-secret'
  DATAVERSE_TENANT_ID: dataverseTenantId
  DATAVERSE_CLIENT_ID: dataverseClientId
  DATAVERSE_CLIENT_SECRET: vaultReferences.DATAVERSE_CLIENT_SECRET
  DATAVERSE_WEBHOOK_KEY: vaultReferences.DATAVERSE_WEBHOOK_KEY
  // Empty means "not set" to shared/config.ts (WhoAmI then discovers the user).
  DATAVERSE_INTEGRATION_USER_ID: dataverseIntegrationUserId
  PUBLIC_BASE_URL: 'https://${functionApp.properties.defaultHostName}'
  OWNERSHIP_MODEL: ownershipModel
  DATAVERSE_OWNING_TEAM: dataverseOwningTeam
  MULTI_COMPANY_SYNC: multiCompanySync ? 'true' : 'false'
  INSTALLATION_NAME: installationName
  SALES_INTEGRATION: salesIntegration ? 'true' : 'false'
  UNIT_GROUP_MAPPING: unitGroupMapping ? 'true' : 'false'
  EXTENDED_PRICING: extendedPricing ? 'true' : 'false'
  SALES_ORDER_INTEGRATION: salesOrderIntegration
  BC_MAX_CONCURRENCY: string(bcMaxConcurrency)
  DATAVERSE_MAX_CONCURRENCY: string(dataverseMaxConcurrency)
  // Roles come from the signed-in principal App Service authentication passes (authsettingsV2 below).
  ADMIN_AUTH: 'entra'
  AVAILABILITY_KEY: vaultReferences.AVAILABILITY_KEY
}

// The complete set: this resource replaces every app setting, so nothing set by hand survives a redeploy.
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(platformSettings, connectionSettings, serviceSettings)
}

// App Service authentication (Easy Auth) with Microsoft Entra ID. Requests without a session or token still
// reach the code (AllowAnonymous): BC and Dataverse webhooks, health and Sales' availability call carry their own
// credentials, and the admin API answers 401/403 itself from the principal App Service passes in
// x-ms-client-principal (shared/operations/admin-access.ts) — a header App Service strips from outside requests.
// Without a client secret the page signs in with the OpenID Connect implicit flow (ID token), so no secret is
// stored. Tokens for other audiences are refused by App Service before the code runs.
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    httpSettings: {
      requireHttps: true
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: adminAppClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            adminAppClientId
            'api://${adminAppClientId}'
          ]
        }
      }
    }
  }
}

output name string = functionApp.name
output publicBaseUrl string = 'https://${functionApp.properties.defaultHostName}'
