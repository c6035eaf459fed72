import { z } from 'zod';
import { SyncError } from '../../errors';
import type { HttpClient, HttpRequest } from '../http/client';
import { httpError } from '../http/errors';

/** Business Central's JSON `$batch`: many API calls in one request. */

/** Operations per `$batch` request (api-contracts.md C.4). */
export const BC_MAX_BATCH = 100;

export interface BcBatchOperation {
  /** Correlates the response; assigned (1, 2, …) when absent. */
  id?: string;
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Relative to the company, e.g. `customers(<id>)`, or to the API root when it starts with `companies(`. */
  url: string;
  body?: Record<string, unknown>;
  /** Required by BC on PATCH and DELETE; `*` when absent on those methods. */
  ifMatch?: string;
  headers?: Record<string, string>;
}

export interface BcBatchResult {
  id: string;
  status: number;
  body: unknown;
  /** The classified failure for a non-2xx status. */
  error?: SyncError;
}

const batchResponseSchema = z.looseObject({
  responses: z.array(
    z.looseObject({
      id: z.string().nullish(),
      status: z.number().int(),
      headers: z.record(z.string(), z.string()).optional(),
      body: z.unknown().optional(),
    }),
  ),
});

/**
 * JSON `$batch` (api-contracts.md C.4), chunked at 100 operations. Results come back in request order. With
 * `isolation: 'snapshot'` each chunk is all-or-nothing (BC 17.1+); atomicity never spans chunks.
 */
export async function sendBatch(
  http: HttpClient,
  root: string,
  companyId: string,
  operations: BcBatchOperation[],
  options: { isolation?: 'snapshot' } = {},
): Promise<BcBatchResult[]> {
  const results: BcBatchResult[] = [];
  for (let start = 0; start < operations.length; start += BC_MAX_BATCH) {
    const chunk = operations.slice(start, start + BC_MAX_BATCH).map((op, i) => ({ ...op, id: op.id ?? String(start + i + 1) }));
    const ids = new Set(chunk.map((op) => op.id));
    if (ids.size !== chunk.length) throw new SyncError('CONFIG.INVALID', 'batch operation ids must be unique');
    const requests = chunk.map((op) => {
      const headers: Record<string, string> = { ...op.headers };
      if (op.body !== undefined) headers['Content-Type'] = 'application/json';
      if (op.method === 'PATCH' || op.method === 'DELETE') headers['If-Match'] = op.ifMatch ?? '*';
      return {
        id: op.id,
        method: op.method,
        url: op.url.startsWith('companies(') ? op.url : `companies(${companyId})/${op.url}`,
        headers,
        ...(op.body !== undefined ? { body: op.body } : {}),
      };
    });
    const headers: Record<string, string> = {};
    if (options.isolation) headers.Isolation = options.isolation;
    const req: HttpRequest = {
      method: 'POST',
      url: `${root}/$batch`,
      body: { requests },
      headers,
      idempotent: chunk.every((op) => op.method === 'GET'),
    };
    const { data } = await http.json(req, batchResponseSchema);
    const byId = new Map(data.responses.map((r) => [r.id ?? '', r]));
    for (const [i, op] of chunk.entries()) {
      // BC echoes ids; fall back to position if a server answers "id": null (as the doc sample does without ids).
      const r = byId.get(op.id) ?? data.responses[i];
      if (!r) throw new SyncError('BC.UNAVAILABLE', `Business Central $batch returned no response for operation ${op.id}`);
      const ok = r.status >= 200 && r.status < 300;
      results.push({
        id: op.id,
        status: r.status,
        body: r.body,
        ...(ok
          ? {}
          : {
              error: httpError(
                'bc',
                { method: op.method, url: `${root}/${requests[i]?.url ?? op.url}` },
                { status: r.status, body: r.body },
              ),
            }),
      });
    }
  }
  return results;
}
