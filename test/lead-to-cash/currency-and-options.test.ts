import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoIds } from '../../dev/dataverse-simulator';
import { syncRecord } from '../../shared/domain/sync/sync-record';
import { refreshCurrencyRates } from '../../shared/lead-to-cash/currency-rates';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { type Stack, startStack } from '../support/stack';
import { until } from '../support/until';
import { harness } from './harness';

/**
 * Issue 17: a currency reaches Dataverse with BC's exchange rate and a precision (both SystemRequired) and follows
 * BC's rate changes; a new payment term becomes an option of account's set and of the documents' own sets, so an
 * order or invoice can carry it.
 */
describe('currencies and option sets as a real Sales org takes them', () => {
  let stack: Stack;
  let rt: Runtime;
  const h = harness(
    () => stack,
    () => rt,
  );
  beforeAll(async () => {
    stack = await startStack({ functions: ['sync'] });
    rt = await getRuntime();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** A change made by a BC user (the exchange-rate and shipping-agent pages are read-only to the API). */
  const asBcUser = async (group: string, entitySet: string, body: Record<string, unknown>) => {
    const res = await fetch(`${stack.bc.url}/_sim/as-user`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ method: 'POST', group, entitySet, body }),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as Record<string, unknown>;
  };
  const optionValues = async (entity: string, column: string) => {
    const body = await h.dvGet(
      `EntityDefinitions(LogicalName='${entity}')/Attributes(LogicalName='${column}')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet`,
    );
    const set = body.OptionSet as { Options: Array<{ Value: number; Label: { UserLocalizedLabel: { Label: string } } }> };
    return set.Options.map((o) => [o.Value, o.Label.UserLocalizedLabel.Label] as const);
  };

  it('creates a currency with exchange rate and precision, and a BC rate change reaches Dataverse', async () => {
    const eur = await h.bcOne('currencies', "code eq 'EUR'");
    const outcome = await syncRecord(h.event({ mapping: 'CURRENCY', source: 'bc', recordId: String(eur.id) }), rt.syncDeps);
    expect(['inserted', 'coupled'], outcome.message).toContain(outcome.result);
    const row = () =>
      h.dvGet(`transactioncurrencies(${String(outcome.dataverseId)})?$select=exchangerate,currencyprecision,isocurrencycode`);
    expect(await row()).toMatchObject({ isocurrencycode: 'EUR', exchangerate: 0.92, currencyprecision: 2 });
    // Nothing changed in BC: the job queues nothing.
    expect(await refreshCurrencyRates(rt.syncDeps)).toEqual({ coupled: 1, changed: 0 });
    // A new rate from today on (BC's currency record itself does not change).
    await asBcUser('v2.0', 'currencyExchangeRates', {
      currencyCode: 'EUR',
      startingDate: new Date().toISOString().slice(0, 10),
      exchangeRateAmount: 0.95,
      relationalExchangeRateAmount: 1,
    });
    expect(await refreshCurrencyRates(rt.syncDeps)).toEqual({ coupled: 1, changed: 1 });
    await until('the new EUR rate in Dataverse', async () => (await row()).exchangerate === 0.95);
  });

  const OPTION_CASES = [
    {
      mapping: 'PAYMENT TERMS',
      set: 'paymentTerms',
      custom: false,
      body: { code: '21 DAYS', displayName: 'Net 21 days', dueDateCalculation: '21D' },
      account: 'paymenttermscode',
      document: 'paymenttermscode',
    },
    {
      mapping: 'SHIPMENT METHOD',
      set: 'shipmentMethods',
      custom: false,
      body: { code: 'DDP', displayName: 'Delivered Duty Paid' },
      account: 'address1_freighttermscode',
      document: 'freighttermscode',
    },
    {
      mapping: 'SHIPPING AGENT',
      set: 'shippingAgents',
      custom: true,
      body: { code: 'TNT', name: 'TNT Express' },
      account: 'address1_shippingmethodcode',
      document: 'shippingmethodcode',
    },
  ] as const;
  for (const c of OPTION_CASES) {
    it(`a new ${c.mapping} code is appended to account's ${c.account} and to the salesorder, quote and invoice ${c.document} sets, with one value`, async () => {
      const record = c.custom ? await asBcUser('bcsync/integration/v1.0', c.set, c.body) : await h.bcPost(c.set, c.body, false);
      const outcome = await syncRecord(h.event({ mapping: c.mapping, source: 'bc', recordId: String(record.id) }), rt.syncDeps);
      expect(outcome.result, outcome.message).toBe('inserted');
      const value = Number(outcome.dataverseId);
      expect(await optionValues('account', c.account)).toContainEqual([value, c.body.code]);
      for (const entity of ['salesorder', 'quote', 'invoice']) {
        expect(await optionValues(entity, c.document), entity).toContainEqual([value, c.body.code]);
      }
      // Sales can now put it on an order (out of range before: salesorder's column has a set of its own).
      await h.dvWrite('POST', 'salesorders', {
        name: `${c.mapping} order`,
        [c.document]: value,
        'customerid_account@odata.bind': `/accounts(${DemoIds.account(1)})`,
      });
    });
  }
});
