/**
 * Gathering and pacing of the full sync's bulk writes (`full-sync-bulk.ts`): a batcher per kind of write, a gate
 * that knows when every record of a wave waits on a batch (so a part-full batch can go without a timer), and
 * small concurrency limiters.
 */

/** Longest wait of a part-full batch for the rest of the wave (records still busy elsewhere). */
const IDLE_FLUSH_MS = 250;

/** Records of a wave still running, and how many of them wait on a batch. */
export class Gate {
  active = 0;
  blocked = 0;
  private readonly batchers: Array<Batcher<unknown, unknown>> = [];
  private timer: NodeJS.Timeout | undefined;

  register(b: Batcher<unknown, unknown>): void {
    this.batchers.push(b);
  }

  changed(): void {
    const pending = this.batchers.some((b) => b.pendingCount() > 0);
    if (!pending) return;
    if (this.blocked >= this.active) {
      this.flushAll();
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flushAll();
      }, IDLE_FLUSH_MS);
    }
  }

  /**
   * Sends part-full batches, except where the batcher still has a batch out: its answer frees records that fill the
   * pending one (a part-full request now would queue behind it anyway and spend a request on a few rows — under the
   * request limit, the rows per request decide the rate). Its settling looks again.
   */
  private flushAll(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const b of this.batchers) if (b.outstanding === 0) b.flush();
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Gathers items; `run` answers one result or error per item, in order. */
export class Batcher<I, O> {
  private pending: Array<{ item: I; resolve: (o: O) => void; reject: (e: unknown) => void }> = [];
  /** Batches sent and not yet answered. */
  outstanding = 0;

  constructor(
    private readonly gate: Gate,
    private readonly fullAt: () => number,
    private readonly run: (items: I[]) => Promise<Array<O | Error>>,
  ) {
    gate.register(this as unknown as Batcher<unknown, unknown>);
  }

  pendingCount(): number {
    return this.pending.length;
  }

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.gate.blocked++;
      if (this.pending.length >= this.fullAt()) this.flush();
      else this.gate.changed();
    });
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const taken = this.pending;
    this.pending = [];
    const settle = (i: number) => {
      this.gate.blocked--;
      return taken[i] as (typeof taken)[number];
    };
    this.outstanding++;
    this.run(taken.map((t) => t.item))
      .then(
        (results) => {
          results.forEach((r, i) => {
            const t = settle(i);
            if (r instanceof Error) t.reject(r);
            else t.resolve(r as O);
          });
        },
        (err) => {
          for (let i = 0; i < taken.length; i++) settle(i).reject(err);
        },
      )
      .finally(() => {
        this.outstanding--;
        this.gate.changed();
      });
  }
}

/**
 * Runs `f` over `items` in order with at most `limit()` at a time (the limit may change while it runs). Once
 * `stop()` says so, no further item starts (those running finish): answers how many started.
 */
export async function parallel<T>(
  items: T[],
  limit: () => number,
  f: (item: T) => Promise<void>,
  stop: () => boolean = () => false,
): Promise<number> {
  let next = 0;
  let running = 0;
  return new Promise<number>((resolve, reject) => {
    const pump = () => {
      if (next < items.length && stop()) items = items.slice(0, next);
      if (next >= items.length && running === 0) return resolve(next);
      while (running < Math.max(1, limit()) && next < items.length) {
        const item = items[next++] as T;
        running++;
        f(item).then(
          () => {
            running--;
            pump();
          },
          (err) => reject(err),
        );
      }
    };
    pump();
  });
}

/** At most `n()` calls of the returned function run at once (`n` may change); the others wait their turn. */
export function limiter(n: () => number): <T>(f: () => Promise<T>) => Promise<T> {
  let running = 0;
  const queue: Array<() => void> = [];
  const next = () => {
    while (running < Math.max(1, n()) && queue.length > 0) {
      running++;
      queue.shift()?.();
    }
  };
  return async <T>(f: () => Promise<T>): Promise<T> => {
    await new Promise<void>((r) => {
      queue.push(r);
      next();
    });
    try {
      return await f();
    } finally {
      running--;
      next();
    }
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
