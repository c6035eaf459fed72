/**
 * The closed set of error codes the service records, dead-letters and reports.
 *
 * Codes are stable: they are the Service Bus `deadLetterReason`, the group-by key of the errors table and
 * the admin page, and what admins search for. Add a code only when no existing one describes the failure.
 */
export type ErrorCategory = 'transient' | 'data' | 'configuration';

export const ERROR_CODES = {
  /** BC answered 429 (operational limits); retried after Retry-After. */
  'BC.THROTTLED': 'transient',
  /** BC answered 5xx, timed out, or could not be reached. */
  'BC.UNAVAILABLE': 'transient',
  /** BC answered 412 more times than the retry budget allows. */
  'BC.CONCURRENCY': 'transient',
  /** BC refused the values (400 validation) — fix the data and retry. */
  'BC.VALIDATION': 'data',
  /** The BC record no longer exists. */
  'BC.NOT_FOUND': 'data',
  /** 401/403 from BC: credentials, permissions or app registration. */
  'BC.AUTH': 'configuration',
  'DV.THROTTLED': 'transient',
  'DV.UNAVAILABLE': 'transient',
  'DV.CONCURRENCY': 'transient',
  'DV.VALIDATION': 'data',
  'DV.NOT_FOUND': 'data',
  'DV.AUTH': 'configuration',
  /** A mapping is invalid or names a field/column that does not exist. */
  'MAP.INVALID': 'configuration',
  /** A value could not be transformed (type, length, lookup) for the target. */
  'MAP.TRANSFORM_FAILED': 'data',
  /** More than one candidate matched the coupling rules: an admin must decide. */
  'COUPLE.AMBIGUOUS': 'data',
  /** "Synchronize Now" in a direction was asked with the other side's id of a record that is not coupled. */
  'COUPLE.NOT_COUPLED': 'data',
  /** Match-based coupling found no unique uncoupled record with the mapping's coupling criteria. */
  'COUPLE.NO_MATCH': 'data',
  /** The coupling was written for another BC environment / Dataverse org (a copied environment). */
  'COUPLE.ENVIRONMENT_MISMATCH': 'configuration',
  /** A record this one depends on (salesperson, currency, parent account…) is not coupled. */
  'DEP.PARENT_NOT_COUPLED': 'data',
  /** A bidirectional field changed on both sides and the mapping's policy is None. */
  'SYNC.UPDATE_CONFLICT': 'data',
  /** The record is coupled to a deleted record and the deletion policy is None. */
  'SYNC.DELETION_CONFLICT': 'data',
  /** The same error repeated: the record is skipped until an admin retries it. */
  'SYNC.SKIPPED': 'data',
  /** Table Storage could not be reached or answered 5xx. */
  'STORE.UNAVAILABLE': 'transient',
  /** Service Bus could not accept a message. */
  'QUEUE.UNAVAILABLE': 'transient',
  /** A change event or webhook payload failed validation. */
  'EVENT.INVALID': 'data',
  /** A setting is missing or invalid. */
  'CONFIG.INVALID': 'configuration',
  /** A bug: an exception we did not classify. Treated as transient so nothing is lost. */
  INTERNAL: 'transient',
} as const satisfies Record<string, ErrorCategory>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function categoryOf(code: ErrorCode): ErrorCategory {
  return ERROR_CODES[code];
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** An error the sync engine understands: it carries a stable code, and its category decides retry vs record. */
export class SyncError extends Error {
  readonly code: ErrorCode;
  readonly category: ErrorCategory;
  /** For throttling: how long the server asked us to wait. */
  readonly retryAfterMs: number | undefined;
  /** Values involved (field names, ids, HTTP status); never secrets. */
  readonly details: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { retryAfterMs?: number; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SyncError';
    this.code = code;
    this.category = ERROR_CODES[code];
    this.retryAfterMs = options.retryAfterMs;
    this.details = options.details ?? {};
  }

  get transient(): boolean {
    return this.category === 'transient';
  }
}

/** Wraps anything thrown into a SyncError so callers handle one type. Unknown errors are INTERNAL (transient). */
export function toSyncError(err: unknown): SyncError {
  if (err instanceof SyncError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new SyncError('INTERNAL', message, { cause: err });
}
