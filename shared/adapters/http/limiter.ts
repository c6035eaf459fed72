/**
 * A counting semaphore whose limit can change while requests are in flight. Dataverse tells us the degree of
 * parallelism it wants (`x-ms-dop-hint`) on every response, so the limit moves; lowering it never aborts running
 * requests, it only holds new ones until enough have finished.
 */
export class ConcurrencyLimiter {
  private limitValue: number;
  private active = 0;
  private peak = 0;
  private readonly waiters: Array<() => void> = [];

  constructor(limit: number) {
    this.limitValue = ConcurrencyLimiter.check(limit);
  }

  private static check(limit: number): number {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`concurrency limit must be a positive integer, got ${limit}`);
    return limit;
  }

  get limit(): number {
    return this.limitValue;
  }

  /** Requests holding a slot right now. */
  get inFlight(): number {
    return this.active;
  }

  /** Highest `inFlight` seen since construction or the last `resetPeak()`. */
  get peakInFlight(): number {
    return this.peak;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.waiters.length;
  }

  resetPeak(): void {
    this.peak = this.active;
  }

  setLimit(limit: number): void {
    this.limitValue = ConcurrencyLimiter.check(limit);
    this.drain();
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.active >= this.limitValue || this.waiters.length > 0) {
      // The slot is handed over inside `wake` (active++ there), so no newcomer can take it between wake-up and resume.
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          this.take();
          resolve();
        };
        const onAbort = () => {
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(signal?.reason ?? new Error('aborted'));
        };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(wake);
      });
    } else {
      this.take();
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active--;
      this.drain();
    };
  }

  async run<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private take(): void {
    this.active++;
    if (this.active > this.peak) this.peak = this.active;
  }

  private drain(): void {
    while (this.active < this.limitValue && this.waiters.length > 0) this.waiters.shift()!();
  }
}
