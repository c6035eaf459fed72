import { app, type HttpRequest, type HttpResponseInit, type InvocationContext, type Timer } from '@azure/functions';
import { z } from 'zod';
import { toSyncError } from '../shared/errors';
import { queueSalesOrders } from '../shared/lead-to-cash/queue-orders';
import { handleSalesOrderRequest, salesOrderRequestSchema } from '../shared/lead-to-cash/sales-order';
import { fullSyncDeps } from '../shared/operations/context';
import { fullSyncStatus } from '../shared/operations/full-sync';
import { OPERATIONAL_QUEUE } from '../shared/queues';
import { getRuntime } from '../shared/runtime';
import { queueWorker } from './lib/servicebus';

/**
 * Sales orders from Dynamics 365 Sales → BC (legacy "Create in Business Central" / "Automatically Create Sales
 * Orders"): a Service Bus worker on `ops-sales-orders` (one order per message), the 30-minute job that queues every
 * submitted, uncoupled order, and an admin endpoint that creates one order now and answers with the outcome.
 */

export const salesOrderWorker = queueWorker(OPERATIONAL_QUEUE.salesOrders, salesOrderRequestSchema, async (request, context) => {
  const runtime = await getRuntime();
  const outcome = await handleSalesOrderRequest(runtime.syncDeps, runtime.settings, request);
  context.log(`sales order ${outcome.salesOrderId}: ${outcome.result} — ${outcome.message}`);
});

/**
 * BC's "Auto Create Sales Orders" job queue entry (every 30 minutes, and once when the host starts, so orders
 * submitted while the service was down do not wait for the next half hour), only in legacy mode with automatic
 * creation on. Orders depend on their customers being coupled, so while a full synchronization runs — or, at
 * start, before the installation's first one has run — the orders are left to the end of that full
 * synchronization, which queues them (functions/full-sync.ts). An order submitted while the service runs arrives
 * sooner, through its webhook.
 */
export async function autoCreateSalesOrders(_timer: Timer, context: InvocationContext): Promise<void> {
  const atStart = !started;
  started = true;
  const runtime = await getRuntime();
  const s = runtime.settings;
  if (s.SALES_ORDER_INTEGRATION !== 'legacy' || !s.AUTO_CREATE_SALES_ORDERS) return;
  const run = await fullSyncStatus(fullSyncDeps(runtime));
  if (run?.status === 'running' || (atStart && !run)) {
    context.log(`auto-create sales orders: left to the end of the ${run ? 'running' : 'first'} full synchronization`);
    return;
  }
  const queued = await queueSalesOrders(runtime);
  context.log(`auto-create sales orders: ${queued} submitted order(s) queued`);
}

/** The first invocation of the timer in this process is the start-up one. */
let started = false;

/** `POST /api/admin/sales-orders/{salesOrderId}/create-in-bc` (admin key): "Create in Business Central" for one order. */
export async function createInBc(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const parsed = salesOrderRequestSchema.safeParse({ salesOrderId: request.params.salesOrderId, correlationId: context.invocationId });
  if (!parsed.success) return { status: 400, jsonBody: { error: 'EVENT.INVALID', message: z.prettifyError(parsed.error) } };
  try {
    const runtime = await getRuntime();
    const outcome = await handleSalesOrderRequest(runtime.syncDeps, runtime.settings, parsed.data);
    if (outcome.result === 'failed') {
      const status = outcome.code === 'DV.NOT_FOUND' ? 404 : outcome.code === 'DV.VALIDATION' ? 409 : 422;
      return { status, jsonBody: { error: outcome.code, message: outcome.message } };
    }
    return { status: outcome.result === 'created' ? 201 : 200, jsonBody: outcome };
  } catch (err) {
    const e = toSyncError(err);
    context.error(`create in BC failed: ${e.message}`);
    return { status: 503, jsonBody: { error: e.code, message: e.message } };
  }
}

app.serviceBusQueue('sales-orders', {
  connection: 'SERVICEBUS_CONNECTION',
  queueName: OPERATIONAL_QUEUE.salesOrders,
  handler: salesOrderWorker,
});
// runOnStartup: orders already submitted when the service starts (or restarts) are queued at once rather than at
// the next half hour. Microsoft advises against runOnStartup for work that must not repeat on every restart or
// scale-out (learn.microsoft.com azure-functions/functions-bindings-timer, "runOnStartup"); this run is idempotent:
// coupled orders are skipped and each order's message id lets duplicate detection drop a repeat.
app.timer('auto-create-sales-orders', { schedule: '0 */30 * * * *', runOnStartup: true, handler: autoCreateSalesOrders });
app.http('createSalesOrderInBc', {
  route: 'admin/sales-orders/{salesOrderId}/create-in-bc',
  methods: ['POST'],
  authLevel: 'admin',
  handler: createInBc,
});
