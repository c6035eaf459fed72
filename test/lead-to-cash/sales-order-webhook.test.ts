import { afterAll, beforeAll, expect, it } from 'vitest';
import { DemoIds } from '../../dev/dataverse-simulator';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { adminClient } from '../operations/helpers';
import { type Stack, startStack, TEST_LOCAL_KEY } from '../support/stack';
import { until } from '../support/until';
import { harness } from './harness';

/**
 * The demo's lead-to-cash path as a new user meets it, on the whole local stack with nothing called by hand:
 * the order submitted before the service started is created in BC as soon as the first full synchronization ends
 * (its customer coupled by then; not at the next half hour), and an order submitted in Dataverse while the service
 * runs becomes a BC order within seconds through the Dataverse webhook step, its write-in line on the demo's
 * WRITE-IN item.
 */
let stack: Stack;
let rt: Runtime;
const h = harness(
  () => stack,
  () => rt,
);

beforeAll(async () => {
  stack = await startStack({ functions: ['dataverse-webhook', 'sync', 'sales-orders', 'admin-api', 'full-sync'] });
  rt = await getRuntime();
  await h.matchBy('CUSTOMER', 'displayName', 'name');
  const desk = await h.bcOne('items', "number eq '1896-S'");
  await h.couple('ITEM-PRODUCT', String(desk.id), DemoIds.product(1));
  const admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
  const setup = await admin.ok<{ steps: Array<{ step: string; ok: boolean; detail: string }> }>('POST', 'setup', {
    steps: ['dataverse-webhooks'],
  });
  expect(
    setup.steps.every((s) => s.ok),
    JSON.stringify(setup.steps),
  ).toBe(true);
});
afterAll(async () => {
  await stack?.stop();
});

it('creates the order submitted before the start in BC when the first full synchronization ends', { timeout: 60_000 }, async () => {
  const admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
  await admin.ok('POST', 'full-sync', { mappings: ['PAYMENT TERMS'] });
  const order = await until(
    'the demo order in BC',
    async () => (await h.bcList('salesOrders', "externalDocumentNumber eq 'Trey Research furniture order'", true))[0],
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  expect(order.yourReference).toBe('ORD-01001-SIM');
  // Trey Research, coupled by name: no second customer was made for the order.
  expect(order.customerNumber).toBe('20000');
  expect(await h.bcList('customers', "displayName eq 'Trey Research'")).toHaveLength(1);
  const lines = await h.bcList('salesOrderLines', `documentId eq ${String(order.id)}`, true);
  expect(lines.map((l) => l.lineObjectNumber)).toContain('WRITE-IN');
});

it('turns a Sales order submitted in Dataverse into a BC order within seconds through its webhook', { timeout: 60_000 }, async () => {
  await h.dvWrite('POST', 'salesorders', {
    salesorderid: '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0',
    name: 'Webhook order',
    ordernumber: 'ORD-WEBHOOK-1',
    'customerid_account@odata.bind': `/accounts(${DemoIds.account(2)})`,
    'pricelevelid@odata.bind': `/pricelevels(${DemoIds.priceList})`,
    order_details: [
      {
        quantity: 3,
        priceperunit: 25,
        ispriceoverridden: true,
        isproductoverridden: true,
        lineitemnumber: 1,
        sequencenumber: 1,
        producttypecode: 1,
        productdescription: 'Installation on site',
      },
    ],
  });
  expect(await h.bcList('salesOrders', "externalDocumentNumber eq 'Webhook order'", true)).toHaveLength(0);
  const submittedAt = Date.now();
  await h.dvWrite('PATCH', 'salesorders(0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0)', { statecode: 1, statuscode: 3 });
  const order = await until(
    'the submitted order in BC',
    async () => (await h.bcList('salesOrders', "externalDocumentNumber eq 'Webhook order'", true))[0],
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  console.log(`Sales order submitted → BC order in ${Date.now() - submittedAt} ms`);
  expect(order.yourReference).toBe('ORD-WEBHOOK-1');
  const lines = await h.bcList('salesOrderLines', `documentId eq ${String(order.id)}`, true);
  expect(lines.map((l) => [l.lineType, l.lineObjectNumber, l.quantity])).toEqual([['Item', 'WRITE-IN', 3]]);
  expect((await rt.stores.couplings.getByDataverseId('SALESORDER-ORDER', '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0'))?.bcId).toBe(
    String(order.id),
  );
});
