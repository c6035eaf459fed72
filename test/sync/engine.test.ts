import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordId as parseRecordId } from '../../shared/domain/ids';
import { syncRecord } from '../../shared/domain/sync/sync-record';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { eventBuilder } from '../support/events';
import { matchCustomersByName } from '../support/mappings';
import { type Stack, startStack } from '../support/stack';
import { until } from '../support/until';

/**
 * The sync engine end to end: change events on the real Service Bus endpoint, the real sync functions in the
 * local host, both simulators and Azurite.
 */
describe('sync engine through the local host', () => {
  let stack: Stack;
  let rt: Runtime;
  let relecloudBc: { id: string; etag: string };
  let relecloudDv: string;

  const bcHeaders = { Authorization: 'Bearer test', 'Content-Type': 'application/json' };
  const dvHeaders = (token: string) => ({
    Authorization: `Bearer ${token}`,
    'Content-Type': 'application/json',
    Accept: 'application/json',
    'OData-Version': '4.0',
  });
  const bcGet = async (entitySet: string, filter: string) => {
    const res = await fetch(`${stack.bc.apiBase()}/${entitySet}?$filter=${encodeURIComponent(filter)}`, { headers: bcHeaders });
    expect(res.status).toBe(200);
    return ((await res.json()) as { value: Array<Record<string, unknown>> }).value;
  };
  const dvGet = async (path: string) => {
    const res = await fetch(`${stack.dataverse.apiBase}/${path}`, { headers: dvHeaders(stack.dataverse.adminUserToken) });
    expect(res.status).toBe(200);
    return (await res.json()) as Record<string, unknown> & { value?: Array<Record<string, unknown>> };
  };
  const event = eventBuilder('test');

  beforeAll(async () => {
    stack = await startStack({ functions: ['sync'] });
    rt = await getRuntime();
    // Couple customers by name, as an admin does before the first full sync.
    await matchCustomersByName(rt);
    const [bcRow] = await bcGet('customers', "displayName eq 'Relecloud'");
    relecloudBc = { id: String(bcRow?.id), etag: String(bcRow?.['@odata.etag']) };
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('couples a BC customer to the account with the same name, coupling its salesperson and currency first', async () => {
    const outcome = await syncRecord(event({ mapping: 'CUSTOMER', source: 'bc', recordId: relecloudBc.id, origin: 'manual' }), rt.syncDeps);
    expect(outcome.result, outcome.message).toBe('coupled');
    const accounts = (await dvGet("accounts?$filter=name eq 'Relecloud'")).value ?? [];
    expect(accounts).toHaveLength(1);
    relecloudDv = String(accounts[0]?.accountid);
    expect(outcome.dataverseId).toBe(relecloudDv);
    // The salesperson (PS, Peter Saddow) was coupled by name to the Dataverse user and became the owner.
    const salesperson = (await bcGet('salespeoplePurchasers', "code eq 'PS'"))[0];
    const spCoupling = await rt.stores.couplings.getByBcId('SALESPEOPLE', String(salesperson?.id));
    expect(spCoupling).toBeDefined();
    const account = await dvGet(`accounts(${relecloudDv})?$select=_ownerid_value,_transactioncurrencyid_value,address1_city`);
    expect(account._ownerid_value).toBe(spCoupling?.dataverseId);
    // GBP did not exist in Dataverse: the CURRENCY mapping created and coupled it.
    const gbp = (await dvGet("transactioncurrencies?$filter=isocurrencycode eq 'GBP'")).value ?? [];
    expect(gbp).toHaveLength(1);
    expect(account._transactioncurrencyid_value).toBe(gbp[0]?.transactioncurrencyid);
    expect(account.address1_city).toBe('London');
  });

  it('carries a BC address change to the Dataverse account through the sync function', async () => {
    const [row] = await bcGet('customers', `id eq ${relecloudBc.id}`);
    const res = await fetch(`${stack.bc.apiBase()}/customers(${relecloudBc.id})`, {
      method: 'PATCH',
      headers: { ...bcHeaders, 'If-Match': String(row?.['@odata.etag']) },
      body: JSON.stringify({ addressLine1: '1 Engine Test Road' }),
    });
    expect(res.status).toBe(200);
    await rt.publisher.publish([event({ mapping: 'CUSTOMER', source: 'bc', recordId: relecloudBc.id })]);
    await until(
      'the address in Dataverse',
      async () => (await dvGet(`accounts(${relecloudDv})?$select=address1_line1`)).address1_line1 === '1 Engine Test Road',
    );
  });

  it('carries a Dataverse change made by a user back to the BC customer', async () => {
    const res = await fetch(`${stack.dataverse.apiBase}/accounts(${relecloudDv})`, {
      method: 'PATCH',
      headers: { ...dvHeaders(stack.dataverse.adminUserToken), 'If-Match': '*' },
      body: JSON.stringify({ telephone1: '+44 20 7946 0001' }),
    });
    expect(res.status).toBe(204);
    await rt.publisher.publish([event({ mapping: 'CUSTOMER', source: 'dataverse', recordId: relecloudDv })]);
    await until(
      'the phone number in BC',
      async () => (await bcGet('customers', `id eq ${relecloudBc.id}`))[0]?.phoneNumber === '+44 20 7946 0001',
    );
  });

  it('ignores the echo of its own write: a Dataverse event for a row the integration user changed writes nothing', async () => {
    const before = await (await fetch(`${stack.bc.url}/_sim/counters`, { headers: bcHeaders })).json();
    const outcome = await syncRecord(event({ mapping: 'CUSTOMER', source: 'dataverse', recordId: relecloudDv }), rt.syncDeps);
    // The last write to the account was ours (BC → Dataverse address), or the account now equals BC: no write either way.
    expect(['unchanged']).toContain(outcome.result);
    const after = await (await fetch(`${stack.bc.url}/_sim/counters`, { headers: bcHeaders })).json();
    expect(JSON.stringify(after)).toContain('PATCH');
    expect(countPatches(after)).toBe(countPatches(before));
  });
});

describe('special rule: contacts follow their company', () => {
  let stack: Stack;
  let rt: Runtime;
  const bcHeaders = { Authorization: 'Bearer test' };
  const bcGet = async (url: string) =>
    ((await (await fetch(url, { headers: bcHeaders })).json()) as { value: Array<Record<string, unknown>> }).value;

  beforeAll(async () => {
    stack = await startStack({ functions: [] });
    rt = await getRuntime();
    await matchCustomersByName(rt);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('links a BC person contact to the account of its company, coupling the customer first', async () => {
    const [relecloud] = await bcGet(`${stack.bc.apiBase()}/customers?$filter=${encodeURIComponent("displayName eq 'Relecloud'")}`);
    const [company] = await bcGet(
      `${stack.bc.customApiBase()}/contactBusinessRelations?$filter=${encodeURIComponent(`linkNumber eq '${relecloud?.number}'`)}`,
    );
    const [person] = await bcGet(
      `${stack.bc.customApiBase()}/contacts?$filter=${encodeURIComponent(`companyNumber eq '${company?.contactNumber}' and type eq 'Person'`)}`,
    );
    expect(person?.type).toBe('Person');
    const base = {
      v: 1 as const,
      changeType: 'updated' as const,
      correlationId: 'contact-rule',
      observedAt: new Date().toISOString(),
      deferrals: 0,
    };
    const outcome = await syncRecord(
      { ...base, mapping: 'CONTACT', source: 'bc', recordId: parseRecordId(String(person?.id)), origin: 'manual' },
      rt.syncDeps,
    );
    expect(outcome.result, outcome.message).toBe('inserted');
    const customerCoupling = await rt.stores.couplings.getByBcId('CUSTOMER', String(relecloud?.id));
    expect(customerCoupling).toBeDefined();
    const res = await fetch(`${stack.dataverse.apiBase}/contacts(${outcome.dataverseId})?$select=_parentcustomerid_value,lastname`, {
      headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}` },
    });
    const row = (await res.json()) as { _parentcustomerid_value: string; lastname: string };
    expect(row._parentcustomerid_value).toBe(customerCoupling?.dataverseId);
    expect(row.lastname).toBe(person?.surname);
  });

  it('skips a company contact, which BC never synchronizes', async () => {
    const [company] = await bcGet(`${stack.bc.customApiBase()}/contacts?$filter=${encodeURIComponent("type eq 'Company'")}&$top=1`);
    const base = {
      v: 1 as const,
      changeType: 'updated' as const,
      correlationId: 'contact-rule-2',
      observedAt: new Date().toISOString(),
      deferrals: 0,
    };
    const outcome = await syncRecord(
      { ...base, mapping: 'CONTACT', source: 'bc', recordId: parseRecordId(String(company?.id)), origin: 'manual' },
      rt.syncDeps,
    );
    expect(outcome.result).toBe('skipped');
    expect(outcome.message).toMatch(/filter/);
  });
});

function countPatches(counters: unknown): number {
  const text = JSON.stringify(counters);
  const m = /"PATCH":(\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}
