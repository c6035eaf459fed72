import { SyncError } from '../errors';

/**
 * OData literals both services read the same way (BC API v2.0 and the Dataverse Web API are OData v4), for the
 * adapters and capture code that write filters.
 */

/** Normalises an instant for an OData filter literal; refuses anything that is not a date (filter injection). */
export function odataDateTime(value: string): string {
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new SyncError('CONFIG.INVALID', `not an ISO date-time: ${JSON.stringify(value)}`);
  return new Date(t).toISOString();
}
