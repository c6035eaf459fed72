// Key Vault for the five secrets the service cannot replace with its managed identity: the BC and Dataverse
// app-registration client secrets (BC and Dataverse trust app registrations, not our identity), the two
// webhook secrets and the key Sales sends to the availability endpoint. Access is Azure RBAC only (the app identity gets Key Vault Secrets User in rbac.bicep).
param name string
param location string
param tags object = {}

@secure()
param bcClientSecret string
@secure()
param bcWebhookSecret string
@secure()
param dataverseClientSecret string
@secure()
param dataverseWebhookKey string
@secure()
param availabilityKey string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    // Soft delete keeps a deleted vault or secret recoverable for 90 days. No purge protection: `azd down --purge`
    // must be able to free the name for the next `azd up`, and every secret here can be set again from the azd
    // environment or its app registration.
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
  }
}

resource bcClientSecretValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'bc-client-secret'
  properties: {
    value: bcClientSecret
    contentType: 'BC app registration client secret'
  }
}

resource bcWebhookSecretValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'bc-webhook-secret'
  properties: {
    value: bcWebhookSecret
    contentType: 'HMAC key for BC subscription clientState'
  }
}

resource dataverseClientSecretValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'dataverse-client-secret'
  properties: {
    value: dataverseClientSecret
    contentType: 'Dataverse app registration client secret'
  }
}

resource dataverseWebhookKeyValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'dataverse-webhook-key'
  properties: {
    value: dataverseWebhookKey
    contentType: 'Key sent by Dataverse webhook steps'
  }
}

resource availabilityKeyValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'availability-key'
  properties: {
    value: availabilityKey
    contentType: 'Key Dynamics 365 Sales sends to the item-availability endpoint'
  }
}

output name string = vault.name
// App-setting values, keyed by the setting they fill. Versionless URIs: a rotated secret is picked up by the
// app (within 24 h, or at once on restart) without a redeployment. These are references, never values.
output vaultReferences object = {
  BC_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${bcClientSecretValue.properties.secretUri})'
  BC_WEBHOOK_SECRET: '@Microsoft.KeyVault(SecretUri=${bcWebhookSecretValue.properties.secretUri})'
  DATAVERSE_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${dataverseClientSecretValue.properties.secretUri})'
  DATAVERSE_WEBHOOK_KEY: '@Microsoft.KeyVault(SecretUri=${dataverseWebhookKeyValue.properties.secretUri})'
  AVAILABILITY_KEY: '@Microsoft.KeyVault(SecretUri=${availabilityKeyValue.properties.secretUri})'
}
