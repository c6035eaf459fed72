// The one identity of the app: Service Bus, Storage (host + tables + package), Key Vault references and
// Application Insights ingestion all use it. User-assigned so its roles exist before the app does.
param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
