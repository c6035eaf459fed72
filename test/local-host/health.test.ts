import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAzurite, startAzurite } from '../../dev/azurite';
import { type BcSimulator, startBcSimulator } from '../../dev/bc-simulator';
import { type DataverseSimulator, startDataverseSimulator } from '../../dev/dataverse-simulator';
import { LocalFunctionsHost } from '../../dev/local-host/host';
import { ServiceBusEmulator } from '../../dev/servicebus';
import { resetSettingsCache } from '../../shared/config';
import { OPERATIONAL_QUEUES } from '../../shared/queues';

/** GET /api/health served by the real function module against real Azurite, Service Bus endpoint and simulators. */
describe('health function', () => {
  let azurite: RunningAzurite;
  let azuriteStopped = false;
  let sb: ServiceBusEmulator;
  let bc: BcSimulator;
  let dataverse: DataverseSimulator;
  let host: LocalFunctionsHost;

  type Report = { status: string; components: Record<string, { status: string; detail?: string }> };
  const health = async (): Promise<{ status: number; body: Report }> => {
    const res = await fetch(host.apiUrl('health'));
    return { status: res.status, body: (await res.json()) as Report };
  };

  beforeAll(async () => {
    azurite = await startAzurite({ port: 0 });
    sb = new ServiceBusEmulator({ port: 0, queues: OPERATIONAL_QUEUES.map((name) => ({ name })) });
    await sb.start();
    bc = await startBcSimulator({ port: 0 });
    dataverse = await startDataverseSimulator({ port: 0 });
    Object.assign(process.env, {
      SERVICEBUS_CONNECTION: sb.connectionString,
      TABLES_CONNECTION: azurite.connectionString,
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
    });
    resetSettingsCache();
    host = await new LocalFunctionsHost({
      modules: [path.join(__dirname, '..', '..', 'functions', 'health.ts')],
      port: 0,
      log: () => undefined,
    }).start();
  });
  afterAll(async () => {
    await host?.stop();
    await dataverse?.stop();
    await bc?.stop();
    await sb?.stop();
    if (!azuriteStopped) await azurite?.stop();
  });

  it('is anonymous and reports every component ok', async () => {
    const { status, body } = await health();
    expect(status).toBe(200);
    expect(body).toMatchObject({
      status: 'ok',
      components: {
        tables: { status: 'ok' },
        serviceBus: { status: 'ok' },
        businessCentral: { status: 'ok' },
        dataverse: { status: 'ok' },
      },
    });
  });

  it('is degraded (still 200) when Dataverse refuses the token', async () => {
    process.env.DATAVERSE_STATIC_TOKEN = 'not-a-known-token';
    resetSettingsCache();
    try {
      const { status, body } = await health();
      expect(status).toBe(200);
      expect(body.status).toBe('degraded');
      expect(body.components.dataverse).toMatchObject({ status: 'down', detail: expect.stringContaining('HTTP 401') });
      expect(JSON.stringify(body)).not.toContain('not-a-known-token');
    } finally {
      process.env.DATAVERSE_STATIC_TOKEN = dataverse.integrationUserToken;
      resetSettingsCache();
    }
  });

  it('answers 503 unavailable when Table Storage is down', async () => {
    await azurite.stop();
    azuriteStopped = true;
    const { status, body } = await health();
    expect(status).toBe(503);
    expect(body.status).toBe('unavailable');
    expect(body.components.tables?.status).toBe('down');
    expect(body.components.serviceBus?.status).toBe('ok');
  });
});
