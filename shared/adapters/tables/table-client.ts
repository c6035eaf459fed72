import { TableClient, type TableServiceClientOptions } from '@azure/data-tables';
import { DefaultAzureCredential } from '@azure/identity';
import { SyncError } from '../../errors';

/** The subset of settings a Table Storage client needs (see `shared/config.ts`). */
export interface TablesConnectionSettings {
  /** Connection string (Azurite locally, or an account key in a dev subscription). */
  TABLES_CONNECTION?: string;
  /** Table service URI for identity-based access (Azure). */
  TABLES_CONNECTION__tableServiceUri?: string;
  /** Client id of the user-assigned managed identity; absent = the default credential chain picks one. */
  AZURE_CLIENT_ID?: string;
}

/** Extra client options, e.g. a smaller retry budget in tests that kill the server. */
export type TableClientOptions = Omit<TableServiceClientOptions, 'allowInsecureConnection'>;

function endpointIsHttp(connectionString: string): boolean {
  if (/UseDevelopmentStorage=true/i.test(connectionString)) return true;
  const endpoint = /TableEndpoint=([^;]+)/i.exec(connectionString)?.[1];
  if (endpoint) return endpoint.trim().toLowerCase().startsWith('http://');
  return /DefaultEndpointsProtocol=http(;|$)/i.test(connectionString);
}

/**
 * A TableClient for one table. A connection string wins over the service URI, because local settings hold
 * the Azurite string; plain http is allowed only when the string itself names an http endpoint, so a
 * production https string can never be downgraded by this switch.
 */
export function createTableClient(settings: TablesConnectionSettings, tableName: string, options: TableClientOptions = {}): TableClient {
  if (settings.TABLES_CONNECTION) {
    return TableClient.fromConnectionString(settings.TABLES_CONNECTION, tableName, {
      ...options,
      allowInsecureConnection: endpointIsHttp(settings.TABLES_CONNECTION),
    });
  }
  if (settings.TABLES_CONNECTION__tableServiceUri) {
    const credential = new DefaultAzureCredential(
      settings.AZURE_CLIENT_ID ? { managedIdentityClientId: settings.AZURE_CLIENT_ID } : undefined,
    );
    return new TableClient(settings.TABLES_CONNECTION__tableServiceUri, tableName, credential, options);
  }
  throw new SyncError('CONFIG.INVALID', 'set TABLES_CONNECTION (connection string) or TABLES_CONNECTION__tableServiceUri');
}
