// Storage: the Functions host's storage (AzureWebJobsStorage), the Flex Consumption deployment package and
// the service's tables (couplings, sync errors, checkpoints; the code creates its `<TABLE_PREFIX>*` tables on
// first use). Shared keys are off, so only Microsoft Entra identities with data roles get in.
param name string
param location string
param tags object = {}
param deploymentContainerName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // The portal and tools use Entra ID too instead of trying a key first.
    defaultToOAuthAuthentication: true
    accessTier: 'Hot'
  }

  resource blobServices 'blobServices' = {
    name: 'default'

    resource deploymentContainer 'containers' = {
      name: deploymentContainerName
      properties: {
        publicAccess: 'None'
      }
    }
  }

  resource tableServices 'tableServices' = {
    name: 'default'
  }
}

output name string = storage.name
output deploymentContainerName string = deploymentContainerName
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output tableEndpoint string = storage.properties.primaryEndpoints.table
