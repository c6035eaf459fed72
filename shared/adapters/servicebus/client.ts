import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { ServiceBusClient, type ServiceBusClientOptions } from '@azure/service-bus';
import type { Settings } from '../../config';

/**
 * How to reach a Service Bus namespace: a connection string (the local endpoint or Microsoft's emulator, with
 * `UseDevelopmentEmulator=true`) or a namespace host name with an Entra identity (Azure).
 */
export type ServiceBusConnection =
  | { connectionString: string }
  | {
      fullyQualifiedNamespace: string;
      /** Client id of a user-assigned managed identity; without it `DefaultAzureCredential` is used. */
      clientId?: string;
    };

export function createServiceBusClient(connection: ServiceBusConnection, options: ServiceBusClientOptions = {}): ServiceBusClient {
  if ('connectionString' in connection) return new ServiceBusClient(connection.connectionString, options);
  return new ServiceBusClient(connection.fullyQualifiedNamespace, identityCredential(connection.clientId), options);
}

/** The service's own connection, from the typed settings (`SERVICEBUS_CONNECTION` or its `__fullyQualifiedNamespace`). */
export function serviceBusConnectionFromSettings(
  s: Pick<Settings, 'SERVICEBUS_CONNECTION' | 'SERVICEBUS_CONNECTION__fullyQualifiedNamespace' | 'AZURE_CLIENT_ID'>,
): ServiceBusConnection {
  if (s.SERVICEBUS_CONNECTION) return { connectionString: s.SERVICEBUS_CONNECTION };
  if (s.SERVICEBUS_CONNECTION__fullyQualifiedNamespace) {
    return s.AZURE_CLIENT_ID
      ? { fullyQualifiedNamespace: s.SERVICEBUS_CONNECTION__fullyQualifiedNamespace, clientId: s.AZURE_CLIENT_ID }
      : { fullyQualifiedNamespace: s.SERVICEBUS_CONNECTION__fullyQualifiedNamespace };
  }
  throw new Error('SERVICEBUS_CONNECTION: set a connection string or SERVICEBUS_CONNECTION__fullyQualifiedNamespace');
}

/**
 * A binding connection by app-setting name, following the Functions convention: `<name>` holds a connection
 * string, or `<name>__fullyQualifiedNamespace` (+ optional `<name>__clientId`) selects identity-based access.
 * Returns undefined when neither is set.
 */
export function serviceBusConnectionFromAppSettings(
  env: Record<string, string | undefined>,
  name: string,
): ServiceBusConnection | undefined {
  const connectionString = env[name];
  if (connectionString) return { connectionString };
  const namespace = env[`${name}__fullyQualifiedNamespace`];
  if (!namespace) return undefined;
  const clientId = env[`${name}__clientId`] ?? env.AZURE_CLIENT_ID;
  return clientId ? { fullyQualifiedNamespace: namespace, clientId } : { fullyQualifiedNamespace: namespace };
}

function identityCredential(clientId: string | undefined): TokenCredential {
  // A user-assigned identity must be named explicitly; the default chain also covers developer sign-ins.
  return new DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : undefined);
}
