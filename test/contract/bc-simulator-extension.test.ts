import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BcSimulator } from '../../dev/bc-simulator';
import { CUSTOM_API, customPages, findPage } from '../../dev/bc-simulator/schema';
import { BC_EXTENSION_MANIFEST, type BcExtensionManifest } from '../../shared/bc-extension/manifest';
import { call, startSim } from './bc-simulator-helpers';

let sim: BcSimulator;

beforeAll(async () => {
  sim = await startSim();
});
afterAll(async () => {
  await sim.stop();
});

const clone = (): BcExtensionManifest => structuredClone(BC_EXTENSION_MANIFEST);

describe('the simulator serves the custom pages the AL declares, field for field', () => {
  it('every entity set of the manifest, with exactly its fields and their editability', () => {
    for (const [set, page] of Object.entries(BC_EXTENSION_MANIFEST.entitySets)) {
      const served = findPage(CUSTOM_API, set);
      expect(served, set).toBeDefined();
      expect(
        served?.fields.map((f) => [f.name, !f.readOnly]),
        set,
      ).toEqual(page.fields.map((f) => [f.name, f.editable]));
      expect([served?.insertAllowed, served?.modifyAllowed, served?.deleteAllowed], set).toEqual([
        page.insertAllowed,
        page.modifyAllowed,
        page.deleteAllowed,
      ]);
    }
  });

  it('over HTTP: a record of each page carries the declared properties and nothing else', async () => {
    let withRecords = 0;
    for (const [set, page] of Object.entries(BC_EXTENSION_MANIFEST.entitySets)) {
      const r = await call(`${sim.customApiBase()}/${set}?$top=1`);
      expect(r.status, set).toBe(200);
      const rec = r.body.value[0];
      if (!rec) continue;
      withRecords++;
      expect(
        Object.keys(rec)
          .filter((k) => k !== '@odata.etag')
          .sort(),
        set,
      ).toEqual(page.fields.map((f) => f.name).sort());
    }
    // The demo company has rows behind nearly every page, so this compares real payloads, not empty lists.
    expect(withRecords).toBeGreaterThanOrEqual(17);
  });

  it('an entity set or field the AL does not declare is not served', async () => {
    expect((await call(`${sim.customApiBase()}/currencyExchangeRates`)).status).toBe(404);
    const c = (await call(`${sim.customApiBase()}/customers?$top=1`)).body.value[0];
    const bad = await call(`${sim.customApiBase()}/customers(${c.id})`, {
      method: 'PATCH',
      headers: { 'If-Match': c['@odata.etag'] },
      body: { customerPriceGroupCode: 'RETAIL' },
    });
    expect(bad.status).toBe(400);
    const noField = clone();
    noField.entitySets.customers = {
      ...(noField.entitySets.customers as BcExtensionManifest['entitySets'][string]),
      fields: (noField.entitySets.customers?.fields ?? []).filter((f) => f.name !== 'faxNumber'),
    };
    expect(
      customPages(noField)
        .find((p) => p.entitySet === 'customers')
        ?.fieldMap.has('faxNumber'),
    ).toBe(false);
  });

  it('refuses to start with a declared field it cannot hold, or with another AL type', () => {
    const extra = clone();
    extra.entitySets.items?.fields.push({
      name: 'shelfNumber',
      alField: 'Shelf No.',
      type: 'Code[10]',
      editable: false,
      key: false,
      flowField: false,
    });
    expect(() => customPages(extra)).toThrow(/custom page items declares shelfNumber \(Shelf No\.\), which table item does not hold/);
    const typed = clone();
    const fax = typed.entitySets.customers?.fields.find((f) => f.name === 'faxNumber');
    if (fax) fax.type = 'Text[50]';
    expect(() => customPages(typed)).toThrow(/customers\.faxNumber is Text\[50\] in the AL/);
  });

  it('a read-only field of the AL is read-only in the simulator', async () => {
    const c = (await call(`${sim.customApiBase()}/customers?$top=1`)).body.value[0];
    const r = await call(`${sim.customApiBase()}/customers(${c.id})`, {
      method: 'PATCH',
      headers: { 'If-Match': c['@odata.etag'] },
      body: { salespersonCode: 'JO' },
    });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/read-only/);
  });
});

describe('BC without the extension, or with an older one (/_sim/extension)', () => {
  it('without it: the custom route is 404, nothing custom is webhook-capable, the automation API does not list it', async () => {
    const set = await call(`${sim.url}/_sim/extension`, { method: 'POST', body: { installed: false } });
    expect(set.body).toMatchObject({ installed: false });
    try {
      const r = await call(`${sim.customApiBase()}/customers`);
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('BadRequest_ResourceNotFound');
      expect((await call(`${sim.apiBase()}/customers?$top=1`)).status).toBe(200);
      const supported = await call(`${sim.apiRoot('microsoft/runtime/beta')}/companies(${sim.companyId})/webhookSupportedResources`);
      expect(supported.body.value.some((v: { resource: string }) => v.resource.startsWith('bcsync/'))).toBe(false);
      const sub = await call(`${sim.apiRoot()}/subscriptions`, {
        method: 'POST',
        body: {
          notificationUrl: 'http://127.0.0.1:9/x',
          resource: `/api/bcsync/integration/v1.0/companies(${sim.companyId})/shippingAgents`,
          clientState: 'x',
        },
      });
      expect(sub.status).toBe(400);
      expect(sub.body.error.code).toBe('BadRequest_ResourceNotFound');
      const apps = await call(`${sim.apiRoot('microsoft/automation/v2.0')}/companies(${sim.companyId})/extensions`);
      expect(apps.status).toBe(200);
      expect(apps.body.value.some((a: { id: string }) => a.id === BC_EXTENSION_MANIFEST.app.id)).toBe(false);
    } finally {
      await call(`${sim.url}/_sim/extension`, { method: 'POST', body: { installed: true } });
    }
  });

  it('an older version: only the pages it lacks are 404, and the automation API shows its version', async () => {
    const r = await call(`${sim.url}/_sim/extension`, {
      method: 'POST',
      body: { version: '0.9.0.0', missingEntitySets: ['salespeoplePurchasers'] },
    });
    expect(r.status).toBe(200);
    try {
      expect((await call(`${sim.customApiBase()}/salespeoplePurchasers`)).status).toBe(404);
      expect((await call(`${sim.customApiBase()}/shippingAgents`)).status).toBe(200);
      const apps = await call(`${sim.apiRoot('microsoft/automation/v2.0')}/companies(${sim.companyId})/extensions`);
      expect(apps.body.value.find((a: { id: string }) => a.id === BC_EXTENSION_MANIFEST.app.id)).toMatchObject({
        versionMajor: 0,
        versionMinor: 9,
        isInstalled: true,
        publisher: 'bcsync',
      });
      expect((await call(`${sim.url}/_sim/extension`, { method: 'POST', body: { missingEntitySets: ['nope'] } })).status).toBe(400);
    } finally {
      await call(`${sim.url}/_sim/reset`, { method: 'POST' });
    }
    expect((await call(`${sim.url}/_sim/extension`)).body).toEqual({
      installed: true,
      version: BC_EXTENSION_MANIFEST.app.version,
      missingEntitySets: [],
    });
  });
});
