/** How the HTTP client retries throttled and failed requests. */
export interface RetryPolicy {
  /** Attempts in total, the first included. Default 6. */
  maxAttempts?: number;
  /**
   * Longest time one call may spend waiting between attempts, in ms. Default 60,000. When the next wait would
   * exceed it the call fails with a `SyncError` carrying `retryAfterMs`, so a queue consumer can reschedule the
   * message instead of holding its lock while it sleeps.
   */
  budgetMs?: number;
  /** First back-off delay for 5xx / network errors (and 429 without Retry-After), in ms. Default 500. */
  baseDelayMs?: number;
  /** Cap of one back-off delay, in ms. Default 30,000. */
  maxDelayMs?: number;
}

export const DEFAULT_RETRY: Required<RetryPolicy> = { maxAttempts: 6, budgetMs: 60_000, baseDelayMs: 500, maxDelayMs: 30_000 };

/**
 * `Retry-After` as milliseconds: delta-seconds (`"5"`, Dataverse and BC) or an HTTP date (RFC 9110).
 * Undefined when absent or unparseable, so the caller falls back to its own back-off.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Exponential back-off with "full jitter" (AWS architecture blog): spreads retries of many workers apart. */
export function backoffDelay(attempt: number, policy: Required<RetryPolicy>, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  // Half fixed, half random: never zero, so a failing server still gets a breather.
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The wait a server announced with `Retry-After` on a 429, kept for every later request of the same client (one user
 * on one service). Dataverse refuses all of a user's requests until that duration has ended ("a service protection
 * API Limit error will be returned on subsequent requests … until the Retry-After duration has ended";
 * powerapps-docs `developer/data-platform/api-limits.md`), so a request sent meanwhile only earns another 429 and
 * spends one of its attempts.
 */
export class RetryAfterHold {
  private until = 0;

  /** A 429 answered with `Retry-After: ms`: hold new requests until then (a shorter answer never shortens the hold). */
  extend(ms: number, now: number = Date.now()): void {
    this.until = Math.max(this.until, now + ms);
  }

  /** How long a new request must still wait, in ms (0 when none). */
  remainingMs(now: number = Date.now()): number {
    return Math.max(0, this.until - now);
  }
}
