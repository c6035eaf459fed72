import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BcSimulator, startBcSimulator } from '../../../dev/bc-simulator';
import { type ConnectionCheckSettings, checkConnections, extensionEntitySetsOf } from '../../../shared/adapters/connection-check';
import { BC_EXTENSION_MANIFEST } from '../../../shared/bc-extension/manifest';
import { defaultMappings } from '../../../shared/domain/mappings';

let bc: BcSimulator;

beforeAll(async () => {
  bc = await startBcSimulator({ port: 0 });
});
afterAll(async () => {
  await bc?.stop();
});

const settings = (): ConnectionCheckSettings => ({
  BC_API_URL: bc.url,
  BC_TENANT_ID: bc.tenantId,
  BC_ENVIRONMENT: bc.environmentName,
  BC_COMPANY_ID: bc.companyId,
  BC_AUTH: 'static-token',
  BC_STATIC_TOKEN: 'bc-integration-user',
  // Dataverse is not under test here: its checks fail fast against a closed port.
  DATAVERSE_URL: 'http://127.0.0.1:9',
  DATAVERSE_AUTH: 'static-token',
  DATAVERSE_STATIC_TOKEN: 'x',
});
const extension = (body: Record<string, unknown>) =>
  fetch(`${bc.url}/_sim/extension`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
const check = async (options: Parameters<typeof checkConnections>[1] = {}) => {
  const report = await checkConnections(settings(), { timeoutMs: 5_000, ...options });
  return { report, ext: report.checks.find((c) => c.id === 'bc.extension') };
};

describe('connection check: the BC extension', () => {
  it('reports it installed, with the version BC reports and every page answering', async () => {
    const { report, ext } = await check();
    expect(ext).toMatchObject({ ok: true });
    expect(ext?.detail).toBe(
      `BC extension '${BC_EXTENSION_MANIFEST.app.name}' version 1.0 installed: ${Object.keys(BC_EXTENSION_MANIFEST.entitySets).length} page(s) of bcsync/integration/v1.0 answer`,
    );
    expect(report.bc.extension).toEqual({ installed: true, version: '1.0', missingEntitySets: [] });
  });

  it('reports it missing, with what to do, while the standard BC checks still pass', async () => {
    await extension({ installed: false });
    try {
      const { report, ext } = await check();
      expect(report.checks.find((c) => c.id === 'bc.company')?.ok).toBe(true);
      expect(ext).toMatchObject({ ok: false, code: 'CONFIG.INVALID' });
      expect(ext?.detail).toMatch(
        /is not installed in production: bcsync\/integration\/v1\.0 answers 404\. .*docs\/bc-extension\.md.*BCS INTEGRATION/,
      );
      expect(report.bc.extension).toMatchObject({ installed: false });
    } finally {
      await fetch(`${bc.url}/_sim/reset`, { method: 'POST' });
    }
  });

  it('reports an older version and the pages it lacks', async () => {
    await extension({ version: '0.9.0.0', missingEntitySets: ['salespeoplePurchasers', 'salesOrderLines'] });
    try {
      const { report, ext } = await check();
      expect(ext?.ok).toBe(false);
      expect(ext?.detail).toMatch(
        /^BC extension version 0\.9 is older than this service expects \(1\.0\.0\.0\): BC extension page missing: bcsync\/integration\/v1\.0\/salesOrderLines, bcsync\/integration\/v1\.0\/salespeoplePurchasers\./,
      );
      expect(report.bc.extension).toEqual({
        installed: true,
        version: '0.9',
        missingEntitySets: ['salesOrderLines', 'salespeoplePurchasers'],
      });
      // Only the pages the mappings use are probed when the caller names them.
      const limited = await check({ bcExtension: { entitySets: ['customers', 'shippingAgents'] } });
      expect(limited.ext?.detail).toMatch(/^BC extension version 0\.9 is older than this service expects \(1\.0\.0\.0\)\. /);
    } finally {
      await fetch(`${bc.url}/_sim/reset`, { method: 'POST' });
    }
  });

  it('shows the recorded subscription state of resources that are not subscribed', async () => {
    const { ext, report } = await check({
      subscriptions: async () => ({
        resources: [
          { resource: 'v2.0/customers', mappings: ['CUSTOMER'], status: 'active' },
          {
            resource: 'bcsync/integration/v1.0/shippingAgents',
            mappings: ['SHIPPING AGENT'],
            status: 'missing',
            lastError: 'BC extension page missing: …',
          },
        ],
      }),
    });
    expect(ext?.ok).toBe(true);
    expect(report.checks.filter((c) => c.id.startsWith('bc.subscription.'))).toEqual([
      {
        id: 'bc.subscription.bcsync/integration/v1.0/shippingAgents',
        ok: false,
        detail: 'SHIPPING AGENT: BC extension page missing: …',
        code: 'CONFIG.INVALID',
      },
    ]);
  });

  it('knows which extension pages the enabled mappings use', () => {
    const sets = extensionEntitySetsOf(
      defaultMappings({
        ownershipModel: 'Person',
        salesIntegration: true,
        unitGroupMapping: false,
        extendedPricing: false,
        salesOrderIntegration: 'none',
      }),
    );
    expect(sets).toContain('salespeoplePurchasers');
    expect(sets).toContain('customers');
    expect(sets).not.toContain('salesOrderLines');
    for (const s of sets) expect(BC_EXTENSION_MANIFEST.entitySets[s], s).toBeDefined();
  });
});
