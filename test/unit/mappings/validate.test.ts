import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type DefaultMappingSetup,
  defaultMappings,
  dependencyOrder,
  MappingDocumentSchema,
  type MappingMetadataPort,
  queueNameFor,
  type TableMapping,
  validateMappings,
  validateMappingsStructure,
} from '../../../shared/domain/mappings';
import { MAPPING_SCHEMA_PATH, mappingJsonSchemaText } from '../../../shared/domain/mappings/export-schema';

const PERSON: DefaultMappingSetup = {
  ownershipModel: 'Person',
  salesIntegration: true,
  unitGroupMapping: false,
  extendedPricing: false,
  salesOrderIntegration: 'legacy',
};

const ALL_SETUPS: DefaultMappingSetup[] = [];
for (const ownershipModel of ['Person', 'Team'] as const)
  for (const salesIntegration of [false, true])
    for (const unitGroupMapping of [false, true])
      for (const extendedPricing of [false, true])
        for (const salesOrderIntegration of ['none', 'legacy', 'bidirectional'] as const)
          ALL_SETUPS.push({ ownershipModel, salesIntegration, unitGroupMapping, extendedPricing, salesOrderIntegration });

const clone = (ms: TableMapping[]): TableMapping[] => structuredClone(ms);
const named = (ms: TableMapping[], name: string) => ms.find((m) => m.name === name) as TableMapping;

describe('validateMappings: structure', () => {
  it('every default setup is valid', () => {
    for (const setup of ALL_SETUPS)
      expect({ setup, problems: validateMappingsStructure(defaultMappings(setup)) }).toEqual({ setup, problems: [] });
  });

  it('refuses a bidirectional option mapping with BC message', () => {
    const ms = clone(defaultMappings(PERSON));
    named(ms, 'PAYMENT TERMS').direction = 'Bidirectional';
    expect(validateMappingsStructure(ms)).toContainEqual({
      mapping: 'PAYMENT TERMS',
      code: 'option-bidirectional',
      message: 'PAYMENT TERMS: Option mappings can only synchronize from integration table or to integration table.',
    });
  });

  it('a direction needs at least one enabled field in that direction', () => {
    const ms = clone(defaultMappings(PERSON));
    named(ms, 'CURRENCY').direction = 'Bidirectional';
    expect(validateMappingsStructure(ms)).toContainEqual({
      mapping: 'CURRENCY',
      code: 'direction-without-fields',
      message: 'CURRENCY: direction Bidirectional needs at least one enabled field mapping that flows FromIntegrationTable.',
    });
    const ms2 = clone(defaultMappings(PERSON));
    for (const f of named(ms2, 'SALESPEOPLE').fields) f.status = 'Disabled';
    expect(validateMappingsStructure(ms2).map((p) => p.code)).toContain('direction-without-fields');
  });

  it("a field's direction must be one the table runs (BC's SHIPMENT METHOD as created)", () => {
    const ms = clone(defaultMappings(PERSON));
    const field = named(ms, 'SHIPMENT METHOD').fields[0];
    if (!field) throw new Error('no field');
    field.direction = 'FromIntegrationTable';
    expect(validateMappingsStructure(ms)).toContainEqual({
      mapping: 'SHIPMENT METHOD',
      field: 'code -> address1_freighttermscode',
      code: 'field-direction',
      message:
        'SHIPMENT METHOD: field code -> address1_freighttermscode has direction FromIntegrationTable, which the table direction ToIntegrationTable never runs.',
    });
  });

  it('names the field for schema errors', () => {
    const ms = clone(defaultMappings(PERSON)) as unknown as Array<Record<string, unknown>>;
    const customer = ms[1] as { fields: Array<Record<string, unknown>> };
    (customer.fields[2] as Record<string, unknown>).direction = 'Sideways';
    const problems = validateMappingsStructure(ms);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ mapping: 'CUSTOMER', field: 'displayName -> name', code: 'schema' });
    expect(problems[0]?.message).toContain('CUSTOMER: fields.2.direction:');
  });

  it('dependencies must exist and be acyclic', () => {
    const ms = clone(defaultMappings(PERSON));
    named(ms, 'CURRENCY').dependencies = ['CONTACT'];
    named(ms, 'CONTACT').dependencies.push('NOPE');
    const problems = validateMappingsStructure(ms);
    expect(problems).toContainEqual({
      mapping: 'CONTACT',
      code: 'dependency-missing',
      message: "CONTACT: dependency 'NOPE' does not exist.",
    });
    const cycle = problems.find((p) => p.code === 'dependency-cycle');
    expect(cycle?.message).toMatch(/^Dependency cycle: .*CURRENCY.*CONTACT|^Dependency cycle: .*CONTACT.*CURRENCY/);
    expect(() => dependencyOrder(ms)).toThrow(/Dependency cycle among mappings: .*CURRENCY/);
  });

  it('lookups must point at existing mappings with the same entity set', () => {
    const ms = clone(defaultMappings({ ...PERSON, ownershipModel: 'Team' }));
    // Re-adding an owner row under Team: SALESPEOPLE does not exist there.
    const customer = named(ms, 'CUSTOMER');
    customer.fields.push({
      ...(named(clone(defaultMappings(PERSON)), 'CUSTOMER').fields[1] as TableMapping['fields'][number]),
      onlyForOwnership: undefined,
    });
    const contactLookup = customer.fields.find((f) => f.dataverseColumn === 'primarycontactid');
    if (contactLookup?.transformation?.kind === 'lookup') contactLookup.transformation.entitySet = 'accounts';
    const problems = validateMappingsStructure(ms);
    expect(problems).toContainEqual({
      mapping: 'CUSTOMER',
      field: 'salespersonCode -> ownerid',
      code: 'lookup-missing',
      message: "CUSTOMER: field salespersonCode -> ownerid refers to mapping 'SALESPEOPLE', which does not exist.",
    });
    expect(problems).toContainEqual({
      mapping: 'CUSTOMER',
      field: 'primaryContactNumber -> primarycontactid',
      code: 'lookup-entity-set',
      message: "CUSTOMER: field primaryContactNumber -> primarycontactid binds to 'accounts' but mapping 'CONTACT' syncs 'contacts'.",
    });
  });

  it('field shape: constants replace one side, clear and notNull exclude each other, extension fields need the page', () => {
    const ms = clone(defaultMappings(PERSON));
    const c = named(ms, 'CUSTOMER');
    const pc = c.fields.find((f) => f.dataverseColumn === 'primarycontactid');
    if (!pc) throw new Error('no primary contact');
    pc.notNull = true;
    delete c.bc.extensionEntitySet;
    const codes = validateMappingsStructure(ms).filter((p) => p.mapping === 'CUSTOMER');
    expect(codes).toContainEqual({
      mapping: 'CUSTOMER',
      field: 'primaryContactNumber -> primarycontactid',
      code: 'field-shape',
      message: 'CUSTOMER: field primaryContactNumber -> primarycontactid cannot have both clearValueOnFailedSync and notNull.',
    });
    expect(codes.filter((p) => p.code === 'extension-missing').map((p) => p.field)).toEqual([
      'contactName -> address1_primarycontactname',
      'faxNumber -> fax',
      'shippingAgentCode -> address1_shippingmethodcode',
      'primaryContactNumber -> primarycontactid',
      'mobilePhoneNumber -> telephone2',
    ]);
  });

  it('SALESPEOPLE never creates new records on match-based coupling; match fields must be mapped', () => {
    const ms = clone(defaultMappings(PERSON));
    named(ms, 'SALESPEOPLE').couplingRules.createNewIfNoMatch = true;
    named(ms, 'CURRENCY').couplingRules.matchFields.push({
      bcField: 'symbol',
      dataverseColumn: 'isocurrencycode',
      priority: 1,
      caseSensitive: false,
    });
    const codes = validateMappingsStructure(ms).map((p) => `${p.mapping}:${p.code}`);
    expect(codes).toEqual(['SALESPEOPLE:coupling-rule', 'CURRENCY:coupling-rule']);
  });

  it('duplicate names are refused', () => {
    const ms = defaultMappings(PERSON);
    expect(validateMappingsStructure([...ms, ...defaultMappings(PERSON).slice(1, 2)])).toContainEqual({
      mapping: 'CUSTOMER',
      code: 'duplicate-name',
      message: "Mapping 'CUSTOMER' is defined more than once.",
    });
  });
});

/** Metadata as the simulators would answer it, built from the defaults so that only deliberate changes fail. */
function metadataFrom(mappings: TableMapping[], overrides: { dropColumn?: [string, string]; retype?: [string, string, string] } = {}) {
  const dv = new Map<string, { type: string; options?: number[] }>();
  const bc = new Map<string, { type: string }>();
  for (const m of mappings) {
    for (const f of m.fields) {
      if (f.dataverseColumn) {
        const t = f.transformation?.kind;
        const type = m.optionMapping
          ? 'Picklist'
          : (f.dataverseType ??
            (t === 'lookup' || t === 'currency' || t === 'unit'
              ? 'Lookup'
              : t === 'optionMap'
                ? 'Picklist'
                : typeof f.constant?.value === 'number'
                  ? 'Picklist'
                  : 'String'));
        dv.set(`${m.dataverse.entityLogicalName}.${f.dataverseColumn}`, type === 'Picklist' ? { type, options: [1, 2, 3] } : { type });
      }
      if (f.bcField) {
        const set = f.bcExtension ? (m.bc.extensionEntitySet as string) : m.bc.entitySet;
        bc.set(`${set}.${f.bcField}`, {
          type: f.transformation?.kind === 'optionMap' && f.bcField.endsWith('Id') ? 'Edm.Guid' : 'Edm.String',
        });
      }
    }
  }
  if (overrides.dropColumn) dv.delete(overrides.dropColumn.join('.'));
  if (overrides.retype) dv.set(`${overrides.retype[0]}.${overrides.retype[1]}`, { type: overrides.retype[2] });
  const port: MappingMetadataPort = {
    dataverseColumn: async (entity, column) => dv.get(`${entity}.${column}`),
    bcField: async (entitySet, field) => bc.get(`${entitySet}.${field}`),
  };
  return port;
}

describe('validateMappings: metadata', () => {
  const defaults = defaultMappings({ ...PERSON, salesOrderIntegration: 'bidirectional' });

  it('defaults pass against matching metadata', async () => {
    expect(await validateMappings(defaults, metadataFrom(defaults))).toEqual([]);
  });

  it("a column the metadata doesn't have is refused with a message naming it", async () => {
    const ms = clone(defaults);
    const customer = named(ms, 'CUSTOMER');
    customer.fields.push({ ...(customer.fields[2] as TableMapping['fields'][number]), dataverseColumn: 'foo' });
    const problems = await validateMappings(ms, metadataFrom(defaults));
    expect(problems).toEqual([
      {
        mapping: 'CUSTOMER',
        field: 'displayName -> foo',
        code: 'column-missing',
        message: "CUSTOMER: column 'foo' does not exist on account.",
      },
    ]);
  });

  it('a BC field missing on the page is refused', async () => {
    const ms = clone(defaults);
    const f = named(ms, 'CURRENCY').fields[1];
    if (!f) throw new Error('no field');
    f.bcField = 'currencySymbol';
    expect(await validateMappings(ms, metadataFrom(defaults))).toEqual([
      {
        mapping: 'CURRENCY',
        field: 'currencySymbol -> currencysymbol',
        code: 'bc-field-missing',
        message: "CURRENCY: field 'currencySymbol' does not exist on BC currencies.",
      },
    ]);
  });

  it('incompatible types are refused', async () => {
    const problems = await validateMappings(defaults, metadataFrom(defaults, { retype: ['account', 'primarycontactid', 'String'] }));
    expect(problems).toEqual([
      {
        mapping: 'CUSTOMER',
        field: 'primaryContactNumber -> primarycontactid',
        code: 'type-mismatch',
        message:
          'CUSTOMER: field primaryContactNumber -> primarycontactid: a lookup needs a Lookup/Customer/Owner column, found text (BC Edm.String, Dataverse String).',
      },
      {
        mapping: 'VENDOR',
        field: 'primaryContactNumber -> primarycontactid',
        code: 'type-mismatch',
        message:
          'VENDOR: field primaryContactNumber -> primarycontactid: a lookup needs a Lookup/Customer/Owner column, found text (BC Edm.String, Dataverse String).',
      },
    ]);
    const dropped = await validateMappings(defaults, metadataFrom(defaults, { dropColumn: ['contact', 'pager'] }));
    expect(dropped.map((p) => p.message)).toEqual(["CONTACT: column 'pager' does not exist on contact."]);
  });

  it('option values must exist in the option set', async () => {
    const ms = clone(defaults);
    const f = named(ms, 'CUSTOMER').fields.find((x) => x.dataverseColumn === 'paymenttermscode');
    if (f?.transformation?.kind !== 'optionMap') throw new Error('no option map');
    f.transformation.map = { NET30: 1, COD: 42 };
    expect((await validateMappings(ms, metadataFrom(defaults))).map((p) => p.message)).toEqual([
      'CUSTOMER: option value 42 does not exist in account.paymenttermscode.',
    ]);
  });
});

describe('dependencyOrder', () => {
  it('orders the Person / Sales / bidirectional defaults in BC full-sync waves, lines left out', () => {
    expect(
      dependencyOrder(
        defaultMappings({ ...PERSON, salesOrderIntegration: 'bidirectional', unitGroupMapping: true, extendedPricing: true }),
      ),
    ).toEqual([
      ['SALESPEOPLE', 'CURRENCY', 'PAYMENT TERMS', 'SHIPMENT METHOD', 'SHIPPING AGENT', 'UNIT GROUP'],
      ['CUSTOMER', 'VENDOR', 'ITEM UOM', 'RESOURCE UOM'],
      ['CONTACT', 'ITEM-PRODUCT', 'RESOURCE-PRODUCT'],
      ['PLHEADER-PRICE', 'OPPORTUNITY'],
      ['PLLINE-PRODPRICE', 'POSTEDSALESINV-INV', 'SALESORDER-ORDER'],
    ]);
  });

  it('every dependency comes in an earlier stage, for every setup', () => {
    for (const setup of ALL_SETUPS) {
      const ms = defaultMappings(setup);
      const stageOf = new Map(dependencyOrder(ms).flatMap((stage, i) => stage.map((n) => [n, i] as const)));
      for (const m of ms.filter((x) => x.parent === undefined)) {
        for (const d of m.dependencies) expect((stageOf.get(d) ?? -1) < (stageOf.get(m.name) ?? -1)).toBe(true);
      }
    }
  });

  it('skips disabled mappings and ignores dependencies on them', () => {
    const ms = clone(defaultMappings({ ...PERSON, salesIntegration: false }));
    named(ms, 'SALESPEOPLE').enabled = false;
    expect(dependencyOrder(ms)).toEqual([
      ['CURRENCY', 'PAYMENT TERMS', 'SHIPMENT METHOD', 'SHIPPING AGENT'],
      ['CUSTOMER', 'VENDOR'],
      ['CONTACT'],
    ]);
  });
});

describe('queue names', () => {
  it('derives the Service Bus queue from the mapping name', () => {
    expect(queueNameFor('CUSTOMER')).toBe('sync-customer');
    expect(queueNameFor('PAYMENT TERMS')).toBe('sync-payment-terms');
    expect(queueNameFor('ITEM-PRODUCT')).toBe('sync-item-product');
    expect(queueNameFor('Sales Order / Lines')).toBe('sync-sales-order-lines');
    expect(() => queueNameFor('--')).toThrow(/no letters or digits/);
  });

  it('line mappings use their header queue', () => {
    const ms = defaultMappings({ ...PERSON, salesOrderIntegration: 'bidirectional' });
    expect(named(ms, 'SOLINE-ORDERDETAIL').queueName).toBe('sync-salesorder-order');
    expect(named(ms, 'POSTEDSALESLINE-INV').queueName).toBe('sync-postedsalesinv-inv');
  });
});

describe('JSON Schema export', () => {
  it('the committed schemas/mapping.schema.json equals the generated one', () => {
    const committed = readFileSync(resolve(__dirname, '../../..', MAPPING_SCHEMA_PATH), 'utf8');
    expect(committed).toBe(mappingJsonSchemaText());
  });

  it('a default document parses, survives JSON and equals itself after a round trip', () => {
    const doc = { mappings: defaultMappings({ ...PERSON, salesOrderIntegration: 'bidirectional' }) };
    const reparsed = MappingDocumentSchema.parse(JSON.parse(JSON.stringify(doc)));
    expect(reparsed).toEqual(doc);
  });

  it('the schema names the enums an editor should offer', () => {
    const text = mappingJsonSchemaText();
    for (const word of ['"Bidirectional"', '"FieldMerge"', '"PropagateDelete"', '"optionMap"', '"lookup"', '"truncate"', '"customApi"'])
      expect(text).toContain(word);
  });
});
