/**
 * Provides the `@azure/functions-core` module the way the Azure Functions Node.js worker does
 * (azure-functions-nodejs-worker `setupCoreModule`): a Proxy on `Module.prototype.require` answers that id with
 * the core API object. `@azure/functions` then believes it runs inside the real worker, sets its programming
 * model and hands every `app.*` registration to `registerFunction(metadata, callback)` with the exact binding
 * metadata the Functions host would index.
 *
 * The shim must be installed before the first `app.*` call: `@azure/functions` looks the core module up once
 * (`tryGetCoreApiLazy`) and, when it is missing, latches into "test mode" and drops registrations for the rest
 * of the process. Importing this module installs it.
 *
 * This uses internal API of `@azure/functions` (pinned exactly in package.json); the metadata test in
 * `test/local-host/metadata.test.ts` fails if an upgrade changes the shapes.
 */
import Module from 'node:module';

/** One binding as `@azure/functions` describes it (`toCoreFunctionMetadata`): trigger, inputs and outputs. */
export interface CoreBindingInfo {
  type?: string;
  direction?: 'in' | 'out' | 'inout';
  dataType?: string;
  properties?: Record<string, string>;
  [key: string]: unknown;
}

export interface CoreFunctionMetadata {
  name: string;
  functionId?: string;
  bindings: Record<string, CoreBindingInfo>;
  retryOptions?: unknown;
}

/** Typed data exchanged between the worker and the programming model (the gRPC `TypedData` shape). */
export interface RpcTypedData {
  string?: string | null;
  json?: string | null;
  bytes?: Uint8Array | null;
  stream?: Uint8Array | null;
  http?: RpcHttpData | null;
  int?: number | null;
  double?: number | null;
  collectionBytes?: { bytes?: Uint8Array[] | null } | null;
  collectionString?: { string?: string[] | null } | null;
  collectionDouble?: { double?: number[] | null } | null;
  collectionSint64?: { sint64?: number[] | null } | null;
}

export interface RpcHttpCookie {
  name?: string | null;
  value?: string | null;
  domain?: { value?: string | null } | null;
  path?: { value?: string | null } | null;
  expires?: { value?: { seconds?: number | null; nanos?: number | null } | null } | null;
  secure?: { value?: boolean | null } | null;
  httpOnly?: { value?: boolean | null } | null;
  sameSite?: string | null;
  maxAge?: { value?: number | null } | null;
}

export interface RpcHttpData {
  method?: string | null;
  url?: string | null;
  headers?: Record<string, string> | null;
  body?: RpcTypedData | null;
  params?: Record<string, string> | null;
  statusCode?: string | null;
  query?: Record<string, string> | null;
  enableContentNegotiation?: boolean | null;
  rawBody?: RpcTypedData | null;
  cookies?: RpcHttpCookie[] | null;
}

export interface RpcParameterBinding {
  name?: string | null;
  data?: RpcTypedData | null;
}

export interface RpcInvocationRequest {
  invocationId?: string | null;
  functionId?: string | null;
  inputData?: RpcParameterBinding[] | null;
  triggerMetadata?: Record<string, RpcTypedData> | null;
  traceContext?: { traceParent?: string | null; traceState?: string | null; attributes?: Record<string, string> | null } | null;
  retryContext?: { retryCount?: number | null; maxRetryCount?: number | null; exception?: unknown } | null;
}

export interface RpcInvocationResponse {
  invocationId?: string | null;
  outputData?: RpcParameterBinding[] | null;
  returnValue?: RpcTypedData | null;
}

export type CoreLogLevel = 'trace' | 'debug' | 'information' | 'warning' | 'error' | 'critical' | 'none';
export type CoreLogCategory = 'user' | 'system' | 'customMetric';
export type InvocationState = 'preInvocationHooks' | 'postInvocationHooks' | 'invocation' | undefined;

/** What the worker hands to `ProgrammingModel.getInvocationModel` for each invocation. */
export interface CoreInvocationContext {
  invocationId: string;
  request: RpcInvocationRequest;
  metadata: { name: string; bindings: Record<string, CoreBindingInfo> };
  state?: InvocationState;
  log(level: CoreLogLevel, category: CoreLogCategory, message: string): void;
}

export interface CoreInvocationModel {
  getArguments(): Promise<{ context: unknown; inputs: unknown[] }>;
  invokeFunction(context: unknown, inputs: unknown[], handler: FunctionCallback): Promise<unknown>;
  getResponse(context: unknown, result: unknown): Promise<RpcInvocationResponse>;
}

export interface CoreProgrammingModel {
  name: string;
  version: string;
  getInvocationModel(coreCtx: CoreInvocationContext): CoreInvocationModel | Promise<CoreInvocationModel>;
  getCapabilities(capabilities: Record<string, string>): Promise<Record<string, string>>;
}

export type FunctionCallback = (...args: unknown[]) => unknown;
export type HookName = 'appStart' | 'appTerminate' | 'preInvocation' | 'postInvocation' | 'log';
export type HookCallback = (context: Record<string, unknown>) => void | Promise<void>;

/** A registration captured from `app.*`, exactly as the worker would index it. */
export interface CapturedFunction {
  name: string;
  metadata: CoreFunctionMetadata;
  /** What the worker sends the host (`rawBindings`): each binding as JSON with its `name`. */
  rawBindings: string[];
  callback: FunctionCallback;
}

/** Same contract as the worker's `Disposable` (exported on the core API). */
export class Disposable {
  #callOnDispose: (() => void) | undefined;
  constructor(callOnDispose: () => void) {
    this.#callOnDispose = callOnDispose;
  }
  static from(...inputs: Array<{ dispose(): void }>): Disposable {
    return new Disposable(() => {
      for (const input of inputs) input.dispose();
    });
  }
  dispose(): void {
    const fn = this.#callOnDispose;
    this.#callOnDispose = undefined;
    fn?.();
  }
}

/** Version strings the core API reports; `-local` makes clear in logs that this is not the real worker. */
export const LOCAL_WORKER_VERSION = '3.10.1-local';
export const LOCAL_HOST_VERSION = '4.1040.0-local';

interface ShimState {
  installed: boolean;
  functions: Map<string, CapturedFunction>;
  hooks: Map<HookName, HookCallback[]>;
  programmingModel: CoreProgrammingModel | undefined;
  appHookData: Record<string, unknown>;
  systemLog: (level: CoreLogLevel, category: CoreLogCategory, message: string) => void;
}

// The state lives on globalThis so that a second evaluation of this file (vitest can load a module through
// its own runner and through Node's loader) still sees one function app per process, as the worker does.
const STATE_KEY = Symbol.for('bc-dataverse-sync.local-host.core-shim');
type GlobalWithState = typeof globalThis & { [STATE_KEY]?: ShimState };
const g = globalThis as GlobalWithState;
g[STATE_KEY] ??= {
  installed: false,
  functions: new Map(),
  hooks: new Map(),
  programmingModel: undefined,
  appHookData: {},
  systemLog: (level, _category, message) => {
    if (level === 'warning' || level === 'error' || level === 'critical') process.stderr.write(`[functions-core] ${message}\n`);
  },
};
const state: ShimState = g[STATE_KEY];

const HOOK_NAMES: readonly HookName[] = ['appStart', 'appTerminate', 'preInvocation', 'postInvocation', 'log'];

/** The object `require('@azure/functions-core')` returns; members mirror the worker's `setupCoreModule`. */
export const coreApi = {
  version: LOCAL_WORKER_VERSION,
  get hostVersion(): string {
    return LOCAL_HOST_VERSION;
  },
  registerHook(hookName: string, callback: HookCallback): Disposable {
    if (!(HOOK_NAMES as readonly string[]).includes(hookName)) {
      // The worker throws RangeError for hook names it does not know; the library relies on that for `log`.
      const err = new RangeError(`Unrecognized hook "${hookName}"`) as RangeError & { isAzureFunctionsSystemError?: boolean };
      err.isAzureFunctionsSystemError = true;
      throw err;
    }
    const name = hookName as HookName;
    const list = state.hooks.get(name) ?? [];
    list.push(callback);
    state.hooks.set(name, list);
    return new Disposable(() => {
      const current = state.hooks.get(name) ?? [];
      state.hooks.set(
        name,
        current.filter((cb) => cb !== callback),
      );
    });
  },
  setProgrammingModel(model: CoreProgrammingModel): void {
    state.programmingModel = model;
  },
  getProgrammingModel(): CoreProgrammingModel | undefined {
    return state.programmingModel;
  },
  registerFunction(metadata: CoreFunctionMetadata, callback: FunctionCallback): Disposable {
    const name = metadata.name || metadata.functionId;
    if (!name) throw new Error('registerFunction: metadata has neither "name" nor "functionId"');
    if (state.functions.has(name)) {
      // The host refuses to index two functions with one name; failing at load time says which one.
      throw new Error(`A function named "${name}" is already registered; function names must be unique in a function app`);
    }
    const rawBindings = Object.entries(metadata.bindings).map(([bindingName, binding]) =>
      JSON.stringify({ ...binding, name: bindingName }),
    );
    state.functions.set(name, { name, metadata, rawBindings, callback });
    return new Disposable(() => {
      state.functions.delete(name);
    });
  },
  log(level: CoreLogLevel, category: CoreLogCategory, message: string): void {
    state.systemLog(level, category, message);
  },
  Disposable,
};

/** Installs the require proxy (idempotent). Called on import; exported for clarity at call sites. */
export function installCoreShim(): void {
  if (state.installed) return;
  const originalRequire = Module.prototype.require;
  Module.prototype.require = new Proxy(originalRequire, {
    apply(target, thisArg, argArray: unknown[]) {
      if (argArray[0] === '@azure/functions-core') return coreApi;
      return Reflect.apply(target, thisArg, argArray);
    },
  });
  state.installed = true;
}

installCoreShim();

/** Every function registered in this process so far, in registration order. */
export function capturedFunctions(): CapturedFunction[] {
  return [...state.functions.values()];
}

/** Hooks registered through `app.hook.*`, in registration order. */
export function capturedHooks(name: HookName): HookCallback[] {
  return [...(state.hooks.get(name) ?? [])];
}

/** The programming model `@azure/functions` set on its first `app.*` call; undefined if it never saw the shim. */
export function capturedProgrammingModel(): CoreProgrammingModel | undefined {
  return state.programmingModel;
}

/** Shared across hook invocations for the life of the app, like the worker's `appHookData`. */
export function appHookData(): Record<string, unknown> {
  return state.appHookData;
}

/** Where `coreApi.log` (the library's system log) goes. Default: warnings and errors to stderr. */
export function setSystemLogSink(sink: (level: CoreLogLevel, category: CoreLogCategory, message: string) => void): void {
  state.systemLog = sink;
}
