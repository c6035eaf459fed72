import { randomUUID } from 'node:crypto';
import { hasPreference } from '../odata';
import { badRequest, Codes, DataverseError } from './errors';
import type { Operations } from './operations';
import { errorResponse, json, type SimRequest, type SimResponse, type WebApi } from './webapi';

/** Dataverse's limit on requests per $batch (B.10). */
export const MAX_BATCH_REQUESTS = 1000;

interface InnerRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
  contentId?: string;
}

type Part = { kind: 'request'; request: InnerRequest } | { kind: 'changeset'; requests: InnerRequest[] };

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  412: 'Precondition Failed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

function boundaryOf(contentType: string | undefined): string | undefined {
  const m = /boundary=("?)([^";]+)\1/i.exec(contentType ?? '');
  return m?.[2];
}

function splitParts(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const end = body.indexOf(`${delimiter}--`);
  if (end < 0) throw badRequest(`The $batch body has no closing delimiter '${delimiter}--'.`, Codes.invalidArgument);
  return body
    .slice(0, end)
    .split(delimiter)
    .slice(1)
    .map((p) => p.replace(/^\r?\n/, ''));
}

function splitHead(text: string): { head: string[]; rest: string } {
  const m = /\r?\n\r?\n/.exec(text);
  if (!m) return { head: text.split(/\r?\n/).filter((l) => l !== ''), rest: '' };
  return { head: text.slice(0, m.index).split(/\r?\n/), rest: text.slice(m.index + m[0].length) };
}

function headerMap(lines: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of lines) {
    const c = line.indexOf(':');
    if (c > 0) out[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
  }
  return out;
}

function parseInner(partText: string): InnerRequest {
  const { head: mimeHead, rest } = splitHead(partText);
  const mime = headerMap(mimeHead);
  const { head, rest: body } = splitHead(rest);
  const requestLine = head[0] ?? '';
  const m = /^(GET|POST|PATCH|PUT|DELETE)\s+(\S+)\s+HTTP\/1\.1$/.exec(requestLine.trim());
  if (!m || m[1] === undefined || m[2] === undefined) {
    throw badRequest(`'${requestLine}' is not a request line like 'POST accounts HTTP/1.1'.`, Codes.invalidArgument);
  }
  const trimmed = body.replace(/\r?\n$/, '');
  return {
    method: m[1],
    url: m[2],
    headers: headerMap(head.slice(1)),
    body: trimmed.trim() === '' ? undefined : trimmed,
    ...(mime['content-id'] ? { contentId: mime['content-id'] } : {}),
  };
}

function parseBatch(body: string, contentType: string | undefined): Part[] {
  const boundary = boundaryOf(contentType);
  if (!boundary) throw badRequest('A $batch request needs Content-Type: multipart/mixed; boundary=batch_<id>.', Codes.invalidArgument);
  const parts: Part[] = [];
  for (const raw of splitParts(body, boundary)) {
    const { head, rest } = splitHead(raw);
    const h = headerMap(head);
    const ct = h['content-type'] ?? '';
    if (ct.startsWith('multipart/mixed')) {
      const inner = boundaryOf(ct);
      if (!inner) throw badRequest('A change set needs Content-Type: multipart/mixed; boundary=changeset_<id>.', Codes.invalidArgument);
      const requests = splitParts(rest, inner).map((p) => parseInner(p));
      for (const r of requests) {
        if (r.method === 'GET') throw badRequest('A change set may not contain GET requests.', Codes.invalidArgument);
        if (r.url.includes('$batch')) throw badRequest('Batches cannot be nested.', Codes.invalidArgument);
      }
      parts.push({ kind: 'changeset', requests });
    } else {
      const request = parseInner(raw);
      if (request.url.includes('$batch')) throw badRequest('Batches cannot be nested.', Codes.invalidArgument);
      parts.push({ kind: 'request', request });
    }
  }
  return parts;
}

class ChangeSetFailed extends Error {
  constructor(readonly response: SimResponse) {
    super('change set failed');
  }
}

function renderResponse(r: SimResponse, contentId?: string): string {
  const lines = ['Content-Type: application/http', 'Content-Transfer-Encoding: binary'];
  if (contentId !== undefined) lines.push(`Content-ID: ${contentId}`);
  lines.push('', `HTTP/1.1 ${r.status} ${STATUS_TEXT[r.status] ?? ''}`.trimEnd());
  for (const [k, v] of Object.entries(r.headers)) lines.push(`${k}: ${v}`);
  lines.push('', r.body ?? '');
  return lines.join('\r\n');
}

/** `POST $batch` (B.10): independent requests and all-or-nothing change sets, ≤ 1000 requests. */
export function executeBatch(api: WebApi, ops: Operations, req: SimRequest): SimResponse {
  let parts: Part[];
  try {
    parts = parseBatch(req.body ?? '', req.headers['content-type']);
  } catch (err) {
    return errorResponse(err);
  }
  const total = parts.reduce((n, p) => n + (p.kind === 'request' ? 1 : p.requests.length), 0);
  if (total > MAX_BATCH_REQUESTS) {
    return errorResponse(
      new DataverseError(
        400,
        Codes.invalidArgument,
        `The number of requests in a batch (${total}) exceeds the limit of ${MAX_BATCH_REQUESTS}.`,
      ),
    );
  }
  const continueOnError = hasPreference(req.headers.prefer, 'odata.continue-on-error');
  const toInner = (r: InnerRequest, ids: Map<string, string>): SimRequest => {
    let url = r.url;
    const ref = /^\$(\w+)(.*)$/.exec(url);
    if (ref) {
      const target = ids.get(ref[1] ?? '');
      if (!target) throw badRequest(`Content-ID Reference: '$${ref[1]}' does not exist in the batch context.`, Codes.invalidArgument);
      url = `${target}${ref[2] ?? ''}`;
    }
    const apiAt = url.search(/\/api\/data\/v\d+\.\d+\//);
    if (apiAt >= 0) url = url.slice(url.indexOf('/', apiAt + 10) + 1);
    url = url.replace(/^\//, '');
    const q = url.indexOf('?');
    let body = r.body;
    if (body) body = body.replace(/"\$(\w+)"/g, (whole, id: string) => (ids.has(id) ? JSON.stringify(ids.get(id)) : whole));
    return {
      method: r.method,
      path: decodeURIComponent(q < 0 ? url : url.slice(0, q)),
      rawQuery: q < 0 ? '' : url.slice(q + 1),
      headers: { ...r.headers, prefer: r.headers.prefer },
      body,
      ctx: req.ctx,
    };
  };
  const withLocation = (r: SimResponse): SimResponse =>
    r.headers['OData-EntityId'] ? { ...r, headers: { ...r.headers, Location: r.headers['OData-EntityId'] } } : r;
  const batchBoundary = `batchresponse_${randomUUID()}`;
  const out: string[] = [];
  for (const part of parts) {
    if (part.kind === 'request') {
      let res: SimResponse;
      try {
        res = withLocation(api.handle(toInner(part.request, new Map())));
      } catch (err) {
        res = errorResponse(err);
      }
      if (res.status >= 400 && !continueOnError) return single(batchBoundary, res);
      out.push(renderResponse(res));
      continue;
    }
    const ids = new Map<string, string>();
    const responses: Array<{ res: SimResponse; contentId?: string }> = [];
    try {
      ops.atomic(() => {
        for (const r of part.requests) {
          let res: SimResponse;
          try {
            res = withLocation(api.handle(toInner(r, ids)));
          } catch (err) {
            res = errorResponse(err);
          }
          if (res.status >= 400) throw new ChangeSetFailed(res);
          const entityId = res.headers['OData-EntityId'];
          if (r.contentId !== undefined && entityId) ids.set(r.contentId, entityId);
          responses.push({ res, ...(r.contentId !== undefined ? { contentId: r.contentId } : {}) });
        }
      });
    } catch (err) {
      const res = err instanceof ChangeSetFailed ? err.response : errorResponse(err);
      if (!continueOnError) return single(batchBoundary, res);
      out.push(renderResponse(res));
      continue;
    }
    const cs = `changesetresponse_${randomUUID()}`;
    const inner = responses.map((r) => `--${cs}\r\n${renderResponse(r.res, r.contentId)}`).join('\r\n');
    out.push(`Content-Type: multipart/mixed; boundary=${cs}\r\n\r\n${inner}\r\n--${cs}--`);
  }
  const body = `${out.map((p) => `--${batchBoundary}\r\n${p}`).join('\r\n')}\r\n--${batchBoundary}--\r\n`;
  return {
    status: 200,
    headers: { 'OData-Version': '4.0', 'Content-Type': `multipart/mixed; boundary=${batchBoundary}` },
    body,
  };
}

/** Without odata.continue-on-error the first failure ends the batch with its status and one part (B.10). */
function single(boundary: string, res: SimResponse): SimResponse {
  return {
    status: res.status,
    headers: { 'OData-Version': '4.0', 'Content-Type': `multipart/mixed; boundary=${boundary}` },
    body: `--${boundary}\r\n${renderResponse(res)}\r\n--${boundary}--\r\n`,
  };
}

export { json };
