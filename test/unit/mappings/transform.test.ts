import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyFormat,
  applyOptionMap,
  applyValueMap,
  BLANK_GUID,
  defaultMappings,
  type FieldMapping,
  type FieldMappingInput,
  FieldMappingSchema,
  type LookupResolver,
  mapRecord,
  nonNegative,
  type OptionMapTransformation,
  type TableMapping,
  transformField,
  truncate,
} from '../../../shared/domain/mappings';

/** A resolver over in-memory couplings: mapping → (BC key ⇄ Dataverse id). */
function couplingResolver(couplings: Record<string, Array<[bcKey: string, dataverseId: string]>>): {
  resolver: LookupResolver;
  calls: string[];
} {
  const calls: string[] = [];
  const resolver: LookupResolver = async (mapping, sourceId, { direction }) => {
    calls.push(`${mapping}:${direction}:${sourceId}`);
    const pairs = couplings[mapping] ?? [];
    const hit = direction === 'ToIntegrationTable' ? pairs.find(([bc]) => bc === sourceId) : pairs.find(([, dv]) => dv === sourceId);
    return hit ? (direction === 'ToIntegrationTable' ? hit[1] : hit[0]) : undefined;
  };
  return { resolver, calls };
}

const noCouplings = couplingResolver({}).resolver;
const field = (input: FieldMappingInput): FieldMapping => FieldMappingSchema.parse(input);
const mapping = (fields: FieldMapping[]): Pick<TableMapping, 'name' | 'fields'> => ({ name: 'TEST', fields });

const PAYMENT: OptionMapTransformation = {
  kind: 'optionMap',
  optionMapping: 'PAYMENT TERMS',
  map: { NET30: 1, '2%10NET30': 2 },
  bcKey: 'code',
  unmapped: 'blank',
};

describe('option map', () => {
  it('maps BC code → option value and back', () => {
    expect(applyOptionMap(PAYMENT, 'ToIntegrationTable', 'NET30')).toEqual({ value: 1 });
    expect(applyOptionMap(PAYMENT, 'FromIntegrationTable', 2)).toEqual({ value: '2%10NET30' });
  });

  it('writes an unmapped option blank (null / empty code) and reports it', () => {
    expect(applyOptionMap(PAYMENT, 'ToIntegrationTable', 'COD')).toEqual({ value: null, unmapped: 'COD' });
    expect(applyOptionMap(PAYMENT, 'FromIntegrationTable', 99)).toEqual({ value: '', unmapped: '99' });
    expect(applyOptionMap({ ...PAYMENT, bcKey: 'id' }, 'FromIntegrationTable', 99)).toEqual({ value: BLANK_GUID, unmapped: '99' });
  });

  it('blank stays blank without a warning', () => {
    expect(applyOptionMap(PAYMENT, 'ToIntegrationTable', '')).toEqual({ value: null });
    expect(applyOptionMap(PAYMENT, 'ToIntegrationTable', BLANK_GUID)).toEqual({ value: null });
    expect(applyOptionMap(PAYMENT, 'FromIntegrationTable', null)).toEqual({ value: '' });
  });

  it('run-time option couplings extend and override the static map', () => {
    expect(applyOptionMap(PAYMENT, 'ToIntegrationTable', 'COD', { COD: 100000001 })).toEqual({ value: 100000001 });
    expect(applyOptionMap(PAYMENT, 'ToIntegrationTable', 'NET30', { NET30: 7 })).toEqual({ value: 7 });
  });

  it('property: every mapped code round-trips; every unmapped code is written blank', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.string({ minLength: 1, maxLength: 10 }).map((s) => s.toUpperCase()),
          { minLength: 1, maxLength: 8 },
        ),
        fc.string({ minLength: 1, maxLength: 10 }),
        (codes, probe) => {
          const map = Object.fromEntries(codes.map((c, i) => [c, 100000000 + i]));
          const t: OptionMapTransformation = { ...PAYMENT, map };
          for (const code of codes) {
            const to = applyOptionMap(t, 'ToIntegrationTable', code);
            expect(to.unmapped).toBeUndefined();
            expect(applyOptionMap(t, 'FromIntegrationTable', to.value).value).toBe(code);
          }
          if (!Object.hasOwn(map, probe) && !Object.hasOwn(map, probe.toUpperCase()) && probe !== BLANK_GUID) {
            expect(applyOptionMap(t, 'ToIntegrationTable', probe)).toEqual({ value: null, unmapped: probe });
          }
        },
      ),
    );
  });
});

describe('value map, truncate, nonNegative, format', () => {
  const blocked = { kind: 'valueMap' as const, map: { ' ': 0, All: 1 }, unmapped: 'keep' as const };

  it('value map forwards and inverts', () => {
    expect(applyValueMap(blocked, 'ToIntegrationTable', 'All')).toEqual({ value: 1 });
    expect(applyValueMap(blocked, 'FromIntegrationTable', 0)).toEqual({ value: ' ' });
  });

  it('value map keeps or blanks unmapped values as configured', () => {
    expect(applyValueMap(blocked, 'ToIntegrationTable', 'Ship')).toEqual({ value: 'Ship', unmapped: 'Ship' });
    expect(applyValueMap({ ...blocked, unmapped: 'blank' }, 'ToIntegrationTable', 'Ship')).toEqual({ value: null, unmapped: 'Ship' });
    expect(applyValueMap({ ...blocked, unmapped: 'blank' }, 'FromIntegrationTable', 5)).toEqual({ value: null, unmapped: '5' });
  });

  it('truncate cuts text to the limit and leaves other values alone', () => {
    expect(truncate('Adatum Corporation', 6)).toBe('Adatum');
    expect(truncate('short', 6)).toBe('short');
    expect(truncate(12345678, 3)).toBe(12345678);
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 50 }), (s, n) => {
        const out = truncate(s, n) as string;
        expect(out.length).toBeLessThanOrEqual(n);
        expect(s.startsWith(out)).toBe(true);
      }),
    );
  });

  it('nonNegative forces negative numbers to 0', () => {
    expect(nonNegative(-3.5)).toBe(0);
    expect(nonNegative(4)).toBe(4);
    expect(nonNegative('x')).toBe('x');
  });

  it('format fills {value} and record fields (UnitGroup.GetCode)', () => {
    const t = { kind: 'format' as const, template: '{sourceType} {value} UOM GR', uppercase: true };
    expect(applyFormat(t, '1000', { sourceType: 'Item', sourceNo: '1000' })).toBe('ITEM 1000 UOM GR');
    expect(applyFormat({ ...t, uppercase: false }, 'x', {})).toBe(' x UOM GR');
  });
});

describe('transformField', () => {
  it('writes a constant to Dataverse in the To pass and to BC in the From pass, nothing the other way', async () => {
    const toDv = field({
      bcField: null,
      alField: null,
      dataverseColumn: 'pricingmethodcode',
      direction: 'ToIntegrationTable',
      constant: { value: 1, label: 'CurrencyAmount' },
    });
    expect(await transformField({ name: 'T' }, toDv, 'ToIntegrationTable', {}, noCouplings)).toEqual({
      write: { key: 'pricingmethodcode', value: 1 },
    });
    expect(await transformField({ name: 'T' }, toDv, 'FromIntegrationTable', {}, noCouplings)).toEqual({});
    const toBc = field({
      bcField: 'type',
      alField: 'Type',
      dataverseColumn: null,
      direction: 'FromIntegrationTable',
      constant: { value: 'Person' },
    });
    expect(await transformField({ name: 'T' }, toBc, 'FromIntegrationTable', {}, noCouplings)).toEqual({
      write: { key: 'type', value: 'Person' },
    });
  });

  it('does not write EntityName constants: they only choose the polymorphic target', async () => {
    const f = field({
      bcField: null,
      alField: null,
      dataverseColumn: 'owneridtype',
      direction: 'ToIntegrationTable',
      constant: { value: 'systemuser' },
      dataverseType: 'EntityName',
    });
    expect(await transformField({ name: 'T' }, f, 'ToIntegrationTable', {}, noCouplings)).toEqual({});
  });

  it('warns instead of writing when the source record lacks the property', async () => {
    const f = field({ bcField: 'displayName', alField: 'Name', dataverseColumn: 'name', direction: 'Bidirectional' });
    const r = await transformField({ name: 'CUSTOMER' }, f, 'ToIntegrationTable', {}, noCouplings);
    expect(r.write).toBeUndefined();
    expect(r.warning).toBe("CUSTOMER: displayName -> name: the source record has no 'displayName', nothing written.");
  });

  const contactLookup = field({
    bcField: 'primaryContactNumber',
    alField: 'Primary Contact No.',
    dataverseColumn: 'primarycontactid',
    direction: 'Bidirectional',
    transformation: { kind: 'lookup', mapping: 'CONTACT', entitySet: 'contacts' },
  });
  const { resolver: contacts } = couplingResolver({ CONTACT: [['CT100', 'c0ffee00-0000-0000-0000-000000000001']] });

  it('lookup to Dataverse binds the coupled row; back to BC returns the BC key', async () => {
    expect(
      await transformField({ name: 'CUSTOMER' }, contactLookup, 'ToIntegrationTable', { primaryContactNumber: 'CT100' }, contacts),
    ).toEqual({
      write: { key: 'primarycontactid@odata.bind', value: '/contacts(c0ffee00-0000-0000-0000-000000000001)' },
    });
    expect(
      await transformField(
        { name: 'CUSTOMER' },
        contactLookup,
        'FromIntegrationTable',
        { _primarycontactid_value: 'c0ffee00-0000-0000-0000-000000000001' },
        contacts,
      ),
    ).toEqual({ write: { key: 'primaryContactNumber', value: 'CT100' } });
  });

  it('lookup of a blank value clears the lookup', async () => {
    expect(await transformField({ name: 'C' }, contactLookup, 'ToIntegrationTable', { primaryContactNumber: '' }, contacts)).toEqual({
      write: { key: 'primarycontactid@odata.bind', value: null },
    });
    expect(await transformField({ name: 'C' }, contactLookup, 'FromIntegrationTable', { _primarycontactid_value: null }, contacts)).toEqual(
      {
        write: { key: 'primaryContactNumber', value: '' },
      },
    );
  });

  it('uncoupled lookup is reported as missing; with clearValueOnFailedSync it is blanked with a warning', async () => {
    const strict = { ...contactLookup, clearValueOnFailedSync: false };
    expect(await transformField({ name: 'C' }, strict, 'ToIntegrationTable', { primaryContactNumber: 'CT999' }, contacts)).toEqual({
      missing: { field: 'primaryContactNumber -> primarycontactid', mapping: 'CONTACT', sourceId: 'CT999' },
    });
    const lenient = { ...contactLookup, clearValueOnFailedSync: true };
    const r = await transformField({ name: 'C' }, lenient, 'ToIntegrationTable', { primaryContactNumber: 'CT999' }, contacts);
    expect(r.write).toEqual({ key: 'primarycontactid@odata.bind', value: null });
    expect(r.warning).toContain("'CT999' is not coupled in CONTACT; value cleared");
  });

  it('notNull skips the write of an empty owner', async () => {
    const owner = field({
      bcField: 'salespersonCode',
      alField: 'Salesperson Code',
      dataverseColumn: 'ownerid',
      direction: 'ToIntegrationTable',
      notNull: true,
      transformation: { kind: 'lookup', mapping: 'SALESPEOPLE', entitySet: 'systemusers' },
    });
    expect(await transformField({ name: 'C' }, owner, 'ToIntegrationTable', { salespersonCode: '' }, noCouplings)).toEqual({});
  });

  it('polymorphic lookups bind through their navigation property; alsoMappings are tried in order', async () => {
    const product = field({
      bcField: 'lineObjectNumber',
      alField: 'No.',
      dataverseColumn: 'productid',
      direction: 'Bidirectional',
      transformation: { kind: 'lookup', mapping: 'ITEM-PRODUCT', alsoMappings: ['RESOURCE-PRODUCT'], entitySet: 'products' },
    });
    const { resolver, calls } = couplingResolver({ 'RESOURCE-PRODUCT': [['LIFT', 'aaaaaaaa-0000-0000-0000-000000000002']] });
    expect(await transformField({ name: 'L' }, product, 'ToIntegrationTable', { lineObjectNumber: 'LIFT' }, resolver)).toEqual({
      write: { key: 'productid@odata.bind', value: '/products(aaaaaaaa-0000-0000-0000-000000000002)' },
    });
    expect(calls).toEqual(['ITEM-PRODUCT:ToIntegrationTable:LIFT', 'RESOURCE-PRODUCT:ToIntegrationTable:LIFT']);

    const customer = field({
      bcField: 'customerNumber',
      alField: 'Sell-to Customer No.',
      dataverseColumn: 'customerid',
      direction: 'Bidirectional',
      transformation: { kind: 'lookup', mapping: 'CUSTOMER', entitySet: 'accounts', navigationProperty: 'customerid_account' },
    });
    const { resolver: customers } = couplingResolver({ CUSTOMER: [['10000', 'bbbbbbbb-0000-0000-0000-000000000003']] });
    expect(await transformField({ name: 'O' }, customer, 'ToIntegrationTable', { customerNumber: '10000' }, customers)).toEqual({
      write: { key: 'customerid_account@odata.bind', value: '/accounts(bbbbbbbb-0000-0000-0000-000000000003)' },
    });
  });

  it('currency: blank or LCY code binds the LCY transactioncurrency; the LCY row comes back as blank', async () => {
    const f = field({
      bcField: 'currencyCode',
      alField: 'Currency Code',
      dataverseColumn: 'transactioncurrencyid',
      direction: 'Bidirectional',
      transformation: { kind: 'currency' },
    });
    const lcy = { code: 'USD', transactionCurrencyId: 'dddddddd-0000-0000-0000-00000000000d' };
    const { resolver } = couplingResolver({ CURRENCY: [['EUR', 'eeeeeeee-0000-0000-0000-00000000000e']] });
    const run = (dir: 'ToIntegrationTable' | 'FromIntegrationTable', rec: Record<string, unknown>, opts = { lcy }) =>
      transformField({ name: 'CUSTOMER' }, f, dir, rec, resolver, opts);
    expect(await run('ToIntegrationTable', { currencyCode: '' })).toEqual({
      write: { key: 'transactioncurrencyid@odata.bind', value: '/transactioncurrencies(dddddddd-0000-0000-0000-00000000000d)' },
    });
    expect(await run('ToIntegrationTable', { currencyCode: 'USD' })).toEqual({
      write: { key: 'transactioncurrencyid@odata.bind', value: '/transactioncurrencies(dddddddd-0000-0000-0000-00000000000d)' },
    });
    expect(await run('ToIntegrationTable', { currencyCode: 'EUR' })).toEqual({
      write: { key: 'transactioncurrencyid@odata.bind', value: '/transactioncurrencies(eeeeeeee-0000-0000-0000-00000000000e)' },
    });
    expect(await run('FromIntegrationTable', { _transactioncurrencyid_value: lcy.transactionCurrencyId })).toEqual({
      write: { key: 'currencyCode', value: '' },
    });
    expect(await run('FromIntegrationTable', { _transactioncurrencyid_value: 'eeeeeeee-0000-0000-0000-00000000000e' })).toEqual({
      write: { key: 'currencyCode', value: 'EUR' },
    });
    expect(await transformField({ name: 'CUSTOMER' }, f, 'ToIntegrationTable', { currencyCode: '' }, resolver)).toEqual({
      missing: { field: 'currencyCode -> transactioncurrencyid', mapping: 'CURRENCY', sourceId: '' },
    });
  });

  it('unit: item units are resolved by <item>|<code>', async () => {
    const f = field({
      bcField: 'baseUnitOfMeasureCode',
      alField: 'Base Unit of Measure',
      dataverseColumn: 'defaultuomid',
      direction: 'Bidirectional',
      transformation: { kind: 'unit', mapping: 'ITEM UOM', entitySet: 'uoms', ownerBcField: 'number' },
    });
    const { resolver } = couplingResolver({ 'ITEM UOM': [['1000|PCS', 'ffffffff-0000-0000-0000-00000000000f']] });
    expect(
      await transformField({ name: 'ITEM-PRODUCT' }, f, 'ToIntegrationTable', { number: '1000', baseUnitOfMeasureCode: 'PCS' }, resolver),
    ).toEqual({
      write: { key: 'defaultuomid@odata.bind', value: '/uoms(ffffffff-0000-0000-0000-00000000000f)' },
    });
  });

  it('a format transformation cannot run backwards', async () => {
    const f = field({
      bcField: 'sourceNo',
      alField: 'Source No.',
      dataverseColumn: 'name',
      direction: 'Bidirectional',
      transformation: { kind: 'format', template: '{value}' },
    });
    const r = await transformField({ name: 'UNIT GROUP' }, f, 'FromIntegrationTable', { name: 'x' }, noCouplings);
    expect(r.write).toBeUndefined();
    expect(r.warning).toContain('cannot be reversed');
  });
});

describe('mapRecord on the default CUSTOMER mapping', () => {
  const customer = defaultMappings({
    ownershipModel: 'Person',
    salesIntegration: false,
    unitGroupMapping: false,
    extendedPricing: false,
    salesOrderIntegration: 'none',
  }).find((m) => m.name === 'CUSTOMER') as TableMapping;

  const couplings = couplingResolver({
    SALESPEOPLE: [['PS', '11111111-1111-1111-1111-111111111111']],
    CONTACT: [['CT200', '22222222-2222-2222-2222-222222222222']],
    CURRENCY: [['EUR', '33333333-3333-3333-3333-333333333333']],
  });
  const options = {
    lcy: { code: 'USD', transactionCurrencyId: '44444444-4444-4444-4444-444444444444' },
    optionPairs: (m: string) => (m === 'PAYMENT TERMS' ? { '55555555-5555-5555-5555-555555555555': 1 } : undefined),
  };

  const bcCustomer = {
    id: 'f2a5738a-44e3-ea11-bb43-000d3a2feca1',
    number: '10000',
    displayName: 'Adatum Corporation',
    contactName: 'Robert Townes',
    addressLine1: '192 Market Square',
    addressLine2: '',
    city: 'Atlanta',
    state: 'GA',
    country: 'US',
    postalCode: '31772',
    phoneNumber: '',
    email: 'robert.townes@contoso.com',
    faxNumber: '',
    website: '',
    salespersonCode: 'PS',
    currencyCode: 'EUR',
    paymentTermsId: '55555555-5555-5555-5555-555555555555',
    shipmentMethodId: '66666666-6666-6666-6666-666666666666',
    shippingAgentCode: '',
    creditLimit: 5000,
    primaryContactNumber: 'CT200',
    mobilePhoneNumber: '555-0100',
  };

  it('BC → Dataverse: columns, binds, option values; unmapped shipment method written blank with a warning', async () => {
    const r = await mapRecord(customer, 'ToIntegrationTable', bcCustomer, couplings.resolver, options);
    expect(r.values).toEqual({
      'ownerid@odata.bind': '/systemusers(11111111-1111-1111-1111-111111111111)',
      name: 'Adatum Corporation',
      address1_primarycontactname: 'Robert Townes',
      address1_line1: '192 Market Square',
      address1_line2: '',
      address1_postalcode: '31772',
      address1_city: 'Atlanta',
      address1_country: 'US',
      address1_stateorprovince: 'GA',
      'transactioncurrencyid@odata.bind': '/transactioncurrencies(33333333-3333-3333-3333-333333333333)',
      emailaddress1: 'robert.townes@contoso.com',
      fax: '',
      websiteurl: '',
      telephone1: '',
      address1_freighttermscode: null,
      address1_shippingmethodcode: null,
      paymenttermscode: 1,
      creditlimit: 5000,
      'primarycontactid@odata.bind': '/contacts(22222222-2222-2222-2222-222222222222)',
    });
    expect(r.warnings).toEqual([
      "CUSTOMER: shipmentMethodId -> address1_freighttermscode: option '66666666-6666-6666-6666-666666666666' has no SHIPMENT METHOD mapping; written blank.",
    ]);
    expect(r.missingLookups).toEqual([]);
  });

  it('reports a salesperson that is not coupled as a missing lookup (the record must wait)', async () => {
    const r = await mapRecord(customer, 'ToIntegrationTable', { ...bcCustomer, salespersonCode: 'JO' }, couplings.resolver, options);
    expect(r.missingLookups).toEqual([{ field: 'salespersonCode -> ownerid', mapping: 'SALESPEOPLE', sourceId: 'JO' }]);
    expect(r.values).not.toHaveProperty('ownerid@odata.bind');
  });

  it('Dataverse → BC: only Bidirectional/From fields, lookups from _x_value, option value back to the BC id', async () => {
    const account = {
      accountid: '99999999-9999-9999-9999-999999999999',
      name: 'Adatum Corp.',
      address1_primarycontactname: 'R. Townes',
      address1_line1: '1 Main St',
      address1_line2: null,
      address1_postalcode: '31772',
      address1_city: 'Atlanta',
      address1_country: 'US',
      address1_stateorprovince: 'GA',
      _transactioncurrencyid_value: '44444444-4444-4444-4444-444444444444',
      emailaddress1: 'a@contoso.com',
      fax: null,
      websiteurl: null,
      telephone1: '555',
      address1_freighttermscode: null,
      address1_shippingmethodcode: 3,
      paymenttermscode: 1,
      creditlimit: 9999,
      _primarycontactid_value: '22222222-2222-2222-2222-222222222222',
      _ownerid_value: '11111111-1111-1111-1111-111111111111',
    };
    const r = await mapRecord(customer, 'FromIntegrationTable', account, couplings.resolver, options);
    expect(r.values).toEqual({
      displayName: 'Adatum Corp.',
      contactName: 'R. Townes',
      addressLine1: '1 Main St',
      addressLine2: null,
      postalCode: '31772',
      city: 'Atlanta',
      country: 'US',
      state: 'GA',
      currencyCode: '',
      email: 'a@contoso.com',
      faxNumber: null,
      website: null,
      phoneNumber: '555',
      shipmentMethodId: BLANK_GUID,
      shippingAgentCode: '',
      paymentTermsId: '55555555-5555-5555-5555-555555555555',
      primaryContactNumber: 'CT200',
    });
    expect(r.values).not.toHaveProperty('creditLimit');
    expect(r.values).not.toHaveProperty('salespersonCode');
    expect(r.warnings).toEqual([
      "CUSTOMER: shippingAgentCode -> address1_shippingmethodcode: option '3' has no SHIPPING AGENT mapping; written blank.",
    ]);
  });

  it('disabled extras are not transferred until enabled', async () => {
    const enabled = {
      ...customer,
      fields: customer.fields.map((f) => (f.dataverseColumn === 'telephone2' ? { ...f, status: 'Enabled' as const } : f)),
    };
    expect((await mapRecord(customer, 'ToIntegrationTable', bcCustomer, couplings.resolver, options)).values).not.toHaveProperty(
      'telephone2',
    );
    expect((await mapRecord(enabled, 'ToIntegrationTable', bcCustomer, couplings.resolver, options)).values).toHaveProperty(
      'telephone2',
      '555-0100',
    );
  });

  it('property: plain text fields are copied unchanged and never produce missing lookups', async () => {
    const plain = mapping(
      customer.fields.filter(
        (f) => f.transformation === undefined && f.constant === undefined && f.status === 'Enabled' && f.direction === 'Bidirectional',
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record(Object.fromEntries(plain.fields.map((f) => [f.bcField as string, fc.oneof(fc.string(), fc.constant(null))]))),
        async (rec) => {
          const to = await mapRecord(plain, 'ToIntegrationTable', rec, noCouplings);
          expect(to.missingLookups).toEqual([]);
          for (const f of plain.fields) expect(to.values[f.dataverseColumn as string]).toBe(rec[f.bcField as string]);
          const back = await mapRecord(plain, 'FromIntegrationTable', to.values, noCouplings);
          for (const f of plain.fields) expect(back.values[f.bcField as string]).toBe(rec[f.bcField as string]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
