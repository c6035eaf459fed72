import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { z } from 'zod';
import { executeBatch } from './batch';
import { writtenRows } from './bulk';
import { SimClock } from './clock';
import { Codes, DataverseError } from './errors';
import { ServiceProtection, type ServiceProtectionLimits } from './limits';
import { Catalog } from './metadata';
import { MetadataApi } from './metadata-api';
import { type CallerContext, type ChangeEvent, Operations } from './operations';
import { DEFAULT_TOKENS, DemoIds, seedBulk, seedDemo, seedPlatform } from './seed';
import { Store } from './store';
import { errorResponse, json, type SimRequest, type SimResponse, WebApi } from './webapi';
import { MAX_WEBHOOK_PAYLOAD_BYTES, WebhookService } from './webhooks';

export { SimClock } from './clock';
export type { ServiceProtectionLimits } from './limits';
export { DEFAULT_TOKENS, DemoIds } from './seed';
export { Store } from './store';
export type { DeliveryRecord } from './webhooks';

export interface DataverseSimulatorOptions {
  /** Loopback address to listen on. Default `127.0.0.1` (only loopback is accepted). */
  host?: string;
  /** Port; 0 picks a free one. Default 7073. */
  port?: number;
  /** Delay of the asynchronous service before it posts a webhook. Default 1000 ms. */
  webhookDelayMs?: number;
  /** Webhook response timeout. Default 60,000 ms, as Dataverse. */
  webhookTimeoutMs?: number;
  /** Webhook payload size limit (A.2); lower it in tests to exercise the trimming rule. Default 262,144 bytes. */
  webhookMaxPayloadBytes?: number;
  /** Apply service protection limits (429 with Retry-After). Default false. */
  enforceLimits?: boolean;
  /** Override limits (e.g. tiny ones in tests). Defaults: 6000 requests / 1,200,000 ms per 300 s, 52 concurrent. */
  limits?: Partial<ServiceProtectionLimits>;
  /** Added latency per Web API request. Default 0. */
  latencyMs?: number;
  /** Bearer token -> systemuserid. Default DEFAULT_TOKENS (admin, integration, sales, disabled, unlicensed). */
  tokens?: Record<string, string>;
  /** Initial data. Default 'demo'. 'empty' still has the platform rows (admin + integration user, USD, SDK messages). */
  seed?: 'demo' | 'empty';
  /** OrganizationName in webhook contexts. Default 'simorg'. */
  organizationName?: string;
}

export interface Faults {
  /** Share (0..1) of Web API requests answered with `errorStatus`. */
  errorRate: number;
  /** Status for injected errors. Default 503. */
  errorStatus: number;
  /** The next N Web API requests fail with `errorStatus` (deterministic alternative to errorRate). */
  failNext: number;
  /** Share (0..1) of Web API requests that hang for `timeoutMs` and then lose their connection. */
  timeoutRate: number;
  timeoutMs: number;
  /** Share (0..1) of webhook posts dropped / sent twice. */
  webhookDropRate: number;
  webhookDuplicateRate: number;
}

const NO_FAULTS: Faults = {
  errorRate: 0,
  errorStatus: 503,
  failNext: 0,
  timeoutRate: 0,
  timeoutMs: 30_000,
  webhookDropRate: 0,
  webhookDuplicateRate: 0,
};

export interface RequestCounters {
  total: number;
  byUser: Record<string, number>;
  byMethod: Record<string, number>;
  byEntitySet: Record<string, number>;
  rows: Array<{ userId: string; method: string; entitySet: string; count: number }>;
}

export interface DataverseSimulator {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `url + '/api/data/v9.2'` */
  apiBase: string;
  integrationUserId: string;
  integrationUserToken: string;
  adminUserId: string;
  adminUserToken: string;
  store: Store;
  clock: SimClock;
  /** Webhook delivery log (also at GET /_sim/webhooks). */
  webhooks: WebhookService;
  faults: Faults;
  limits: ServiceProtection;
  counters(): RequestCounters;
  reset(seed?: 'demo' | 'empty'): void;
  seedBulk(counts: { accounts?: number; contacts?: number }): void;
  stop(): Promise<void>;
}

const faultsSchema = z
  .object({
    errorRate: z.number().min(0).max(1),
    errorStatus: z.number().int().min(500).max(599),
    failNext: z.number().int().min(0),
    timeoutRate: z.number().min(0).max(1),
    timeoutMs: z.number().int().min(0),
    webhookDropRate: z.number().min(0).max(1),
    webhookDuplicateRate: z.number().min(0).max(1),
  })
  .partial()
  .strict();

const clockSchema = z.object({ advanceMs: z.number().optional(), set: z.string().optional(), unfreeze: z.boolean().optional() }).strict();

const limitsSchema = z
  .object({
    enabled: z.boolean(),
    requests: z.number().int().positive(),
    executionMs: z.number().int().positive(),
    concurrent: z.number().int().positive(),
    windowMs: z.number().int().positive(),
    rowCostMs: z.number().min(0),
    latencyMs: z.number().int().min(0),
    webhookMaxPayloadBytes: z.number().int().positive(),
    webhookDelayMs: z.number().int().min(0),
  })
  .partial()
  .strict();

const resetSchema = z.object({ seed: z.enum(['demo', 'empty']).optional() }).strict();

const API_PREFIX = /^\/api\/data\/v9\.[0-2]\//;

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Starts the simulator; resolves once it listens. */
export async function startDataverseSimulator(opts: DataverseSimulatorOptions = {}): Promise<DataverseSimulator> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) throw new Error(`The Dataverse simulator only listens on loopback addresses, not '${host}'.`);
  const catalog = new Catalog();
  const store = new Store(catalog);
  const clock = new SimClock();
  let apiBase = '';
  const webhooks = new WebhookService(store, catalog, clock, {
    delayMs: opts.webhookDelayMs ?? 1000,
    timeoutMs: opts.webhookTimeoutMs ?? 60_000,
    organizationName: opts.organizationName ?? 'simorg',
    organizationDomain: `${opts.organizationName ?? 'simorg'}.crm.dynamics.com`,
    organizationId: DemoIds.organization,
    businessUnitId: DemoIds.businessUnit,
    maxPayloadBytes: opts.webhookMaxPayloadBytes ?? MAX_WEBHOOK_PAYLOAD_BYTES,
  });
  const ops = new Operations(store, catalog, clock, (e: ChangeEvent) => webhooks.onChange(e));
  webhooks.attach(ops);
  const metadataApi = new MetadataApi(catalog, () => apiBase);
  const api = new WebApi(store, catalog, ops, clock, () => apiBase, metadataApi);
  api.organizationId = DemoIds.organization;
  api.businessUnitId = DemoIds.businessUnit;
  const tokens = new Map(Object.entries(opts.tokens ?? DEFAULT_TOKENS));
  const limits = new ServiceProtection(opts.enforceLimits ?? false, opts.limits ?? {}, () => clock.now());
  let latencyMs = opts.latencyMs ?? 0;
  const faults: Faults = { ...NO_FAULTS };
  const counts = new Map<string, number>();

  const reset = (seed: 'demo' | 'empty' = opts.seed ?? 'demo') => {
    webhooks.cancelAll();
    webhooks.deliveries.length = 0;
    store.clear();
    limits.reset();
    seedPlatform(ops, catalog);
    if (seed === 'demo') seedDemo(ops, catalog);
  };
  reset();

  const count = (userId: string, method: string, entitySet: string) => {
    const k = `${userId}|${method}|${entitySet}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  };

  const counters = (): RequestCounters => {
    const out: RequestCounters = { total: 0, byUser: {}, byMethod: {}, byEntitySet: {}, rows: [] };
    for (const [k, n] of counts) {
      const [userId = '', method = '', entitySet = ''] = k.split('|');
      out.total += n;
      out.byUser[userId] = (out.byUser[userId] ?? 0) + n;
      out.byMethod[method] = (out.byMethod[method] ?? 0) + n;
      out.byEntitySet[entitySet] = (out.byEntitySet[entitySet] ?? 0) + n;
      out.rows.push({ userId, method, entitySet, count: n });
    }
    return out;
  };

  const authenticate = (headers: IncomingMessage['headers']): CallerContext => {
    const auth = headers.authorization;
    const m = /^Bearer\s+(.+)$/i.exec(auth ?? '');
    const userId = m?.[1] ? tokens.get(m[1].trim()) : undefined;
    if (!userId) {
      throw new DataverseError(
        401,
        Codes.badAuth,
        auth ? 'The bearer token is not valid for this organization.' : 'Authorization header with a Bearer token is required.',
        {
          'WWW-Authenticate': `Bearer authorization_uri=https://login.microsoftonline.com/common/oauth2/authorize, resource_id=${apiBase.replace(/\/api\/.*/, '')}`,
        },
      );
    }
    const user = store.get('systemuser', userId);
    if (!user)
      throw new DataverseError(401, Codes.badAuth, `The token maps to systemuser ${userId}, which does not exist in this organization.`);
    if (user.isdisabled === true) {
      throw new DataverseError(
        403,
        Codes.userDisabled,
        `The user with SystemUserId=${userId} is disabled. Disabled users cannot access the system.`,
      );
    }
    if (user.islicensed === false && user.accessmode !== 4) {
      throw new DataverseError(403, Codes.userDisabled, `The user with SystemUserId=${userId} has no license to access this organization.`);
    }
    const correlationId =
      typeof headers['x-ms-correlation-request-id'] === 'string' ? headers['x-ms-correlation-request-id'] : randomUUID();
    const ctx: CallerContext = { userId, callerId: userId, correlationId };
    const objectId = headers.callerobjectid;
    const legacy = headers.mscrmcallerid;
    if (typeof objectId === 'string' || typeof legacy === 'string') {
      // Delegate role: admin and the integration (application) user may act on behalf of others.
      if (userId !== DemoIds.adminUser && user.accessmode !== 4) {
        throw new DataverseError(
          403,
          Codes.privilegeDenied,
          `Principal user (Id=${userId}, type=8) is missing prvActOnBehalfOfAnotherUser privilege (Id=2a44d6e5-4c3d-4f2a-9b2c-ba3c46f0b3c4).`,
        );
      }
      let target: string | undefined;
      if (typeof objectId === 'string') {
        for (const u of store.table('systemuser').rows.values()) {
          if (String(u.azureactivedirectoryobjectid ?? '').toLowerCase() === objectId.toLowerCase()) target = String(u.systemuserid);
        }
      } else if (typeof legacy === 'string' && store.get('systemuser', legacy)) target = legacy.toLowerCase();
      if (!target) {
        throw new DataverseError(
          404,
          Codes.notFound,
          `No systemuser has ${typeof objectId === 'string' ? `azureactivedirectoryobjectid = ${objectId}` : `systemuserid = ${String(legacy)}`}.`,
        );
      }
      const impersonated = store.get('systemuser', target);
      if (impersonated?.isdisabled === true) {
        throw new DataverseError(
          403,
          Codes.userDisabled,
          `The user with SystemUserId=${target} is disabled. Disabled users cannot access the system.`,
        );
      }
      ctx.userId = target;
    }
    return ctx;
  };

  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    void handle(req, res).catch((err) => {
      if (!res.headersSent) send(res, errorResponse(err));
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const rawQuery = (req.url ?? '').includes('?') ? (req.url ?? '').slice((req.url ?? '').indexOf('?') + 1) : '';
    if (url.pathname.startsWith('/_sim/')) {
      send(res, control(req.method ?? 'GET', url, await readBody(req)));
      return;
    }
    const method = req.method ?? 'GET';
    if (!API_PREFIX.test(url.pathname)) {
      send(
        res,
        json(404, {
          error: { code: Codes.unknownProperty, message: `No Dataverse resource at '${url.pathname}'. The Web API is at /api/data/v9.2/.` },
        }),
      );
      return;
    }
    const path = decodeURIComponent(url.pathname.replace(API_PREFIX, ''));
    const entitySet = (path.split(/[(/]/)[0] ?? '') || '(root)';
    if (faults.timeoutRate > 0 && Math.random() < faults.timeoutRate) {
      await new Promise((r) => setTimeout(r, faults.timeoutMs));
      req.socket.destroy();
      return;
    }
    if (faults.failNext > 0 || (faults.errorRate > 0 && Math.random() < faults.errorRate)) {
      if (faults.failNext > 0) faults.failNext--;
      send(res, json(faults.errorStatus, { error: { code: Codes.unexpected, message: 'An unexpected error occurred. (injected fault)' } }));
      return;
    }
    let ctx: CallerContext;
    let admission: { done: () => void; headers: Record<string, string> };
    try {
      ctx = authenticate(req.headers);
      admission = limits.admit(ctx.callerId);
    } catch (err) {
      send(res, errorResponse(err));
      return;
    }
    try {
      const body = await readBody(req);
      if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs));
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      const simReq: SimRequest = { method, path, rawQuery, headers, body: body === '' ? undefined : body, ctx };
      const out =
        path === '$batch'
          ? method === 'POST'
            ? executeBatch(api, ops, simReq)
            : errorResponse(new DataverseError(405, Codes.invalidArgument, '$batch accepts POST only.'))
          : api.handle(simReq);
      count(ctx.callerId, method, entitySet);
      const rows = writtenRows(method, path, out);
      if (rows > 0 && limits.limits.rowCostMs > 0) await new Promise((r) => setTimeout(r, rows * limits.limits.rowCostMs));
      out.headers = { ...out.headers, ...admission.headers };
      send(res, out);
    } finally {
      admission.done();
    }
  };

  const send = (res: ServerResponse, out: SimResponse) => {
    const reqId = randomUUID();
    res.writeHead(out.status, { REQ_ID: reqId, 'x-ms-service-request-id': reqId, ...out.headers });
    res.end(out.body);
  };

  const control = (method: string, url: URL, rawBody: string): SimResponse => {
    const body = (): unknown => {
      if (rawBody.trim() === '') return {};
      try {
        return JSON.parse(rawBody);
      } catch {
        throw new DataverseError(400, Codes.badPayload, 'The /_sim/ request body is not valid JSON.');
      }
    };
    const parse = <T extends z.ZodType>(schema: T): z.infer<T> => {
      const r = schema.safeParse(body());
      if (!r.success)
        throw new DataverseError(
          400,
          Codes.badPayload,
          r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '),
        );
      return r.data;
    };
    try {
      const route = `${method} ${url.pathname.replace(/\/$/, '')}`;
      switch (route) {
        case 'GET /_sim/health':
          return json(200, { status: 'ok', apiBase });
        case 'POST /_sim/reset': {
          const b = parse(resetSchema);
          reset(b.seed);
          counts.clear();
          return json(200, { reset: true, seed: b.seed ?? opts.seed ?? 'demo' });
        }
        case 'POST /_sim/seed': {
          const n = (name: string) => {
            const v = url.searchParams.get(name);
            if (v === null) return undefined;
            if (!/^\d+$/.test(v) || Number(v) > 2_000_000)
              throw new DataverseError(400, Codes.badPayload, `${name} must be an integer from 0 to 2000000.`);
            return Number(v);
          };
          const a = n('accounts');
          const c = n('contacts');
          if (a === undefined && c === undefined) throw new DataverseError(400, Codes.badPayload, 'Give ?accounts=N and/or ?contacts=N.');
          seedBulk(store, ops, { ...(a !== undefined ? { accounts: a } : {}), ...(c !== undefined ? { contacts: c } : {}) });
          return json(200, { accounts: store.table('account').rows.size, contacts: store.table('contact').rows.size });
        }
        case 'GET /_sim/faults':
          return json(200, faults);
        case 'POST /_sim/faults': {
          Object.assign(faults, parse(faultsSchema));
          webhooks.faults = { dropRate: faults.webhookDropRate, duplicateRate: faults.webhookDuplicateRate };
          return json(200, faults);
        }
        case 'DELETE /_sim/faults':
          Object.assign(faults, NO_FAULTS);
          webhooks.faults = { dropRate: 0, duplicateRate: 0 };
          return json(200, faults);
        case 'GET /_sim/clock':
          return json(200, { now: new Date(clock.now()).toISOString(), frozen: clock.frozen });
        case 'POST /_sim/clock': {
          const b = parse(clockSchema);
          if (b.set !== undefined) {
            const ms = Date.parse(b.set);
            if (Number.isNaN(ms)) throw new DataverseError(400, Codes.badPayload, `'${b.set}' is not an ISO date-time.`);
            clock.set(ms);
          }
          if (b.advanceMs !== undefined) clock.advance(b.advanceMs);
          if (b.unfreeze) clock.unfreeze();
          return json(200, { now: new Date(clock.now()).toISOString(), frozen: clock.frozen });
        }
        case 'GET /_sim/counters':
          return json(200, counters());
        case 'DELETE /_sim/counters':
          counts.clear();
          return json(200, counters());
        case 'GET /_sim/limits':
          return json(200, {
            enabled: limits.enabled,
            ...limits.limits,
            latencyMs,
            webhookMaxPayloadBytes: webhooks.options.maxPayloadBytes,
            webhookDelayMs: webhooks.options.delayMs,
            usage: limits.snapshot(),
          });
        case 'POST /_sim/limits': {
          const b = parse(limitsSchema);
          if (b.enabled !== undefined) limits.enabled = b.enabled;
          if (b.latencyMs !== undefined) latencyMs = b.latencyMs;
          if (b.webhookMaxPayloadBytes !== undefined) webhooks.options.maxPayloadBytes = b.webhookMaxPayloadBytes;
          if (b.webhookDelayMs !== undefined) webhooks.options.delayMs = b.webhookDelayMs;
          const { enabled: _e, latencyMs: _l, webhookMaxPayloadBytes: _w, webhookDelayMs: _d, ...rest } = b;
          limits.limits = { ...limits.limits, ...rest };
          limits.reset();
          return json(200, {
            enabled: limits.enabled,
            ...limits.limits,
            latencyMs,
            webhookMaxPayloadBytes: webhooks.options.maxPayloadBytes,
            webhookDelayMs: webhooks.options.delayMs,
          });
        }
        case 'GET /_sim/webhooks':
          return json(200, { deliveries: webhooks.deliveries });
        case 'DELETE /_sim/webhooks':
          webhooks.deliveries.length = 0;
          return json(200, { deliveries: [] });
        case 'GET /_sim/tokens':
          return json(200, Object.fromEntries(tokens));
        default:
          return json(404, {
            error: {
              code: Codes.unknownProperty,
              message: `No control route '${route}'. Routes: GET /_sim/health, POST /_sim/reset, POST /_sim/seed?accounts=N&contacts=N, GET|POST|DELETE /_sim/faults, GET|POST /_sim/clock, GET|DELETE /_sim/counters, GET|POST /_sim/limits, GET|DELETE /_sim/webhooks, GET /_sim/tokens.`,
            },
          });
      }
    } catch (err) {
      return errorResponse(err);
    }
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 7073, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  apiBase = `${url}/api/data/v9.2`;
  const tokenFor = (userId: string) => [...tokens.entries()].find(([, u]) => u === userId)?.[0] ?? '';

  return {
    url,
    apiBase,
    integrationUserId: DemoIds.integrationUser,
    integrationUserToken: tokenFor(DemoIds.integrationUser),
    adminUserId: DemoIds.adminUser,
    adminUserToken: tokenFor(DemoIds.adminUser),
    store,
    clock,
    webhooks,
    faults,
    limits,
    counters,
    reset: (seed) => {
      reset(seed);
      counts.clear();
    },
    seedBulk: (c) => seedBulk(store, ops, c),
    stop: async () => {
      webhooks.cancelAll();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
