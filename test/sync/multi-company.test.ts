import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedDemo } from '../../dev/bc-simulator/demo';
import { installationIdentity } from '../../shared/adapters/dataverse/company';
import {
  registerDataverseWebhooks,
  SERVICE_ENDPOINT_NAME,
  serviceEndpointName,
  unregisterDataverseWebhooks,
  webhookInstallation,
} from '../../shared/capture/dataverse-registration';
import { parseSettings } from '../../shared/config';
import { recordId as parseRecordId } from '../../shared/domain/ids';
import type { TableMapping } from '../../shared/domain/mappings';
import { bcTarget, recordSelect } from '../../shared/domain/mappings/targets';
import { syncRecord } from '../../shared/domain/sync/sync-record';
import type { SyncOutcome } from '../../shared/domain/sync/types';
import { createBcSalesOrder, submittedUncoupledOrders } from '../../shared/lead-to-cash/sales-order';
import { bulkCouple } from '../../shared/operations/couplings';
import { BulkPace, bulkOptions, syncWave } from '../../shared/operations/full-sync-bulk';
import { runSetup } from '../../shared/operations/setup';
import { buildRuntime, type Runtime } from '../../shared/runtime';
import { type Stack, startStack } from '../support/stack';

/**
 * BC's "Multi Company Synch. Enabled": two installations (two BC companies, each with its own settings, storage and
 * runtime) share ONE Dataverse simulator. Each stamps its company (`bcbi_companyid`) on what it writes, reads only
 * its own rows and rows without a company, owns its rows through its own team, and registers its own webhooks.
 */
describe('two BC companies on one Dataverse (MULTI_COMPANY_SYNC)', () => {
  const COMPANY_B = '0b0b0b0b-1111-4222-8333-444444444444';
  let stack: Stack;
  let a: Runtime;
  let b: Runtime;
  let single: Runtime;

  const dv = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${stack.dataverse.apiBase}/${path}`, {
      headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}` },
    });
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  };
  const newCustomer = async (companyId: string, name: string) => {
    const res = await fetch(`${stack.bc.apiBase(companyId)}/customers`, {
      method: 'POST',
      headers: { Authorization: 'Bearer t', 'Content-Type': 'application/json' },
      body: JSON.stringify({ displayName: name }),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  };
  const sync = (rt: Runtime, source: 'bc' | 'dataverse', recordId: string, origin: 'manual' | 'webhook' = 'manual'): Promise<SyncOutcome> =>
    syncRecord(
      {
        v: 1,
        mapping: 'CUSTOMER',
        source,
        recordId: parseRecordId(recordId),
        changeType: 'updated',
        origin,
        correlationId: 'multi-company',
        observedAt: new Date().toISOString(),
        deferrals: 0,
      },
      rt.syncDeps,
    );
  const account = (id: string) =>
    dv<{ name: string; _bcbi_companyid_value: string | null }>(`accounts(${id})?$select=name,_bcbi_companyid_value`);
  const companyOf = (rt: Runtime) => rt.syncDeps.options.company?.id ?? '';

  beforeAll(async () => {
    stack = await startStack({ functions: [] });
    seedDemo(stack.bc.store, COMPANY_B, 'CRONUS B');
    const multi = { MULTI_COMPANY_SYNC: 'true' };
    a = await buildRuntime(parseSettings({ ...process.env, ...multi, TABLE_PREFIX: 'synca', INSTALLATION_NAME: 'Company A' }));
    b = await buildRuntime(parseSettings({ ...process.env, ...multi, TABLE_PREFIX: 'syncb', BC_COMPANY_ID: COMPANY_B }));
    single = await buildRuntime(parseSettings({ ...process.env, TABLE_PREFIX: 'single' }));
  });
  afterAll(async () => {
    await Promise.all([a, b, single].map((rt) => rt?.close()));
    await stack?.stop();
  });

  it('each installation has its own company row, business unit and owner team', async () => {
    expect(companyOf(a)).toMatch(/^[0-9a-f-]{36}$/);
    expect(companyOf(b)).toMatch(/^[0-9a-f-]{36}$/);
    expect(companyOf(a)).not.toBe(companyOf(b));
    const rows = await dv<{
      value: Array<{ bcbi_companyid: string; bcbi_name: string; bcbi_externalid: string; _bcbi_defaultowningteam_value: string }>;
    }>('bcbi_companies?$select=bcbi_companyid,bcbi_name,bcbi_externalid,_bcbi_defaultowningteam_value');
    const rowA = rows.value.find((r) => r.bcbi_companyid === companyOf(a));
    const rowB = rows.value.find((r) => r.bcbi_companyid === companyOf(b));
    expect(rowA).toMatchObject({ bcbi_name: 'Company A', bcbi_externalid: installationIdentity(a.settings).externalId });
    // The default name: environment and the first 8 characters of the company id.
    expect(rowB?.bcbi_name).toBe(`${stack.bc.environmentName} 0b0b0b0b`);
    expect(rowA?._bcbi_defaultowningteam_value).not.toBe(rowB?._bcbi_defaultowningteam_value);
    const team = await dv<{ name: string; teamtype: number; _businessunitid_value: string }>(
      `teams(${rowA?._bcbi_defaultowningteam_value})?$select=name,teamtype,_businessunitid_value`,
    );
    expect(team).toMatchObject({ name: 'BCI - Company A', teamtype: 0 });
    const unit = await dv<{ name: string; _parentbusinessunitid_value: string | null }>(
      `businessunits(${team._businessunitid_value})?$select=name,_parentbusinessunitid_value`,
    );
    expect(unit.name).toBe('Company A');
    expect(unit._parentbusinessunitid_value).toBeTruthy();
    // Setup finds what the runtime made; nothing is created twice.
    const setup = await runSetup(a, { steps: ['company'] });
    expect(setup.steps[0]).toMatchObject({ step: 'company', ok: true, data: { companyId: companyOf(a), created: [] } });
  });

  it('stamps the company on every row it creates or updates; neither installation sees or overwrites the other', async () => {
    const fromA = await sync(a, 'bc', await newCustomer(stack.bc.companyId, 'Shared Name Ltd'));
    expect(fromA.result, fromA.message).toBe('inserted');
    const fromB = await sync(b, 'bc', await newCustomer(COMPANY_B, 'Shared Name Ltd'));
    expect(fromB.result, fromB.message).toBe('inserted');
    expect(fromB.dataverseId).not.toBe(fromA.dataverseId);
    expect(await account(fromA.dataverseId ?? '')).toMatchObject({ _bcbi_companyid_value: companyOf(a) });
    expect(await account(fromB.dataverseId ?? '')).toMatchObject({ _bcbi_companyid_value: companyOf(b) });

    // B never picks up A's row, not even when told to synchronize it: it is outside B's integration table filter.
    const seenByB = await sync(b, 'dataverse', fromA.dataverseId ?? '', 'manual');
    expect(seenByB.result).toBe('skipped');
    expect(seenByB.message).toContain('outside the integration table filter');
    expect(await b.stores.couplings.getByDataverseId('CUSTOMER', fromA.dataverseId ?? '')).toBeUndefined();
    const inB = await fetch(`${stack.bc.apiBase(COMPANY_B)}/customers?$filter=${encodeURIComponent("displayName eq 'Shared Name Ltd'")}`, {
      headers: { Authorization: 'Bearer t' },
    });
    expect(((await inB.json()) as { value: unknown[] }).value).toHaveLength(1);

    // A's update of its own customer touches only A's row.
    const before = await account(fromB.dataverseId ?? '');
    const renamed = await fetch(`${stack.bc.apiBase()}/customers(${fromA.bcId})`, {
      method: 'PATCH',
      headers: { Authorization: 'Bearer t', 'Content-Type': 'application/json', 'If-Match': '*' },
      body: JSON.stringify({ displayName: 'Shared Name Ltd (A)' }),
    });
    expect(renamed.status).toBe(200);
    expect((await sync(a, 'bc', fromA.bcId ?? '')).result).toBe('modified');
    expect(await account(fromA.dataverseId ?? '')).toMatchObject({ name: 'Shared Name Ltd (A)', _bcbi_companyid_value: companyOf(a) });
    expect(await account(fromB.dataverseId ?? '')).toEqual(before);
  });

  it("the full sync's bulk path (CreateMultiple) stamps the company the same way", async () => {
    const mapping = (await a.mappings.get('CUSTOMER')) as TableMapping;
    const target = bcTarget(mapping);
    const records = [];
    for (const name of ['Bulk One Ltd', 'Bulk Two Ltd', 'Bulk Three Ltd']) {
      const record = await a.syncDeps.bc.get(target, await newCustomer(stack.bc.companyId, name), recordSelect(mapping, 'bc'));
      if (record) records.push(record);
    }
    const outcomes = await syncWave(a.syncDeps, a.syncDeps, mapping, 'bc', records, new BulkPace(bulkOptions()), (r, deps) =>
      syncRecord(
        {
          v: 1,
          mapping: 'CUSTOMER',
          source: 'bc',
          recordId: parseRecordId(r.id),
          changeType: 'unknown',
          origin: 'full-sync',
          correlationId: 'multi-company-bulk',
          observedAt: new Date().toISOString(),
          deferrals: 0,
        },
        deps,
      ),
    );
    expect(outcomes.map((o) => o.result)).toEqual(['inserted', 'inserted', 'inserted']);
    for (const o of outcomes) expect(await account(o.dataverseId ?? '')).toMatchObject({ _bcbi_companyid_value: companyOf(a) });
  });

  it('match-based coupling of one company never couples the other company rows', async () => {
    const m = (await b.stores.mappings.get('CUSTOMER')) as TableMapping;
    await b.stores.mappings.put(
      {
        ...m,
        couplingRules: {
          matchFields: [{ bcField: 'displayName', dataverseColumn: 'name', priority: 0, caseSensitive: false }],
          createNewIfNoMatch: false,
          synchAfterMatchBasedCoupling: false,
        },
      },
      { by: 'test', kind: 'edit' },
    );
    // A row of company A and one without a company, both named as B's new customer.
    const ofA = await sync(a, 'bc', await newCustomer(stack.bc.companyId, 'Match Me Ltd'));
    expect(ofA.result, ofA.message).toBe('inserted');
    const bId = await newCustomer(COMPANY_B, 'Match Me Ltd');
    const first = await bulkCouple(b.syncDeps, { mapping: 'CUSTOMER', bcIds: [bId], companyId: b.syncDeps.options.dataverseCompanyId });
    expect(first).toMatchObject({ coupled: 0, unmatched: 1 });

    const res = await fetch(`${stack.dataverse.apiBase}/accounts`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${stack.dataverse.adminUserToken}`,
        'Content-Type': 'application/json',
        Prefer: 'return=representation',
      },
      body: JSON.stringify({ name: 'Match Me Ltd', customertypecode: 3 }),
    });
    const unowned = ((await res.json()) as { accountid: string }).accountid;
    const second = await bulkCouple(b.syncDeps, { mapping: 'CUSTOMER', bcIds: [bId], companyId: b.syncDeps.options.dataverseCompanyId });
    expect(second).toMatchObject({ coupled: 1 });
    expect((await b.stores.couplings.getByBcId('CUSTOMER', bId))?.dataverseId).toBe(unowned);
    // The next write of B claims the row for company B (BC's SetCompanyIdOnCRMAccount).
    const synced = await sync(b, 'bc', bId);
    expect(synced.result, synced.message).toMatch(/modified|unchanged/);
    expect(await account(unowned)).toMatchObject({ _bcbi_companyid_value: companyOf(b) });
  });

  it("Sales orders are created in BC only by the company they name (BC's strict document filter)", async () => {
    const order = async (name: string, company?: string) => {
      const res = await fetch(`${stack.dataverse.apiBase}/salesorders`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${stack.dataverse.adminUserToken}`,
          'Content-Type': 'application/json',
          Prefer: 'return=representation',
        },
        body: JSON.stringify({ name, ...(company ? { 'bcbi_companyid@odata.bind': `/bcbi_companies(${company})` } : {}) }),
      });
      expect(res.status, await res.clone().text()).toBe(201);
      const id = ((await res.json()) as { salesorderid: string }).salesorderid;
      const submitted = await fetch(`${stack.dataverse.apiBase}/salesorders(${id})`, {
        method: 'PATCH',
        headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ statecode: 1, statuscode: 3 }),
      });
      expect(submitted.status).toBe(204);
      return id;
    };
    const ofA = await order('Order of A', companyOf(a));
    const ofNone = await order('Order of nobody');
    const listed = async (rt: Runtime) => {
      const ids: string[] = [];
      for await (const page of submittedUncoupledOrders(rt.syncDeps)) ids.push(...page);
      return ids;
    };
    expect(await listed(a)).toContain(ofA);
    expect(await listed(a)).not.toContain(ofNone);
    expect(await listed(b)).not.toContain(ofA);
    expect(await listed(b)).not.toContain(ofNone);
    // One installation keeps BC's single-company behaviour: every submitted order.
    expect(await listed(single)).toEqual(expect.arrayContaining([ofA, ofNone]));
    const refused = await createBcSalesOrder(b.syncDeps, b.settings, { salesOrderId: ofA, correlationId: 'mc' });
    expect(refused).toMatchObject({ result: 'skipped', message: expect.stringContaining('another company') });
  });

  it('one installation (the default) writes no company and registers under the single endpoint name', async () => {
    expect(single.syncDeps.options.company).toBeUndefined();
    const out = await sync(single, 'bc', await newCustomer(stack.bc.companyId, 'Single Install Ltd'));
    expect(out.result, out.message).toBe('inserted');
    expect(await account(out.dataverseId ?? '')).toMatchObject({ _bcbi_companyid_value: null });
    expect(webhookInstallation(single.settings)).toBeUndefined();
    expect(serviceEndpointName(webhookInstallation(single.settings))).toBe(SERVICE_ENDPOINT_NAME);
  });

  it('webhooks are registered per installation, and removing one leaves the other intact', async () => {
    const register = async (rt: Runtime) =>
      registerDataverseWebhooks(rt.dataverse, {
        publicBaseUrl: rt.settings.PUBLIC_BASE_URL,
        webhookKey: rt.settings.DATAVERSE_WEBHOOK_KEY,
        mappings: await rt.mappings.all(),
        installation: webhookInstallation(rt.settings),
      });
    const regA = await register(a);
    const regB = await register(b);
    expect(regA.serviceEndpointId).not.toBe(regB.serviceEndpointId);
    expect(regB.endpoint).toBe('created');
    // B's registration did not take over A's endpoint or steps.
    expect((await register(a)).endpoint).toBe('unchanged');
    const endpoints = await dv<{ value: Array<{ name: string }> }>('serviceendpoints?$select=name&$filter=contract eq 8');
    expect(endpoints.value.map((e) => e.name).sort()).toEqual(
      [serviceEndpointName('Company A'), serviceEndpointName(webhookInstallation(b.settings))].sort(),
    );
    const stepsOf = async (endpointId: string) =>
      (
        await dv<{ value: Array<{ name: string }> }>(`sdkmessageprocessingsteps?$select=name&$filter=_eventhandler_value eq ${endpointId}`)
      ).value.map((s) => s.name);
    const stepsB = await stepsOf(regB.serviceEndpointId);
    expect(stepsB.length).toBeGreaterThan(0);
    expect(stepsB.every((n) => n.startsWith(`${serviceEndpointName(webhookInstallation(b.settings))}: `))).toBe(true);

    const removed = await unregisterDataverseWebhooks(a.dataverse, { installation: webhookInstallation(a.settings) });
    expect(removed.removed.length).toBe(regA.created.length);
    expect(await stepsOf(regA.serviceEndpointId)).toEqual([]);
    expect(await stepsOf(regB.serviceEndpointId)).toEqual(stepsB);
    const left = await dv<{ value: Array<{ name: string }> }>('serviceendpoints?$select=name&$filter=contract eq 8');
    expect(left.value.map((e) => e.name)).toEqual([serviceEndpointName(webhookInstallation(b.settings))]);
  });
});
