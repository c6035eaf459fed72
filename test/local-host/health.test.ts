import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAzurite, startAzurite } from '../../dev/azurite';
import { type BcSimulator, startBcSimulator } from '../../dev/bc-simulator';
import { type DataverseSimulator, startDataverseSimulator } from '../../dev/dataverse-simulator';
import { LocalFunctionsHost } from '../../dev/local-host/host';
import { ServiceBusEmulator } from '../../dev/servicebus';
import { resetHealth } from '../../shared/capture/health';
import { resetSettingsCache } from '../../shared/config';
import { OPERATIONAL_QUEUES } from '../../shared/queues';
import { resetRuntime } from '../../shared/runtime';
import { until } from '../support/until';

/**
 * GET /api/health (anonymous, cached) and /api/health/deep (keyed) served by the real function module against real
 * Azurite, Service Bus endpoint and simulators.
 */
describe('health function', () => {
  let azurite: RunningAzurite;
  let azuriteStopped = false;
  let sb: ServiceBusEmulator;
  let bc: BcSimulator;
  let dataverse: DataverseSimulator;
  let host: LocalFunctionsHost;
  const key = 'health-test-function-key';

  type Report = { status: string; components: Record<string, { status: string; detail?: string }> };
  const health = async (route = 'health', headers: Record<string, string> = {}): Promise<{ status: number; body: Report }> => {
    const res = await fetch(host.apiUrl(route), { headers });
    return { status: res.status, body: (await res.json()) as Report };
  };
  const deep = () => health('health/deep', { 'x-functions-key': key });
  const upstreamRequests = async () =>
    bc.counters().total + ((await (await fetch(`${dataverse.url}/_sim/counters`)).json()) as { total: number }).total;
  const resetUpstreamCounters = async () => {
    bc.resetCounters();
    await fetch(`${dataverse.url}/_sim/counters`, { method: 'DELETE' });
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
      LOCAL_FUNCTION_KEY: key,
    });
    resetSettingsCache();
    await resetRuntime();
    await resetHealth();
    host = await new LocalFunctionsHost({
      modules: [path.join(__dirname, '..', '..', 'functions', 'health.ts')],
      port: 0,
      log: () => undefined,
    }).start();
  });
  afterAll(async () => {
    await host?.stop();
    await resetHealth();
    await resetRuntime();
    await dataverse?.stop();
    await bc?.stop();
    await sb?.stop();
    if (!azuriteStopped) await azurite?.stop();
  });

  it('is anonymous and reports every component ok once the start-up refresh has checked BC and Dataverse', async () => {
    const { status, body } = await until('the start-up refresh of BC and Dataverse', async () => {
      const r = await health();
      return r.body.components.dataverse?.status === 'ok' && r.body.components.businessCentral?.status === 'ok' ? r : undefined;
    });
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

  it('answers 25 concurrent anonymous calls from its cache: not one request reaches BC or Dataverse', async () => {
    await until('the start-up refresh', async () => ((await health()).body.components.dataverse?.status === 'ok' ? true : undefined));
    await resetUpstreamCounters();
    const answers = await Promise.all(Array.from({ length: 25 }, () => health()));
    expect(answers.map((a) => a.status)).toEqual(Array(25).fill(200));
    expect(answers.every((a) => a.body.components.businessCentral?.status === 'ok')).toBe(true);
    expect(await upstreamRequests()).toBe(0);
  });

  it('checks BC and Dataverse now only for a caller with a key', async () => {
    const anonymous = await fetch(host.apiUrl('health/deep'));
    expect(anonymous.status).toBe(401);
    await resetUpstreamCounters();
    const { status, body } = await deep();
    expect(status).toBe(200);
    expect(body.status).toBe('ok');
    // One GET to each side, through the service's own clients.
    expect(bc.counters().total).toBe(1);
    expect(await upstreamRequests()).toBe(2);
  });

  it('is degraded (still 200) when Dataverse refuses the token, and the anonymous answer shows it once checked', async () => {
    process.env.DATAVERSE_STATIC_TOKEN = 'not-a-known-token';
    resetSettingsCache();
    await resetRuntime();
    try {
      const { status, body } = await deep();
      expect(status).toBe(200);
      expect(body.status).toBe('degraded');
      expect(body.components.dataverse).toMatchObject({ status: 'down', detail: expect.stringContaining('401') });
      expect(JSON.stringify(body)).not.toContain('not-a-known-token');
      const cached = await health();
      expect(cached.status).toBe(200);
      expect(cached.body.status).toBe('degraded');
    } finally {
      process.env.DATAVERSE_STATIC_TOKEN = dataverse.integrationUserToken;
      resetSettingsCache();
      await resetRuntime();
    }
  });

  it('answers 503 unavailable when Table Storage is down', async () => {
    await azurite.stop();
    azuriteStopped = true;
    const { status, body } = await deep();
    expect(status).toBe(503);
    expect(body.status).toBe('unavailable');
    expect(body.components.tables?.status).toBe('down');
    expect(body.components.serviceBus?.status).toBe('ok');
    expect((await health()).status).toBe(503);
  });
});
