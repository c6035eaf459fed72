import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { PayloadTooLargeError, type WebhookRequest, type WebhookResponse } from '../../shared/capture/http';

/**
 * The Functions library's HTTP types ↔ capture's {@link WebhookRequest} / {@link WebhookResponse}. Kept beside the
 * triggers so `shared/` never imports `@azure/functions`.
 */

/**
 * Reads a Functions HTTP request into a {@link WebhookRequest}, refusing bodies above `maxBytes` (by the declared
 * Content-Length before reading, and by the actual size after).
 */
export async function readWebhookRequest(request: HttpRequest, maxBytes: number): Promise<WebhookRequest> {
  const headers: Record<string, string> = {};
  for (const [k, v] of request.headers) headers[k.toLowerCase()] = v;
  const query: Record<string, string> = {};
  for (const [k, v] of request.query) if (!(k in query)) query[k] = v;
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes)
    throw new PayloadTooLargeError(`request body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`);
  const body = Buffer.from(await request.arrayBuffer());
  if (body.length > maxBytes) throw new PayloadTooLargeError(`request body of ${body.length} bytes exceeds the limit of ${maxBytes} bytes`);
  return { method: request.method.toUpperCase(), query, headers, body };
}

export function toHttpResponse(r: WebhookResponse): HttpResponseInit {
  return { status: r.status, body: r.body, headers: r.headers };
}
