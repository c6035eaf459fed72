import { afterAll, beforeAll, expect, it } from 'vitest';
import { syncRecord } from '../../shared/domain/sync/sync-record';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { eventBuilder } from '../support/events';
import { matchCustomersByName } from '../support/mappings';
import { type Stack, startStack } from '../support/stack';
import { until } from '../support/until';

/**
 * The audit's proof (finding 1) on the whole local stack: Relecloud is coupled before its payment terms, shipment
 * method, shipping agent and primary contact are (the demo couples by name before the full sync reaches those), so
 * BC → Dataverse writes blanks for them. A phone edit in Dataverse must not write those blanks back over BC's
 * values, and once the payment terms get coupled the account is synchronized again and gets them.
 */
let stack: Stack;
let rt: Runtime;
const bcHeaders = { Authorization: 'Bearer test', 'Content-Type': 'application/json' };
/** The customers page of our BC extension: the API v2.0 fields plus shipping agent and primary contact. */
const bcGet = async (entitySet: string, filter: string) => {
  const res = await fetch(`${stack.bc.customApiBase()}/${entitySet}?$filter=${encodeURIComponent(filter)}`, { headers: bcHeaders });
  expect(res.status).toBe(200);
  return ((await res.json()) as { value: Array<Record<string, unknown>> }).value;
};
const dvGet = async (path: string) => {
  const res = await fetch(`${stack.dataverse.apiBase}/${path}`, {
    headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}`, Accept: 'application/json' },
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Record<string, unknown>;
};
const event = eventBuilder('no-wipe');

beforeAll(async () => {
  stack = await startStack({ functions: ['sync'] });
  rt = await getRuntime();
  await matchCustomersByName(rt);
});
afterAll(async () => {
  await stack?.stop();
});

it('keeps BC option and lookup values a Dataverse edit did not touch, and fills them in once coupled', { timeout: 60_000 }, async () => {
  const [bcBefore] = await bcGet('customers', "displayName eq 'Relecloud'");
  const bcId = String(bcBefore?.id);
  const ext = bcBefore ?? {};
  expect(ext.paymentTermsId).not.toBe('00000000-0000-0000-0000-000000000000');
  expect(ext.shipmentMethodId).not.toBe('00000000-0000-0000-0000-000000000000');
  expect(ext.shippingAgentCode).toBe('UPS');
  expect(ext.primaryContactNumber).toMatch(/\S/);

  const coupled = await syncRecord(event({ mapping: 'CUSTOMER', source: 'bc', recordId: bcId, origin: 'manual' }), rt.syncDeps);
  expect(coupled.result, coupled.message).toBe('coupled');
  const dvId = String(coupled.dataverseId);
  const select = '$select=paymenttermscode,address1_freighttermscode,address1_shippingmethodcode,_primarycontactid_value';
  const blank = await dvGet(`accounts(${dvId})?${select}`);
  expect(blank.paymenttermscode).toBeNull();
  expect(blank.address1_freighttermscode).toBeNull();

  // The user changes the phone in Dataverse; the Dataverse → BC pass writes the phone and nothing else.
  const patch = await fetch(`${stack.dataverse.apiBase}/accounts(${dvId})`, {
    method: 'PATCH',
    headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}`, 'Content-Type': 'application/json', 'If-Match': '*' },
    body: JSON.stringify({ telephone1: '+44 20 7946 0999' }),
  });
  expect(patch.status).toBe(204);
  const phone = await syncRecord(event({ mapping: 'CUSTOMER', source: 'dataverse', recordId: dvId }), rt.syncDeps);
  expect(phone.result, phone.message).toBe('modified');
  expect(Object.keys(phone.changes ?? {})).toEqual(['phoneNumber -> telephone1']);
  const [bcAfter] = await bcGet('customers', `id eq ${bcId}`);
  expect(bcAfter?.phoneNumber).toBe('+44 20 7946 0999');
  for (const k of ['paymentTermsId', 'shipmentMethodId', 'shippingAgentCode', 'primaryContactNumber'])
    expect([k, bcAfter?.[k]]).toEqual([k, ext?.[k]]);

  // PAYMENT TERMS gets coupled: the account it was written blank on is synchronized again and gets its option.
  const termsId = String(bcBefore?.paymentTermsId);
  const terms = await syncRecord(event({ mapping: 'PAYMENT TERMS', source: 'bc', recordId: termsId, origin: 'full-sync' }), rt.syncDeps);
  expect(['inserted', 'coupled']).toContain(terms.result);
  const option = Number(terms.dataverseId);
  await until(
    'the payment terms filled in on the account',
    async () => (await dvGet(`accounts(${dvId})?${select}`)).paymenttermscode === option,
  );
  const [bcFinal] = await bcGet('customers', `id eq ${bcId}`);
  for (const k of ['paymentTermsId', 'shipmentMethodId', 'shippingAgentCode', 'primaryContactNumber'])
    expect([k, bcFinal?.[k]]).toEqual([k, ext?.[k]]);
});
