// Service Bus: one queue per table mapping plus the operational queues. Names and settings come from
// ../queues.json, which infra/generate-queues.ts writes from shared/queues.ts (the list the code uses), so
// this file never repeats a queue name or a setting.
param name string
param location string
param tags object = {}

var queueConfig = loadJsonContent('../queues.json')

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: name
  location: location
  tags: tags
  // Standard: queues, dead-lettering, duplicate detection and scheduled messages; 256 KB messages are plenty
  // because change events carry ids and hints, not records. Premium only for VNet/private endpoints.
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    // No SAS keys: every client (app, admin CLI) authenticates with Microsoft Entra ID.
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
  }
}

resource queues 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = [
  for queueName in queueConfig.queues: {
    parent: namespace
    name: queueName
    properties: {
      maxDeliveryCount: queueConfig.maxDeliveryCount
      lockDuration: queueConfig.lockDuration
      deadLetteringOnMessageExpiration: queueConfig.deadLetteringOnMessageExpiration
      defaultMessageTimeToLive: queueConfig.defaultMessageTimeToLive
      // Cannot be changed on an existing queue; the window matches QUEUE_SETTINGS in shared/queues.ts.
      requiresDuplicateDetection: queueConfig.requiresDuplicateDetection
      duplicateDetectionHistoryTimeWindow: queueConfig.duplicateDetectionHistoryTimeWindow
      requiresSession: false
      enablePartitioning: false
    }
  }
]

output name string = namespace.name
// Host name only (`sb-x.servicebus.windows.net`), the form SERVICEBUS_CONNECTION__fullyQualifiedNamespace wants.
output fullyQualifiedNamespace string = replace(replace(namespace.properties.serviceBusEndpoint, 'https://', ''), ':443/', '')
output queueCount int = length(queueConfig.queues)
