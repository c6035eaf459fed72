import type { CapturedFunction, RpcInvocationResponse, RpcTypedData } from '../core-shim';
import type { HostLogEntry } from '../host';

/**
 * What a listener may ask of the host. Each listener takes the subset it uses (`Pick`), so it cannot reach into the
 * host's lifecycle or another listener's state.
 */
export interface ListenerContext {
  /** Runs one invocation, records it and sends its Service Bus outputs; throws an `InvocationError`. */
  invoke(fn: CapturedFunction, inputData: RpcTypedData, triggerMetadata: Record<string, RpcTypedData>): Promise<RpcInvocationResponse>;
  /** Counts the promise as in flight, so `stop()` waits for it before closing connections. */
  track<T>(promise: Promise<T>): Promise<T>;
  log(entry: HostLogEntry): void;
  /** Resolves `%NAME%` app-setting expressions; throws naming a setting that is not set. */
  resolveExpressions(value: string): string;
  /** True once `stop()` began. */
  stopping(): boolean;
}

/** The bytes of an RPC value, for an HTTP response body or a Service Bus message body. */
export function typedDataBytes(data: RpcTypedData): Buffer {
  if (data.bytes) return Buffer.from(data.bytes);
  if (data.string !== undefined && data.string !== null) return Buffer.from(data.string, 'utf8');
  if (data.json !== undefined && data.json !== null) return Buffer.from(data.json, 'utf8');
  if (data.int !== undefined && data.int !== null) return Buffer.from(String(data.int));
  if (data.double !== undefined && data.double !== null) return Buffer.from(String(data.double));
  return Buffer.alloc(0);
}
