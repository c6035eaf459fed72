import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoIds } from '../../dev/dataverse-simulator';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { type Stack, startStack } from '../support/stack';
import { harness } from './harness';

/**
 * "Create in Business Central" end to end: the Dataverse demo's submitted order (an item line and a write-in line
 * with a long description) through the admin endpoint of the local host, into the BC simulator.
 */
describe('sales order from Sales to BC', () => {
  let stack: Stack;
  let rt: Runtime;
  const h = harness(
    () => stack,
    () => rt,
  );
  const demoOrder = DemoIds.salesOrder;
  const longText =
    'Custom walnut conference table, 3.6 m, with integrated power and data ports at each seat, cable tray underneath and matching credenza';

  beforeAll(async () => {
    stack = await startStack({ functions: ['sync', 'sales-orders'] });
    rt = await getRuntime();
    // The admin's preparation: customers couple by name, the write-in item exists (uncoupled), the desk is coupled.
    await h.matchBy('CUSTOMER', 'displayName', 'name');
    // The write-in item WRITE-IN is part of the demo BC data.
    await h.bcOne('items', "number eq 'WRITE-IN'");
    const desk = await h.bcOne('items', "number eq '1896-S'");
    await h.couple('ITEM-PRODUCT', String(desk.id), DemoIds.product(1));
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('creates one BC order with the customer, External Document No., an item line, a write-in line and comment lines', async () => {
    const first = await h.admin(`admin/sales-orders/${demoOrder}/create-in-bc`);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body.result).toBe('created');
    const order = await h.bcOne('salesOrders', "externalDocumentNumber eq 'Trey Research furniture order'", true);
    expect(order.customerNumber).toBe('20000');
    expect(order.yourReference).toBe('ORD-01001-SIM');
    expect(order.requestedDeliveryDate).toBe('2026-12-01');
    expect(order.number).toBe(first.body.bcOrderNumber);
    const lines = (await h.bcList('salesOrderLines', `documentId eq ${String(order.id)}`, true)).sort(
      (a, b) => Number(a.sequence) - Number(b.sequence),
    );
    expect(lines.map((l) => [l.lineType, l.lineObjectNumber, l.quantity])).toEqual([
      ['Item', '1896-S', 2],
      ['Item', 'WRITE-IN', 1],
      ['Comment', '', 0],
      ['Comment', '', 0],
    ]);
    expect(lines[0]?.unitPrice).toBe(1000.8);
    expect(lines[1]?.unitPrice).toBe(450);
    expect(lines[1]?.description).toBe(longText.slice(0, 100));
    expect(
      lines
        .slice(2)
        .map((l) => l.description)
        .join(''),
    ).toBe(longText);
    // Coupled under SALESORDER-ORDER, and the account was coupled (by name) to Trey Research on the way.
    const coupling = await rt.stores.couplings.getByDataverseId('SALESORDER-ORDER', demoOrder);
    expect(coupling?.bcId).toBe(String(order.id));
    expect(await rt.stores.couplings.getByDataverseId('CUSTOMER', DemoIds.account(2))).toBeDefined();
  });

  it('submitting it again changes nothing', async () => {
    const before = await h.bcList('salesOrderLines', undefined, true);
    const again = await h.admin(`admin/sales-orders/${demoOrder}/create-in-bc`);
    expect(again.status).toBe(200);
    expect(again.body.result).toBe('unchanged');
    expect(await h.bcList('salesOrders', "externalDocumentNumber eq 'Trey Research furniture order'", true)).toHaveLength(1);
    expect(await h.bcList('salesOrderLines', undefined, true)).toHaveLength(before.length);
  });

  it('after a crash between create and couple, finds the order it made instead of making a second one', async () => {
    const coupling = await rt.stores.couplings.getByDataverseId('SALESORDER-ORDER', demoOrder);
    if (!coupling) throw new Error('not coupled');
    await rt.stores.couplings.uncouple('SALESORDER-ORDER', coupling.bcId);
    const again = await h.admin(`admin/sales-orders/${demoOrder}/create-in-bc`);
    expect(again.status).toBe(200);
    expect(again.body.result).toBe('coupled');
    expect(again.body.bcOrderId).toBe(coupling.bcId);
    expect(await h.bcList('salesOrders', "externalDocumentNumber eq 'Trey Research furniture order'", true)).toHaveLength(1);
  });

  it('names what is missing: an order that is not submitted, an unknown order', async () => {
    await h.dvWrite('POST', 'salesorders', {
      salesorderid: '50000000-0000-4000-8000-0000000000aa',
      name: 'Draft order',
      'customerid_account@odata.bind': `/accounts(${DemoIds.account(2)})`,
    });
    const draft = await h.admin('admin/sales-orders/50000000-0000-4000-8000-0000000000aa/create-in-bc');
    expect(draft.status).toBe(409);
    expect(String(draft.body.message)).toMatch(/must be submitted/);
    const unknown = await h.admin('admin/sales-orders/50000000-0000-4000-8000-0000000000ff/create-in-bc');
    expect(unknown.status).toBe(404);
    const bad = await h.admin('admin/sales-orders/not-a-guid/create-in-bc');
    expect(bad.status).toBe(400);
  });
});
