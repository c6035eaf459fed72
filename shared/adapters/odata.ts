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

/** One page of an OData collection and the `@odata.nextLink` to the next, if any. */
export interface ODataPage<T> {
  value: T[];
  nextLink?: string | undefined;
}

/**
 * Every non-empty page, lazily, following `@odata.nextLink` from `continuation` (from the first page when absent).
 * A filtered page may come back empty with a nextLink; it is skipped, not taken as the end.
 */
export async function* allPages<T>(
  page: (continuation: string | undefined) => Promise<ODataPage<T>>,
  continuation?: string,
): AsyncGenerator<T[]> {
  let next = continuation;
  do {
    const p = await page(next);
    if (p.value.length > 0) yield p.value;
    next = p.nextLink;
  } while (next);
}
