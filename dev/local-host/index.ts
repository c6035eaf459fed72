/**
 * Local Functions host for `npm start` and tests. Import from here (or `./host`) BEFORE any function module, so
 * `@azure/functions-core` is in place when `app.*` first runs. See `host.ts` for what it serves.
 */
export { type CapturedFunction, type CoreBindingInfo, capturedFunctions } from './core-shim';
export {
  DEFAULT_FUNCTIONS_PORT,
  DEFAULT_LOCAL_FUNCTION_KEY,
  DEFAULT_LOCAL_MASTER_KEY,
  DEFAULT_MAX_REQUEST_BODY_BYTES,
  type HostFunction,
  type HostLogEntry,
  InvocationError,
  type InvocationRecord,
  LocalFunctionsHost,
  type LocalFunctionsHostOptions,
} from './host';
export { NcrontabError, nextOccurrences, parseNcrontab } from './ncrontab';
