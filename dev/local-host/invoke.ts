/**
 * Runs one invocation the way the Node.js worker's InvocationHandler does: the programming model that
 * `@azure/functions` registered builds the handler arguments from RPC typed data (so `HttpRequest`,
 * `InvocationContext`, camel-cased `triggerMetadata` and the timer object are the library's own), the
 * preInvocation / postInvocation hooks run around the handler, and `getResponse` turns the result and
 * `extraOutputs` back into RPC output data.
 */
import {
  appHookData,
  type CapturedFunction,
  type CoreInvocationContext,
  type CoreLogCategory,
  type CoreLogLevel,
  type CoreProgrammingModel,
  capturedHooks,
  type FunctionCallback,
  type InvocationState,
  type RpcInvocationRequest,
  type RpcInvocationResponse,
} from './core-shim';

export type InvocationLog = (level: CoreLogLevel, category: CoreLogCategory, message: string) => void;

export class FunctionTimeoutError extends Error {
  constructor(functionName: string, timeoutMs: number) {
    super(`Timeout value of ${timeoutMs} ms exceeded by function "${functionName}"`);
    this.name = 'FunctionTimeoutError';
  }
}

export async function invokeThroughWorkerPipeline(
  fn: CapturedFunction,
  model: CoreProgrammingModel,
  request: RpcInvocationRequest & { invocationId: string },
  log: InvocationLog,
  timeoutMs: number | undefined,
): Promise<RpcInvocationResponse> {
  const coreCtx: CoreInvocationContext = {
    invocationId: request.invocationId,
    request,
    metadata: { name: fn.name, bindings: fn.metadata.bindings },
    state: undefined as InvocationState,
    log,
  };
  const invocationModel = await model.getInvocationModel(coreCtx);
  const { context, inputs } = await invocationModel.getArguments();
  const hookData: Record<string, unknown> = {};

  const pre = {
    hookData,
    appHookData: appHookData(),
    invocationContext: context,
    functionCallback: fn.callback as FunctionCallback,
    inputs,
  };
  coreCtx.state = 'preInvocationHooks';
  try {
    for (const hook of capturedHooks('preInvocation')) await hook(pre);
  } finally {
    coreCtx.state = undefined;
  }

  const post: Record<string, unknown> & { result: unknown; error: unknown } = {
    hookData,
    appHookData: appHookData(),
    invocationContext: context,
    inputs: pre.inputs,
    result: null,
    error: null,
  };
  coreCtx.state = 'invocation';
  try {
    const run = invocationModel.invokeFunction(context, pre.inputs, pre.functionCallback);
    post.result = await withTimeout(run, timeoutMs, () => new FunctionTimeoutError(fn.name, timeoutMs ?? 0));
  } catch (err) {
    post.error = err;
  } finally {
    coreCtx.state = undefined;
  }

  coreCtx.state = 'postInvocationHooks';
  try {
    for (const hook of capturedHooks('postInvocation')) await hook(post);
  } finally {
    coreCtx.state = undefined;
  }

  if (post.error) throw post.error;
  return invocationModel.getResponse(context, post.result);
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number | undefined, onTimeout: () => Error): Promise<T> {
  if (timeoutMs === undefined) return promise;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A failed invocation: the handler threw (see `cause`), timed out, or an output could not be sent. */
export class InvocationError extends Error {
  constructor(
    readonly functionName: string,
    readonly invocationId: string,
    cause: unknown,
  ) {
    super(`Function "${functionName}" failed (invocation ${invocationId}): ${errorText(cause)}`, { cause });
    this.name = 'InvocationError';
  }
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
