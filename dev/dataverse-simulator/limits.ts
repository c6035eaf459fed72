import { Codes, DataverseError } from './errors';

/** Service protection limits per user (api-contracts.md B.12). */
export interface ServiceProtectionLimits {
  /** Requests per window. Default 6000. */
  requests: number;
  /** Combined execution time per window in ms. Default 1,200,000 (20 minutes). */
  executionMs: number;
  /** Concurrent requests; the 52nd in flight is rejected. Default 52. */
  concurrent: number;
  /** Sliding window in ms. Default 300,000 (5 minutes). */
  windowMs: number;
  /**
   * Server time each written row costs (a Create/Update/Delete, or each target of a bulk message), spent as a real
   * wait inside the request so it counts against `executionMs`; models plug-ins and platform work. Default 0.
   */
  rowCostMs: number;
}

export const DEFAULT_LIMITS: ServiceProtectionLimits = {
  requests: 6000,
  executionMs: 1_200_000,
  concurrent: 52,
  windowMs: 300_000,
  rowCostMs: 0,
};

interface UserWindow {
  starts: number[];
  durations: Array<{ at: number; ms: number }>;
  inFlight: number;
}

/** Sliding-window accounting; `now` comes from the simulator clock so tests can move past a window. */
export class ServiceProtection {
  enabled: boolean;
  limits: ServiceProtectionLimits;
  private readonly users = new Map<string, UserWindow>();

  constructor(
    enabled: boolean,
    limits: Partial<ServiceProtectionLimits>,
    private readonly now: () => number,
  ) {
    this.enabled = enabled;
    this.limits = { ...DEFAULT_LIMITS, ...limits };
  }

  reset(): void {
    this.users.clear();
  }

  private window(userId: string): UserWindow {
    let w = this.users.get(userId);
    if (!w) {
      w = { starts: [], durations: [], inFlight: 0 };
      this.users.set(userId, w);
    }
    const cutoff = this.now() - this.limits.windowMs;
    while (w.starts.length && (w.starts[0] as number) <= cutoff) w.starts.shift();
    while (w.durations.length && (w.durations[0]?.at as number) <= cutoff) w.durations.shift();
    return w;
  }

  /** Admits a request or throws the documented 429; returns `done` to call when the request finishes. */
  admit(userId: string): { done: () => void; headers: Record<string, string> } {
    if (!this.enabled) return { done: () => undefined, headers: {} };
    const w = this.window(userId);
    const now = this.now();
    if (w.inFlight >= this.limits.concurrent) {
      throw throttle(Codes.throttleConcurrency, `Number of concurrent requests exceeded the limit of ${this.limits.concurrent}.`, 1);
    }
    if (w.starts.length >= this.limits.requests) {
      const retry = Math.max(1, Math.ceil(((w.starts[0] as number) + this.limits.windowMs - now) / 1000));
      throw throttle(
        Codes.throttleRequests,
        `Number of requests exceeded the limit of ${this.limits.requests} over time window of ${this.limits.windowMs / 1000} seconds.`,
        retry,
      );
    }
    const used = w.durations.reduce((s, d) => s + d.ms, 0);
    if (used >= this.limits.executionMs) {
      const retry = Math.max(1, Math.ceil(((w.durations[0]?.at as number) + this.limits.windowMs - now) / 1000));
      throw throttle(
        Codes.throttleExecutionTime,
        `Combined execution time of incoming requests exceeded limit of ${this.limits.executionMs.toLocaleString('en-US')}  milliseconds over time window of ${this.limits.windowMs / 1000} seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.`,
        retry,
      );
    }
    w.starts.push(now);
    w.inFlight++;
    const started = Date.now();
    const headers = {
      'x-ms-ratelimit-burst-remaining-xrm-requests': String(this.limits.requests - w.starts.length),
      'x-ms-ratelimit-time-remaining-xrm-requests': String(Math.max(0, (this.limits.executionMs - used) / 1000).toFixed(2)),
    };
    let finished = false;
    return {
      headers,
      done: () => {
        if (finished) return;
        finished = true;
        w.inFlight--;
        w.durations.push({ at: this.now(), ms: Date.now() - started });
      },
    };
  }

  /** Counts execution time a request used without a real wait (the `latencyMs` option adds it for real). */
  snapshot(): Record<string, { requests: number; executionMs: number; inFlight: number }> {
    const out: Record<string, { requests: number; executionMs: number; inFlight: number }> = {};
    for (const userId of this.users.keys()) {
      const w = this.window(userId);
      out[userId] = { requests: w.starts.length, executionMs: w.durations.reduce((s, d) => s + d.ms, 0), inFlight: w.inFlight };
    }
    return out;
  }
}

function throttle(code: string, message: string, retryAfterSeconds: number): DataverseError {
  return new DataverseError(429, code, message, { 'Retry-After': String(retryAfterSeconds) });
}
