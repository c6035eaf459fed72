import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ApiContext, type ApiResponse, type ApiSettings, dispatch, errorResponse } from './api';
import { SimClock } from './clock';
import { handleControl } from './control';
import { DEMO_COMPANY_ID, DEMO_COMPANY_NAME, seedDemo } from './demo';
import { BcError } from './errors';
import { detGuid } from './ids';
import { DEFAULT_LIMITS, Limiter } from './limits';
import type { ApiGroup } from './schema';
import { defaultExtensionState, Store } from './store';
import { DEFAULT_RETRY_SCHEDULE, WebhookManager, type WebhookSettings } from './webhooks';

export { DEMO_COMPANY_ID, DEMO_COMPANY_NAME } from './demo';
export { detGuid } from './ids';
export type { ChangeEvent, Rec, Row } from './store';
export type { DeliveryRecord, NotificationItem, Subscription } from './webhooks';

export interface BcSimulatorOptions {
  /** Interface to listen on. Default `127.0.0.1` (loopback only). */
  host?: string;
  /** Port; 0 picks an ephemeral one. Default 7072. */
  port?: number;
  /** Tenant id in the URL `/v2.0/{tenantId}/{environmentName}/api/...`. Default a fixed GUID (see README). */
  tenantId?: string;
  /** Environment name in the URL. Default `production`. */
  environmentName?: string;
  /** Notification batching delay after the first change. Real BC: 30000 (default). */
  webhookDelayMs?: number;
  /** Changes per window above which one `collection` notification is sent. Default 1000. */
  collectionThreshold?: number;
  /** Time the subscriber has to answer the validation handshake. Default 5000. */
  handshakeTimeoutMs?: number;
  /** Time the subscriber has to answer a notification POST. Default 30000. */
  notificationTimeoutMs?: number;
  /** Enforce the per-user operational limits (6000 req / 5 min, 5 concurrent + queue of 95, 429 + Retry-After). Default false. */
  enforceLimits?: boolean;
  /** Added latency per API request in ms. Default 0. */
  latencyMs?: number;
  /** Whether contacts and salespeoplePurchasers appear in webhookSupportedResources (open point F.2). Default false, as documented. */
  webhookContactsAndSalespeople?: boolean;
  /** Initial data: the CRONUS-like demo company (default) or one empty company. */
  seed?: 'demo' | 'empty';
  /** Delays before notification retries 1..n. Default BC's 1, 1, 1, 10, 100 minutes; scale down in tests. */
  retrySchedule?: number[];
  /** Status for a stale If-Match: 412 (default) or 409 (open point F.1). */
  staleEtagStatus?: 412 | 409;
  /** A `Prefer: odata.maxpagesize` above 20,000: `413` (default, documented) or `clamp`. */
  pageSizeOverLimit?: '413' | 'clamp';
  /** Webhook subscriptions per environment. Default 200 (BC online). */
  maxSubscriptions?: number;
  /**
   * Whether the service's BC extension (bc-extension/) is installed. Default true. Without it the custom route
   * `bcsync/integration/v1.0` answers 404 like any unknown route; `/_sim/extension` changes it at run time.
   */
  extensionInstalled?: boolean;
}

/** Fault injection, changeable per run through `/_sim/faults`. */
export interface FaultSettings {
  /** Share (0..1) of API requests answered with `errorStatus` instead of being processed. */
  errorRate: number;
  errorStatus: number;
  /** Share of API requests held for `timeoutMs` and then answered 504 (gateway timeout). */
  timeoutRate: number;
  timeoutMs: number;
}

export interface RequestCounters {
  total: number;
  byMethod: Record<string, number>;
  byEntitySet: Record<string, number>;
  /** Keys like `GET customers`. */
  byMethodAndEntitySet: Record<string, number>;
}

export interface BcSimulator {
  /** Base URL, e.g. `http://127.0.0.1:7072`. */
  url: string;
  /** `…/v2.0/{tenant}/{env}/api/v2.0/companies({companyId})` (demo company by default). */
  apiBase(companyId?: string): string;
  /** `…/v2.0/{tenant}/{env}/api/bcsync/integration/v1.0/companies({companyId})`: the custom API pages. */
  customApiBase(companyId?: string): string;
  /** `…/v2.0/{tenant}/{env}/api/v2.0`: where `subscriptions` and `$batch` live. */
  apiRoot(group?: ApiGroup | 'microsoft/runtime/beta' | 'microsoft/automation/v2.0'): string;
  companyId: string;
  companyName: string;
  tenantId: string;
  environmentName: string;
  store: Store;
  clock: SimClock;
  webhooks: WebhookManager;
  limiter: Limiter;
  faults: FaultSettings;
  counters(): RequestCounters;
  resetCounters(): void;
  /** Clears everything (data, subscriptions, counters, faults, clock) and reseeds. */
  reset(seed?: 'demo' | 'empty'): void;
  stop(): Promise<void>;
}

export const DEFAULT_TENANT_ID = '7f3c1d2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f';
export const DEFAULT_ENVIRONMENT = 'production';

const NO_FAULTS: FaultSettings = { errorRate: 0, errorStatus: 503, timeoutRate: 0, timeoutMs: 10_000 };

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, r: ApiResponse): void {
  if (res.headersSent || res.destroyed) return;
  const headers: Record<string, string> = { ...(r.headers ?? {}) };
  let payload: Buffer | undefined;
  if (r.body !== undefined) {
    payload = Buffer.from(typeof r.body === 'string' ? r.body : JSON.stringify(r.body), 'utf8');
    headers['Content-Length'] = String(payload.length);
  }
  res.writeHead(r.status, headers);
  res.end(payload);
}

export async function startBcSimulator(opts: BcSimulatorOptions = {}): Promise<BcSimulator> {
  const host = opts.host ?? '127.0.0.1';
  const tenantId = opts.tenantId ?? DEFAULT_TENANT_ID;
  const environmentName = opts.environmentName ?? DEFAULT_ENVIRONMENT;
  const clock = new SimClock();
  const store = new Store(clock);
  store.settings.staleEtagStatus = opts.staleEtagStatus ?? 412;
  if (opts.extensionInstalled === false) store.settings.extension.installed = false;
  const whSettings: WebhookSettings = {
    webhookDelayMs: opts.webhookDelayMs ?? 30_000,
    collectionThreshold: opts.collectionThreshold ?? 1000,
    handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 5000,
    notificationTimeoutMs: opts.notificationTimeoutMs ?? 30_000,
    retrySchedule: opts.retrySchedule ?? DEFAULT_RETRY_SCHEDULE,
    maxAttempts: 6,
    expirationMs: 3 * 24 * 3600_000,
    maxSubscriptions: opts.maxSubscriptions ?? 200,
    webhookContactsAndSalespeople: opts.webhookContactsAndSalespeople ?? false,
    dropRate: 0,
    duplicateRate: 0,
  };
  const webhooks = new WebhookManager(store, whSettings);
  const limiter = new Limiter({ ...DEFAULT_LIMITS, enforce: opts.enforceLimits ?? false, latencyMs: opts.latencyMs ?? 0 });
  const faults: FaultSettings = { ...NO_FAULTS };
  const apiSettings: ApiSettings = { pageSizeOverLimit: opts.pageSizeOverLimit ?? '413' };
  const counts = new Map<string, number>();
  const count = (method: string, entitySet: string) => {
    const k = `${method} ${entitySet}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  };
  const ctx: ApiContext = { store, webhooks, settings: apiSettings, count };
  const companyId = DEMO_COMPANY_ID;
  const companyName = DEMO_COMPANY_NAME;
  const seed = (kind: 'demo' | 'empty') => {
    store.clear();
    if (kind === 'demo') seedDemo(store, companyId, companyName);
    else store.addCompany(companyId, companyName);
  };
  seed(opts.seed ?? 'demo');
  const pendingTimers = new Set<NodeJS.Timeout>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        pendingTimers.delete(t);
        resolve();
      }, ms);
      pendingTimers.add(t);
    });

  let baseUrl = '';
  const rootFor = (group: ApiGroup | 'microsoft/runtime/beta' | 'microsoft/automation/v2.0' = 'v2.0') =>
    `${baseUrl}/v2.0/${tenantId}/${environmentName}/api/${group}`;

  const sim: BcSimulator = {
    url: '',
    apiBase: (id = companyId) => `${rootFor('v2.0')}/companies(${id})`,
    customApiBase: (id = companyId) => `${rootFor('bcsync/integration/v1.0')}/companies(${id})`,
    apiRoot: (group = 'v2.0') => rootFor(group),
    companyId,
    companyName,
    tenantId,
    environmentName,
    store,
    clock,
    webhooks,
    limiter,
    faults,
    counters() {
      const out: RequestCounters = { total: 0, byMethod: {}, byEntitySet: {}, byMethodAndEntitySet: {} };
      for (const [k, n] of counts) {
        const [m, e = ''] = k.split(' ') as [string, string | undefined];
        out.total += n;
        out.byMethod[m] = (out.byMethod[m] ?? 0) + n;
        out.byEntitySet[e] = (out.byEntitySet[e] ?? 0) + n;
        out.byMethodAndEntitySet[k] = n;
      }
      return out;
    },
    resetCounters: () => counts.clear(),
    reset(kind: 'demo' | 'empty' = 'demo') {
      webhooks.reset();
      limiter.reset();
      counts.clear();
      Object.assign(faults, NO_FAULTS);
      whSettings.dropRate = 0;
      whSettings.duplicateRate = 0;
      clock.reset();
      store.settings.extension = defaultExtensionState();
      seed(kind);
    },
    stop: async () => undefined,
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const rawUrl = req.url ?? '/';
    const qAt = rawUrl.indexOf('?');
    const pathname = qAt < 0 ? rawUrl : rawUrl.slice(0, qAt);
    const rawQuery = qAt < 0 ? '' : rawUrl.slice(qAt + 1);
    const method = (req.method ?? 'GET').toUpperCase();
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
    const raw = await readBody(req);
    if (pathname.startsWith('/_sim/') || pathname === '/_sim') {
      send(res, await handleControl(sim, { whSettings, apiSettings }, method, pathname, new URLSearchParams(rawQuery), raw));
      return;
    }
    const segs = pathname.split('/').filter((s) => s !== '');
    if (segs[0] !== 'v2.0') {
      send(res, errorResponse(new BcError(404, 'BadRequest_ResourceNotFound', `Resource not found for the segment '${segs[0] ?? ''}'.`)));
      return;
    }
    const auth = headers.authorization ?? '';
    const bearer = /^Bearer\s+(\S+)$/i.exec(auth.trim());
    if (!bearer) {
      const r = errorResponse(new BcError(401, 'Authentication_InvalidCredentials', 'The server has rejected the client credentials.'));
      r.headers = {
        ...r.headers,
        'WWW-Authenticate': `Bearer authorization_uri="https://login.microsoftonline.com/${tenantId}/oauth2/authorize", error="invalid_token"`,
      };
      send(res, r);
      return;
    }
    const user = bearer[1] as string;
    // Both `/v2.0/{tenant}/{env}/api/…` and `/v2.0/{env}/api/…` are valid.
    let i = 1;
    let env: string | undefined;
    if (segs[2] === 'api') {
      env = segs[1];
      i = 2;
    } else {
      if (segs[1] !== tenantId) {
        send(res, errorResponse(new BcError(404, 'BadRequest_NotFound', `The tenant '${segs[1] ?? ''}' does not exist.`)));
        return;
      }
      env = segs[2];
      i = 3;
    }
    if (env !== environmentName || segs[i] !== 'api') {
      send(res, errorResponse(new BcError(404, 'BadRequest_NotFound', `The environment '${env ?? ''}' does not exist.`)));
      return;
    }
    let group: ApiGroup | 'microsoft/runtime/beta' | 'microsoft/automation/v2.0';
    let rest: string[];
    if (segs[i + 1] === 'v2.0') {
      group = 'v2.0';
      rest = segs.slice(i + 2);
    } else if (segs.slice(i + 1, i + 4).join('/') === 'bcsync/integration/v1.0' && store.settings.extension.installed) {
      group = 'bcsync/integration/v1.0';
      rest = segs.slice(i + 4);
    } else if (segs.slice(i + 1, i + 4).join('/') === 'microsoft/runtime/beta') {
      group = 'microsoft/runtime/beta';
      rest = segs.slice(i + 4);
    } else if (segs.slice(i + 1, i + 4).join('/') === 'microsoft/automation/v2.0') {
      group = 'microsoft/automation/v2.0';
      rest = segs.slice(i + 4);
    } else {
      send(
        res,
        errorResponse(
          new BcError(404, 'BadRequest_ResourceNotFound', `Resource not found for the segment '${segs.slice(i + 1).join('/')}'.`),
        ),
      );
      return;
    }
    let release: (() => void) | undefined;
    try {
      release = await limiter.acquire(user);
      if (limiter.settings.latencyMs > 0) await sleep(limiter.settings.latencyMs);
      if (faults.timeoutRate > 0 && Math.random() < faults.timeoutRate) {
        await sleep(faults.timeoutMs);
        throw new BcError(504, 'GatewayTimeout', 'The request exceeded the gateway execution time limit.');
      }
      if (faults.errorRate > 0 && Math.random() < faults.errorRate) {
        const s = faults.errorStatus;
        throw new BcError(
          s,
          s === 429 ? 'Application_TooManyRequests' : 'Internal_ServiceUnavailable',
          'Injected fault.',
          s === 429 || s === 502 || s === 503 ? { 'Retry-After': '1' } : {},
        );
      }
      let body: unknown;
      const contentType = (headers['content-type'] ?? '').toLowerCase();
      if (raw.length > 0 && contentType !== '' && !contentType.includes('json'))
        throw new BcError(415, 'BadRequest', `The content type '${contentType}' is not supported. Use application/json.`);
      if (raw.length > 0) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          throw new BcError(400, 'BadRequest', 'The request body is not valid JSON.');
        }
      }
      const r = await dispatch(ctx, {
        method,
        group,
        segments: rest,
        query: new URLSearchParams(rawQuery),
        rawQuery,
        headers,
        body,
        apiRoot: `${baseUrl}/${segs.slice(0, i + 1).join('/')}/${group}`,
        user,
      });
      send(res, r);
    } catch (err) {
      send(res, errorResponse(err));
    } finally {
      release?.();
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, errorResponse(err)));
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 7072, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  baseUrl = `http://${host}:${addr.port}`;
  sim.url = baseUrl;
  sim.stop = async () => {
    await webhooks.stop();
    limiter.reset();
    for (const t of pendingTimers) clearTimeout(t);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return sim;
}

export { detGuid as deterministicId };
