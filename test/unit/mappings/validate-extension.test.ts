import { describe, expect, it } from 'vitest';
import { BC_EXTENSION_MANIFEST, type BcExtensionManifest } from '../../../shared/bc-extension/manifest';
import { type DefaultMappingSetup, defaultMappings, type TableMapping, validateMappingsStructure } from '../../../shared/domain/mappings';

const FULL: DefaultMappingSetup = {
  ownershipModel: 'Person',
  salesIntegration: true,
  unitGroupMapping: false,
  extendedPricing: false,
  salesOrderIntegration: 'bidirectional',
};

const find = (ms: TableMapping[], name: string): TableMapping => {
  const m = ms.find((x) => x.name === name);
  if (!m) throw new Error(`no ${name}`);
  return m;
};
const extensionCodes = new Set(['bc-field-missing', 'bc-field-read-only', 'bc-extension-page-missing']);

describe('mapping validation against the BC extension manifest (generated from bc-extension/src)', () => {
  it('every default mapping set names only fields the pages declare and writes only editable ones', () => {
    for (const ownershipModel of ['Person', 'Team'] as const)
      for (const unitGroupMapping of [false, true])
        for (const extendedPricing of [false, true])
          for (const salesOrderIntegration of ['none', 'legacy', 'bidirectional'] as const) {
            const setup = { ownershipModel, salesIntegration: true, unitGroupMapping, extendedPricing, salesOrderIntegration };
            const problems = validateMappingsStructure(defaultMappings(setup)).filter((p) => extensionCodes.has(p.code));
            expect(problems, JSON.stringify(setup)).toEqual([]);
          }
  });

  it('fails a mapping that names a BC field the page lacks, with the page and its AL file', () => {
    const ms = defaultMappings(FULL);
    const agent = find(ms, 'SHIPPING AGENT');
    agent.fields.push({
      ...(agent.fields[0] as TableMapping['fields'][number]),
      bcField: 'internetAddress',
      dataverseColumn: 'address1_name',
    });
    const problems = validateMappingsStructure(ms).filter((p) => p.code === 'bc-field-missing');
    expect(problems).toEqual([
      {
        mapping: 'SHIPPING AGENT',
        field: 'internetAddress -> address1_name',
        code: 'bc-field-missing',
        message:
          "SHIPPING AGENT: field 'internetAddress' is not on the BC extension page shippingAgents (bc-extension/src/pages/ShippingAgentApi.Page.al).",
      },
    ]);
  });

  it('checks every field read through a companion page (extensionEntitySet), not only bcExtension ones', () => {
    const ms = defaultMappings(FULL);
    const customer = find(ms, 'CUSTOMER');
    // taxRegistrationNumber is on v2.0 customers but not on the extension's page the engine reads through.
    customer.fields.push({
      ...(customer.fields[2] as TableMapping['fields'][number]),
      bcField: 'taxRegistrationNumber',
      dataverseColumn: 'description',
    });
    expect(
      validateMappingsStructure(ms)
        .filter((p) => p.code === 'bc-field-missing')
        .map((p) => p.message),
    ).toEqual([
      "CUSTOMER: field 'taxRegistrationNumber' is not on the BC extension page customers (bc-extension/src/pages/CustomerApi.Page.al).",
    ]);
  });

  it('fails a mapping that writes a read-only field of the page', () => {
    const ms = defaultMappings(FULL);
    const item = find(ms, 'ITEM-PRODUCT');
    const inventory = item.fields.find((f) => f.bcField === 'inventory');
    if (!inventory) throw new Error('no inventory row');
    inventory.direction = 'Bidirectional';
    const problems = validateMappingsStructure(ms).filter((p) => p.code === 'bc-field-read-only');
    expect(problems.map((p) => p.message)).toEqual([
      "ITEM-PRODUCT: field inventory -> quantityonhand writes 'inventory', which is read-only on the BC extension page items (bc-extension/src/pages/ItemApi.Page.al); make the field mapping ToIntegrationTable or the page field editable.",
    ]);
    // The same field flowing to Dataverse only is fine.
    inventory.direction = 'ToIntegrationTable';
    expect(validateMappingsStructure(ms).filter((p) => extensionCodes.has(p.code))).toEqual([]);
  });

  it('fails a custom API mapping on an entity set the extension does not publish (or an older extension lacks)', () => {
    const ms = defaultMappings(FULL);
    const agent = find(ms, 'SHIPPING AGENT');
    agent.bc = { ...agent.bc, entitySet: 'shippingAgentServices' };
    const problems = validateMappingsStructure(ms).filter((p) => p.code === 'bc-extension-page-missing');
    expect(problems).toHaveLength(1);
    expect(problems[0]?.message).toMatch(
      /^SHIPPING AGENT: 'shippingAgentServices' is not an entity set of the BC extension \(bcsync\/integration\/v1\.0\)/,
    );

    const older: BcExtensionManifest = structuredClone(BC_EXTENSION_MANIFEST);
    delete older.entitySets.salespeoplePurchasers;
    const withOlder = validateMappingsStructure(defaultMappings(FULL), older).filter((p) => p.code === 'bc-extension-page-missing');
    expect(withOlder.map((p) => p.mapping)).toEqual(['SALESPEOPLE']);
  });

  it('fails PropagateDelete toward a page that does not allow deletes, and accepts it where the page deletes', () => {
    const ms = defaultMappings(FULL);
    const agent = find(ms, 'SHIPPING AGENT');
    agent.deletionConflictResolution = 'PropagateDelete';
    const customer = find(ms, 'CUSTOMER');
    customer.deletionConflictResolution = 'PropagateDelete';
    const problems = validateMappingsStructure(ms).filter((p) => p.code === 'bc-delete-not-allowed');
    expect(problems.map((p) => p.mapping)).toEqual(['SHIPPING AGENT']);
    expect(problems[0]?.message).toMatch(/PropagateDelete would delete BC records through the BC extension page shippingAgents/);

    const noDeletes: BcExtensionManifest = structuredClone(BC_EXTENSION_MANIFEST);
    const customers = noDeletes.entitySets.customers;
    if (!customers) throw new Error('no customers page');
    customers.deleteAllowed = false;
    const refused = validateMappingsStructure(ms, noDeletes).filter((p) => p.code === 'bc-delete-not-allowed');
    expect(refused.map((p) => p.mapping)).toEqual(['CUSTOMER', 'SHIPPING AGENT']);
  });
});
