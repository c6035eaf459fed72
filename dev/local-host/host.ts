/**
 * A local stand-in for the Azure Functions host (the real one is a .NET program that cannot be installed
 * offline). It loads the function modules exactly as the Node.js worker does — `@azure/functions-core` is
 * provided by `./core-shim`, so the app's own `app.http` / `app.serviceBusQueue` / `app.timer` calls register —
 * and then plays the host's part for the bindings this service uses:
 *
 * - HTTP triggers on `http://127.0.0.1:<port>/<routePrefix>/<route>` with route parameters, methods and
 *   `authLevel` (function/admin keys in `x-functions-key` or `?code=`);
 * - Service Bus queue triggers from real `@azure/service-bus` receivers in peek-lock (success completes, a throw
 *   abandons, so the broker counts deliveries and dead-letters at maxDeliveryCount) with `triggerMetadata` as
 *   the host fills it;
 * - timer triggers on their NCRONTAB schedules (six fields, UTC);
 * - Service Bus output bindings (`extraOutputs` and `$return`).
 *
 * Invocations go through the programming model that `@azure/functions` registered (see `./invoke`), so the
 * handler receives the library's own HttpRequest, InvocationContext and timer objects.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import {
  type CapturedFunction,
  type CoreBindingInfo,
  type CoreLogCategory,
  type CoreLogLevel,
  type CoreProgrammingModel,
  capturedFunctions,
  capturedHooks,
  capturedProgrammingModel,
  LOCAL_HOST_VERSION,
  type RpcHttpCookie,
  type RpcHttpData,
  type RpcInvocationResponse,
  type RpcTypedData,
  setSystemLogSink,
  appHookData as sharedAppHookData,
} from './core-shim';
import { readHostJson, timeSpanToMs } from './host-json';
import { errorText, InvocationError, invokeThroughWorkerPipeline } from './invoke';
import { type ListenerContext, typedDataBytes } from './listeners/context';
import { ServiceBusListener } from './listeners/service-bus';
import { TimerListener } from './listeners/timer';
import { NCRONTAB_TIMEZONE } from './ncrontab';
import { matchRoute, parseRoute, type RouteTemplate, splitPath } from './routes';

/** Default local function key; documented in README and local.settings.sample.json. Local use only. */
export const DEFAULT_LOCAL_FUNCTION_KEY = 'local-function-key-not-secret';
/** Default local master (admin) key. Local use only. */
export const DEFAULT_LOCAL_MASTER_KEY = 'local-master-key-not-secret';
export const DEFAULT_FUNCTIONS_PORT = 7071;
export const DEFAULT_MAX_REQUEST_BODY_BYTES = 1024 * 1024;

export interface LocalFunctionsHostOptions {
  /**
   * Function modules to load, in order (absolute paths). `npm start` passes every `dist/functions/*.js`; tests
   * pass `.ts` paths, which vitest imports. Modules already loaded in this process are not evaluated again, and
   * functions registered by earlier imports are served too (one process is one function app). Default none.
   */
  modules?: string[];
  /** Serve only these functions (by name). Default: every registered function. */
  functions?: string[];
  /**
   * App settings the bindings read: `connection` names, `%NAME%` expressions, LOCAL_FUNCTION_KEY /
   * LOCAL_MASTER_KEY. Default `process.env`.
   */
  env?: Record<string, string | undefined>;
  /** Loopback address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** HTTP port. Default 7071; 0 picks a free port. */
  port?: number;
  /** Path of host.json; its `extensions.http.routePrefix`, `extensions.serviceBus` and `functionTimeout` apply. Default none. */
  hostJsonPath?: string;
  /** Route prefix. Default: host.json `extensions.http.routePrefix`, else `api`. */
  routePrefix?: string;
  /** Key for `authLevel: function`. Default setting LOCAL_FUNCTION_KEY, else {@link DEFAULT_LOCAL_FUNCTION_KEY}. */
  functionKey?: string;
  /** Key for `authLevel: admin` (also accepted for `function`). Default LOCAL_MASTER_KEY, else {@link DEFAULT_LOCAL_MASTER_KEY}. */
  masterKey?: string;
  /** Largest accepted request body; larger ones get 413. Default 1 MiB. */
  maxRequestBodyBytes?: number;
  /** Start Service Bus receivers for queue triggers. Default true. */
  serviceBusTriggers?: boolean;
  /** Run timers on their schedules (runTimer works either way). Default true. */
  timerSchedules?: boolean;
  /** Where function and host logs go. Default: information and above to stdout/stderr. */
  log?: (entry: HostLogEntry) => void;
}

export interface HostLogEntry {
  level: CoreLogLevel;
  category: CoreLogCategory | 'host';
  functionName?: string;
  invocationId?: string;
  message: string;
}

/** A registration as the host indexed it. */
export interface HostFunction {
  name: string;
  /** The trigger binding, including its generated binding name. */
  trigger: CoreBindingInfo & { name: string; type: string };
  /** Every binding by name, exactly as captured from `@azure/functions`. */
  bindings: Record<string, CoreBindingInfo>;
  /** The JSON strings the worker would send the host (`rawBindings`). */
  rawBindings: string[];
}

export interface InvocationRecord {
  invocationId: string;
  functionName: string;
  triggerType: string;
  startedAt: Date;
  durationMs: number;
  succeeded: boolean;
  error?: string;
}

const loopback = z
  .string()
  .refine((h) => h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h), 'must be a loopback address');

const optionsSchema = z.object({
  modules: z.array(z.string().min(1)).default([]),
  functions: z.array(z.string().min(1)).optional(),
  host: loopback.default('127.0.0.1'),
  port: z.int().min(0).max(65_535).default(DEFAULT_FUNCTIONS_PORT),
  hostJsonPath: z.string().min(1).optional(),
  routePrefix: z.string().optional(),
  functionKey: z.string().min(8, 'must be at least 8 characters').optional(),
  masterKey: z.string().min(8, 'must be at least 8 characters').optional(),
  maxRequestBodyBytes: z.int().min(1).default(DEFAULT_MAX_REQUEST_BODY_BYTES),
  serviceBusTriggers: z.boolean().default(true),
  timerSchedules: z.boolean().default(true),
});

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface HttpPlan {
  fn: CapturedFunction;
  triggerName: string;
  route: RouteTemplate;
  methods: Set<string> | undefined;
  authLevel: 'anonymous' | 'function' | 'admin';
}

const MAX_INVOCATION_RECORDS = 2000;

export class LocalFunctionsHost {
  private readonly opts: z.infer<typeof optionsSchema>;
  private readonly env: Record<string, string | undefined>;
  private readonly logSink: (entry: HostLogEntry) => void;
  private functionsByName = new Map<string, CapturedFunction>();
  private model: CoreProgrammingModel | undefined;
  private http: HttpPlan[] = [];
  private readonly serviceBus: ServiceBusListener;
  private readonly timers: TimerListener;
  private server: Server | undefined;
  private inFlight = new Set<Promise<unknown>>();
  private records: InvocationRecord[] = [];
  private routePrefix = 'api';
  private functionTimeoutMs: number | undefined;
  private keys = { function: DEFAULT_LOCAL_FUNCTION_KEY, master: DEFAULT_LOCAL_MASTER_KEY };
  private boundPort = 0;
  private loaded = false;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';

  constructor(options: LocalFunctionsHostOptions = {}) {
    const { env, log, ...rest } = options;
    const parsed = optionsSchema.safeParse(rest);
    if (!parsed.success) throw new Error(`Invalid LocalFunctionsHost options:\n${z.prettifyError(parsed.error)}`);
    this.opts = parsed.data;
    this.env = env ?? process.env;
    this.logSink = log ?? defaultLog;
    const context: ListenerContext = {
      invoke: (fn, inputData, triggerMetadata) => this.invoke(fn, inputData, triggerMetadata),
      track: (promise) => this.track(promise),
      log: (entry) => this.log(entry),
      resolveExpressions: (value) => this.resolveExpressions(value),
      stopping: () => this.state === 'stopping' || this.state === 'stopped',
    };
    this.timers = new TimerListener(context);
    this.serviceBus = new ServiceBusListener(context, this.env);
  }

  /**
   * Loads the modules and indexes the registrations (binding expressions, connections, schedules, routes) without
   * listening or connecting; `start()` calls it when it was not called. Lets a caller read `hostFunctions()` /
   * `queueNames()` first, e.g. to declare queues before receivers attach. Throws naming every problem.
   */
  async load(): Promise<HostFunction[]> {
    if (this.loaded) return this.hostFunctions();
    setSystemLogSink((level, category, message) => this.log({ level, category, message }));
    this.applyHostJson();
    for (const modulePath of this.opts.modules) await import(modulePath);
    this.model = capturedProgrammingModel();
    this.selectFunctions();
    this.plan();
    this.loaded = true;
    return this.hostFunctions();
  }

  /** Loads (if needed), listens, starts receivers and timers. Throws naming what is wrong; nothing keeps running then. */
  async start(): Promise<this> {
    if (this.state !== 'new') throw new Error(`LocalFunctionsHost.start(): host is ${this.state}; create a new host`);
    this.state = 'starting';
    try {
      await this.load();
      await this.checkCapabilities();
      for (const hook of capturedHooks('appStart')) {
        await hook({ hookData: {}, appHookData: sharedAppHookData(), functionAppDirectory: process.cwd() });
      }
      await this.listen();
      if (this.opts.serviceBusTriggers) this.serviceBus.start();
      this.timers.start(this.opts.timerSchedules);
      this.state = 'running';
    } catch (err) {
      await this.stop();
      throw err;
    }
    return this;
  }

  /** Stops timers and receivers, waits for running invocations, closes connections and the HTTP server. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    const wasRunning = this.state === 'running';
    this.state = 'stopping';
    this.timers.stop();
    await this.serviceBus.stopReceiving();
    await Promise.allSettled([...this.inFlight]);
    if (wasRunning) {
      for (const hook of capturedHooks('appTerminate')) {
        try {
          await hook({ hookData: {}, appHookData: sharedAppHookData() });
        } catch (err) {
          this.log({ level: 'error', category: 'host', message: `appTerminate hook failed: ${errorText(err)}` });
        }
      }
    }
    await this.serviceBus.close();
    const server = this.server;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    this.state = 'stopped';
  }

  /** The port the HTTP server listens on (the real one when 0 was asked). */
  get port(): number {
    return this.boundPort;
  }

  /** `http://127.0.0.1:<port>` */
  get baseUrl(): string {
    return `http://${this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host}:${this.boundPort}`;
  }

  /** Full URL of a route under the route prefix, e.g. `apiUrl('health')`. */
  apiUrl(route: string): string {
    const prefix = this.routePrefix ? `/${this.routePrefix}` : '';
    return `${this.baseUrl}${prefix}/${route.replace(/^\/+/, '')}`;
  }

  /** The keys requests must present for `function` / `admin` auth levels. */
  get functionKey(): string {
    return this.keys.function;
  }
  get masterKey(): string {
    return this.keys.master;
  }

  /** The registrations this host serves, with their captured binding metadata. */
  hostFunctions(): HostFunction[] {
    return [...this.functionsByName.values()].map((fn) => {
      const [triggerName, trigger] = triggerOf(fn);
      return {
        name: fn.name,
        trigger: { ...structuredClone(trigger), name: triggerName, type: trigger.type ?? '' },
        bindings: structuredClone(fn.metadata.bindings),
        rawBindings: [...fn.rawBindings],
      };
    });
  }

  /** Every queue a served function triggers on or sends to (for declaring queues on the endpoint). */
  queueNames(): string[] {
    return this.serviceBus.queueNames();
  }

  /** Completed invocations (most recent last, capped), optionally for one function. */
  invocations(functionName?: string): InvocationRecord[] {
    return functionName ? this.records.filter((r) => r.functionName === functionName) : [...this.records];
  }

  /** Runs a timer function now, as the schedule would; resolves when it finished, rejects with its error. */
  async runTimer(name: string, options: { isPastDue?: boolean } = {}): Promise<void> {
    await this.timers.run(name, options.isPastDue ?? false);
  }

  // ------------------------------------------------------------------------------------------------------
  // Start-up

  private applyHostJson(): void {
    const hostJson = this.opts.hostJsonPath ? readHostJson(this.opts.hostJsonPath) : undefined;
    this.routePrefix = (this.opts.routePrefix ?? hostJson?.extensions?.http?.routePrefix ?? 'api').replace(/^\/+|\/+$/g, '');
    if (hostJson?.functionTimeout) this.functionTimeoutMs = timeSpanToMs(hostJson.functionTimeout);
    this.serviceBus.configure(hostJson?.extensions?.serviceBus);
    this.keys = {
      function: this.opts.functionKey ?? this.env.LOCAL_FUNCTION_KEY ?? DEFAULT_LOCAL_FUNCTION_KEY,
      master: this.opts.masterKey ?? this.env.LOCAL_MASTER_KEY ?? DEFAULT_LOCAL_MASTER_KEY,
    };
  }

  private selectFunctions(): void {
    const all = capturedFunctions();
    if (all.length > 0 && !this.model) {
      throw new Error('Functions were registered but @azure/functions set no programming model; the core shim was bypassed');
    }
    if (this.opts.modules.length > 0 && all.length === 0) {
      throw new Error(
        'No function registrations were captured. @azure/functions was probably used before dev/local-host/core-shim ' +
          'was loaded (it then stays in "test mode" and drops registrations): import the host before any function module.',
      );
    }
    const wanted = this.opts.functions;
    if (wanted) {
      const missing = wanted.filter((name) => !all.some((f) => f.name === name));
      if (missing.length)
        throw new Error(`Functions not registered: ${missing.join(', ')} (registered: ${all.map((f) => f.name).join(', ') || 'none'})`);
    }
    for (const fn of all) if (!wanted || wanted.includes(fn.name)) this.functionsByName.set(fn.name, fn);
  }

  /** Resolves every binding up front so one start-up error lists all problems. */
  private plan(): void {
    const problems: string[] = [];
    for (const fn of this.functionsByName.values()) {
      try {
        this.planFunction(fn);
      } catch (err) {
        problems.push(`${fn.name}: ${errorText(err)}`);
      }
    }
    if (problems.length) throw new Error(`Cannot host the functions:\n  - ${problems.join('\n  - ')}`);
  }

  private planFunction(fn: CapturedFunction): void {
    const [triggerName, trigger] = triggerOf(fn);
    const type = (trigger.type ?? '').toLowerCase();
    if (type === 'httptrigger') {
      const methods = Array.isArray(trigger.methods) ? new Set((trigger.methods as string[]).map((m) => m.toUpperCase())) : undefined;
      const authLevel = String(trigger.authLevel ?? 'function').toLowerCase();
      if (authLevel !== 'anonymous' && authLevel !== 'function' && authLevel !== 'admin')
        throw new Error(`unknown authLevel "${authLevel}"`);
      const route = parseRoute(this.resolveExpressions(typeof trigger.route === 'string' ? trigger.route : fn.name));
      this.http.push({ fn, triggerName, route, methods, authLevel });
    } else if (type === 'servicebustrigger') {
      this.serviceBus.add(fn, triggerName, trigger);
    } else if (type === 'timertrigger') {
      this.timers.add(fn, triggerName, trigger);
    } else {
      throw new Error(`trigger type "${trigger.type}" is not supported by the local host (http, serviceBusTrigger, timerTrigger)`);
    }
    this.serviceBus.addOutputs(fn);
  }

  /** `%NAME%` binding expressions are app settings, resolved at index time like the host does. */
  private resolveExpressions(value: string): string {
    return value.replace(/%([^%]+)%/g, (_, name: string) => {
      const v = this.env[name];
      if (v === undefined || v === '') throw new Error(`binding expression %${name}% refers to app setting ${name}, which is not set`);
      return v;
    });
  }

  private async checkCapabilities(): Promise<void> {
    if (!this.model) return;
    // The worker asks the model for capabilities at init; that also locks `app.setup()` as in Azure.
    const caps = await this.model.getCapabilities({});
    if (caps.HttpUri) throw new Error('app.setup({ enableHttpStream: true }) is not supported by the local host');
  }

  private async listen(): Promise<void> {
    const server = createServer((req, res) => {
      this.handleHttp(req, res).catch((err) => {
        this.log({ level: 'error', category: 'host', message: `HTTP pipeline failed: ${errorText(err)}` });
        if (!res.headersSent) sendJson(res, 500, { error: 'Internal Server Error' });
        else res.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') reject(new Error(`Functions host: port ${this.opts.port} on ${this.opts.host} is already in use`));
        else reject(err);
      });
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise)).catch(() => undefined);
    return promise;
  }

  // ------------------------------------------------------------------------------------------------------
  // Invocations

  /** Runs one invocation, records it, sends its Service Bus outputs. Returns the RPC response or throws. */
  private async invoke(
    fn: CapturedFunction,
    inputData: RpcTypedData,
    triggerMetadata: Record<string, RpcTypedData>,
  ): Promise<RpcInvocationResponse> {
    if (!this.model) throw new Error('no programming model');
    const invocationId = randomUUID();
    const [triggerName, trigger] = triggerOf(fn);
    const startedAt = new Date();
    const log = (level: CoreLogLevel, category: CoreLogCategory, message: string) =>
      this.log({ level, category, functionName: fn.name, invocationId, message });
    log('information', 'system', `Executing '${fn.name}' (Reason='${trigger.type}', Id=${invocationId})`);
    try {
      const response = await invokeThroughWorkerPipeline(
        fn,
        this.model,
        { invocationId, functionId: fn.name, inputData: [{ name: triggerName, data: inputData }], triggerMetadata },
        log,
        this.functionTimeoutMs,
      );
      await this.serviceBus.sendOutputs(fn, response);
      this.record({
        invocationId,
        functionName: fn.name,
        triggerType: trigger.type ?? '',
        startedAt,
        durationMs: Date.now() - startedAt.getTime(),
        succeeded: true,
      });
      log('information', 'system', `Executed '${fn.name}' (Succeeded, Id=${invocationId}, Duration=${Date.now() - startedAt.getTime()}ms)`);
      return response;
    } catch (err) {
      this.record({
        invocationId,
        functionName: fn.name,
        triggerType: trigger.type ?? '',
        startedAt,
        durationMs: Date.now() - startedAt.getTime(),
        succeeded: false,
        error: errorText(err),
      });
      log('error', 'system', `Executed '${fn.name}' (Failed, Id=${invocationId}): ${errorText(err)}`);
      throw new InvocationError(fn.name, invocationId, err);
    }
  }

  private record(r: InvocationRecord): void {
    this.records.push(r);
    if (this.records.length > MAX_INVOCATION_RECORDS) this.records.splice(0, this.records.length - MAX_INVOCATION_RECORDS);
  }

  // ------------------------------------------------------------------------------------------------------
  // HTTP

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const base = `http://${req.headers.host && /^[A-Za-z0-9.:[\]-]+$/.test(req.headers.host) ? req.headers.host : `${this.opts.host}:${this.boundPort}`}`;
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
    const matches = orderBySpecificity(this.http)
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
      body = await readBody(req, this.opts.maxRequestBodyBytes);
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
      response = await this.track(this.invoke(plan.fn, { http: rpcRequest }, {}));
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

  private log(entry: HostLogEntry): void {
    try {
      this.logSink(entry);
    } catch {
      // A failing log sink must not fail an invocation.
    }
  }
}

// ----------------------------------------------------------------------------------------------------------
// Helpers

function triggerOf(fn: CapturedFunction): [string, CoreBindingInfo] {
  const entry = Object.entries(fn.metadata.bindings).find(([, b]) => /trigger$/i.test(b.type ?? ''));
  if (!entry) throw new Error(`function "${fn.name}" has no trigger binding`);
  return entry;
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
  if (ab.length !== bb.length) return false;
  let diff = 0;
  for (let i = 0; i < ab.length; i++) diff |= (ab[i] ?? 0) ^ (bb[i] ?? 0);
  return diff === 0;
}

function invocationIdOf(err: unknown): string | undefined {
  return err instanceof InvocationError ? err.invocationId : undefined;
}

function defaultLog(entry: HostLogEntry): void {
  if (entry.level === 'trace' || entry.level === 'debug' || entry.level === 'none') return;
  const who = entry.functionName ? `[${entry.functionName}] ` : '';
  const line = `${new Date().toISOString()} ${entry.level.padEnd(11)} ${who}${entry.message}\n`;
  if (entry.level === 'warning' || entry.level === 'error' || entry.level === 'critical') process.stderr.write(line);
  else process.stdout.write(line);
}

export { type HostJson, readHostJson, timeSpanToMs } from './host-json';
export { InvocationError, LOCAL_HOST_VERSION, NCRONTAB_TIMEZONE };
