import { BcError } from './errors';

/** Operational limits per user (api-contracts.md C.5). Off by default so functional tests are not throttled. */
export interface LimitSettings {
  enforce: boolean;
  /** OData requests per sliding window (BC online: 6,000 per 5 minutes). */
  requestsPerWindow: number;
  windowMs: number;
  /** Requests processed at once per user (BC: 5); more wait in a queue. */
  maxConcurrent: number;
  /** Queued requests per user before 429 (BC: 95). */
  maxQueue: number;
  /** Time in the queue before 503 (BC: 8 minutes). */
  queueTimeoutMs: number;
  /** Added latency per request, to make concurrency observable. */
  latencyMs: number;
}

export const DEFAULT_LIMITS: LimitSettings = {
  enforce: false,
  requestsPerWindow: 6000,
  windowMs: 5 * 60_000,
  maxConcurrent: 5,
  maxQueue: 95,
  queueTimeoutMs: 8 * 60_000,
  latencyMs: 0,
};

interface UserState {
  stamps: number[];
  head: number;
  active: number;
  queue: Array<{ resolve: () => void; timer: NodeJS.Timeout }>;
}

function tooMany(message: string, retryAfterS: number): BcError {
  return new BcError(429, 'Application_TooManyRequests', message, { 'Retry-After': String(Math.max(1, retryAfterS)) });
}

export class Limiter {
  private readonly users = new Map<string, UserState>();
  constructor(readonly settings: LimitSettings) {}

  private state(user: string): UserState {
    let s = this.users.get(user);
    if (!s) {
      s = { stamps: [], head: 0, active: 0, queue: [] };
      this.users.set(user, s);
    }
    return s;
  }

  /** Admits a request for `user` (rate window + concurrency queue); resolves with a release callback. */
  async acquire(user: string): Promise<() => void> {
    if (!this.settings.enforce) return () => undefined;
    const s = this.state(user);
    const now = Date.now();
    const { windowMs, requestsPerWindow } = this.settings;
    while (s.head < s.stamps.length && (s.stamps[s.head] as number) <= now - windowMs) s.head++;
    if (s.head > 4096) {
      s.stamps = s.stamps.slice(s.head);
      s.head = 0;
    }
    const inWindow = s.stamps.length - s.head;
    if (inWindow >= requestsPerWindow) {
      const oldest = s.stamps[s.head] as number;
      throw tooMany(
        `Too many requests reached.  Actual (${inWindow + 1}).  Maximum (${requestsPerWindow}).`,
        Math.ceil((oldest + windowMs - now) / 1000),
      );
    }
    if (s.active >= this.settings.maxConcurrent) {
      if (s.queue.length >= this.settings.maxQueue)
        throw tooMany(`The maximum number of queued requests (${this.settings.maxQueue}) has been reached.`, 1);
      await new Promise<void>((resolve, reject) => {
        const entry = {
          resolve,
          timer: setTimeout(() => {
            s.queue.splice(s.queue.indexOf(entry), 1);
            reject(new BcError(503, 'Application_ServiceUnavailable', 'The request waited too long in the queue.', { 'Retry-After': '1' }));
          }, this.settings.queueTimeoutMs),
        };
        s.queue.push(entry);
      });
    }
    s.stamps.push(Date.now());
    s.active++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      s.active--;
      const next = s.queue.shift();
      if (next) {
        clearTimeout(next.timer);
        next.resolve();
      }
    };
  }

  reset(): void {
    for (const s of this.users.values()) for (const q of s.queue) clearTimeout(q.timer);
    this.users.clear();
  }
}
