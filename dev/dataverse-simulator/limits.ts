import { Codes, DataverseError } from './errors';

/**
 * Service protection limits per user (api-contracts.md B.12; MicrosoftDocs/powerapps-docs
 * `developer/data-platform/api-limits.md`, "How service protection API limits are enforced" and "Retry operations").
 * How each rule follows the page, and what the page leaves open, is in this folder's README ("Service protection").
 */
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
  /** Admission instants (simulator clock) of the requests in the window. */
  starts: number[];
  /** Finished requests: when they ended (simulator clock) and how long they ran (ms). */
  durations: Array<{ at: number; ms: number }>;
  /** Requests running now: when each started (wall clock, as their durations are measured). */
  running: Set<{ started: number }>;
  /** A 429 answered with Retry-After holds every request of the user until then (simulator clock). */
  blocked?: { until: number; code: string; message: string };
}

/** One user's line of `GET /_sim/limits` → `usage`. */
export interface UserUsage {
  requests: number;
  executionMs: number;
  inFlight: number;
  executionMsTotal: number;
  refused: Record<string, number>;
}

/** Sliding-window accounting; `now` comes from the simulator clock so tests can move past a window. */
export class ServiceProtection {
  enabled: boolean;
  limits: ServiceProtectionLimits;
  private readonly users = new Map<string, UserWindow>();
  private readonly refused = new Map<string, Map<string, number>>();
  /** Per user: execution time of every request finished since the last reset (not only the window's). */
  private readonly spent = new Map<string, number>();

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
    this.refused.clear();
    this.spent.clear();
  }

  private window(userId: string): UserWindow {
    let w = this.users.get(userId);
    if (!w) {
      w = { starts: [], durations: [], running: new Set() };
      this.users.set(userId, w);
    }
    const cutoff = this.now() - this.limits.windowMs;
    while (w.starts.length && (w.starts[0] as number) <= cutoff) w.starts.shift();
    while (w.durations.length && (w.durations[0]?.at as number) <= cutoff) w.durations.shift();
    return w;
  }

  /**
   * Execution time the user spent in the window: finished requests plus the time running ones have spent so far.
   * Counting running requests is the stricter reading (the page does not say when a request's time is counted): a
   * burst of long requests cannot all be admitted against a budget they are already using up.
   */
  private used(w: UserWindow): { finished: number; running: number } {
    const wall = Date.now();
    let finished = 0;
    for (const d of w.durations) finished += d.ms;
    let running = 0;
    for (const r of w.running) running += wall - r.started;
    return { finished, running };
  }

  /**
   * When the execution time falls under the budget again: finished requests leave the window oldest first; the time
   * of running requests leaves no earlier than a window after they end, so when that alone is over the budget the
   * answer is a whole window.
   */
  private executionFreesAt(w: UserWindow, now: number): number {
    const { finished, running } = this.used(w);
    let left = finished + running;
    for (const d of w.durations) {
      left -= d.ms;
      if (left < this.limits.executionMs) return d.at + this.limits.windowMs;
    }
    return now + this.limits.windowMs;
  }

  /**
   * Refuses with the documented 429 and holds the user's next requests until Retry-After has passed ("a service
   * protection API Limit error will be returned on subsequent requests … until the Retry-After duration has ended").
   */
  private refuse(userId: string, w: UserWindow, code: string, message: string, until: number): never {
    const now = this.now();
    const seconds = Math.max(1, Math.ceil((until - now) / 1000));
    // The hold ends when the announced whole seconds do; a request inside it does not move it.
    if (!w.blocked || now >= w.blocked.until) w.blocked = { until: now + seconds * 1000, code, message };
    let byCode = this.refused.get(userId);
    if (!byCode) {
      byCode = new Map();
      this.refused.set(userId, byCode);
    }
    byCode.set(code, (byCode.get(code) ?? 0) + 1);
    throw new DataverseError(429, code, message, { 'Retry-After': String(seconds) });
  }

  /** Admits a request or throws the documented 429; returns `done` to call when the request finishes. */
  admit(userId: string): { done: () => void; headers: Record<string, string> } {
    if (!this.enabled) return { done: () => undefined, headers: {} };
    const w = this.window(userId);
    const now = this.now();
    if (w.blocked && now < w.blocked.until) {
      // Still inside the Retry-After of an earlier refusal: the same error, with what is left of the wait.
      this.refuse(userId, w, w.blocked.code, w.blocked.message, w.blocked.until);
    }
    w.blocked = undefined;
    if (w.running.size >= this.limits.concurrent) {
      // "exceeding the number of concurrent requests will immediately return an error"; the wait is not documented.
      this.refuse(
        userId,
        w,
        Codes.throttleConcurrency,
        `Number of concurrent requests exceeded the limit of ${this.limits.concurrent}.`,
        now + 1000,
      );
    }
    if (w.starts.length >= this.limits.requests) {
      this.refuse(
        userId,
        w,
        Codes.throttleRequests,
        `Number of requests exceeded the limit of ${this.limits.requests} over time window of ${this.limits.windowMs / 1000} seconds.`,
        (w.starts[w.starts.length - this.limits.requests] as number) + this.limits.windowMs,
      );
    }
    const { finished, running } = this.used(w);
    if (finished + running >= this.limits.executionMs) {
      this.refuse(
        userId,
        w,
        Codes.throttleExecutionTime,
        `Combined execution time of incoming requests exceeded limit of ${this.limits.executionMs.toLocaleString('en-US')}  milliseconds over time window of ${this.limits.windowMs / 1000} seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.`,
        this.executionFreesAt(w, now),
      );
    }
    w.starts.push(now);
    const run = { started: Date.now() };
    w.running.add(run);
    const headers = {
      'x-ms-ratelimit-burst-remaining-xrm-requests': String(this.limits.requests - w.starts.length),
      'x-ms-ratelimit-time-remaining-xrm-requests': String(Math.max(0, (this.limits.executionMs - finished - running) / 1000).toFixed(2)),
    };
    let finishedOnce = false;
    return {
      headers,
      done: () => {
        if (finishedOnce) return;
        finishedOnce = true;
        w.running.delete(run);
        const ms = Date.now() - run.started;
        w.durations.push({ at: this.now(), ms });
        this.spent.set(userId, (this.spent.get(userId) ?? 0) + ms);
      },
    };
  }

  /**
   * Each user's use of the window now; since the last reset, the execution time of finished requests
   * (`executionMsTotal`) and the requests the limits refused, by error code.
   */
  snapshot(): Record<string, UserUsage> {
    const out: Record<string, UserUsage> = {};
    for (const userId of this.users.keys()) {
      const w = this.window(userId);
      const { finished, running } = this.used(w);
      out[userId] = {
        requests: w.starts.length,
        executionMs: finished + running,
        inFlight: w.running.size,
        executionMsTotal: this.spent.get(userId) ?? 0,
        refused: Object.fromEntries(this.refused.get(userId) ?? []),
      };
    }
    return out;
  }
}
