import { app, type HttpRequest, type HttpResponseInit, type InvocationContext, type Timer } from '@azure/functions';
import { z } from 'zod';
import { settings } from '../shared/config';
import { isGuid } from '../shared/domain/ids';
import { toSyncError } from '../shared/errors';
import { productAvailability, refreshItemAvailability } from '../shared/lead-to-cash/availability';
import { availabilityKeyValid } from '../shared/operations/admin-access';
import { getRuntime } from '../shared/runtime';

/**
 * Item availability for Dynamics 365 Sales: the job that copies BC item inventory onto coupled products
 * (BC's "Item Availability" job queue entry, every 30 minutes) and `GET /api/availability/{productId}`
 * (its own key, AVAILABILITY_KEY, in the `x-availability-key` header: Sales holds it, and it opens nothing else),
 * which answers BC's current inventory for one product and refreshes its column.
 */

export async function itemAvailabilityJob(_timer: Timer, context: InvocationContext): Promise<void> {
  const runtime = await getRuntime();
  const { coupled, updated } = await refreshItemAvailability(runtime.syncDeps);
  context.log(`item availability: ${updated} of ${coupled} coupled products updated`);
}

const productIdSchema = z.string().refine((s) => isGuid(s), 'productId must be a GUID (the Dataverse productid)');

export async function availability(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  if (!availabilityKeyValid(request.headers.get('x-availability-key'), settings().AVAILABILITY_KEY))
    return {
      status: 401,
      jsonBody: { error: 'Send the availability key (AVAILABILITY_KEY) in the x-availability-key header.' },
    };
  const parsed = productIdSchema.safeParse(request.params.productId);
  if (!parsed.success) return { status: 400, jsonBody: { error: 'EVENT.INVALID', message: z.prettifyError(parsed.error) } };
  try {
    const runtime = await getRuntime();
    const result = await productAvailability(runtime.syncDeps, parsed.data);
    if (!result) {
      return {
        status: 404,
        jsonBody: { error: 'DEP.PARENT_NOT_COUPLED', message: `Product ${parsed.data} is not coupled to a Business Central item.` },
      };
    }
    return { status: 200, jsonBody: { ...result, asOf: runtime.clock.now().toISOString() } };
  } catch (err) {
    const e = toSyncError(err);
    context.error(`availability of ${parsed.data} failed: ${e.message}`);
    return { status: e.transient ? 503 : 502, jsonBody: { error: e.code, message: e.message } };
  }
}

app.timer('item-availability', { schedule: '0 */30 * * * *', handler: itemAvailabilityJob });
app.http('itemAvailability', { route: 'availability/{productId}', methods: ['GET'], authLevel: 'anonymous', handler: availability });
