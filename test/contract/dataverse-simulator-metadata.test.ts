import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DataverseSimulator, DemoIds } from '../../dev/dataverse-simulator';
import { ENTITY_DEFS } from '../../dev/dataverse-simulator/metadata';
import { call, startSim } from './dataverse-simulator-helpers';

/**
 * The simulator refuses what the entity references say real Dataverse refuses (issue 17): columns not valid for
 * create / update, empty SystemRequired columns, values outside the option set a column actually uses, state
 * changes a plain update may not make, and writes to intersect tables. Each table's metadata is data naming its
 * source, and EntityDefinitions serves it.
 */
let sim: DataverseSimulator;
beforeAll(async () => {
  sim = await startSim();
});
afterAll(async () => {
  await sim?.stop();
});

const INVALID_ARGUMENT = '0x80040203';
const VALIDATION = '0x80044331';
const OPTION_OUT_OF_RANGE = '0x8004431a';

const product = (n: number, extra: Record<string, unknown> = {}) => ({
  name: `Metadata ${n}`,
  productnumber: `MD-${n}`,
  quantitydecimal: 2,
  'defaultuomscheduleid@odata.bind': `/uomschedules(${DemoIds.unitGroup})`,
  'defaultuomid@odata.bind': `/uoms(${DemoIds.unitPcs})`,
  ...extra,
});
const post = (set: string, body: unknown) => call(sim, set, { method: 'POST', body, headers: { Prefer: 'return=representation' } });
const patch = (path: string, body: unknown) => call(sim, path, { method: 'PATCH', body, headers: { 'If-Match': '*' } });

describe('metadata as data', () => {
  it('has one file per table naming the page it follows, and serves its columns from EntityDefinitions', async () => {
    expect(ENTITY_DEFS.length).toBeGreaterThanOrEqual(24);
    for (const def of ENTITY_DEFS) expect(def.source.doc, def.logicalName).toMatch(/^MicrosoftDocs\/|^microsoft\//);
    const attrs = await call(
      sim,
      "EntityDefinitions(LogicalName='productpricelevel')/Attributes?$select=LogicalName,IsValidForCreate,IsValidForUpdate,RequiredLevel",
    );
    const byName = new Map<string, Record<string, unknown>>(attrs.body.value.map((a: { LogicalName: string }) => [a.LogicalName, a]));
    expect(byName.get('productnumber')).toMatchObject({ IsValidForCreate: false, IsValidForUpdate: false });
    expect(byName.get('transactioncurrencyid')).toMatchObject({ IsValidForCreate: false, IsValidForUpdate: true });
    expect(byName.get('pricelevelid')).toMatchObject({
      IsValidForCreate: true,
      IsValidForUpdate: false,
      RequiredLevel: { Value: 'SystemRequired' },
    });
    const options = await call(
      sim,
      "EntityDefinitions(LogicalName='salesorder')/Attributes(LogicalName='paymenttermscode')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet,GlobalOptionSet",
    );
    expect(options.body.OptionSet).toMatchObject({ Name: 'salesorder_paymenttermscode', IsGlobal: false });
    expect(options.body.GlobalOptionSet).toBeNull();
  });
});

describe('columns not valid for create or update', () => {
  it('refuses pricelevelid on a product create and takes it on update (product reference; BC table 5348: Modify)', async () => {
    const bad = await post('products', product(1, { 'pricelevelid@odata.bind': `/pricelevels(${DemoIds.priceList})` }));
    expect(bad.status).toBe(400);
    expect(bad.body.error).toEqual({
      code: INVALID_ARGUMENT,
      message: "The 'pricelevelid' attribute of 'product' is not valid for create (IsValidForCreate = false).",
    });
    const ok = await post('products', product(1));
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ statecode: 2, statuscode: 0 });
    expect(
      (await patch(`products(${ok.body.productid})`, { 'pricelevelid@odata.bind': `/pricelevels(${DemoIds.priceList})` })).status,
    ).toBe(204);
  });

  it('refuses productnumber and transactioncurrencyid on a price list item create; copies them from product and price list', async () => {
    const base = {
      amount: 10,
      pricingmethodcode: 1,
      'pricelevelid@odata.bind': `/pricelevels(${DemoIds.priceList})`,
      'productid@odata.bind': `/products(${DemoIds.product(3)})`,
      'uomid@odata.bind': `/uoms(${DemoIds.unitPcs})`,
    };
    const withNumber = await post('productpricelevels', { ...base, productnumber: '1906-S' });
    expect(withNumber.body.error?.message).toContain("'productnumber' attribute of 'productpricelevel' is not valid for create");
    const withCurrency = await post('productpricelevels', {
      ...base,
      'transactioncurrencyid@odata.bind': `/transactioncurrencies(${DemoIds.usd})`,
    });
    expect(withCurrency.body.error?.message).toContain("'transactioncurrencyid' attribute of 'productpricelevel' is not valid for create");
    const withoutUnit = await post('productpricelevels', { ...base, 'uomid@odata.bind': undefined });
    expect(withoutUnit.status).toBe(400);
    expect(withoutUnit.body.error).toMatchObject({
      code: VALIDATION,
      message: expect.stringContaining("'uomid' on record of type 'productpricelevel'"),
    });
    const ok = await post('productpricelevels', base);
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({ productnumber: '1906-S', _transactioncurrencyid_value: DemoIds.usd });
    // The price list cannot be moved to another one (IsValidForUpdate false).
    const move = await patch(`productpricelevels(${ok.body.productpricelevelid})`, {
      'pricelevelid@odata.bind': `/pricelevels(${DemoIds.priceList})`,
    });
    expect(move.body.error?.message).toContain('not valid for update');
  });

  it('refuses baseamount, extendedamount and volumediscountamount on a line create; takes the amounts by update', async () => {
    const order = await post('salesorders', {
      name: 'Metadata order',
      'customerid_account@odata.bind': `/accounts(${DemoIds.account(1)})`,
      'pricelevelid@odata.bind': `/pricelevels(${DemoIds.priceList})`,
    });
    expect(order.status).toBe(201);
    const line = {
      'salesorderid@odata.bind': `/salesorders(${order.body.salesorderid})`,
      'productid@odata.bind': `/products(${DemoIds.product(1)})`,
      'uomid@odata.bind': `/uoms(${DemoIds.unitPcs})`,
      quantity: 1,
      priceperunit: 5,
      ispriceoverridden: true,
    };
    for (const column of ['baseamount', 'extendedamount', 'volumediscountamount']) {
      const r = await post('salesorderdetails', { ...line, [column]: 5 });
      expect(r.status, column).toBe(400);
      expect(r.body.error.message, column).toContain(`'${column}' attribute of 'salesorderdetail' is not valid for create`);
    }
    const noUnit = await post('salesorderdetails', { ...line, 'uomid@odata.bind': undefined });
    expect(noUnit.body.error?.message).toContain("'uomid' on record of type 'salesorderdetail'");
    const ok = await post('salesorderdetails', line);
    expect(ok.status).toBe(201);
    expect(ok.body.producttypecode).toBe(1);
    expect((await patch(`salesorderdetails(${ok.body.salesorderdetailid})`, { baseamount: 5, extendedamount: 5 })).status).toBe(204);
    const ro = await patch(`salesorderdetails(${ok.body.salesorderdetailid})`, { volumediscountamount: 0 });
    expect(ro.body.error?.message).toContain("'volumediscountamount' attribute of 'salesorderdetail' is not valid for update");
  });
});

describe('required columns', () => {
  it('refuses a currency without exchangerate or currencyprecision, and an isocurrencycode change', async () => {
    const full = { currencyname: 'Swiss franc', isocurrencycode: 'CHF', currencysymbol: 'Fr', exchangerate: 0.88, currencyprecision: 2 };
    for (const column of ['exchangerate', 'currencyprecision']) {
      const r = await post('transactioncurrencies', { ...full, [column]: undefined });
      expect(r.status, column).toBe(400);
      expect(r.body.error).toEqual({
        code: VALIDATION,
        message: `A validation error occurred. The value for '${column}' on record of type 'transactioncurrency' is required and can't be empty.`,
      });
    }
    const ok = await post('transactioncurrencies', full);
    expect(ok.status).toBe(201);
    const rename = await patch(`transactioncurrencies(${ok.body.transactioncurrencyid})`, { isocurrencycode: 'CHW' });
    expect(rename.body.error?.message).toContain('not valid for update');
  });

  it('refuses a webhook service endpoint without path, userclaim, solutionnamespace or connectionmode', async () => {
    const full = {
      name: 'required',
      url: 'http://127.0.0.1:9/hook',
      contract: 8,
      authtype: 4,
      authvalue: 'k',
      messageformat: 2,
      path: '/hook',
      userclaim: 1,
      solutionnamespace: '127.0.0.1',
      connectionmode: 1,
    };
    for (const column of ['path', 'userclaim', 'solutionnamespace', 'connectionmode']) {
      const r = await post('serviceendpoints', { ...full, [column]: undefined });
      expect(r.body.error?.message, column).toContain(`'${column}' on record of type 'serviceendpoint'`);
    }
    // Dataverse keeps '' as null: an empty path is missing too.
    expect((await post('serviceendpoints', { ...full, path: '' })).status).toBe(400);
    expect((await post('serviceendpoints', full)).status).toBe(201);
  });

  it('refuses a Delete step image registered with Id: Update and Delete images use Target, Create uses Id', async () => {
    const endpoint = await post('serviceendpoints', {
      name: 'images',
      url: 'http://127.0.0.1:9/hook',
      contract: 8,
      authtype: 4,
      authvalue: 'k',
      messageformat: 2,
      path: '/hook',
      userclaim: 1,
      solutionnamespace: '127.0.0.1',
      connectionmode: 1,
    });
    const step = await post('sdkmessageprocessingsteps', {
      name: 'delete of account',
      mode: 1,
      stage: 40,
      rank: 1,
      supporteddeployment: 0,
      'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${endpoint.body.serviceendpointid})`,
      'sdkmessageid@odata.bind': `/sdkmessages(${DemoIds.message.Delete})`,
    });
    expect(step.status).toBe(201);
    const image = (messagepropertyname: string) =>
      post('sdkmessageprocessingstepimages', {
        name: 'PreImage',
        entityalias: 'PreImage',
        imagetype: 0,
        messagepropertyname,
        attributes: 'customertypecode',
        'sdkmessageprocessingstepid@odata.bind': `/sdkmessageprocessingsteps(${step.body.sdkmessageprocessingstepid})`,
      });
    const id = await image('Id');
    expect(id.status).toBe(400);
    expect(id.body.error.message).toContain("use 'Target'");
    expect((await image('Target')).status).toBe(201);
  });
});

describe('option sets: each document column has its own', () => {
  it('an option appended to account does not make the value valid on salesorder, invoice or quote', async () => {
    const inserted = await call(sim, 'InsertOptionValue', {
      method: 'POST',
      body: {
        EntityLogicalName: 'account',
        AttributeLogicalName: 'paymenttermscode',
        Label: { LocalizedLabels: [{ Label: '14 DAYS', LanguageCode: 1033 }] },
      },
    });
    const value = inserted.body.NewOptionValue as number;
    expect((await patch(`accounts(${DemoIds.account(1)})`, { paymenttermscode: value })).status).toBe(204);
    const order = await post('salesorders', {
      name: 'Option order',
      paymenttermscode: value,
      'customerid_account@odata.bind': `/accounts(${DemoIds.account(1)})`,
    });
    expect(order.status).toBe(400);
    expect(order.body.error).toMatchObject({
      code: OPTION_OUT_OF_RANGE,
      message: expect.stringContaining("'paymenttermscode' on record of type 'salesorder'"),
    });
    // BC's InsertOptionSetMetadataWithOptionValue: the same value in the order's own set.
    const again = await call(sim, 'InsertOptionValue', {
      method: 'POST',
      body: {
        EntityLogicalName: 'salesorder',
        AttributeLogicalName: 'paymenttermscode',
        Value: value,
        Label: { LocalizedLabels: [{ Label: '14 DAYS', LanguageCode: 1033 }] },
      },
    });
    expect(again.body.NewOptionValue).toBe(value);
    const ok = await post('salesorders', {
      name: 'Option order',
      paymenttermscode: value,
      'customerid_account@odata.bind': `/accounts(${DemoIds.account(1)})`,
    });
    expect(ok.status).toBe(201);
  });
});

describe('state changes', () => {
  it('a new product is Draft; a single product is published by SetState, a family by PublishProductHierarchy', async () => {
    const created = await post('products', product(2, { statecode: 0 }));
    expect(created.body.error?.message).toContain("'statecode' attribute of 'product' is not valid for create");
    const p = await post('products', product(2));
    expect(p.body).toMatchObject({ statecode: 2, statuscode: 0 });
    const family = await call(sim, `products(${p.body.productid})/Microsoft.Dynamics.CRM.PublishProductHierarchy`, {
      method: 'POST',
      body: {},
    });
    expect(family.status).toBe(400);
    expect(family.body.error.message).toContain('product family only');
    expect((await patch(`products(${p.body.productid})`, { statecode: 0, statuscode: 1 })).status).toBe(204);
    // Active → Draft is no transition the product lifecycle has.
    const back = await patch(`products(${p.body.productid})`, { statecode: 2, statuscode: 0 });
    expect(back.body.error).toMatchObject({
      code: INVALID_ARGUMENT,
      message: expect.stringContaining("can't go from statecode 0 (Active) to 2 (Draft)"),
    });
    const fam = await post('products', product(3, { productstructure: 2 }));
    const published = await call(sim, `products(${fam.body.productid})/Microsoft.Dynamics.CRM.PublishProductHierarchy`, {
      method: 'POST',
      body: {},
    });
    expect(published.status).toBe(204);
    expect((await call(sim, `products(${fam.body.productid})?$select=statecode`)).body.statecode).toBe(0);
  });

  it('an order becomes Fulfilled through FulfillSalesOrder, not by PATCH', async () => {
    const order = await post('salesorders', { name: 'Fulfil me', 'customerid_account@odata.bind': `/accounts(${DemoIds.account(1)})` });
    const id = order.body.salesorderid as string;
    const byPatch = await patch(`salesorders(${id})`, { statecode: 3, statuscode: 100001 });
    expect(byPatch.status).toBe(400);
    expect(byPatch.body.error.message).toContain('use the FulfillSalesOrder message');
    const fulfilled = await call(sim, 'FulfillSalesOrder', {
      method: 'POST',
      body: {
        OrderClose: {
          '@odata.type': 'Microsoft.Dynamics.CRM.orderclose',
          subject: 'done',
          'salesorderid@odata.bind': `/salesorders(${id})`,
        },
        Status: 100001,
      },
    });
    expect(fulfilled.status).toBe(204);
    expect((await call(sim, `salesorders(${id})?$select=statecode,statuscode`)).body).toMatchObject({ statecode: 3, statuscode: 100001 });
  });

  it('teamrolescollection is read through queries only', async () => {
    const roles = await call(sim, `teamrolescollection?$select=roleid&$filter=teamid eq ${DemoIds.owningTeam}`);
    expect(roles.body.value).toEqual([expect.objectContaining({ roleid: DemoIds.owningTeamRole })]);
    const write = await post('teamrolescollection', { teamid: DemoIds.owningTeam });
    expect(write.status).toBe(400);
    expect(write.body.error.message).toBe("The 'Create' method does not support entities of type 'teamroles'.");
  });
});
