/**
 * The simulator's wall clock. `lastModifiedDateTime` and subscription expiry read it, so tests can jump
 * three days ahead without waiting. Webhook batching and retry delays use real timers (they are scaled
 * through options instead), because a receiver under test runs in real time.
 */
export class SimClock {
  private offsetMs = 0;
  private readonly listeners = new Set<() => void>();

  now(): number {
    return Date.now() + this.offsetMs;
  }

  nowIso(): string {
    return new Date(this.now()).toISOString();
  }

  /** Moves the clock to an absolute time; later reads keep ticking from there. */
  set(at: Date | string | number): void {
    const ms = new Date(at).getTime();
    if (Number.isNaN(ms)) throw new Error(`invalid time ${String(at)}`);
    this.offsetMs = ms - Date.now();
    this.changed();
  }

  advance(ms: number): void {
    this.offsetMs += ms;
    this.changed();
  }

  reset(): void {
    this.offsetMs = 0;
    this.changed();
  }

  onChange(fn: () => void): void {
    this.listeners.add(fn);
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }
}
