import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoIds } from '../../dev/dataverse-simulator';
import { syncRecord } from '../../shared/domain/sync/sync-record';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { type Stack, startStack, TEST_AVAILABILITY_KEY, TEST_LOCAL_KEY } from '../support/stack';
import { until } from '../support/until';
import { harness } from './harness';

/**
 * Lead to cash through the local host with both simulators: the auto-create job and its queue, quote (won
 * opportunity) to order, the posted invoice back in Sales, a BC price change, and item availability.
 */
describe('lead to cash', () => {
  let stack: Stack;
  let rt: Runtime;
  const h = harness(
    () => stack,
    () => rt,
  );
  let desk: Record<string, unknown>;
  const wonOrderId = '50000000-0000-4000-8000-00000000000b';
  let wonBcOrder: Record<string, unknown>;
  let invoiceDv: Record<string, unknown>;

  beforeAll(async () => {
    stack = await startStack({ functions: ['sync', 'sales-orders', 'item-availability'] });
    rt = await getRuntime();
    await h.matchBy('CUSTOMER', 'displayName', 'name');
    // The write-in item WRITE-IN is part of the demo BC data.
    await h.bcOne('items', "number eq 'WRITE-IN'");
    desk = await h.bcOne('items', "number eq '1896-S'");
    const chair = await h.bcOne('items', "number eq '1900-S'");
    await h.couple('ITEM-PRODUCT', String(desk.id), DemoIds.product(1));
    await h.couple('ITEM-PRODUCT', String(chair.id), DemoIds.product(2));
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('the auto-create job queues the submitted demo order; the ops-sales-orders worker creates it once', async () => {
    await stack.host.runTimer('auto-create-sales-orders');
    const order = await until(
      'the BC order from the queue',
      async () => (await h.bcList('salesOrders', "externalDocumentNumber eq 'Trey Research furniture order'", true))[0],
    );
    expect(order.customerNumber).toBe('20000');
    // The worker couples the order right after BC created it: wait for that, not only for the BC order.
    expect(
      await until('the order coupling', () => rt.stores.couplings.getByDataverseId('SALESORDER-ORDER', DemoIds.salesOrder)),
    ).toBeDefined();
    await stack.host.runTimer('auto-create-sales-orders');
    expect(await h.bcList('salesOrders', "externalDocumentNumber eq 'Trey Research furniture order'", true)).toHaveLength(1);
  });

  it('a won opportunity produces its submitted order in BC, once', async () => {
    await h.dvWrite('POST', 'salesorders', {
      salesorderid: wonOrderId,
      name: 'Adatum chairs',
      ordernumber: 'ORD-L2C-0002',
      'customerid_account@odata.bind': `/accounts(${DemoIds.account(1)})`,
      'opportunityid@odata.bind': `/opportunities(${DemoIds.opportunity})`,
      order_details: [
        {
          quantity: 4,
          priceperunit: 192.8,
          ispriceoverridden: true,
          sequencenumber: 1,
          // As the Sales form sends it: the unit with the product.
          'productid@odata.bind': `/products(${DemoIds.product(2)})`,
          'uomid@odata.bind': `/uoms(${DemoIds.unitPcs})`,
        },
      ],
    });
    await h.dvWrite('PATCH', `salesorders(${wonOrderId})`, { statecode: 1, statuscode: 3 });
    await h.dvWrite('PATCH', `opportunities(${DemoIds.opportunity})`, { statecode: 1, statuscode: 3 });
    const won = h.event({ mapping: 'OPPORTUNITY', source: 'dataverse', recordId: DemoIds.opportunity, origin: 'webhook' });
    await rt.publisher.publish([won]);
    wonBcOrder = await until(
      'the BC order of the won opportunity',
      async () => (await h.bcList('salesOrders', "externalDocumentNumber eq 'Adatum chairs'", true))[0],
    );
    expect(wonBcOrder.customerNumber).toBe('10000');
    // The same notification again (BC retries, a second webhook): still one order.
    await syncRecord({ ...won, correlationId: 'again' }, rt.syncDeps);
    expect(await h.bcList('salesOrders', "externalDocumentNumber eq 'Adatum chairs'", true)).toHaveLength(1);
    const lines = await h.bcList('salesOrderLines', `documentId eq ${String(wonBcOrder.id)}`, true);
    expect(lines.map((l) => [l.lineObjectNumber, l.quantity, l.unitPrice])).toEqual([['1900-S', 4, 192.8]]);
  });

  it('a posted BC invoice appears in Dataverse with all its lines and totals, linked to its order and opportunity', async () => {
    const res = await fetch(`${stack.bc.apiBase()}/salesOrders(${String(wonBcOrder.id)})/Microsoft.NAV.shipAndInvoice`, {
      method: 'POST',
      headers: { Authorization: 'Bearer lead-to-cash' },
    });
    expect(res.status).toBe(204);
    const invoice = await h.bcOne('postedSalesInvoices', "yourReference eq 'ORD-L2C-0002'", true);
    const bcLines = await h.bcList('postedSalesInvoiceLines', `documentId eq ${String(invoice.id)}`, true);
    await rt.publisher.publish([h.event({ mapping: 'POSTEDSALESINV-INV', source: 'bc', recordId: String(invoice.id), origin: 'webhook' })]);
    invoiceDv = await until('the billed invoice in Dataverse', async () => {
      const rows = (await h.dvGet(`invoices?$filter=invoicenumber eq '${String(invoice.number)}'`)).value ?? [];
      return rows[0]?.statuscode === 4 ? rows[0] : undefined;
    });
    expect(invoiceDv._salesorderid_value).toBe(wonOrderId);
    expect(invoiceDv._opportunityid_value).toBe(DemoIds.opportunity);
    expect(invoiceDv._customerid_value).toBe(DemoIds.account(1));
    expect(invoiceDv.name).toBe('Adatum chairs');
    expect(invoiceDv.totalamount).toBe(invoice.totalAmountIncludingTax);
    const dvLines = (await h.dvGet(`invoicedetails?$filter=_invoiceid_value eq ${String(invoiceDv.invoiceid)}`)).value ?? [];
    expect(dvLines).toHaveLength(bcLines.length);
    expect(dvLines.map((l) => [l._productid_value, l.quantity, l.priceperunit, l.extendedamount])).toEqual(
      bcLines.map((l) => [DemoIds.product(2), l.quantity, l.unitPrice, l.amountIncludingTax]),
    );
  });

  it('leaves an invoice alone once its Dataverse copy is no longer active', async () => {
    await h.dvWrite('PATCH', `invoices(${String(invoiceDv.invoiceid)})`, { statecode: 3, statuscode: 100003 });
    const invoice = await h.bcOne('postedSalesInvoices', "yourReference eq 'ORD-L2C-0002'", true);
    const outcome = await syncRecord(
      h.event({ mapping: 'POSTEDSALESINV-INV', source: 'bc', recordId: String(invoice.id), origin: 'manual' }),
      rt.syncDeps,
    );
    expect(outcome.result).toBe('skipped');
    expect(outcome.message).toMatch(/no longer active/);
  });

  it('a BC price change reaches the Dataverse price list', async () => {
    const group = await h.bcOne('customerPriceGroups', "code eq 'RETAIL'", true);
    const outcome = await syncRecord(h.event({ mapping: 'CUSTPRCGRP-PRICE', source: 'bc', recordId: String(group.id) }), rt.syncDeps);
    expect(outcome.result, outcome.message).toBe('inserted');
    const priceList = String(outcome.dataverseId);
    const amountOf = async () =>
      ((await h.dvGet(`productpricelevels?$filter=_pricelevelid_value eq ${priceList} and _productid_value eq ${DemoIds.product(1)}`))
        .value ?? [])[0]?.amount;
    // Coupling the group re-pushed its prices through the SALESPRC-PRODPRICE queue.
    await until('the group price of the desk', async () => (await amountOf()) === 1000.8);
    const price = await h.bcOne('salesPrices', "itemNumber eq '1896-S' and salesCode eq 'RETAIL'", true);
    // A BC user changes the price (the extension's salesPrices page is read-only: bc-extension/src/pages/SalesPriceApi.Page.al).
    await h.sim('as-user', {
      method: 'PATCH',
      group: 'bcsync/integration/v1.0',
      entitySet: 'salesPrices',
      id: String(price.id),
      body: { unitPrice: 1049.5 },
    });
    await rt.publisher.publish([h.event({ mapping: 'SALESPRC-PRODPRICE', source: 'bc', recordId: String(price.id), origin: 'webhook' })]);
    await until('the new price in Dataverse', async () => (await amountOf()) === 1049.5);
  });

  it("an item's Unit Price keeps its line on the Business Central Default Price List", async () => {
    // The desk's base unit is coupled to the product's unit, as unit groups require.
    const pcs = await h.bcOne('itemUnitsOfMeasure', "itemNumber eq '1896-S' and code eq 'PCS'", true);
    await h.couple('ITEM UOM', String(pcs.id), DemoIds.unitPcs);
    await h.bcPatch('items', String(desk.id), { unitPrice: 1011 });
    const outcome = await syncRecord(h.event({ mapping: 'ITEM-PRODUCT', source: 'bc', recordId: String(desk.id) }), rt.syncDeps);
    expect(outcome.result, outcome.message).toBe('modified');
    const list = ((await h.dvGet("pricelevels?$filter=name eq 'Business Central Default Price List'")).value ?? [])[0];
    expect(list).toBeDefined();
    const lines = (await h.dvGet(`productpricelevels?$filter=_pricelevelid_value eq ${String(list?.pricelevelid)}`)).value ?? [];
    expect(lines.map((l) => [l._productid_value, l.amount])).toEqual([[DemoIds.product(1), 1011]]);
  });

  it('an inventory change reaches the product, by the job and on demand', async () => {
    const product = DemoIds.product(1);
    await h.sim('flowfield', { entitySet: 'items', id: String(desk.id), value: 3 });
    await stack.host.runTimer('item-availability');
    expect((await h.dvGet(`products(${product})?$select=quantityonhand`)).quantityonhand).toBe(3);
    await h.sim('flowfield', { entitySet: 'items', id: String(desk.id), value: 7 });
    const url = (id: string) => stack.host.apiUrl(`availability/${id}`);
    const res = await fetch(url(product), { headers: { 'x-availability-key': TEST_AVAILABILITY_KEY } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ productId: product, itemNo: '1896-S', inventory: 7, unitOfMeasure: 'PCS', updated: true });
    expect((await h.dvGet(`products(${product})?$select=quantityonhand`)).quantityonhand).toBe(7);
    expect((await fetch(url(DemoIds.product(5)), { headers: { 'x-availability-key': TEST_AVAILABILITY_KEY } })).status).toBe(404);
    expect((await fetch(url('nope'), { headers: { 'x-availability-key': TEST_AVAILABILITY_KEY } })).status).toBe(400);
    expect((await fetch(url(product))).status).toBe(401);
    // Its own key: the function key and the admin key open nothing here.
    const otherKeys = { 'x-functions-key': TEST_LOCAL_KEY, 'x-sync-key': TEST_LOCAL_KEY, 'x-availability-key': TEST_LOCAL_KEY };
    expect((await fetch(url(product), { headers: otherKeys })).status).toBe(401);
  });
});
