import { TableServiceClient } from '@azure/data-tables';
import { DefaultAzureCredential } from '@azure/identity';
import { SyncError } from '../../errors';
import { createTableClient, type TableClientOptions, type TablesConnectionSettings } from './table-client';

export { createTableClient, type TableClientOptions, type TablesConnectionSettings };

function endpointIsHttp(connectionString: string): boolean {
  if (/UseDevelopmentStorage=true/i.test(connectionString)) return true;
  const endpoint = /TableEndpoint=([^;]+)/i.exec(connectionString)?.[1];
  if (endpoint) return endpoint.trim().toLowerCase().startsWith('http://');
  return /DefaultEndpointsProtocol=http(;|$)/i.test(connectionString);
}

/**
 * The account-level client (list/create tables, health probe), chosen like `createTableClient`: the connection
 * string wins (Azurite locally; plain http only when the string names an http endpoint), else the service URI
 * with the managed identity.
 */
export function createTableServiceClient(settings: TablesConnectionSettings, options: TableClientOptions = {}): TableServiceClient {
  if (settings.TABLES_CONNECTION) {
    return TableServiceClient.fromConnectionString(settings.TABLES_CONNECTION, {
      ...options,
      allowInsecureConnection: endpointIsHttp(settings.TABLES_CONNECTION),
    });
  }
  if (settings.TABLES_CONNECTION__tableServiceUri) {
    const credential = new DefaultAzureCredential(
      settings.AZURE_CLIENT_ID ? { managedIdentityClientId: settings.AZURE_CLIENT_ID } : undefined,
    );
    return new TableServiceClient(settings.TABLES_CONNECTION__tableServiceUri, credential, options);
  }
  throw new SyncError('CONFIG.INVALID', 'set TABLES_CONNECTION (connection string) or TABLES_CONNECTION__tableServiceUri');
}
