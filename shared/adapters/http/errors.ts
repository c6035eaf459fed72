import { type ErrorCode, SyncError } from '../../errors';
import { odataErrorSchema } from './schemas';

export type HttpSide = 'bc' | 'dataverse';

const PREFIX: Record<HttpSide, 'BC' | 'DV'> = { bc: 'BC', dataverse: 'DV' };
const LABEL: Record<HttpSide, string> = { bc: 'Business Central', dataverse: 'Dataverse' };

export interface ServerError {
  code?: string;
  message?: string;
}

/** Reads the OData error body (`{"error":{code,message}}`) when there is one. */
export function readServerError(body: unknown): ServerError {
  const parsed = odataErrorSchema.safeParse(body);
  if (!parsed.success) return {};
  return { code: parsed.data.error.code || undefined, message: parsed.data.error.message || undefined };
}

/**
 * Maps an HTTP failure to a stable code. Decided by status first, because both services document that error codes
 * in bodies are informational (Dataverse: "frequently empty"); the body only refines 409 on BC, which BC uses both
 * for "another user has already changed the record" (Request_EntityChanged) and for key conflicts.
 */
export function codeForStatus(side: HttpSide, status: number, serverCode?: string): ErrorCode {
  const p = PREFIX[side];
  if (status === 401 || status === 403) return `${p}.AUTH`;
  if (status === 404 || status === 410) return `${p}.NOT_FOUND`;
  if (status === 412) return `${p}.CONCURRENCY`;
  if (status === 409) return serverCode === 'Request_EntityChanged' || side === 'dataverse' ? `${p}.CONCURRENCY` : `${p}.VALIDATION`;
  if (status === 429) return `${p}.THROTTLED`;
  if (status === 408 || status >= 500) return `${p}.UNAVAILABLE`;
  return `${p}.VALIDATION`;
}

/** Path and query of a URL, for messages: the host is configuration, and tokens never travel in URLs. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    const s = decodeURIComponent(u.pathname + u.search);
    return s.length > 300 ? `${s.slice(0, 297)}...` : s;
  } catch {
    return url.slice(0, 300);
  }
}

export function httpError(
  side: HttpSide,
  request: { method: string; url: string },
  response: { status: number; body: unknown },
  retryAfterMs?: number,
): SyncError {
  const server = readServerError(response.body);
  const code = codeForStatus(side, response.status, server.code);
  const detail = server.message ?? (typeof response.body === 'string' && response.body ? response.body.slice(0, 500) : '(no message)');
  const message = `${LABEL[side]} ${request.method} ${describeUrl(request.url)} answered ${response.status}${server.code ? ` ${server.code}` : ''}: ${detail}`;
  return new SyncError(code, message, {
    retryAfterMs,
    details: {
      status: response.status,
      serverCode: server.code,
      serverMessage: server.message,
      method: request.method,
      url: describeUrl(request.url),
    },
  });
}

/** A request not sent because an earlier 429's Retry-After still holds its client for longer than its budget. */
export function heldError(side: HttpSide, request: { method: string; url: string }, retryAfterMs: number): SyncError {
  return new SyncError(
    `${PREFIX[side]}.THROTTLED`,
    `${LABEL[side]} ${request.method} ${describeUrl(request.url)} not sent: the server asked for no requests for another ${Math.ceil(retryAfterMs / 1000)} s (Retry-After of an earlier 429)`,
    { retryAfterMs, details: { method: request.method, url: describeUrl(request.url), held: true } },
  );
}

export function networkError(side: HttpSide, request: { method: string; url: string }, cause: unknown, retryAfterMs?: number): SyncError {
  const reason = describeCause(cause);
  return new SyncError(`${PREFIX[side]}.UNAVAILABLE`, `${LABEL[side]} ${request.method} ${describeUrl(request.url)} failed: ${reason}`, {
    retryAfterMs,
    cause,
    details: { method: request.method, url: describeUrl(request.url), network: true },
  });
}

/** A 2xx whose body is not what the contract promises: the server (or a proxy in front of it) is misbehaving. */
export function responseShapeError(side: HttpSide, request: { method: string; url: string }, problem: string): SyncError {
  return new SyncError(
    `${PREFIX[side]}.UNAVAILABLE`,
    `${LABEL[side]} ${request.method} ${describeUrl(request.url)} returned an unexpected response: ${problem}`,
    { details: { method: request.method, url: describeUrl(request.url), invalidResponse: true } },
  );
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) {
    if (cause.name === 'TimeoutError') return 'timed out';
    // undici wraps the socket error: "fetch failed" says nothing, its cause says ECONNREFUSED / ENOTFOUND.
    const inner = (cause as { cause?: unknown }).cause;
    if (inner instanceof Error) {
      const code = (inner as { code?: unknown }).code;
      return `${cause.message}: ${inner.message}${typeof code === 'string' && !inner.message.includes(code) ? ` (${code})` : ''}`;
    }
    return cause.message;
  }
  return String(cause);
}
