import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoIds } from '../../dev/dataverse-simulator';
import { syncRecord } from '../../shared/domain/sync/sync-record';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { type Stack, startStack } from '../support/stack';
import { harness } from './harness';

/**
 * SALES_ORDER_INTEGRATION=bidirectional (bc-integration-reference 2.15, 1.3, 1.4, rule 14) with both simulators:
 * a submitted Sales order becomes a released BC order with its lines, BC's header and line changes come back,
 * BC's filters hold, a deleted BC line takes its coupling and its Sales line with it, and shipping in BC fulfils
 * the Sales order.
 */
describe('bidirectional sales orders', () => {
  let stack: Stack;
  let rt: Runtime;
  const h = harness(
    () => stack,
    () => rt,
  );
  const orderId = '50000000-0000-4000-8000-0000000000b1';
  const draftId = '50000000-0000-4000-8000-0000000000b2';
  const deskLine = '51000000-0000-4000-8000-0000000000b1';
  const chairLine = '51000000-0000-4000-8000-0000000000b2';
  let bcOrderId = '';
  const order = (recordId: string, source: 'bc' | 'dataverse' = 'dataverse') =>
    syncRecord(h.event({ mapping: 'SALESORDER-ORDER', source, recordId }), rt.syncDeps);
  const bcAction = async (id: string, action: 'release' | 'reopen' | 'ship') => {
    const res = await fetch(`${stack.bc.customApiBase()}/salesOrders(${id})/Microsoft.NAV.${action}`, {
      method: 'POST',
      headers: { Authorization: 'Bearer lead-to-cash' },
    });
    expect(res.status, await res.clone().text()).toBe(204);
  };
  const bcLines = async () =>
    (await h.bcList('salesOrderLines', `documentId eq ${bcOrderId}`, true)).sort((a, b) => Number(a.sequence) - Number(b.sequence));
  const dvOrder = () => h.dvGet(`salesorders(${orderId})?$select=statecode,statuscode,requestdeliveryby,bcbi_businesscentralordernumber`);

  beforeAll(async () => {
    stack = await startStack({
      functions: ['sync'],
      env: { SALES_ORDER_INTEGRATION: 'bidirectional', AUTO_CREATE_SALES_ORDERS: 'false' },
    });
    rt = await getRuntime();
    // The admin's preparation (rule 1): the customer and the products are coupled before orders sync.
    const adatum = await h.bcOne('customers', "number eq '10000'");
    await h.couple('CUSTOMER', String(adatum.id), DemoIds.account(1));
    const desk = await h.bcOne('items', "number eq '1896-S'");
    const chair = await h.bcOne('items', "number eq '1900-S'");
    await h.couple('ITEM-PRODUCT', String(desk.id), DemoIds.product(1));
    await h.couple('ITEM-PRODUCT', String(chair.id), DemoIds.product(2));
    const lines = [
      { salesorderdetailid: deskLine, quantity: 2, priceperunit: 1000.8, ispriceoverridden: true, sequencenumber: 1, product: 1 },
      { salesorderdetailid: chairLine, quantity: 4, priceperunit: 192.8, ispriceoverridden: true, sequencenumber: 2, product: 2 },
    ].map(({ product, ...l }) => ({
      ...l,
      // As the Sales form sends it: the unit with the product.
      'productid@odata.bind': `/products(${DemoIds.product(product)})`,
      'uomid@odata.bind': `/uoms(${DemoIds.unitPcs})`,
    }));
    for (const [id, name, number] of [
      [orderId, 'Adatum desks and chairs', 'ORD-BIDI-0001'],
      [draftId, 'Adatum draft', 'ORD-BIDI-0002'],
    ] as const) {
      await h.dvWrite('POST', 'salesorders', {
        salesorderid: id,
        name,
        ordernumber: number,
        requestdeliveryby: '2026-11-02',
        'customerid_account@odata.bind': `/accounts(${DemoIds.account(1)})`,
        order_details: id === orderId ? lines : [],
      });
    }
    await h.dvWrite('PATCH', `salesorders(${orderId})`, { statecode: 1, statuscode: 3 });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('a submitted Sales order becomes a released BC order with its lines, header and every line coupled', async () => {
    const outcome = await order(orderId);
    expect(outcome.result, outcome.message).toBe('inserted');
    expect(outcome.message).toMatch(/2 line\(s\): 2 inserted/);
    bcOrderId = String(outcome.bcId);
    const bc = await h.bcOne('salesOrders', `id eq ${bcOrderId}`, true);
    expect(bc).toMatchObject({
      customerNumber: '10000',
      yourReference: 'ORD-BIDI-0001',
      requestedDeliveryDate: '2026-11-02',
      status: 'Open',
    });
    const lines = await bcLines();
    expect(lines.map((l) => [l.lineType, l.lineObjectNumber, l.quantity, l.unitPrice])).toEqual([
      ['Item', '1896-S', 2, 1000.8],
      ['Item', '1900-S', 4, 192.8],
    ]);
    expect((await rt.stores.couplings.getByDataverseId('SALESORDER-ORDER', orderId))?.bcId).toBe(bcOrderId);
    expect((await rt.stores.couplings.getByDataverseId('SOLINE-ORDERDETAIL', deskLine))?.bcId).toBe(String(lines[0]?.id));
    expect((await rt.stores.couplings.getByDataverseId('SOLINE-ORDERDETAIL', chairLine))?.bcId).toBe(String(lines[1]?.id));
    // The Sales order stays Submitted (it is read-only there) and learns BC's order number on the next BC pass.
    const back = await order(bcOrderId, 'bc');
    expect(back.result, back.message).not.toBe('failed');
    expect(await dvOrder()).toMatchObject({ statecode: 1, bcbi_businesscentralordernumber: bc.number });
    // Again from Sales: nothing new is created.
    const again = await order(orderId);
    expect(again.result, again.message).not.toBe('failed');
    expect(await h.bcList('salesOrders', "yourReference eq 'ORD-BIDI-0001'", true)).toHaveLength(1);
    expect(await bcLines()).toHaveLength(2);
  });

  it("BC's changes to the released order's header and a line quantity flow back to Sales", async () => {
    await bcAction(bcOrderId, 'reopen');
    await h.bcPatch('salesOrders', bcOrderId, { requestedDeliveryDate: '2026-12-15' }, true);
    const chair = (await bcLines())[1] as Record<string, unknown>;
    await h.bcPatch('salesOrderLines', String(chair.id), { quantity: 6 }, true);
    await bcAction(bcOrderId, 'release');
    const outcome = await order(bcOrderId, 'bc');
    expect(outcome.result, outcome.message).toBe('modified');
    expect(await dvOrder()).toMatchObject({ requestdeliveryby: '2026-12-15', statecode: 1, statuscode: 3 });
    const detail = await h.dvGet(`salesorderdetails(${chairLine})?$select=quantity,baseamount`);
    expect(detail).toMatchObject({ quantity: 6, baseamount: 1156.8 });
  });

  it("BC's filters: a Sales order that is not submitted and a BC order that is not released are skipped, naming the filter", async () => {
    const draft = await order(draftId);
    expect(draft.result).toBe('skipped');
    expect(draft.message).toMatch(/integration table filter .*statecode eq 1/);
    const bcDraft = await h.bcPost(
      'salesOrders',
      { customerNumber: '10000', salesOrderLines: [{ lineObjectNumber: '1896-S', quantity: 1 }] },
      true,
    );
    const fromBc = await order(String(bcDraft.id), 'bc');
    expect(fromBc.result).toBe('skipped');
    expect(fromBc.message).toMatch(/table filter \(status eq 'Open'\)/);
    // A line of a released order changed while the order is reopened in BC is skipped too (lines follow the header).
    await bcAction(bcOrderId, 'reopen');
    const desk = (await bcLines())[0] as Record<string, unknown>;
    const line = await syncRecord(h.event({ mapping: 'SOLINE-ORDERDETAIL', source: 'bc', recordId: String(desk.id) }), rt.syncDeps);
    expect(line.result).toBe('skipped');
    expect(line.message).toMatch(/table filter \(status eq 'Open'/);
    await bcAction(bcOrderId, 'release');
  });

  it('deleting a BC sales line removes its coupling, and BC deletes the surviving Sales line too', async () => {
    const chair = (await bcLines())[1] as Record<string, unknown>;
    await bcAction(bcOrderId, 'reopen');
    const res = await fetch(`${stack.bc.customApiBase()}/salesOrderLines(${String(chair.id)})`, {
      method: 'DELETE',
      headers: { Authorization: 'Bearer lead-to-cash', 'If-Match': '*' },
    });
    expect(res.status).toBe(204);
    await bcAction(bcOrderId, 'release');
    const outcome = await syncRecord(
      h.event({ mapping: 'SOLINE-ORDERDETAIL', source: 'bc', recordId: String(chair.id), changeType: 'deleted' }),
      rt.syncDeps,
    );
    expect(outcome.result, outcome.message).toBe('deleted');
    expect(outcome.message).toMatch(/Remove Coupling/);
    expect(await rt.stores.couplings.getByBcId('SOLINE-ORDERDETAIL', String(chair.id))).toBeUndefined();
    const left = (await h.dvGet(`salesorderdetails?$filter=_salesorderid_value eq ${orderId}&$select=salesorderdetailid`)).value ?? [];
    expect(left.map((l) => l.salesorderdetailid)).toEqual([deskLine]);
    // The desk line keeps its coupling and the Sales order is Submitted again.
    expect(await rt.stores.couplings.getByDataverseId('SOLINE-ORDERDETAIL', deskLine)).toBeDefined();
    expect((await dvOrder()).statecode).toBe(1);
  });

  it('a line added in BC reaches Sales with the product unit; its amounts are written after the insert', async () => {
    await bcAction(bcOrderId, 'reopen');
    await h.bcPost(
      'salesOrderLines',
      { documentId: bcOrderId, lineType: 'Item', lineObjectNumber: '1896-S', quantity: 3, unitPrice: 900 },
      true,
    );
    await bcAction(bcOrderId, 'release');
    const outcome = await order(bcOrderId, 'bc');
    expect(outcome.message).toMatch(/1 inserted/);
    const lines = (
      await h.dvGet(
        `salesorderdetails?$filter=_salesorderid_value eq ${orderId}&$select=quantity,priceperunit,_uomid_value,baseamount,extendedamount`,
      )
    ).value;
    // baseamount/extendedamount are not valid for create (salesorderdetail reference): the insert leaves them out.
    expect(lines?.find((l) => l.quantity === 3)).toMatchObject({
      priceperunit: 900,
      _uomid_value: DemoIds.unitPcs,
      baseamount: 2700,
      extendedamount: 2700,
    });
  });

  it('a BC order shipped in full makes the Sales order Fulfilled, with the shipped quantities', async () => {
    await bcAction(bcOrderId, 'ship');
    const outcome = await order(bcOrderId, 'bc');
    expect(outcome.result, outcome.message).not.toBe('failed');
    expect(await dvOrder()).toMatchObject({ statecode: 3, statuscode: 100001 });
    expect(await h.dvGet(`salesorderdetails(${deskLine})?$select=quantityshipped`)).toMatchObject({ quantityshipped: 2 });
  });
});
