import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BcSimulator } from '../../dev/bc-simulator';
import { call, startSim } from './bc-simulator-helpers';

let sim: BcSimulator;
let custom: string;
let api: string;

beforeAll(async () => {
  sim = await startSim();
  custom = sim.customApiBase();
  api = sim.apiBase();
});
afterAll(async () => {
  await sim.stop();
});

describe('custom API pages (bcsync/integration/v1.0)', () => {
  it('serves the tables without a standard API, with SystemId keys and ETags', async () => {
    for (const set of [
      'resources',
      'customerPriceGroups',
      'salesPrices',
      'priceListHeaders',
      'priceListLines',
      'opportunities',
      'shippingAgents',
      'unitGroups',
      'itemUnitsOfMeasure',
      'resourceUnitsOfMeasure',
      'contactBusinessRelations',
      'postedSalesInvoices',
      'salespeoplePurchasers',
    ]) {
      const r = await call(`${custom}/${set}`);
      expect(r.status, set).toBe(200);
      expect(r.body.value.length, set).toBeGreaterThan(0);
      expect(r.body.value[0]['@odata.etag'], set).toMatch(/^W\/"/);
      expect(r.body.value[0].id, set).toMatch(/^[0-9a-f-]{36}$/);
      expect(r.body['@odata.context']).toContain('/api/bcsync/integration/v1.0/$metadata#companies(');
    }
  });

  it('exposes the same Customer record on both pages (same id and ETag) with the extra mapping fields', async () => {
    const std = (await call(`${api}/customers?$filter=number eq '10000'`)).body.value[0];
    const ext = (await call(`${custom}/customers(${std.id})`)).body;
    expect(ext['@odata.etag']).toBe(std['@odata.etag']);
    expect(ext).toMatchObject({ shippingAgentCode: 'DHL', paymentTermsId: std.paymentTermsId, shipmentMethodId: std.shipmentMethodId });
    expect(ext.primaryContactNumber).toMatch(/^CT\d{6}$/);
    expect(std).not.toHaveProperty('shippingAgentCode');
    // Only what the AL page declares (bc-extension/src/pages/CustomerApi.Page.al): no table field beyond it.
    expect(ext).not.toHaveProperty('paymentTermsCode');
    expect(ext).not.toHaveProperty('customerPriceGroupCode');
    const bad = await call(`${custom}/customers(${std.id})`, {
      method: 'PATCH',
      headers: { 'If-Match': ext['@odata.etag'] },
      body: { shippingAgentCode: 'NOPE' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('Internal_InvalidTableRelation');
    const ok = await call(`${custom}/customers(${std.id})`, {
      method: 'PATCH',
      headers: { 'If-Match': ext['@odata.etag'] },
      body: { shippingAgentCode: 'ups', paymentTermsId: (await call(`${api}/paymentTerms?$filter=code eq '14 DAYS'`)).body.value[0].id },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.shippingAgentCode).toBe('UPS');
    const after = (await call(`${api}/customers(${std.id})`)).body;
    expect(after['@odata.etag']).toBe(ok.body['@odata.etag']);
    const terms = (await call(`${api}/paymentTerms?$filter=code eq '14 DAYS'`)).body.value[0];
    expect(after.paymentTermsId).toBe(terms.id);
  });

  it('creates items with their base unit of measure and unit group, like BC does', async () => {
    const r = await call(`${api}/items`, {
      method: 'POST',
      body: { displayName: 'OSLO Stool', baseUnitOfMeasureCode: 'PCS', unitPrice: 99 },
    });
    expect(r.status).toBe(201);
    const no = r.body.number;
    const uoms = (await call(`${custom}/itemUnitsOfMeasure?$filter=itemNumber eq '${no}'`)).body.value;
    expect(uoms).toHaveLength(1);
    expect(uoms[0]).toMatchObject({ code: 'PCS', qtyPerUnitOfMeasure: 1 });
    const groups = (await call(`${custom}/unitGroups?$filter=sourceNumber eq '${no}'`)).body.value;
    expect(groups[0]).toMatchObject({ sourceType: 'Item', sourceId: r.body.id, sourceNumber: no });
    // The AL page is read-only: the service never creates units of measure.
    const dup = await call(`${custom}/itemUnitsOfMeasure`, { method: 'POST', body: { itemNumber: no, code: 'PCS' } });
    expect(dup.status).toBe(405);
    const asUser = await call(`${sim.url}/_sim/as-user`, {
      method: 'POST',
      body: { method: 'POST', group: 'bcsync/integration/v1.0', entitySet: 'itemUnitsOfMeasure', body: { itemNumber: no, code: 'PCS' } },
    });
    expect(asUser.status).toBe(400);
    expect(asUser.body.error.code).toBe('Internal_EntityWithSameKeyExists');
  });

  it('copies price list header defaults to new lines and validates assets (lines entered by a BC user)', async () => {
    const asUser = (body: Record<string, unknown>) =>
      call(`${sim.url}/_sim/as-user`, {
        method: 'POST',
        body: { method: 'POST', group: 'bcsync/integration/v1.0', entitySet: 'priceListLines', body },
      });
    expect((await call(`${custom}/priceListLines`, { method: 'POST', body: { priceListCode: 'S00002' } })).status).toBe(405);
    const created = await asUser({ priceListCode: 'S00002', assetType: 'Item', assetNumber: '1908-S', unitPrice: 150 });
    expect(created.status).toBe(201);
    const line = await call(`${custom}/priceListLines(${created.body.id})`);
    expect(line.body).toMatchObject({
      sourceType: 'Customer Price Group',
      sourceNumber: 'WHOLESALE',
      unitOfMeasureCode: 'PCS',
      status: 'Active',
    });
    expect(line.body.lineNumber).toBeGreaterThan(0);
    const bad = await asUser({ priceListCode: 'S00002', assetType: 'Item', assetNumber: 'NOPE' });
    expect(bad.status).toBe(400);
  });

  it('derives the opportunity contact company', async () => {
    const opp = (await call(`${custom}/opportunities?$filter=number eq 'OP000001'`)).body.value[0];
    expect(opp).toMatchObject({ contactNumber: 'CT000002', contactCompanyNumber: 'CT000001', status: 'In Progress' });
  });

  it('posts a draft invoice: it appears on postedSalesInvoices with a posted number and becomes read-only', async () => {
    const draft = await call(`${api}/salesInvoices`, {
      method: 'POST',
      body: { customerNumber: '20000', salesInvoiceLines: [{ lineType: 'Item', lineObjectNumber: '1900-S', quantity: 5 }] },
    });
    expect(draft.status).toBe(201);
    expect(draft.body.status).toBe('Draft');
    expect((await call(`${custom}/postedSalesInvoices(${draft.body.id})`)).status).toBe(404);
    const post = await call(`${api}/salesInvoices(${draft.body.id})/Microsoft.NAV.post`, { method: 'POST' });
    expect(post.status).toBe(204);
    // The id stays the draft's, as on v2.0 salesInvoices ("Sales Invoice Entity Aggregate".Id).
    const posted = (await call(`${custom}/postedSalesInvoices(${draft.body.id})`)).body;
    expect(posted).toMatchObject({ id: draft.body.id, status: 'Open', totalAmountIncludingTax: 964 });
    expect(posted.number).toMatch(/^\d{6}$/);
    const lines = (await call(`${custom}/postedSalesInvoiceLines?$filter=documentId eq ${draft.body.id}`)).body.value;
    expect(lines).toHaveLength(1);
    const patch = await call(`${api}/salesInvoices(${draft.body.id})`, {
      method: 'PATCH',
      headers: { 'If-Match': '*' },
      body: { externalDocumentNumber: 'x' },
    });
    expect(patch.status).toBe(400);
    expect((await call(`${custom}/postedSalesInvoices`, { method: 'POST', body: {} })).status).toBe(405);
  });

  it("creates a salesperson from a Dataverse user as BC's integration does (code given, no delete)", async () => {
    // SALESPEOPLE inserts salespeople numbered SP NO. 0000n (the engine's salespersonCodeRule): the AL page
    // must allow the insert and the code on it, or real BC answers 405 / 400.
    const r = await call(`${custom}/salespeoplePurchasers`, {
      method: 'POST',
      body: { code: 'SP NO. 00001', displayName: 'Annette Hill', email: 'annette.hill@simorg.example' },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ code: 'SP NO. 00001', displayName: 'Annette Hill' });
    expect((await call(`${custom}/salespeoplePurchasers(${r.body.id})`, { method: 'DELETE', headers: { 'If-Match': '*' } })).status).toBe(
      405,
    );
  });

  it('gives a new customer a company contact with a business relation to it (CustCont-Update.OnInsert)', async () => {
    const cust = await call(`${api}/customers`, { method: 'POST', body: { displayName: 'Contoso Pharmaceuticals', city: 'Boston' } });
    expect(cust.status).toBe(201);
    const rel = (await call(`${custom}/contactBusinessRelations?$filter=linkToTable eq 'Customer' and linkNumber eq '${cust.body.number}'`))
      .body.value;
    expect(rel).toHaveLength(1);
    expect(rel[0]).toMatchObject({ businessRelationCode: 'CUST' });
    const contact = (await call(`${api}/contacts?$filter=number eq '${rel[0].contactNumber}'`)).body.value[0];
    expect(contact).toMatchObject({ type: 'Company', displayName: 'Contoso Pharmaceuticals', city: 'Boston' });
  });

  it('ships and invoices an order: posted invoice with the order lines, order deleted', async () => {
    const order = (await call(`${api}/salesOrders?$filter=number eq 'S-ORD101002'&$expand=salesOrderLines`)).body.value[0];
    const r = await call(`${api}/salesOrders(${order.id})/Microsoft.NAV.shipAndInvoice`, { method: 'POST' });
    expect(r.status).toBe(204);
    expect((await call(`${api}/salesOrders(${order.id})`)).status).toBe(404);
    const inv = (await call(`${custom}/postedSalesInvoices?$filter=orderNumber eq 'S-ORD101002'`)).body.value[0];
    const lines = (await call(`${custom}/postedSalesInvoiceLines?$filter=documentId eq ${inv.id}`)).body.value;
    expect(lines.map((l: { lineObjectNumber: string }) => l.lineObjectNumber)).toEqual(
      order.salesOrderLines.map((l: { lineObjectNumber: string }) => l.lineObjectNumber),
    );
    expect(inv.totalAmountExcludingTax).toBe(order.totalAmountExcludingTax);
  });

  it('creates a sales order under a client-chosen SystemId (its `id` is editable), which v2.0 refuses', async () => {
    const id = '7d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a';
    const created = await call(`${custom}/salesOrders`, { method: 'POST', body: { id, customerNumber: '10000' } });
    expect(created.status).toBe(201);
    expect(created.body.id).toBe(id);
    expect((await call(`${api}/salesOrders(${id})`)).body.id).toBe(id);
    const v2 = await call(`${api}/salesOrders`, {
      method: 'POST',
      body: { id: '8e2f3a4b-5c6d-4e7f-9a8b-0c1d2e3f4a5b', customerNumber: '10000' },
    });
    expect(v2.status).toBe(400);
  });

  it('changes FlowFields (inventory) without a new ETag or lastModifiedDateTime, as posting does', async () => {
    const item = (await call(`${api}/items?$filter=number eq '1896-S'`)).body.value[0];
    const r = await call(`${sim.url}/_sim/flowfield`, { method: 'POST', body: { entitySet: 'items', id: item.id, value: 77 } });
    expect(r.status).toBe(200);
    const after = (await call(`${api}/items(${item.id})`)).body;
    expect(after.inventory).toBe(77);
    expect(after['@odata.etag']).toBe(item['@odata.etag']);
    expect(after.lastModifiedDateTime).toBe(item.lastModifiedDateTime);
  });
});
