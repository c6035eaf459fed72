import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAl } from '../../../shared/bc-extension/al';
import { type AlSource, checkExtension } from '../../../shared/bc-extension/check';
import { readAlSources, readAppJson, readBaseAppFields, repositoryRoot } from '../../../shared/bc-extension/files';
import { generateManifestText } from '../../../shared/bc-extension/generate';
import { BC_EXTENSION_MANIFEST } from '../../../shared/bc-extension/manifest';

const root = repositoryRoot(__dirname);
const sources = readAlSources(root);
const app = readAppJson(root);
const facts = readBaseAppFields(root);

/** The extension with one file's text changed (re-parsed, so the change goes through the reader too). */
function withEdit(file: string, edit: (text: string) => string): AlSource[] {
  return sources.map((s) => {
    if (!s.file.endsWith(file)) return s;
    const text = edit(s.text);
    expect(text).not.toBe(s.text);
    return { ...s, text, objects: parseAl(text, s.file) };
  });
}
const messages = (s: AlSource[]) => checkExtension(s, app, facts).map((p) => `${p.file}:${p.line}: ${p.message}`);

describe('structural check of bc-extension/src (stands in for the AL compiler)', () => {
  it('passes for the extension as committed', () => {
    expect(sources.length).toBeGreaterThanOrEqual(20);
    expect(messages(sources)).toEqual([]);
  });

  it('names the facts source: the base-application fields come from microsoft/BCApps at a named commit', () => {
    expect(facts.source).toMatch(/microsoft\/BCApps at commit [0-9a-f]{40}/);
  });

  it('fails for a field the source table does not declare', () => {
    const out = messages(withEdit('CustomerApi.Page.al', (t) => t.replace('Rec."Fax No."', 'Rec."Fax Number"')));
    expect(out).toEqual([
      expect.stringMatching(/CustomerApi\.Page\.al:\d+: .*faxNumber binds Rec\."Fax Number", which table "Customer" does not declare/),
    ]);
  });

  it('fails for a duplicate object id, an id outside idRanges, and a clashing table-extension field', () => {
    expect(messages(withEdit('VendorApi.Page.al', (t) => t.replace('page 50101', 'page 50100')))).toContainEqual(
      expect.stringMatching(
        /page 50100 "BCS Customer API" clashes with .*VendorApi|page 50100 "BCS Vendor API" clashes with .*CustomerApi/,
      ),
    );
    expect(messages(withEdit('VendorApi.Page.al', (t) => t.replace('page 50101', 'page 60101')))).toContainEqual(
      expect.stringMatching(/page 60101 "BCS Vendor API" is outside app.json idRanges/),
    );
    expect(messages(withEdit('SalesLine.TableExt.al', (t) => t.replace('"BCS Document Id"; Guid', '"Document No."; Guid')))).toContainEqual(
      expect.stringMatching(/field "Document No." already exists in "Sales Line"/),
    );
  });

  it('fails for a missing API property, a duplicate field name, a wrong id binding and a page without the v2.0 comment', () => {
    expect(messages(withEdit('ItemApi.Page.al', (t) => t.replace("    APIGroup = 'integration';\n", '')))).toContainEqual(
      expect.stringMatching(/API page "BCS Item API" has no apigroup property/),
    );
    expect(messages(withEdit('ItemApi.Page.al', (t) => t.replace('field(unitCost;', 'field(unitPrice;')))).toContainEqual(
      expect.stringMatching(/field name unitPrice is used twice/),
    );
    expect(messages(withEdit('ItemApi.Page.al', (t) => t.replace('field(id; Rec.SystemId)', 'field(id; Rec."No.")')))).toContainEqual(
      expect.stringMatching(/field id must bind the ODataKeyFields field \(SystemId\)/),
    );
    expect(messages(withEdit('ItemApi.Page.al', (t) => t.replace(/^\/\/.*\n/, '')))).toContainEqual(
      expect.stringMatching(/needs a leading comment saying why API v2.0 does not suffice/),
    );
    expect(messages(withEdit('ItemApi.Page.al', (t) => t.replace('    DelayedInsert = true;\n', '')))).toContainEqual(
      expect.stringMatching(/allows inserts but not DelayedInsert = true/),
    );
  });

  it('fails for a field named in code that the record does not have (field access and field arguments)', () => {
    const access = messages(
      withEdit('IntegrationEvents.Codeunit.al', (t) =>
        t.replace('SalesInvoiceHeader."Draft Invoice SystemId"', 'SalesInvoiceHeader."Draft Invoice Id"'),
      ),
    );
    expect(access).toContainEqual(
      expect.stringMatching(
        /IntegrationEvents\.Codeunit\.al:\d+: SalesInvoiceHeader\."Draft Invoice Id" is not a field of table "Sales Invoice Header"/,
      ),
    );
    const argument = messages(
      withEdit('SalesOrderApi.Page.al', (t) =>
        t.replace('Rec.Validate("Payment Terms Code", \'\')', 'Rec.Validate("Payment Term Code", \'\')'),
      ),
    );
    expect(argument).toEqual([
      expect.stringMatching(/SalesOrderApi\.Page\.al:\d+: Rec\."Payment Term Code" is not a field of table "Sales Header"/),
    ]);
  });

  it('fails for an object name longer than AL allows', () => {
    expect(
      messages(withEdit('ItemApi.Page.al', (t) => t.replace('"BCS Item API"', '"BCS Item API for the Dataverse sync"'))),
    ).toContainEqual(expect.stringMatching(/page name "BCS Item API for the Dataverse sync" is longer than 30 characters/));
  });

  it('fails when the permission set does not cover a page', () => {
    const out = messages(
      withEdit('BcsIntegration.PermissionSet.al', (t) =>
        t.replace('        page "BCS Item API" = X,\n', '').replace('tabledata Item = RIM', 'tabledata Item = R'),
      ),
    );
    expect(out).toContainEqual(expect.stringMatching(/no permission set grants page "BCS Item API" = X/));
    expect(out).toContainEqual(expect.stringMatching(/no permission set grants tabledata "Item" = I, which page "BCS Item API" needs/));
  });
});

describe('manifest', () => {
  it('the committed shared/bc-extension/manifest.json is what the AL declares (npm run build regenerates it)', () => {
    expect(readFileSync(join(root, 'shared', 'bc-extension', 'manifest.json'), 'utf8')).toBe(generateManifestText(root));
  });

  it('docs/bc-extension.md lists every page and field of the manifest', () => {
    const doc = readFileSync(join(root, 'docs', 'bc-extension.md'), 'utf8');
    for (const [set, page] of Object.entries(BC_EXTENSION_MANIFEST.entitySets)) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${set}\` |`));
      expect(row, set).toBeDefined();
      for (const f of page.fields.filter((x) => x.name !== 'id' && x.name !== 'lastModifiedDateTime'))
        expect(row, `${set}.${f.name}`).toContain(f.editable ? `**${f.name}**←` : ` ${f.name}←`);
    }
  });

  it('describes every API page: route, keys, editability, parts and actions', () => {
    const m = BC_EXTENSION_MANIFEST;
    expect(m.route).toBe('bcsync/integration/v1.0');
    expect(Object.keys(m.entitySets).sort()).toEqual(
      [
        'contactBusinessRelations',
        'contacts',
        'customerPriceGroups',
        'customers',
        'itemUnitsOfMeasure',
        'items',
        'opportunities',
        'postedSalesInvoiceLines',
        'postedSalesInvoices',
        'priceListHeaders',
        'priceListLines',
        'resourceUnitsOfMeasure',
        'resources',
        'salesOrderLines',
        'salesOrders',
        'salesPrices',
        'salespeoplePurchasers',
        'shippingAgents',
        'unitGroups',
        'vendors',
      ].sort(),
    );
    for (const [set, page] of Object.entries(m.entitySets)) {
      const id = page.fields.find((f) => f.name === 'id');
      expect(id?.key, set).toBe(true);
      expect(page.fields.filter((f) => f.key).length, set).toBe(1);
      expect(
        page.fields.some((f) => f.name === 'lastModifiedDateTime' && !f.editable && f.type === 'DateTime'),
        set,
      ).toBe(true);
    }
    const field = (set: string, name: string) => m.entitySets[set]?.fields.find((f) => f.name === name);
    expect(field('customers', 'faxNumber')).toEqual({
      name: 'faxNumber',
      alField: 'Fax No.',
      type: 'Text[30]',
      editable: true,
      key: false,
      flowField: false,
    });
    // FlowFields, Editable = false controls and variables without OnValidate are read-only.
    expect(field('items', 'inventory')).toMatchObject({ alField: 'Inventory', flowField: true, editable: false });
    expect(field('customers', 'salespersonCode')?.editable).toBe(false);
    expect(field('postedSalesInvoices', 'workDescription')).toMatchObject({ alField: null, type: 'Text', editable: false });
    expect(field('salesOrders', 'workDescription')).toMatchObject({ alField: null, editable: true });
    expect(field('salesOrders', 'status')).toMatchObject({ alField: 'BCS API Status', editable: false });
    expect(field('salesOrderLines', 'documentId')).toMatchObject({ alField: 'BCS Document Id', editable: true });
    // Only the sales order takes its id from the caller (Insert(true, true)).
    expect(field('salesOrders', 'id')?.editable).toBe(true);
    expect(field('customers', 'id')?.editable).toBe(false);
    expect(m.entitySets.salesOrders).toMatchObject({ parts: { salesOrderLines: 'salesOrderLines' }, actions: ['release', 'reopen'] });
    expect(m.entitySets.postedSalesInvoices).toMatchObject({
      table: 'Sales Invoice Entity Aggregate',
      view: 'where(Posted = const(true))',
      insertAllowed: false,
      modifyAllowed: false,
    });
    expect(field('postedSalesInvoices', 'id')?.alField).toBe('Id');
  });
});
