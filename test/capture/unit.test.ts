import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBcResource } from '../../shared/capture/bc-resource';
import { plainValue, remoteExecutionContextSchema, wcfDateToIso } from '../../shared/capture/dataverse-context';
import { desiredSteps } from '../../shared/capture/dataverse-registration';
import { routeByCompany, routeByFilter } from '../../shared/capture/dataverse-webhook';
import { clientStateFor, safeEqual } from '../../shared/capture/secrets';
import { wantedResources } from '../../shared/capture/subscriptions';
import { defaultMappings } from '../../shared/domain/mappings/defaults';

const COMPANY = 'b18aed47-c385-49d2-b954-dbdf8ad71780';
const mappings = defaultMappings({
  ownershipModel: 'Person',
  salesIntegration: true,
  unitGroupMapping: true,
  extendedPricing: false,
  salesOrderIntegration: 'legacy',
});

describe('BC resource parsing (api-contracts.md D.4 samples)', () => {
  it('reads record, collection and custom API resources in every documented form', () => {
    expect(parseBcResource(`api/v2.0/companies(${COMPANY})/items(26814998-936a-401c-81c1-0e848a64971d)`)).toMatchObject({
      group: 'v2.0',
      entitySet: 'items',
      key: '26814998-936a-401c-81c1-0e848a64971d',
      canonical: `v2.0/companies(${COMPANY})/items`,
    });
    const collection = parseBcResource(
      `/api/v2.0/companies(${COMPANY})/salesInvoices?$filter=lastDateTimeModified%20gt%202018-10-15T11:00:00Z`,
    );
    expect(collection).toMatchObject({ entitySet: 'salesInvoices', modifiedSince: '2018-10-15T11:00:00Z' });
    expect(collection?.key).toBeUndefined();
    expect(parseBcResource(`/api/v2.0/companies(${COMPANY})/customers`)?.modifiedSince).toBeUndefined();
    expect(
      parseBcResource(
        `https://api.businesscentral.dynamics.com/v2.0/t/production/api/bcsync/integration/v1.0/companies(${COMPANY})/shippingAgents('DHL')`,
      ),
    ).toMatchObject({ group: 'bcsync/integration/v1.0', entitySet: 'shippingAgents', key: 'DHL' });
  });

  it('never throws and refuses anything that is not a company API resource', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const r = parseBcResource(s);
        if (r) expect(s).toContain('companies(');
      }),
      { numRuns: 2_000 },
    );
    expect(parseBcResource(`/api/v2.0/companies(${COMPANY})/customers(x)?$filter=a`)).toBeUndefined();
  });
});

describe('secrets', () => {
  it('derives a different clientState per resource and secret, and compares in constant time', () => {
    const a = clientStateFor('secret-0123456789abcdef', `v2.0/companies(${COMPANY})/customers`);
    expect(a).toBe(clientStateFor('secret-0123456789abcdef', `v2.0/companies(${COMPANY})/customers`));
    expect(a).not.toBe(clientStateFor('secret-0123456789abcdef', `v2.0/companies(${COMPANY})/vendors`));
    expect(a).not.toBe(clientStateFor('secret-0123456789abcdeF', `v2.0/companies(${COMPANY})/customers`));
    expect(safeEqual(a, a)).toBe(true);
    expect(safeEqual(`${a}x`, a)).toBe(false);
    expect(safeEqual('', a)).toBe(false);
  });
});

describe('Dataverse context', () => {
  it('decodes WCF dates and typed values', () => {
    expect(wcfDateToIso('/Date(1506384247000)/')).toBe('2017-09-26T00:04:07.000Z');
    expect(wcfDateToIso('/Date(1506409448000-0700)/')).toBe('2017-09-26T07:04:08.000Z');
    expect(wcfDateToIso('2017-09-26')).toBeUndefined();
    expect(plainValue({ __type: 'OptionSetValue:http://schemas.microsoft.com/xrm/2011/Contracts', Value: 3 })).toBe(3);
    expect(plainValue({ Id: 'ABC', LogicalName: 'systemuser' })).toBe('abc');
  });

  const context = (images: Array<[string, unknown]>, target: Array<[string, unknown]> = []) =>
    remoteExecutionContextSchema.parse({
      MessageName: 'Update',
      PrimaryEntityName: 'account',
      PrimaryEntityId: '6d81597f-0f9f-e711-8122-000d3aa2331c',
      InitiatingUserId: '75c2dd85-e89e-e711-8122-000d3aa2331c',
      UserId: '75c2dd85-e89e-e711-8122-000d3aa2331c',
      InputParameters: [{ key: 'Target', value: { Attributes: target.map(([key, value]) => ({ key, value })), LogicalName: 'account' } }],
      PostEntityImages: [
        { key: 'PostImage', value: { Attributes: images.map(([key, value]) => ({ key, value })), LogicalName: 'account' } },
      ],
    });
  const accounts = mappings.filter((m) => m.dataverse.entityLogicalName === 'account' && !m.optionMapping);
  const names = (ms: typeof accounts) => ms.map((m) => m.name);
  const option = (v: number) => ({ __type: 'OptionSetValue:http://schemas.microsoft.com/xrm/2011/Contracts', Value: v });

  it('routes account changes by customertypecode, and to both mappings when the type is unknown', () => {
    expect(names(accounts)).toEqual(['CUSTOMER', 'VENDOR']);
    expect(names(routeByFilter(context([], [['customertypecode', option(3)]]), accounts))).toEqual(['CUSTOMER']);
    expect(names(routeByFilter(context([['customertypecode', option(11)]]), accounts))).toEqual(['VENDOR']);
    expect(names(routeByFilter(context([['customertypecode', option(1)]]), accounts))).toEqual([]);
    expect(names(routeByFilter(context([['name', 'x']]), accounts))).toEqual(['CUSTOMER', 'VENDOR']);
    // A shared clause (statecode eq 0) does not route: a deactivation still reaches the handlers.
    expect(names(routeByFilter(context([['statecode', option(1)]]), accounts))).toEqual(['CUSTOMER', 'VENDOR']);
  });

  it('multi-company: a row of another company reaches no mapping with the company clause; own, none or unknown do', () => {
    const ours = '11111111-2222-4333-8444-555555555555';
    const ref = (id: string) => ({
      __type: 'EntityReference:http://schemas.microsoft.com/xrm/2011/Contracts',
      Id: id.toUpperCase(),
      LogicalName: 'bcbi_company',
    });
    const other = ref('99999999-2222-4333-8444-555555555555');
    expect(names(routeByCompany(context([['bcbi_companyid', other]]), accounts, ours))).toEqual([]);
    expect(names(routeByCompany(context([['bcbi_companyid', ref(ours)]]), accounts, ours))).toEqual(['CUSTOMER', 'VENDOR']);
    expect(names(routeByCompany(context([['bcbi_companyid', null]]), accounts, ours))).toEqual(['CUSTOMER', 'VENDOR']);
    expect(names(routeByCompany(context([['name', 'x']]), accounts, ours))).toEqual(['CUSTOMER', 'VENDOR']);
    // Moved from this company to another: the Target says other, the image still says ours.
    expect(names(routeByCompany(context([['bcbi_companyid', ref(ours)]], [['bcbi_companyid', other]]), accounts, ours))).toEqual([
      'CUSTOMER',
      'VENDOR',
    ]);
    // One installation routes as before.
    expect(names(routeByCompany(context([['bcbi_companyid', other]]), accounts, undefined))).toEqual(['CUSTOMER', 'VENDOR']);
  });
});

describe('what gets registered and subscribed', () => {
  it('registers Create/Update/Delete per webhook table, filtering Update on mapped and filter columns', () => {
    const steps = desiredSteps(mappings);
    const update = steps.find((s) => s.name === 'bc-dataverse-sync: Update of account');
    const cols = update?.filteringAttributes.split(',') ?? [];
    for (const c of ['name', 'telephone1', 'customertypecode', 'statecode', 'bcbi_companyid']) expect(cols).toContain(c);
    expect(cols).not.toContain('parentcustomerid_account');
    expect(steps.find((s) => s.name === 'bc-dataverse-sync: Delete of account')?.filteringAttributes).toBe('');
    // Images carry what routes account changes to CUSTOMER or VENDOR; contact (one mapping) needs none.
    expect(update?.image).toEqual({ imageType: 1, alias: 'PostImage', messagePropertyName: 'Target', attributes: 'customertypecode' });
    expect(steps.find((s) => s.name === 'bc-dataverse-sync: Delete of account')?.image).toMatchObject({
      imageType: 0,
      messagePropertyName: 'Target',
    });
    expect(steps.find((s) => s.name === 'bc-dataverse-sync: Update of contact')?.image).toBeUndefined();
    // Multi-company: steps named after the installation, images carrying the company where the filter tests it.
    const multi = desiredSteps(mappings, 'Company A');
    expect(multi.find((s) => s.name === 'bc-dataverse-sync (Company A): Update of contact')?.image?.attributes).toBe('bcbi_companyid');
    expect(multi.find((s) => s.name === 'bc-dataverse-sync (Company A): Update of account')?.image?.attributes).toBe(
      'bcbi_companyid,customertypecode',
    );
    // Option-set mappings (PAYMENT TERMS on account) add no steps of their own; polled tables get none.
    expect(new Set(steps.map((s) => s.table)).has('account')).toBe(true);
    expect(steps.filter((s) => s.table === 'account')).toHaveLength(3);
  });

  it('subscribes webhook-captured API resources once each, never polled or OData pages', () => {
    const wanted = wantedResources(mappings, COMPANY, 'bcsync/integration/v1.0');
    const sets = wanted.map((w) => w.entitySet);
    expect(sets).toContain('customers');
    expect(sets).toContain('shippingAgents');
    expect(sets).not.toContain('contacts');
    expect(new Set(sets).size).toBe(sets.length);
    expect(wanted.find((w) => w.entitySet === 'customers')?.resource).toBe(`/api/v2.0/companies(${COMPANY})/customers`);
  });
});
