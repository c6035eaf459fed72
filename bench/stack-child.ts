/**
 * The local stack's infrastructure for a bench, in its own process so the product's process can be measured on its
 * own: Azurite, the Service Bus endpoint with every queue, and both simulators, on free ports. Prints one JSON line
 * (the settings pointing at them, and the simulator URLs), then runs until its stdin closes.
 *
 *   argv[2]: JSON `{ "bc": BcSimulatorOptions, "dataverse": DataverseSimulatorOptions }` (optional)
 */
import { startAzurite } from '../dev/azurite';
import { startBcSimulator } from '../dev/bc-simulator';
import { startDataverseSimulator } from '../dev/dataverse-simulator';
import { ServiceBusEmulator } from '../dev/servicebus';
import { allQueueNames, QUEUE_SETTINGS } from '../shared/queues';

export interface ChildStack {
  env: Record<string, string>;
  bcUrl: string;
  dataverseUrl: string;
  dataverseApiBase: string;
  dataverseAdminToken: string;
}

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as { bc?: object; dataverse?: object };
  const azurite = await startAzurite({ port: 0 });
  const serviceBus = new ServiceBusEmulator({
    port: 0,
    queues: allQueueNames().map((name) => ({
      name,
      maxDeliveryCount: QUEUE_SETTINGS.maxDeliveryCount,
      lockDurationMs: QUEUE_SETTINGS.lockDurationSeconds * 1000,
    })),
  });
  await serviceBus.start();
  const bc = await startBcSimulator({ port: 0, webhookDelayMs: 50, seed: 'empty', ...opts.bc });
  const dataverse = await startDataverseSimulator({ port: 0, webhookDelayMs: 20, seed: 'empty', ...opts.dataverse });
  const out: ChildStack = {
    env: {
      SERVICEBUS_CONNECTION: serviceBus.connectionString,
      TABLES_CONNECTION: azurite.connectionString,
      TABLE_PREFIX: 'bench',
      BC_API_URL: bc.url,
      BC_TENANT_ID: bc.tenantId,
      BC_ENVIRONMENT: bc.environmentName,
      BC_COMPANY_ID: bc.companyId,
      BC_AUTH: 'static-token',
      BC_STATIC_TOKEN: 'local-bc-token',
      BC_WEBHOOK_SECRET: 'local-bc-webhook-secret-for-bench',
      DATAVERSE_URL: dataverse.url,
      DATAVERSE_AUTH: 'static-token',
      DATAVERSE_STATIC_TOKEN: dataverse.integrationUserToken,
      DATAVERSE_WEBHOOK_KEY: 'local-dataverse-webhook-key-bench',
      PUBLIC_BASE_URL: 'http://127.0.0.1:7071',
      LOCAL_FUNCTION_KEY: 'bench-function-key',
    },
    bcUrl: bc.url,
    dataverseUrl: dataverse.url,
    dataverseApiBase: dataverse.apiBase,
    dataverseAdminToken: dataverse.adminUserToken,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  const stop = async () => {
    await Promise.allSettled([dataverse.stop(), bc.stop(), serviceBus.stop(), azurite.stop()]);
    process.exit(0);
  };
  process.stdin.on('end', () => void stop());
  process.stdin.on('close', () => void stop());
  process.stdin.resume();
  process.on('SIGTERM', () => void stop());
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
