import path from 'node:path';
import { type RunningAzurite, startAzurite } from '../../dev/azurite';
import { type BcSimulator, type BcSimulatorOptions, startBcSimulator } from '../../dev/bc-simulator';
import { type DataverseSimulator, type DataverseSimulatorOptions, startDataverseSimulator } from '../../dev/dataverse-simulator';
import { LocalFunctionsHost } from '../../dev/local-host/host';
import { ServiceBusEmulator } from '../../dev/servicebus';
import { resetSettingsCache } from '../../shared/config';
import { emulatorQueueDeclarations, QUEUE_SETTINGS } from '../../shared/queues';
import { resetRuntime } from '../../shared/runtime';

/**
 * The whole local stack for an end-to-end suite, on free ports: Azurite, the Service Bus endpoint with every
 * queue, both simulators, the settings pointing at them, and the local Functions host running the given
 * function modules (file names under `functions/`). Nothing is mocked.
 */
export interface Stack {
  azurite: RunningAzurite;
  serviceBus: ServiceBusEmulator;
  bc: BcSimulator;
  dataverse: DataverseSimulator;
  host: LocalFunctionsHost;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export interface StackOptions {
  functions: string[];
  bc?: BcSimulatorOptions;
  dataverse?: DataverseSimulatorOptions;
  /** Extra settings. */
  env?: Record<string, string>;
  /** Max delivery count of every queue (small in tests that dead-letter). Default QUEUE_SETTINGS. */
  maxDeliveryCount?: number;
  /** Lock duration of every queue. Default 30 s. */
  lockDurationMs?: number;
}

/** The function key of the local host, and the `Sync.Admin` key of the admin API (SYNC_ADMIN_KEY). */
export const TEST_LOCAL_KEY = 'test-function-key';
/** The `Sync.Reader` key (SYNC_READER_KEY). */
export const TEST_READER_KEY = 'test-reader-key-read-only';
/** The item-availability key (AVAILABILITY_KEY). */
export const TEST_AVAILABILITY_KEY = 'test-availability-key';

export async function startStack(options: StackOptions): Promise<Stack> {
  const azurite = await startAzurite({ port: 0 });
  const serviceBus = new ServiceBusEmulator({
    port: 0,
    // Azure's settings (duplicate detection included), with test-sized delivery counts and locks.
    queues: emulatorQueueDeclarations().map((q) => ({
      ...q,
      maxDeliveryCount: options.maxDeliveryCount ?? QUEUE_SETTINGS.maxDeliveryCount,
      lockDurationMs: options.lockDurationMs ?? 30_000,
    })),
  });
  await serviceBus.start();
  const bc = await startBcSimulator({ port: 0, webhookDelayMs: 50, retrySchedule: [200, 200, 200], ...options.bc });
  const dataverse = await startDataverseSimulator({ port: 0, webhookDelayMs: 20, ...options.dataverse });
  const env: Record<string, string> = {
    SERVICEBUS_CONNECTION: serviceBus.connectionString,
    TABLES_CONNECTION: azurite.connectionString,
    TABLE_PREFIX: 'sync',
    BC_API_URL: bc.url,
    BC_TENANT_ID: bc.tenantId,
    BC_ENVIRONMENT: bc.environmentName,
    BC_COMPANY_ID: bc.companyId,
    BC_AUTH: 'static-token',
    BC_STATIC_TOKEN: 'local-bc-token',
    BC_WEBHOOK_SECRET: 'local-bc-webhook-secret-for-tests',
    DATAVERSE_URL: dataverse.url,
    DATAVERSE_AUTH: 'static-token',
    DATAVERSE_STATIC_TOKEN: dataverse.integrationUserToken,
    DATAVERSE_WEBHOOK_KEY: 'local-dataverse-webhook-key-tests',
    PUBLIC_BASE_URL: 'http://127.0.0.1:7071',
    LOCAL_FUNCTION_KEY: TEST_LOCAL_KEY,
    SYNC_ADMIN_KEY: TEST_LOCAL_KEY,
    SYNC_READER_KEY: TEST_READER_KEY,
    AVAILABILITY_KEY: TEST_AVAILABILITY_KEY,
    ...options.env,
  };
  Object.assign(process.env, env);
  resetSettingsCache();
  await resetRuntime();
  const host = await new LocalFunctionsHost({
    modules: options.functions.map((f) => path.join(__dirname, '..', '..', 'functions', f.endsWith('.ts') ? f : `${f}.ts`)),
    port: 0,
    log: () => undefined,
  }).start();
  // Notification URLs must reach this host, whatever port it got.
  process.env.PUBLIC_BASE_URL = host.apiUrl('').replace(/\/api\/?$/, '');
  env.PUBLIC_BASE_URL = process.env.PUBLIC_BASE_URL;
  resetSettingsCache();
  await resetRuntime();
  return {
    azurite,
    serviceBus,
    bc,
    dataverse,
    host,
    env,
    stop: async () => {
      await host.stop().catch(() => undefined);
      await resetRuntime().catch(() => undefined);
      await dataverse.stop().catch(() => undefined);
      await bc.stop().catch(() => undefined);
      await serviceBus.stop().catch(() => undefined);
      await azurite.stop().catch(() => undefined);
    },
  };
}
