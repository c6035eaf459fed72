import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BcSimulator, startBcSimulator } from '../../dev/bc-simulator';
import { wantedResources } from '../../shared/capture/subscriptions';
import { defaultMappings } from '../../shared/domain/mappings';

const COMPANY = 'f516767b-be29-4c6d-af54-21cadea6abb4';
const CUSTOM = 'bcsync/integration/v1.0';

let sim: BcSimulator;
beforeAll(async () => {
  sim = await startBcSimulator({ port: 0 });
});
afterAll(async () => {
  await sim?.stop();
});

describe('which BC resources the default mappings subscribe to', () => {
  const all = defaultMappings({
    ownershipModel: 'Person',
    salesIntegration: true,
    unitGroupMapping: true,
    extendedPricing: true,
    salesOrderIntegration: 'bidirectional',
  });
  const wanted = wantedResources(all, COMPANY, CUSTOM);
  const byResource = new Map(wanted.map((w) => [`${w.group}/${w.entitySet}`, w.mappings]));

  it('sales order lines come from the extension page over Sales Line, not the v2.0 buffer page without webhooks', () => {
    expect(byResource.get(`${CUSTOM}/salesOrderLines`)).toEqual(['SOLINE-ORDERDETAIL']);
    expect(byResource.has('v2.0/salesOrderLines')).toBe(false);
  });

  it('every wanted resource is webhook-capable in an environment with the extension', async () => {
    const res = await fetch(`${sim.apiRoot('microsoft/runtime/beta')}/companies(${sim.companyId})/webhookSupportedResources`, {
      headers: { Authorization: 'Bearer x' },
    });
    const supported = new Set(((await res.json()) as { value: Array<{ resource: string }> }).value.map((v) => v.resource));
    expect([...byResource.keys()].filter((r) => !supported.has(r))).toEqual([]);
  });
});
