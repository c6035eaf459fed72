import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DataverseSimulator, DemoIds } from '../../dev/dataverse-simulator';
import { call, startSim } from './dataverse-simulator-helpers';

let sim: DataverseSimulator;
beforeAll(async () => {
  sim = await startSim();
});
afterAll(async () => {
  await sim.stop();
});

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function createAccount(body: Record<string, unknown>): Promise<string> {
  const r = await call(sim, 'accounts', { method: 'POST', body });
  expect(r.status).toBe(204);
  const m = /accounts\(([0-9a-f-]{36})\)$/.exec(r.headers.get('odata-entityid') ?? '');
  if (!m?.[1]) throw new Error(`no OData-EntityId: ${r.text}`);
  return m[1];
}

describe('create (B.3)', () => {
  it('answers 204 with OData-EntityId and no body', async () => {
    const r = await call(sim, 'accounts', {
      method: 'POST',
      body: { name: 'Sample Account', creditonhold: false, revenue: 5000000, accountcategorycode: 1 },
    });
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    expect(r.headers.get('odata-version')).toBe('4.0');
    expect(r.headers.get('odata-entityid')).toMatch(new RegExp(`^${sim.apiBase.replace(/\./g, '\\.')}/accounts\\([0-9a-f-]{36}\\)$`));
  });

  it('answers 201 with the record, Preference-Applied and no OData-EntityId for return=representation', async () => {
    const r = await call(sim, 'accounts?$select=name,revenue,_transactioncurrencyid_value', {
      method: 'POST',
      headers: { Prefer: 'return=representation' },
      body: { name: 'Represented', revenue: 5000000 },
    });
    expect(r.status).toBe(201);
    expect(r.headers.get('preference-applied')).toBe('return=representation');
    expect(r.headers.get('odata-entityid')).toBeNull();
    expect(r.body['@odata.context']).toBe(`${sim.apiBase}/$metadata#accounts(name,revenue,_transactioncurrencyid_value)/$entity`);
    expect(r.body['@odata.etag']).toMatch(/^W\/"\d+"$/);
    expect(r.body.accountid).toMatch(GUID);
    expect(r.body.name).toBe('Represented');
    // The org's base currency is filled in, as in the documented sample.
    expect(r.body._transactioncurrencyid_value).toBe(DemoIds.usd);
    expect(Object.keys(r.body).sort()).toEqual([
      '@odata.context',
      '@odata.etag',
      '_transactioncurrencyid_value',
      'accountid',
      'name',
      'revenue',
    ]);
  });

  it('stamps system columns: versionnumber = ETag, modifiedby/createdby/ownerid = caller, statecode/statuscode defaults', async () => {
    const id = await createAccount({ name: 'System columns' });
    const r = await call(sim, `accounts(${id})`);
    expect(r.status).toBe(200);
    expect(r.body['@odata.etag']).toBe(`W/"${r.body.versionnumber}"`);
    expect(r.headers.get('etag')).toBe(r.body['@odata.etag']);
    expect(r.body._modifiedby_value).toBe(sim.integrationUserId);
    expect(r.body._createdby_value).toBe(sim.integrationUserId);
    expect(r.body._ownerid_value).toBe(sim.integrationUserId);
    expect(r.body.statecode).toBe(0);
    expect(r.body.statuscode).toBe(1);
    expect(r.body.modifiedon).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    // Without $select every column comes back, nulls included.
    expect(r.body).toHaveProperty('telephone1', null);
    expect(r.body).toHaveProperty('_primarycontactid_value', null);
  });

  it('rejects a duplicate primary key and a duplicate alternate key with 412', async () => {
    const id = await createAccount({ name: 'Dup', accountnumber: 'DUP-1' });
    const a = await call(sim, 'accounts', { method: 'POST', body: { accountid: id, name: 'again' } });
    expect(a.status).toBe(412);
    expect(a.body).toEqual({ error: { code: '0x80040237', message: 'A record with matching key values already exists.' } });
    const b = await call(sim, 'accounts', { method: 'POST', body: { name: 'again', accountnumber: 'dup-1' } });
    expect(b.status).toBe(412);
    expect(b.body.error.code).toBe('0x80060892');
  });
});

describe('update with optimistic concurrency (B.4)', () => {
  it('answers 412 with the verbatim body for a stale If-Match and 204 + OData-EntityId for a current one', async () => {
    const id = await createAccount({ name: 'Concurrency' });
    const before = await call(sim, `accounts(${id})?$select=name`);
    const etag = before.body['@odata.etag'] as string;
    const ok = await call(sim, `accounts(${id})`, { method: 'PATCH', headers: { 'If-Match': etag }, body: { telephone1: '555-0001' } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('odata-entityid')).toBe(`${sim.apiBase}/accounts(${id})`);
    const stale = await call(sim, `accounts(${id})`, {
      method: 'PATCH',
      headers: { 'If-Match': etag },
      body: { telephone1: '555-0002', revenue: 6000000 },
    });
    expect(stale.status).toBe(412);
    expect(stale.body).toEqual({
      error: { code: '0x80060882', message: "The version of the existing record doesn't match the RowVersion property provided." },
    });
    const after = await call(sim, `accounts(${id})?$select=telephone1,revenue`);
    expect(after.body.telephone1).toBe('555-0001');
    expect(after.body.revenue).toBeNull();
    expect(Number(after.body.versionnumber ?? 0)).toBe(0);
    expect(after.body['@odata.etag']).not.toBe(etag);
  });

  it('returns 200 with the body for PATCH + return=representation ($select applies)', async () => {
    const id = await createAccount({ name: 'Rep' });
    const r = await call(sim, `accounts(${id})?$select=name`, {
      method: 'PATCH',
      headers: { Prefer: 'return=representation' },
      body: { name: 'Rep 2' },
    });
    expect(r.status).toBe(200);
    expect(r.body.name).toBe('Rep 2');
    expect(r.headers.get('etag')).toBe(r.body['@odata.etag']);
  });

  it('answers a conditional GET with 304 when nothing changed, and 200 after a change', async () => {
    const id = await createAccount({ name: 'Cond GET' });
    const first = await call(sim, `accounts(${id})?$select=name`);
    const etag = first.body['@odata.etag'];
    const same = await call(sim, `accounts(${id})?$select=name`, { headers: { 'If-None-Match': etag } });
    expect(same.status).toBe(304);
    // Never with $expand (B.4).
    const expanded = await call(sim, `accounts(${id})?$select=name&$expand=primarycontactid`, { headers: { 'If-None-Match': etag } });
    expect(expanded.status).toBe(200);
    await call(sim, `accounts(${id})`, { method: 'PATCH', body: { name: 'Cond GET 2' } });
    const changed = await call(sim, `accounts(${id})?$select=name`, { headers: { 'If-None-Match': etag } });
    expect(changed.status).toBe(200);
  });
});

describe('upsert matrix (B.5)', () => {
  const fresh = () => crypto.randomUUID();

  it('PATCH without conditions creates a missing row (204) and updates an existing one (204)', async () => {
    const id = fresh();
    const c = await call(sim, `accounts(${id})`, { method: 'PATCH', body: { name: 'Upserted' } });
    expect(c.status).toBe(204);
    expect(c.headers.get('odata-entityid')).toBe(`${sim.apiBase}/accounts(${id})`);
    const u = await call(sim, `accounts(${id})`, { method: 'PATCH', body: { name: 'Upserted 2' } });
    expect(u.status).toBe(204);
    expect((await call(sim, `accounts(${id})?$select=name`)).body.name).toBe('Upserted 2');
  });

  it('If-Match: * updates an existing row and answers 404 with the error body for a missing one', async () => {
    const id = fresh();
    const r = await call(sim, `accounts(${id})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { name: 'nope' } });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ error: { code: '0x80040217', message: `account With Id = ${id} Does Not Exist` } });
    expect((await call(sim, `accounts(${id})`)).status).toBe(404);
    const existing = await createAccount({ name: 'exists' });
    expect((await call(sim, `accounts(${existing})`, { method: 'PATCH', headers: { 'If-Match': '*' }, body: { name: 'x' } })).status).toBe(
      204,
    );
  });

  it('If-None-Match: * creates a missing row and answers 412 for an existing one', async () => {
    const id = fresh();
    expect((await call(sim, `accounts(${id})`, { method: 'PATCH', headers: { 'If-None-Match': '*' }, body: { name: 'new' } })).status).toBe(
      204,
    );
    const again = await call(sim, `accounts(${id})`, { method: 'PATCH', headers: { 'If-None-Match': '*' }, body: { name: 'again' } });
    expect(again.status).toBe(412);
    expect(again.body).toEqual({ error: { code: '0x80040237', message: 'A record with matching key values already exists.' } });
  });

  it('If-Match: W/"n" on a missing row answers 412', async () => {
    const r = await call(sim, `accounts(${fresh()})`, { method: 'PATCH', headers: { 'If-Match': 'W/"1"' }, body: { name: 'x' } });
    expect(r.status).toBe(412);
    expect(r.body.error.code).toBe('0x80060882');
  });

  it('tells create (201) from update (200) only with return=representation; If-None-Match: null is ignored', async () => {
    const id = fresh();
    const h = { Prefer: 'return=representation', 'If-None-Match': 'null' };
    expect((await call(sim, `accounts(${id})?$select=accountid`, { method: 'PATCH', headers: h, body: { name: 'a' } })).status).toBe(201);
    const second = await call(sim, `accounts(${id})?$select=accountid`, { method: 'PATCH', headers: h, body: { name: 'b' } });
    expect(second.status).toBe(200);
    expect(Object.keys(second.body).sort()).toEqual(['@odata.context', '@odata.etag', 'accountid']);
  });
});

describe('alternate keys (B.6)', () => {
  it('upserts and reads by accountnumber; OData-EntityId keeps the key form; key columns in the body are dropped on update', async () => {
    const c = await call(sim, "accounts(accountnumber='ALT-1')", {
      method: 'PATCH',
      headers: { 'If-None-Match': 'null' },
      body: { name: 'By key' },
    });
    expect(c.status).toBe(204);
    expect(c.headers.get('odata-entityid')).toBe(`${sim.apiBase}/accounts(accountnumber='ALT-1')`);
    const got = await call(sim, "accounts(accountnumber='ALT-1')?$select=name,accountnumber");
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ name: 'By key', accountnumber: 'ALT-1' });
    const u = await call(sim, "accounts(accountnumber='ALT-1')", { method: 'PATCH', body: { name: 'By key 2', accountnumber: 'ALT-2' } });
    expect(u.status).toBe(204);
    const after = await call(sim, `accounts(${got.body.accountid})?$select=name,accountnumber`);
    expect(after.body).toMatchObject({ name: 'By key 2', accountnumber: 'ALT-1' });
  });

  it('handles quotes doubled inside key values and reports a missing key row with 404', async () => {
    const c = await call(sim, "accounts(accountnumber='O''BRIEN')", { method: 'PATCH', body: { name: "O'Brien" } });
    expect(c.status).toBe(204);
    expect((await call(sim, "accounts(accountnumber='O''BRIEN')?$select=accountnumber")).body.accountnumber).toBe("O'BRIEN");
    const missing = await call(sim, "accounts(accountnumber='NOPE')", { method: 'DELETE' });
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toBe('A record with the specified key values does not exist in account entity');
  });

  it('rejects columns that are not an alternate key', async () => {
    const r = await call(sim, "accounts(name='Adatum Corporation')");
    expect(r.status).toBe(400);
    expect(r.body.error.message).toContain("do not form an alternate key of 'account'");
  });
});

describe('delete (B.7)', () => {
  it('answers 204, then 404 with the documented body; a stale If-Match gives 412', async () => {
    const id = await createAccount({ name: 'To delete' });
    const stale = await call(sim, `accounts(${id})`, { method: 'DELETE', headers: { 'If-Match': 'W/"1"' } });
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('0x80060882');
    expect((await call(sim, `accounts(${id})`, { method: 'DELETE' })).status).toBe(204);
    const again = await call(sim, `accounts(${id})`, { method: 'DELETE' });
    expect(again.status).toBe(404);
    expect(again.body).toEqual({ error: { code: '0x80040217', message: `account With Id = ${id} Does Not Exist` } });
  });
});

describe('@odata.bind lookups', () => {
  it('binds, returns _x_value, clears with null and with DELETE $ref', async () => {
    const contact = DemoIds.contact(6);
    const id = await createAccount({ name: 'Bound', 'primarycontactid@odata.bind': `/contacts(${contact})` });
    expect((await call(sim, `accounts(${id})?$select=_primarycontactid_value`)).body._primarycontactid_value).toBe(contact);
    await call(sim, `accounts(${id})`, { method: 'PATCH', body: { 'primarycontactid@odata.bind': null } });
    expect((await call(sim, `accounts(${id})?$select=_primarycontactid_value`)).body._primarycontactid_value).toBeNull();
    await call(sim, `accounts(${id})`, { method: 'PATCH', body: { 'primarycontactid@odata.bind': `contacts(${contact})` } });
    expect((await call(sim, `accounts(${id})/primarycontactid/$ref`, { method: 'DELETE' })).status).toBe(204);
    expect((await call(sim, `accounts(${id})?$select=_primarycontactid_value`)).body._primarycontactid_value).toBeNull();
  });

  it('binds by alternate key and to polymorphic customer lookups', async () => {
    const acc = await createAccount({ name: 'Parent', accountnumber: 'PARENT-1' });
    const r = await call(sim, 'contacts?$select=_parentcustomerid_value', {
      method: 'POST',
      headers: { Prefer: 'return=representation, odata.include-annotations="*"' },
      body: { firstname: 'Poly', lastname: 'Morph', 'parentcustomerid_account@odata.bind': "/accounts(accountnumber='PARENT-1')" },
    });
    expect(r.status).toBe(201);
    expect(r.body._parentcustomerid_value).toBe(acc);
    expect(r.body['_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname']).toBe('account');
    expect(r.body['_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty']).toBe('parentcustomerid_account');
    expect(r.body['_parentcustomerid_value@OData.Community.Display.V1.FormattedValue']).toBe('Parent');
  });

  it('gives clear errors for bad bindings', async () => {
    const pascal = await call(sim, 'accounts', {
      method: 'POST',
      body: { name: 'bad-binding', 'PrimaryContactId@odata.bind': `/contacts(${DemoIds.contact(1)})` },
    });
    expect(pascal.status).toBe(400);
    expect(pascal.body.error.code).toBe('0x80060888');
    expect(pascal.body.error.message).toContain("An undeclared property 'PrimaryContactId' which only has property annotations");
    expect(pascal.body.error.message).toContain("did you mean 'primarycontactid'");
    const wrongSet = await call(sim, 'accounts', {
      method: 'POST',
      body: { name: 'bad-binding', 'primarycontactid@odata.bind': `/accounts(${DemoIds.account(1)})` },
    });
    expect(wrongSet.status).toBe(400);
    expect(wrongSet.body.error.message).toContain('accepts contact');
    const missing = crypto.randomUUID();
    const gone = await call(sim, 'accounts', {
      method: 'POST',
      body: { name: 'bad-binding', 'primarycontactid@odata.bind': `/contacts(${missing})` },
    });
    expect(gone.status).toBe(404);
    expect(gone.body.error.message).toBe(`contact With Id = ${missing} Does Not Exist`);
    const unknownSet = await call(sim, 'accounts', {
      method: 'POST',
      body: { name: 'bad-binding', 'primarycontactid@odata.bind': `/nothings(${missing})` },
    });
    expect(unknownSet.status).toBe(404);
    expect(unknownSet.body.error.message).toBe("Resource not found for the segment 'nothings'.");
    const direct = await call(sim, 'accounts', {
      method: 'POST',
      body: { name: 'bad-binding', _primarycontactid_value: DemoIds.contact(1) },
    });
    expect(direct.status).toBe(400);
    expect(direct.body.error.message).toContain('CRM do not support direct update of Entity Reference properties');
    // Nothing was created by the failed requests.
    expect((await call(sim, "accounts?$filter=name eq 'bad-binding'&$select=name")).body.value).toEqual([]);
  });
});

describe('payload validation', () => {
  it('rejects unknown columns, over-long text, option values outside the set, wrong JSON types and read-only columns', async () => {
    const unknown = await call(sim, 'accounts', { method: 'POST', body: { name: 'x', foo: 1 } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toBe(
      "The property 'foo' does not exist on type 'Microsoft.Dynamics.CRM.account'. Make sure to only use property names that are defined by the type.",
    );
    const long = await call(sim, 'accounts', { method: 'POST', body: { name: 'x'.repeat(161) } });
    expect(long.status).toBe(400);
    expect(long.body.error).toEqual({
      code: '0x80044331',
      message:
        "A validation error occurred.  The length of the 'name' attribute of the 'account' entity exceeded the maximum allowed length of '160'.",
    });
    const option = await call(sim, 'accounts', { method: 'POST', body: { name: 'x', paymenttermscode: 99 } });
    expect(option.status).toBe(400);
    expect(option.body.error.message).toContain('Accepted Values: 1,2,3,4');
    const type = await call(sim, 'accounts', { method: 'POST', body: { name: 'x', revenue: 'lots' } });
    expect(type.status).toBe(400);
    const ro = await call(sim, 'accounts', { method: 'POST', body: { name: 'x', versionnumber: 5 } });
    expect(ro.status).toBe(400);
    expect(ro.body.error).toEqual({
      code: '0x80040203',
      message: "The 'versionnumber' attribute of 'account' is not valid for create (IsValidForCreate = false).",
    });
    const bad = await call(sim, 'accounts', { method: 'POST', body: '{not json' });
    expect(bad.status).toBe(400);
  });

  it('keeps statecode and statuscode consistent', async () => {
    const id = await createAccount({ name: 'State' });
    await call(sim, `accounts(${id})`, { method: 'PATCH', body: { statecode: 1 } });
    expect((await call(sim, `accounts(${id})?$select=statecode,statuscode`)).body).toMatchObject({ statecode: 1, statuscode: 2 });
    const bad = await call(sim, `accounts(${id})`, { method: 'PATCH', body: { statecode: 0, statuscode: 2 } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('is not a valid status code');
  });
});

describe('users, WhoAmI and impersonation (B.13)', () => {
  it('answers WhoAmI for the caller', async () => {
    const r = await call(sim, 'WhoAmI');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      UserId: sim.integrationUserId,
      BusinessUnitId: DemoIds.businessUnit,
      OrganizationId: DemoIds.organization,
    });
  });

  it('rejects missing and unknown tokens with 401 and disabled users with 403', async () => {
    const none = await call(sim, 'accounts', { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect((await call(sim, 'accounts', { token: 'nope' })).status).toBe(401);
    const disabled = await call(sim, 'accounts', { token: 'dv-disabled-token' });
    expect(disabled.status).toBe(403);
    expect(disabled.body.error.message).toContain('is disabled');
  });

  it('honours CallerObjectId: createdby is the impersonated user, createdonbehalfby the caller', async () => {
    const users = await call(sim, `systemusers(${DemoIds.salesUserAnnette})?$select=azureactivedirectoryobjectid`);
    const r = await call(sim, 'accounts?$select=_createdby_value,_createdonbehalfby_value,_ownerid_value,_modifiedby_value', {
      method: 'POST',
      headers: { CallerObjectId: users.body.azureactivedirectoryobjectid, Prefer: 'return=representation' },
      body: { name: 'On behalf' },
    });
    expect(r.status).toBe(201);
    expect(r.body._createdby_value).toBe(DemoIds.salesUserAnnette);
    expect(r.body._modifiedby_value).toBe(DemoIds.salesUserAnnette);
    expect(r.body._ownerid_value).toBe(DemoIds.salesUserAnnette);
    expect(r.body._createdonbehalfby_value).toBe(sim.integrationUserId);
    const who = await call(sim, 'WhoAmI', { headers: { MSCRMCallerID: DemoIds.salesUserPeter } });
    expect(who.body.UserId).toBe(DemoIds.salesUserPeter);
    const denied = await call(sim, 'WhoAmI', { token: 'dv-sales-token', headers: { MSCRMCallerID: DemoIds.salesUserPeter } });
    expect(denied.status).toBe(403);
    expect(denied.body.error.message).toContain('prvActOnBehalfOfAnotherUser');
  });
});

describe('demo data', () => {
  it('has accounts overlapping the BC demo company by name and some that do not', async () => {
    const r = await call(sim, "accounts?$select=name&$filter=startswith(name,'Bulk') eq false&$orderby=name");
    const names = (r.body.value as Array<{ name: string }>).map((a) => a.name);
    for (const n of ['Adatum Corporation', 'Trey Research', 'School of Fine Art', 'Alpine Ski House', 'Relecloud', 'Northwind Traders']) {
      expect(names).toContain(n);
    }
  });

  it('has the integration (application) user, a disabled and an unlicensed user, an owner team and USD', async () => {
    const u = await call(sim, `systemusers(${sim.integrationUserId})?$select=applicationid,accessmode,fullname`);
    expect(u.body.applicationid).toMatch(GUID);
    expect(u.body.accessmode).toBe(4);
    const disabled = await call(sim, 'systemusers?$filter=isdisabled eq true&$select=fullname');
    expect(disabled.body.value.length).toBeGreaterThan(0);
    const unlicensed = await call(sim, 'systemusers?$filter=islicensed eq false and accessmode ne 4&$select=fullname');
    expect(unlicensed.body.value.length).toBeGreaterThan(0);
    const team = await call(sim, `teams(${DemoIds.owningTeam})?$select=name,teamtype`);
    expect(team.body).toMatchObject({ name: 'BCI - CRONUS USA, Inc.', teamtype: 0 });
    const usd = await call(sim, "transactioncurrencies(isocurrencycode='USD')?$select=currencyname,currencysymbol");
    expect(usd.body).toMatchObject({ currencyname: 'US Dollar', currencysymbol: '$' });
    const teamOwned = await call(sim, `accounts?$filter=_ownerid_value eq ${DemoIds.owningTeam}&$select=name`);
    expect(teamOwned.body.value.length).toBeGreaterThan(0);
  });

  it('has a submitted order with a write-in line and a long description; its lines are read-only', async () => {
    const r = await call(
      sim,
      `salesorders(${DemoIds.salesOrder})?$select=name,description,statecode,statuscode,totallineitemamount&$expand=order_details($select=productdescription,isproductoverridden,_productid_value,extendedamount;$orderby=lineitemnumber)`,
    );
    expect(r.status).toBe(200);
    expect(r.body.statecode).toBe(1);
    expect(r.body.statuscode).toBe(3);
    expect(r.body.description.length).toBeGreaterThan(100);
    expect(r.body.order_details).toHaveLength(2);
    const writeIn = r.body.order_details[1];
    expect(writeIn._productid_value).toBeNull();
    expect(writeIn.isproductoverridden).toBe(true);
    expect(writeIn.productdescription.length).toBeGreaterThan(100);
    expect(r.body.totallineitemamount).toBeCloseTo(2 * 1000.8 + 450, 2);
    const edit = await call(sim, `salesorders(${DemoIds.salesOrder})`, { method: 'PATCH', body: { name: 'changed' } });
    expect(edit.status).toBe(400);
    expect(edit.body.error.message).toContain('Submitted');
    const line = await call(sim, `salesorderdetails(${DemoIds.salesOrderLine(1)})`, { method: 'PATCH', body: { quantity: 3 } });
    expect(line.status).toBe(400);
    // Activating first makes it editable (what BC does before modifying an order).
    expect((await call(sim, `salesorders(${DemoIds.salesOrder})`, { method: 'PATCH', body: { statecode: 0 } })).status).toBe(204);
    expect((await call(sim, `salesorderdetails(${DemoIds.salesOrderLine(1)})`, { method: 'PATCH', body: { quantity: 3 } })).status).toBe(
      204,
    );
    const after = await call(sim, `salesorders(${DemoIds.salesOrder})?$select=totallineitemamount`);
    expect(after.body.totallineitemamount).toBeCloseTo(3 * 1000.8 + 450, 2);
  });
});
