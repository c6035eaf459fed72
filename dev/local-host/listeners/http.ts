/**
 * HTTP triggers on `http://<host>:<port>/<routePrefix>/<route>`: route templates (see `../routes`), methods,
 * `authLevel` (function/admin keys in `x-functions-key` or `?code=`), a request body limit, and the conversion
 * between Node's request/response and the RPC HTTP data the programming model reads and returns.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CapturedFunction, CoreBindingInfo, RpcHttpCookie, RpcHttpData, RpcInvocationResponse, RpcTypedData } from '../core-shim';
import { errorText, InvocationError } from '../invoke';
import { matchRoute, parseRoute, type RouteTemplate, splitPath } from '../routes';
import { type ListenerContext, typedDataBytes } from './context';

export type HttpContext = Pick<ListenerContext, 'invoke' | 'track' | 'log' | 'resolveExpressions'>;

export interface HttpSettings {
  /** Loopback address to listen on. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Larger request bodies get 413. */
  maxRequestBodyBytes: number;
}

/** The keys requests must present for `function` / `admin` auth levels. */
export interface HttpKeys {
  function: string;
  master: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface HttpPlan {
  fn: CapturedFunction;
  route: RouteTemplate;
  methods: Set<string> | undefined;
  authLevel: 'anonymous' | 'function' | 'admin';
}

export class HttpListener {
  private readonly plans: HttpPlan[] = [];
  private server: Server | undefined;
  private boundPort = 0;
  private routePrefix = '';
  private keys: HttpKeys = { function: '', master: '' };

  constructor(
    private readonly ctx: HttpContext,
    private readonly settings: HttpSettings,
  ) {}

  /** Indexes an `httpTrigger`; throws for an unknown auth level or a route template the host would refuse. */
  add(fn: CapturedFunction, trigger: CoreBindingInfo): void {
    const methods = Array.isArray(trigger.methods) ? new Set((trigger.methods as string[]).map((m) => m.toUpperCase())) : undefined;
    const authLevel = String(trigger.authLevel ?? 'function').toLowerCase();
    if (authLevel !== 'anonymous' && authLevel !== 'function' && authLevel !== 'admin') throw new Error(`unknown authLevel "${authLevel}"`);
    const route = parseRoute(this.ctx.resolveExpressions(typeof trigger.route === 'string' ? trigger.route : fn.name));
    this.plans.push({ fn, route, methods, authLevel });
  }

  /** The port the server listens on (the real one when 0 was asked); 0 before `listen`. */
  get port(): number {
    return this.boundPort;
  }

  /** The prefix and keys come from host.json and app settings, which the host reads at load. Rejects naming a taken port. */
  async listen(routePrefix: string, keys: HttpKeys): Promise<void> {
    this.routePrefix = routePrefix;
    this.keys = keys;
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        this.ctx.log({ level: 'error', category: 'host', message: `HTTP pipeline failed: ${errorText(err)}` });
        if (!res.headersSent) sendJson(res, 500, { error: 'Internal Server Error' });
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE')
          reject(new Error(`Functions host: port ${this.settings.port} on ${this.settings.host} is already in use`));
        else reject(err);
      });
      server.listen(this.settings.port, this.settings.host, () => resolve());
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
  }

  /** Closes the server and drops its open (keep-alive) connections. */
  async close(): Promise<void> {
    const server = this.server;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const base = `http://${req.headers.host && /^[A-Za-z0-9.:[\]-]+$/.test(req.headers.host) ? req.headers.host : `${this.settings.host}:${this.boundPort}`}`;
    let url: URL;
    try {
      url = new URL(req.url ?? '/', base);
    } catch {
      return sendJson(res, 400, { error: 'Bad Request', message: 'malformed request URL' });
    }
    const segments = splitPath(url.pathname);
    if (!segments) return sendJson(res, 400, { error: 'Bad Request', message: 'malformed percent-encoding in path' });
    const prefix = this.routePrefix ? this.routePrefix.split('/') : [];
    const underPrefix = prefix.every((p, i) => segments[i]?.toLowerCase() === p.toLowerCase());
    if (!underPrefix) return this.notFound(req, res);
    const rest = segments.slice(prefix.length);

    const method = (req.method ?? 'GET').toUpperCase();
    const matches = orderBySpecificity(this.plans)
      .map((plan) => ({ plan, params: matchRoute(plan.route, rest) }))
      .filter((m): m is { plan: HttpPlan; params: Record<string, string> } => m.params !== undefined);
    if (matches.length === 0) return this.notFound(req, res);
    const match = matches.find((m) => !m.plan.methods || m.plan.methods.has(method));
    if (!match) {
      const allow = [...new Set(matches.flatMap((m) => [...(m.plan.methods ?? [])]))].sort();
      req.resume();
      return sendJson(
        res,
        405,
        { error: 'Method Not Allowed', message: `${method} is not allowed here; use ${allow.join(', ')}` },
        { Allow: allow.join(', ') },
      );
    }
    const { plan, params } = match;

    if (!this.authorized(plan.authLevel, req, url)) {
      req.resume();
      return sendJson(res, 401, {
        error: 'Unauthorized',
        message: `this function requires the ${plan.authLevel === 'admin' ? 'master' : 'function'} key in the x-functions-key header or the code query parameter`,
      });
    }

    let body: Buffer;
    try {
      body = await readBody(req, this.settings.maxRequestBodyBytes);
    } catch (err) {
      if (err instanceof HttpError)
        return sendJson(res, err.status, { error: 'Payload Too Large', message: err.message }, { Connection: 'close' });
      throw err;
    }

    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined) continue;
      headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
    }
    // The host hands over the query as a dictionary: repeated keys joined with commas, empty values left out.
    const query: Record<string, string> = {};
    for (const key of new Set(url.searchParams.keys())) {
      const value = url.searchParams.getAll(key).join(',');
      if (value !== '') query[key] = value;
    }
    const rpcRequest: RpcHttpData = { method, url: url.toString(), headers, query, params, body: { bytes: body } };

    let response: RpcInvocationResponse;
    try {
      response = await this.ctx.track(this.ctx.invoke(plan.fn, { http: rpcRequest }, {}));
    } catch (err) {
      return sendJson(res, 500, {
        error: 'Internal Server Error',
        message: `function "${plan.fn.name}" failed`,
        invocationId: invocationIdOf(err),
      });
    }
    const returnBinding = plan.fn.metadata.bindings.$return;
    let httpOut: RpcTypedData | null | undefined;
    if (returnBinding && (returnBinding.type ?? '').toLowerCase() === 'http') httpOut = response.returnValue;
    else {
      const httpOutName = Object.entries(plan.fn.metadata.bindings).find(
        ([, b]) => b.direction === 'out' && (b.type ?? '').toLowerCase() === 'http',
      )?.[0];
      httpOut = response.outputData?.find((o) => o.name === httpOutName)?.data;
    }
    writeHttpResponse(res, httpOut?.http ?? undefined);
  }

  private notFound(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    sendJson(res, 404, { error: 'Not Found', message: `no function serves ${req.method} ${(req.url ?? '').split('?')[0]}` });
  }

  private authorized(level: HttpPlan['authLevel'], req: IncomingMessage, url: URL): boolean {
    if (level === 'anonymous') return true;
    const header = req.headers['x-functions-key'];
    const presented = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get('code') ?? undefined;
    if (!presented) return false;
    if (safeEqual(presented, this.keys.master)) return true;
    return level === 'function' && safeEqual(presented, this.keys.function);
  }
}

function orderBySpecificity(plans: HttpPlan[]): HttpPlan[] {
  const score = (p: HttpPlan) =>
    p.route.segments.reduce(
      (acc, s) => acc + (s.kind === 'literal' ? 100 : s.kind === 'param' ? (s.constraint ? 20 : s.optional ? 5 : 10) : 1),
      0,
    );
  return [...plans].sort((a, b) => score(b) - score(a));
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    return Promise.reject(new HttpError(413, `request body of ${declared} bytes exceeds the limit of ${limit} bytes`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        reject(new HttpError(413, `request body exceeds the limit of ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks));
    });
    req.on('error', (err) => {
      if (!failed) reject(err);
    });
  });
}

function writeHttpResponse(res: ServerResponse, http: RpcHttpData | undefined): void {
  if (!http) {
    res.writeHead(204);
    res.end();
    return;
  }
  const status = Number(http.statusCode ?? 200);
  const headers: Record<string, string | string[]> = { ...(http.headers ?? {}) };
  const cookies = (http.cookies ?? []).map(cookieHeader);
  if (cookies.length) headers['set-cookie'] = cookies;
  const body = http.body ? typedDataBytes(http.body) : Buffer.alloc(0);
  res.writeHead(Number.isInteger(status) && status >= 100 && status <= 999 ? status : 500, headers);
  res.end(status === 204 || status === 304 ? undefined : body);
}

function cookieHeader(c: RpcHttpCookie): string {
  const parts = [`${c.name ?? ''}=${c.value ?? ''}`];
  if (c.domain?.value) parts.push(`Domain=${c.domain.value}`);
  if (c.path?.value) parts.push(`Path=${c.path.value}`);
  const seconds = c.expires?.value?.seconds;
  if (seconds !== undefined && seconds !== null) parts.push(`Expires=${new Date(Number(seconds) * 1000).toUTCString()}`);
  if (c.maxAge?.value !== undefined && c.maxAge?.value !== null) parts.push(`Max-Age=${c.maxAge.value}`);
  if (c.secure?.value) parts.push('Secure');
  if (c.httpOnly?.value) parts.push('HttpOnly');
  if (c.sameSite === 'Strict' || c.sameSite === 'Lax') parts.push(`SameSite=${c.sameSite}`);
  if (c.sameSite === 'ExplicitNone') parts.push('SameSite=None');
  return parts.join('; ');
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

function invocationIdOf(err: unknown): string | undefined {
  return err instanceof InvocationError ? err.invocationId : undefined;
}
