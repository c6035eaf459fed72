import { randomUUID } from 'node:crypto';
import { SyncError } from '../../errors';

/**
 * Multipart `$batch` wire format of the Dataverse Web API (api-contracts.md B.10): parts of `application/http`,
 * change sets as nested `multipart/mixed`, CRLF line endings.
 */

export interface DvBatchRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** Relative to the API base (`accounts(<id>)`), absolute, or a `$n` Content-ID reference inside a change set. */
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Content-ID inside a change set; later requests of the same change set can address the result as `$<id>`. */
  contentId?: string;
}

/** Requests applied all-or-nothing. Must not contain GETs. */
export interface DvChangeSet {
  changeSet: DvBatchRequest[];
}

export type DvBatchItem = DvBatchRequest | DvChangeSet;

export interface DvBatchPartResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  contentId?: string;
}

export function isChangeSet(item: DvBatchItem): item is DvChangeSet {
  return 'changeSet' in item;
}

export function requestCount(item: DvBatchItem): number {
  return isChangeSet(item) ? item.changeSet.length : 1;
}

const CRLF = '\r\n';

export function buildBatchBody(items: DvBatchItem[], apiBase: string): { boundary: string; body: string } {
  const boundary = `batch_${randomUUID()}`;
  const lines: string[] = [];
  for (const item of items) {
    lines.push(`--${boundary}`);
    if (isChangeSet(item)) {
      if (item.changeSet.some((r) => r.method === 'GET')) throw new Error('a change set may not contain GET requests');
      const cs = `changeset_${randomUUID()}`;
      lines.push(`Content-Type: multipart/mixed; boundary=${cs}`, '');
      item.changeSet.forEach((r, i) => {
        lines.push(`--${cs}`);
        lines.push(...part(r, apiBase, r.contentId ?? String(i + 1)));
      });
      lines.push(`--${cs}--`);
    } else {
      lines.push(...part(item, apiBase));
    }
  }
  lines.push(`--${boundary}--`, '');
  return { boundary, body: lines.join(CRLF) };
}

function part(r: DvBatchRequest, apiBase: string, contentId?: string): string[] {
  const out = ['Content-Type: application/http', 'Content-Transfer-Encoding: binary'];
  if (contentId !== undefined) out.push(`Content-ID: ${contentId}`);
  out.push('');
  const url = r.url.startsWith('$') || /^https?:\/\//.test(r.url) ? r.url : `${apiBase}${r.url}`;
  out.push(`${r.method} ${url} HTTP/1.1`);
  const headers: Record<string, string> = { Accept: 'application/json', ...r.headers };
  let body: string | undefined;
  if (r.body !== undefined) {
    body = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    headers['Content-Type'] ??= 'application/json; type=entry';
  }
  for (const [k, v] of Object.entries(headers)) out.push(`${k}: ${v}`);
  out.push('');
  out.push(body ?? '');
  return out;
}

/** Boundary parameter of a multipart Content-Type, quoted or not. */
export function boundaryOf(contentType: string | null): string | undefined {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return m?.[1] ?? m?.[2];
}

/** Parses a multipart batch response into the responses of its parts, change sets flattened in order. */
export function parseBatchResponse(body: string, boundary: string): DvBatchPartResponse[] {
  const out: DvBatchPartResponse[] = [];
  for (const raw of splitParts(body, boundary)) {
    const { headers, content } = splitHeaders(raw);
    const type = headers['content-type'] ?? '';
    if (type.toLowerCase().startsWith('multipart/mixed')) {
      const inner = boundaryOf(type);
      if (inner) out.push(...parseBatchResponse(content, inner));
      continue;
    }
    const response = parseHttpResponse(content);
    if (!response) continue;
    const contentId = headers['content-id'] ?? response.headers['content-id'];
    out.push(contentId !== undefined ? { ...response, contentId } : response);
  }
  return out;
}

function splitParts(body: string, boundary: string): string[] {
  const delimiter = `--${boundary}`;
  const parts: string[] = [];
  const chunks = body.split(delimiter);
  // chunks[0] is the preamble; a chunk starting with "--" is the close delimiter and what follows is the epilogue.
  for (const chunk of chunks.slice(1)) {
    if (chunk.startsWith('--')) break;
    parts.push(chunk.replace(/^\r?\n/, '').replace(/\r?\n$/, ''));
  }
  return parts;
}

function splitHeaders(text: string): { headers: Record<string, string>; content: string } {
  const m = /\r?\n\r?\n/.exec(text);
  const head = m ? text.slice(0, m.index) : text;
  const content = m ? text.slice(m.index + m[0].length) : '';
  const headers: Record<string, string> = {};
  for (const line of head.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { headers, content };
}

function parseHttpResponse(text: string): Omit<DvBatchPartResponse, 'contentId'> | undefined {
  const trimmed = text.replace(/^\s+/, '');
  const m = /^HTTP\/\d(?:\.\d)?\s+(\d{3})[^\r\n]*\r?\n/.exec(trimmed);
  if (!m) return undefined;
  const rest = trimmed.slice(m[0].length);
  // No headers at all: the blank line follows the status line directly.
  const blank = /^\r?\n/.exec(rest);
  const { headers, content } = blank ? { headers: {}, content: rest.slice(blank[0].length) } : splitHeaders(rest);
  const raw = content.trim();
  let body: unknown;
  if (raw !== '') {
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
  }
  return { status: Number(m[1]), headers, body };
}

/** Items in requests of at most `max` operations each, never splitting a change set (B.10). */
export function chunkBatch(items: DvBatchItem[], max: number): DvBatchItem[][] {
  const chunks: DvBatchItem[][] = [];
  let current: DvBatchItem[] = [];
  let size = 0;
  for (const item of items) {
    const n = requestCount(item);
    if (n > max) throw new SyncError('DV.VALIDATION', `a change set holds ${n} requests; Dataverse allows ${max} per batch`);
    if (size + n > max) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += n;
  }
  if (current.length) chunks.push(current);
  return chunks;
}
