/**
 * A webhook request as the capture logic sees it: independent of the Functions library, so it is easy to drive.
 * functions/lib/http.ts converts the Functions types to and from these.
 */
export interface WebhookRequest {
  method: string;
  /** Query parameters (first value of each). */
  query: Record<string, string>;
  /** Header names lower case. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface WebhookResponse {
  status: number;
  body: string;
  headers: Record<string, string>;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  503: 'Service Unavailable',
};

export function json(status: number, body: unknown, headers: Record<string, string> = {}): WebhookResponse {
  return { status, body: JSON.stringify(body), headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers } };
}

/** An error answer: `{ error, message }` with the status's reason phrase. */
export function problem(status: number, message: string, headers: Record<string, string> = {}): WebhookResponse {
  return json(status, { error: REASONS[status] ?? 'Error', message }, headers);
}

export function text(status: number, body: string): WebhookResponse {
  return { status, body, headers: { 'Content-Type': 'text/plain; charset=utf-8' } };
}

/** The request body is over the endpoint's limit: answered 413. */
export class PayloadTooLargeError extends Error {}

/** Parses JSON from a body: undefined plus a reason when it is not JSON text. */
export function parseJsonBody(body: Buffer): { ok: true; value: unknown } | { ok: false; message: string } {
  if (body.length === 0) return { ok: false, message: 'the request body is empty; a JSON body is required' };
  let textBody: string;
  try {
    textBody = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    return { ok: false, message: 'the request body is not valid UTF-8' };
  }
  // Tolerate a BOM: BC sent one before v19 (api-contracts.md D.4).
  if (textBody.charCodeAt(0) === 0xfeff) textBody = textBody.slice(1);
  try {
    return { ok: true, value: JSON.parse(textBody) };
  } catch (err) {
    return { ok: false, message: `the request body is not valid JSON (${(err as Error).message.slice(0, 120)})` };
  }
}
