import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BcSimulator } from '../../dev/bc-simulator';
import { call, startSim } from './bc-simulator-helpers';

let sim: BcSimulator;
let api: string;

beforeAll(async () => {
  sim = await startSim();
  api = sim.apiBase();
});
afterAll(async () => {
  await sim.stop();
});

const CORRELATION = / {2}CorrelationId: {2}[0-9a-f-]{36}\.$/;
const BLANK_GUID = '00000000-0000-0000-0000-000000000000';

async function customer(number: string) {
  const r = await call(`${api}/customers?$filter=number eq '${number}'`);
  expect(r.status).toBe(200);
  return r.body.value[0];
}

describe('BC API v2.0 basics', () => {
  it('rejects requests without a bearer token with 401', async () => {
    const r = await call(`${api}/customers`, { auth: false });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('Authentication_InvalidCredentials');
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer /);
    const basic = await call(`${api}/customers`, { headers: { Authorization: 'Basic abc' } });
    expect(basic.status).toBe(401);
  });

  it('lists companies with the documented fields', async () => {
    const r = await call(`${sim.apiRoot()}/companies`);
    expect(r.status).toBe(200);
    expect(r.body['@odata.context']).toBe(`${sim.apiRoot()}/$metadata#companies`);
    const c = r.body.value[0];
    expect(Object.keys(c)).toEqual(expect.arrayContaining(['id', 'systemVersion', 'name', 'displayName', 'businessProfileId']));
    expect(c.id).toBe(sim.companyId);
    expect(c.name).toBe('CRONUS International Ltd.');
  });

  it('returns a customer with the documented fields, etag and context', async () => {
    const c = await customer('10000');
    const r = await call(`${api}/customers(${c.id})`);
    expect(r.status).toBe(200);
    const keys = [
      'id',
      'number',
      'displayName',
      'type',
      'addressLine1',
      'addressLine2',
      'city',
      'state',
      'country',
      'postalCode',
      'phoneNumber',
      'email',
      'website',
      'salespersonCode',
      'balanceDue',
      'creditLimit',
      'taxLiable',
      'taxAreaId',
      'taxAreaDisplayName',
      'taxRegistrationNumber',
      'currencyId',
      'currencyCode',
      'paymentTermsId',
      'shipmentMethodId',
      'paymentMethodId',
      'blocked',
      'lastModifiedDateTime',
    ];
    expect(Object.keys(r.body)).toEqual(['@odata.context', '@odata.etag', ...keys]);
    expect(r.body['@odata.context']).toBe(`${sim.apiRoot()}/$metadata#companies(${sim.companyId})/customers/$entity`);
    // Verbatim example values (Adatum Corporation) and blank conventions: LCY currency has a blank id.
    expect(r.body).toMatchObject({
      number: '10000',
      displayName: 'Adatum Corporation',
      type: 'Company',
      addressLine1: '192 Market Square',
      city: 'Atlanta',
      state: 'GA',
      country: 'US',
      postalCode: '31772',
      email: 'robert.townes@contoso.com',
      taxLiable: true,
      currencyId: BLANK_GUID,
      currencyCode: 'USD',
      blocked: ' ',
    });
    expect(r.body.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(r.body.lastModifiedDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const etag = r.body['@odata.etag'] as string;
    expect(etag).toMatch(/^W\/"[A-Za-z0-9+/=]+"$/);
    const inner = Buffer.from(etag.slice(3, -1), 'base64').toString('utf8');
    expect(inner).toMatch(/^'44;[A-Za-z0-9+/]{43}=1;00;'$/);
    expect(r.headers.get('etag')).toBe(etag);
    expect(r.headers.get('odata-version')).toBe('4.0');
  });

  it('serves the tenant-less URL form and the ?company= form', async () => {
    const c = await customer('20000');
    const noTenant = `${sim.url}/v2.0/${sim.environmentName}/api/v2.0/companies(${sim.companyId})/customers(${c.id})`;
    expect((await call(noTenant)).body.number).toBe('20000');
    const byQuery = await call(`${sim.apiRoot()}/customers(${c.id})?company=${sim.companyId}`);
    expect(byQuery.status).toBe(200);
    expect(byQuery.body.number).toBe('20000');
    const missingCompany = await call(`${sim.apiRoot()}/customers`);
    expect(missingCompany.status).toBe(400);
  });

  it('answers unknown ids with 404 and malformed keys with 400', async () => {
    const r = await call(`${api}/customers(11111111-2222-4333-8444-555555555555)`);
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('Internal_RecordNotFound');
    expect(r.body.error.message).toMatch(CORRELATION);
    expect((await call(`${api}/customers('10000')`)).status).toBe(400);
    const seg = await call(`${api}/nothingHere`);
    expect(seg.status).toBe(404);
    expect(seg.body.error.code).toBe('BadRequest_ResourceNotFound');
  });
});

describe('writes, ETags and concurrency', () => {
  it('PATCH without If-Match is refused with BadRequest_InvalidToken', async () => {
    const c = await customer('30000');
    const r = await call(`${api}/customers(${c.id})`, { method: 'PATCH', body: { displayName: 'x' } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('BadRequest_InvalidToken');
    expect(r.body.error.message).toMatch(
      /^Could not validate the client concurrency token required by the service\. Please provide a valid token in the client request\. {2}CorrelationId: {2}[0-9a-f-]{36}\.$/,
    );
  });

  it('PATCH with the current ETag returns 200, a new ETag and a later lastModifiedDateTime; the old one is stale', async () => {
    const c = await customer('30000');
    const ok = await call(`${api}/customers(${c.id})`, {
      method: 'PATCH',
      headers: { 'If-Match': c['@odata.etag'] },
      body: { phoneNumber: '+1 305 555 0199' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.phoneNumber).toBe('+1 305 555 0199');
    expect(ok.body['@odata.etag']).not.toBe(c['@odata.etag']);
    expect(Date.parse(ok.body.lastModifiedDateTime)).toBeGreaterThanOrEqual(Date.parse(c.lastModifiedDateTime));
    const stale = await call(`${api}/customers(${c.id})`, {
      method: 'PATCH',
      headers: { 'If-Match': c['@odata.etag'] },
      body: { phoneNumber: 'again' },
    });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('Request_EntityChanged');
    expect(stale.body.error.message).toMatch(/^Another user has already changed the record\. {2}CorrelationId/);
    const star = await call(`${api}/customers(${c.id})`, {
      method: 'PATCH',
      headers: { 'If-Match': '*' },
      body: { website: 'www.example.com' },
    });
    expect(star.status).toBe(200);
  });

  it('a PATCH that changes nothing keeps the ETag (null update)', async () => {
    const c = await customer('20000');
    const r = await call(`${api}/customers(${c.id})`, {
      method: 'PATCH',
      headers: { 'If-Match': c['@odata.etag'] },
      body: { city: c.city },
    });
    expect(r.status).toBe(200);
    expect(r.body['@odata.etag']).toBe(c['@odata.etag']);
    expect(r.body.lastModifiedDateTime).toBe(c.lastModifiedDateTime);
  });

  it('can answer a stale ETag with 409 when configured', async () => {
    const s = await startSim({ staleEtagStatus: 409 });
    try {
      const list = await call(`${s.apiBase()}/customers?$top=1`);
      const c = list.body.value[0];
      await call(`${s.apiBase()}/customers(${c.id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { city: 'Moved' } });
      const r = await call(`${s.apiBase()}/customers(${c.id})`, {
        method: 'PATCH',
        headers: { 'If-Match': c['@odata.etag'] },
        body: { city: 'x' },
      });
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('Request_EntityChanged');
    } finally {
      await s.stop();
    }
  });

  it('POST creates a customer (201, full entity, number from the No. series)', async () => {
    const r = await call(`${api}/customers`, {
      method: 'POST',
      body: { displayName: 'Coho Winery', currencyCode: 'EUR', paymentTermsId: (await paymentTerm('30 DAYS')).id },
    });
    expect(r.status).toBe(201);
    expect(r.body.displayName).toBe('Coho Winery');
    expect(r.body.number).toMatch(/^C\d{5}$/);
    expect(r.body.currencyCode).toBe('EUR');
    expect(r.body.currencyId).not.toBe(BLANK_GUID);
    expect(r.body['@odata.etag']).toMatch(/^W\/"/);
    expect(r.headers.get('location')).toBe(`${api}/customers(${r.body.id})`);
    const again = await call(`${api}/customers(${r.body.id})`);
    expect(again.body).toEqual({ ...r.body, '@odata.context': again.body['@odata.context'] });
  });

  it('refuses invalid customers with the page messages', async () => {
    const noName = await call(`${api}/customers`, { method: 'POST', body: { city: 'Nowhere' } });
    expect(noName.status).toBe(400);
    expect(noName.body.error.message).toMatch(/^A "displayName" must be provided\. {2}CorrelationId/);
    const badCurrency = await call(`${api}/customers`, { method: 'POST', body: { displayName: 'x', currencyCode: 'XYZ' } });
    expect(badCurrency.body.error.message).toMatch(/^The "currencyCode" does not match to a Currency\./);
    const badCurrencyId = await call(`${api}/customers`, {
      method: 'POST',
      body: { displayName: 'x', currencyId: '11111111-2222-4333-8444-555555555555' },
    });
    expect(badCurrencyId.body.error.message).toMatch(/^The "currencyId" does not match to a Currency\./);
    const badTerms = await call(`${api}/customers`, {
      method: 'POST',
      body: { displayName: 'x', paymentTermsId: '11111111-2222-4333-8444-555555555555' },
    });
    expect(badTerms.body.error.message).toMatch(/^The "paymentTermsId" does not match to a Payment Terms\./);
    const unknownProp = await call(`${api}/customers`, { method: 'POST', body: { displayName: 'x', nickname: 'y' } });
    expect(unknownProp.status).toBe(400);
    expect(unknownProp.body.error.message).toContain("The property 'nickname' does not exist on type 'Microsoft.NAV.customer'");
    const badEnum = await call(`${api}/customers`, { method: 'POST', body: { displayName: 'x', blocked: 'Nope' } });
    expect(badEnum.body.error.message).toMatch(/^'Nope' is not an option\. The existing options are: {2},Ship,Invoice,All/);
    const tooLong = await call(`${api}/customers`, { method: 'POST', body: { displayName: 'x'.repeat(101) } });
    expect(tooLong.body.error.code).toBe('Application_StringExceededLength');
    const wrongType = await call(`${api}/customers`, { method: 'POST', body: { displayName: 'x', creditLimit: 'lots' } });
    expect(wrongType.status).toBe(400);
    const readOnly = await call(`${api}/customers`, { method: 'POST', body: { displayName: 'x', balanceDue: 5 } });
    expect(readOnly.status).toBe(400);
    // v2.0 pages let the platform assign the SystemId (`id` is Editable = false; page 30009 inserts with Insert(true)).
    const clientId = await call(`${api}/customers`, {
      method: 'POST',
      body: { id: '5c0c5b1e-9b0e-4c1a-8f3e-2d6a7b8c9d0e', displayName: 'Client Id Ltd' },
    });
    expect(clientId.status).toBe(400);
    expect(clientId.body.error.message).toContain("'id' is read-only");
    const salesperson = await call(`${api}/customers`, { method: 'POST', body: { displayName: 'x', salespersonCode: 'ZZ' } });
    expect(salesperson.status).toBe(400);
    expect(salesperson.body.error.code).toBe('Internal_InvalidTableRelation');
    const dup = await call(`${api}/customers`, { method: 'POST', body: { displayName: 'x', number: '10000' } });
    expect(dup.status).toBe(400);
    expect(dup.body.error.code).toBe('Internal_EntityWithSameKeyExists');
  });

  it('DELETE requires If-Match and returns 204', async () => {
    const created = await call(`${api}/customers`, { method: 'POST', body: { displayName: 'Short-lived' } });
    const url = `${api}/customers(${created.body.id})`;
    expect((await call(url, { method: 'DELETE' })).status).toBe(400);
    const del = await call(url, { method: 'DELETE', headers: { 'If-Match': created.body['@odata.etag'] } });
    expect(del.status).toBe(204);
    expect((await call(url)).status).toBe(404);
  });
});

async function paymentTerm(code: string) {
  const r = await call(`${api}/paymentTerms?$filter=code eq '${code}'`);
  return r.body.value[0];
}

describe('queries', () => {
  it('filters with eq, ne, gt, and, contains, startswith and unquoted lastModifiedDateTime', async () => {
    const eq = await call(`${api}/customers?$filter=city eq 'Atlanta'`);
    expect(eq.body.value.map((c: { number: string }) => c.number)).toContain('10000');
    const and = await call(`${api}/items?$filter=unitPrice gt 500 and type eq 'Inventory'`);
    expect(and.body.value.length).toBeGreaterThan(0);
    for (const i of and.body.value) expect(i.unitPrice).toBeGreaterThan(500);
    const contains = await call(`${api}/items?$filter=contains(displayName,'Chair')`);
    for (const i of contains.body.value) expect(i.displayName).toContain('Chair');
    const starts = await call(`${api}/items?$filter=startswith(displayName,'ATHENS')`);
    expect(starts.body.value).toHaveLength(2);
    const ne = await call(`${api}/currencies?$filter=code ne 'EUR'`);
    expect(ne.body.value.map((c: { code: string }) => c.code).sort()).toEqual(['CAD', 'GBP']);
    const same = await call(`${api}/currencies?$filter=code eq 'EUR' or code eq 'GBP'`);
    expect(same.body.value).toHaveLength(2);
    const future = await call(`${api}/customers?$filter=lastModifiedDateTime gt 2099-01-01T00:00:00Z`);
    expect(future.body.value).toEqual([]);
    const past = await call(`${api}/customers?$filter=lastModifiedDateTime gt 2019-08-18T20:05:51.603Z`);
    expect(past.body.value.length).toBeGreaterThan(5);
  });

  it('rejects OR across distinct fields and unknown properties', async () => {
    const r = await call(`${api}/customers?$filter=city eq 'Atlanta' or number eq '20000'`);
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/^The 'OR' operator is not supported on distinct fields on an OData filter\./);
    const unknown = await call(`${api}/customers?$filter=colour eq 'red'`);
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain("Could not find a property named 'colour'");
    const syntax = await call(`${api}/customers?$filter=city eq`);
    expect(syntax.status).toBe(400);
  });

  it('applies $select, $top and $orderby', async () => {
    const r = await call(`${api}/items?$select=number,unitPrice&$orderby=unitPrice desc&$top=3`);
    expect(r.status).toBe(200);
    expect(r.body.value).toHaveLength(3);
    expect(Object.keys(r.body.value[0])).toEqual(['@odata.etag', 'number', 'unitPrice']);
    const prices = r.body.value.map((i: { unitPrice: number }) => i.unitPrice);
    expect(prices).toEqual([...prices].sort((a: number, b: number) => b - a));
    expect(r.body['@odata.context']).toBe(`${sim.apiRoot()}/$metadata#companies(${sim.companyId})/items(number,unitPrice)`);
    expect((await call(`${api}/items?$select=nope`)).status).toBe(400);
  });

  it('lists salespeoplePurchasers, unitsOfMeasure, shipmentMethods, vendors and contacts', async () => {
    const sp = await call(`${api}/salespeoplePurchasers`);
    expect(sp.body.value[0]).toHaveProperty('commisionPercent');
    expect((await call(`${api}/unitsOfMeasure`)).body.value.map((u: { code: string }) => u.code)).toContain('PCS');
    expect((await call(`${api}/shipmentMethods`)).body.value.length).toBeGreaterThan(2);
    expect((await call(`${api}/vendors`)).body.value.length).toBe(3);
    const persons = await call(`${api}/contacts?$filter=type eq 'Person' and companyNumber eq 'CT000001'`);
    expect(persons.body.value[0]).toMatchObject({ displayName: 'Robert Townes', companyName: 'Adatum Corporation' });
  });
});

describe('sales documents', () => {
  it('creates a sales order like the documented example (201, Draft, blank requestedDeliveryDate)', async () => {
    const terms = await paymentTerm('14 DAYS');
    const r = await call(`${api}/salesOrders`, {
      method: 'POST',
      body: { orderDate: '2023-09-01', customerNumber: '50000', currencyCode: 'GBP', paymentTermsId: terms.id },
    });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({
      status: 'Draft',
      requestedDeliveryDate: '0001-01-01',
      customerName: 'Relecloud',
      currencyCode: 'GBP',
      orderDate: '2023-09-01',
    });
    const noCustomer = await call(`${api}/salesOrders`, { method: 'POST', body: { orderDate: '2023-09-01' } });
    expect(noCustomer.status).toBe(400);
    expect(noCustomer.body.error.code).toBe('Application_DialogException');
    expect(noCustomer.body.error.message).toMatch(/^A customerNumber or a customerID must be provided\./);
  });

  it('expands lines, deep-inserts them, and a line change modifies the header', async () => {
    const created = await call(`${api}/salesOrders?$expand=salesOrderLines`, {
      method: 'POST',
      body: { customerNumber: '10000', salesOrderLines: [{ lineType: 'Item', lineObjectNumber: '1896-S', quantity: 2 }] },
    });
    expect(created.status).toBe(201);
    expect(created.body.salesOrderLines).toHaveLength(1);
    expect(created.body.totalAmountExcludingTax).toBe(2001.6);
    const id = created.body.id;
    const lines = await call(`${api}/salesOrders(${id})/salesOrderLines`);
    const line = lines.body.value[0];
    expect(line).toMatchObject({ documentId: id, description: 'ATHENS Desk', unitOfMeasureCode: 'PCS', sequence: 10000 });
    const noEtag = await call(`${api}/salesOrders(${id})/salesOrderLines(${line.id})`, { method: 'PATCH', body: { quantity: 3 } });
    expect(noEtag.status).toBe(400);
    const patched = await call(`${api}/salesOrders(${id})/salesOrderLines(${line.id})`, {
      method: 'PATCH',
      headers: { 'If-Match': line['@odata.etag'] },
      body: { quantity: 3 },
    });
    expect(patched.status).toBe(200);
    const header = await call(`${api}/salesOrders(${id})?$expand=salesOrderLines($select=quantity)`);
    expect(header.body['@odata.etag']).not.toBe(created.body['@odata.etag']);
    expect(header.body.totalAmountExcludingTax).toBe(3002.4);
    expect(header.body.salesOrderLines[0]).toEqual({ '@odata.etag': patched.body['@odata.etag'], quantity: 3 });
    const direct = await call(`${api}/salesOrderLines(${line.id})`);
    expect(direct.body.quantity).toBe(3);
  });

  it('shows posted invoices with lines and keeps them read-only', async () => {
    const r = await call(`${api}/salesInvoices?$filter=number eq '103002'&$expand=salesInvoiceLines`);
    const inv = r.body.value[0];
    expect(inv.status).toBe('Open');
    expect(inv.salesInvoiceLines[0]).toMatchObject({ lineObjectNumber: '1900-S', quantity: 12 });
    const patch = await call(`${api}/salesInvoices(${inv.id})`, {
      method: 'PATCH',
      headers: { 'If-Match': '*' },
      body: { externalDocumentNumber: 'X' },
    });
    expect(patch.status).toBe(400);
  });
});
