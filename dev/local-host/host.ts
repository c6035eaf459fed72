/**
 * A local stand-in for the Azure Functions host (the real one is a .NET program that cannot be installed
 * offline). It loads the function modules exactly as the Node.js worker does — `@azure/functions-core` is
 * provided by `./core-shim`, so the app's own `app.http` / `app.serviceBusQueue` / `app.timer` calls register —
 * and then plays the host's part for the bindings this service uses, one listener per trigger:
 *
 * - `./listeners/http`: HTTP triggers on `http://127.0.0.1:<port>/<routePrefix>/<route>` with route parameters,
 *   methods and `authLevel` (function/admin keys in `x-functions-key` or `?code=`);
 * - `./listeners/service-bus`: Service Bus queue triggers from real `@azure/service-bus` receivers in peek-lock
 *   (success completes, a throw abandons, so the broker counts deliveries and dead-letters at maxDeliveryCount)
 *   with `triggerMetadata` as the host fills it, and Service Bus output bindings (`extraOutputs` and `$return`);
 * - `./listeners/timer`: timer triggers on their NCRONTAB schedules (six fields, UTC).
 *
 * This class indexes the registrations (one pass, so a start-up error lists every problem), owns the lifecycle
 * and the invocation records, and hands each listener a `ListenerContext`. Invocations go through the programming
 * model that `@azure/functions` registered (see `./invoke`), so the handler receives the library's own
 * HttpRequest, InvocationContext and timer objects.
 */
import { randomUUID } from 'node:crypto';
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
  type RpcInvocationResponse,
  type RpcTypedData,
  setSystemLogSink,
  appHookData as sharedAppHookData,
} from './core-shim';
import { readHostJson, timeSpanToMs } from './host-json';
import { errorText, InvocationError, invokeThroughWorkerPipeline } from './invoke';
import type { ListenerContext } from './listeners/context';
import { HttpListener } from './listeners/http';
import { ServiceBusListener } from './listeners/service-bus';
import { TimerListener } from './listeners/timer';
import { NCRONTAB_TIMEZONE } from './ncrontab';

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

const MAX_INVOCATION_RECORDS = 2000;

export class LocalFunctionsHost {
  private readonly opts: z.infer<typeof optionsSchema>;
  private readonly env: Record<string, string | undefined>;
  private readonly logSink: (entry: HostLogEntry) => void;
  private functionsByName = new Map<string, CapturedFunction>();
  private model: CoreProgrammingModel | undefined;
  private readonly http: HttpListener;
  private readonly serviceBus: ServiceBusListener;
  private readonly timers: TimerListener;
  private inFlight = new Set<Promise<unknown>>();
  private records: InvocationRecord[] = [];
  private routePrefix = 'api';
  private functionTimeoutMs: number | undefined;
  private keys = { function: DEFAULT_LOCAL_FUNCTION_KEY, master: DEFAULT_LOCAL_MASTER_KEY };
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
    this.http = new HttpListener(context, {
      host: this.opts.host,
      port: this.opts.port,
      maxRequestBodyBytes: this.opts.maxRequestBodyBytes,
    });
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
      await this.http.listen(this.routePrefix, this.keys);
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
    // Running invocations still send their outputs over the shared clients, so those close only after them.
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
    await this.http.close();
    this.state = 'stopped';
  }

  /** The port the HTTP server listens on (the real one when 0 was asked). */
  get port(): number {
    return this.http.port;
  }

  /** `http://127.0.0.1:<port>` */
  get baseUrl(): string {
    return `http://${this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host}:${this.http.port}`;
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
    const [, trigger] = triggerOf(fn);
    const type = (trigger.type ?? '').toLowerCase();
    if (type === 'httptrigger') {
      this.http.add(fn, trigger);
    } else if (type === 'servicebustrigger') {
      this.serviceBus.add(fn, trigger);
    } else if (type === 'timertrigger') {
      this.timers.add(fn, trigger);
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

function defaultLog(entry: HostLogEntry): void {
  if (entry.level === 'trace' || entry.level === 'debug' || entry.level === 'none') return;
  const who = entry.functionName ? `[${entry.functionName}] ` : '';
  const line = `${new Date().toISOString()} ${entry.level.padEnd(11)} ${who}${entry.message}\n`;
  if (entry.level === 'warning' || entry.level === 'error' || entry.level === 'critical') process.stderr.write(line);
  else process.stdout.write(line);
}

export { type HostJson, readHostJson, timeSpanToMs } from './host-json';
export { InvocationError, LOCAL_HOST_VERSION, NCRONTAB_TIMEZONE };
