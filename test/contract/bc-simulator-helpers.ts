import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type BcSimulator, type BcSimulatorOptions, startBcSimulator } from '../../dev/bc-simulator';

/** Contract tests talk to the simulator with plain fetch only, like any BC client would. */
export const TOKEN = 'Bearer test-token';

export async function startSim(opts: BcSimulatorOptions = {}): Promise<BcSimulator> {
  return startBcSimulator({ port: 0, ...opts });
}

export interface JsonResponse {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: contract tests inspect arbitrary JSON payloads.
  body: any;
}

export async function call(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: unknown; auth?: boolean } = {},
): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (init.auth !== false) headers.Authorization ??= TOKEN;
  let body: string | undefined;
  if (init.body !== undefined) {
    body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
    headers['Content-Type'] ??= 'application/json';
  }
  const res = await fetch(url, { method: init.method ?? 'GET', headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  if (text !== '' && (res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed };
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/**
 * A webhook subscriber on an ephemeral port. `respond` decides each answer; by default it echoes the
 * validation token and answers notifications with 200.
 */
export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  respond: (r: ReceivedRequest) => { status: number; body?: string; delayMs?: number } | undefined = () => undefined;
  private server?: Server;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: ReceivedRequest = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        this.requests.push(r);
        const custom = this.respond(r);
        const answer = () => {
          if (custom) {
            res.writeHead(custom.status, { 'Content-Type': 'text/plain' });
            res.end(custom.body ?? '');
            return;
          }
          const token = new URL(r.url, 'http://x').searchParams.get('validationToken');
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.end(token ?? '');
        };
        if (custom?.delayMs) setTimeout(answer, custom.delayMs);
        else answer();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  handshakes(): ReceivedRequest[] {
    return this.requests.filter((r) => r.url.includes('validationToken='));
  }

  notifications(): Array<ReceivedRequest & { json: { value: Array<Record<string, string>> } }> {
    return this.requests.filter((r) => !r.url.includes('validationToken=')).map((r) => ({ ...r, json: JSON.parse(r.body) }));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
