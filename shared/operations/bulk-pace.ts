/** Bulk-write options of the full sync. */
export interface BulkWriteOptions {
  /**
   * Server time one bulk request should take; chunk sizes follow the measured time per row. Short requests keep the
   * execution-time window from being overrun by a few long ones admitted just under its budget. Default 2,000 ms.
   */
  targetRequestMs?: number;
  /** Largest bulk request (Microsoft: 1,000 "a reasonable place to start" on standard tables). Default 1,000. */
  maxRows?: number;
  /** Rows of the first request, which goes alone to measure the time per row. Default 10. */
  firstRows?: number;
  /**
   * Write a history entry for every pair the full sync creates or couples (two Table requests per record), not
   * only for changes to pairs already coupled. Default false: the coupling records the creation (as BC's full sync).
   */
  historyOfNewPairs?: boolean;
  /** Most bulk requests in flight; lowered when a request fails transiently, raised again after successes. Default 6. */
  maxParallel?: number;
  /**
   * Dataverse's combined execution time per user and web server in one window, in ms; the bulk requests are paced to
   * stay inside it. Default 1,200,000 (Microsoft's documented default: "subject to change and may vary between
   * environments"; an environment whose requests reach several web servers has that much per server).
   */
  executionBudgetMs?: number;
  /** The sliding window of that limit, in ms. Default 300,000 (5 minutes, documented). */
  executionWindowMs?: number;
}

/**
 * The execution time this process's bulk requests spent, as Dataverse counts it for the user: each finished request
 * with its duration until it leaves the window, each running one with what it is expected to cost. Shared by every
 * pace of the process (a work item's pace hands over to the next item's while the server's window still remembers).
 */
interface ExecutionLog {
  finished: Array<{ at: number; ms: number }>;
  running: Set<{ started: number; expectedMs: number }>;
  /** Server time per row of recent requests (newest last), for chunk sizes and a request's expected cost. */
  perRow: number[];
}

const executionLogs = new Map<string, ExecutionLog>();

/**
 * Recent per-row samples kept. Their minimum sizes chunks and prices a request about to start (waits only ever add to
 * a sample); their median is what a finished request is taken to have cost the server.
 */
const PER_ROW_SAMPLES = 8;

/**
 * Paces the full sync's bulk requests to Dataverse's execution-time limit (powerapps-docs `api-limits.md`: 1,200 s
 * of combined execution time per user and web server in a 300 s sliding window; bulk messages count as one request
 * each, so this limit binds). The pace keeps its own copy of that window and starts a request only while the
 * window is not used up, as Dataverse admits: steady use at the limit without spending time on 429s, and after an
 * idle stretch (a page read, the start of the run) the unused budget of the window is used up at up to
 * `maxParallel` requests at once, as the sliding window allows. Chunk sizes follow the
 * measured server time per row so one request stays near `targetRequestMs`. A 429 that still comes (another
 * process, a lower limit on the environment) is answered by the HTTP client's Retry-After hold.
 */
export class BulkPace {
  private readonly log: ExecutionLog;
  private successes = 0;
  parallel: number;

  constructor(readonly options: Required<BulkWriteOptions>) {
    this.parallel = options.maxParallel;
    const key = `${options.executionWindowMs}/${options.executionBudgetMs}`;
    let log = executionLogs.get(key);
    if (!log) {
      log = { finished: [], running: new Set(), perRow: [] };
      executionLogs.set(key, log);
    }
    this.log = log;
  }

  private perRowMs(): number | undefined {
    return this.log.perRow.length === 0 ? undefined : Math.min(...this.log.perRow);
  }

  /** The median recent time per row: what a request's rows are taken to have cost the server. */
  private typicalPerRowMs(): number | undefined {
    const sorted = [...this.log.perRow].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }

  rows(): number {
    const perRow = this.perRowMs();
    if (perRow === undefined) return this.options.firstRows;
    return Math.max(1, Math.min(this.options.maxRows, Math.floor(this.options.targetRequestMs / Math.max(perRow, 0.01))));
  }

  /** Execution time counted in the window now: finished requests, and running ones at no less than expected. */
  private usedMs(now: number = Date.now()): number {
    const cutoff = now - this.options.executionWindowMs;
    const f = this.log.finished;
    while (f.length > 0 && (f[0] as { at: number }).at <= cutoff) f.shift();
    let used = 0;
    for (const d of f) used += d.ms;
    for (const r of this.log.running) used += Math.max(now - r.started, r.expectedMs);
    return used;
  }

  /**
   * Runs one bulk request of `rows` rows once the window has budget left (the first request of the process alone),
   * and learns the time per row from it.
   */
  async run<T>(rows: number, request: () => Promise<T>): Promise<T> {
    // Until one request has measured the time per row, it goes alone: a burst of requests of unknown cost could
    // overrun the window many times over (six first requests of 100 rows at 100 ms per row are 60 s of a 40 s budget).
    while (this.perRowMs() === undefined && this.log.running.size > 0) await new Promise((r) => setTimeout(r, PACE_POLL_MS));
    const expectedMs = rows * (this.perRowMs() ?? this.options.targetRequestMs / Math.max(1, this.options.firstRows));
    for (;;) {
      const now = Date.now();
      // Admitted while the window is not used up, as Dataverse admits (a request that then runs past the budget is
      // what the page means by exceeding the limit "before the service protection API limits will take effect").
      if (this.usedMs(now) < this.options.executionBudgetMs) break;
      // Until the oldest finished request leaves the window, or a running one ends (whichever is first; capped).
      const oldest = this.log.finished[0];
      const wait = oldest ? oldest.at + this.options.executionWindowMs - now : PACE_POLL_MS;
      await new Promise((r) => setTimeout(r, Math.max(1, Math.min(wait, PACE_POLL_MS))));
    }
    const entry = { started: Date.now(), expectedMs };
    this.log.running.add(entry);
    let ms = 0;
    try {
      const result = await request();
      ms = Date.now() - entry.started;
      this.observe(rows, ms);
      return result;
    } finally {
      this.log.running.delete(entry);
      // What the server counted is its own time; the round trip adds transport and this process's event loop (a
      // busy host adds much), and a Retry-After wait inside the HTTP client. So a request counts its rows at the
      // median recent time per row, or its round trip when shorter; stamped when it ends here (later than there).
      const round = ms || Date.now() - entry.started;
      const typical = this.typicalPerRowMs();
      this.log.finished.push({ at: Date.now(), ms: typical === undefined ? round : Math.min(round, rows * typical) });
    }
  }

  observe(rows: number, ms: number): void {
    this.log.perRow.push(ms / Math.max(rows, 1));
    if (this.log.perRow.length > PER_ROW_SAMPLES) this.log.perRow.shift();
    if (++this.successes >= 4 && this.parallel < this.options.maxParallel) {
      this.parallel++;
      this.successes = 0;
    }
  }

  /** A bulk request failed transiently (throttled past the HTTP client's retries, or unavailable): one stream fewer. */
  throttled(): void {
    this.parallel = Math.max(2, this.parallel - 1);
    this.successes = 0;
  }
}

/** Longest sleep of a request waiting for execution budget before it looks again. */
const PACE_POLL_MS = 100;

/** Default bulk options. */
export function bulkOptions(o: BulkWriteOptions = {}): Required<BulkWriteOptions> {
  return {
    targetRequestMs: o.targetRequestMs ?? 2_000,
    maxRows: o.maxRows ?? 1000,
    firstRows: o.firstRows ?? 10,
    historyOfNewPairs: o.historyOfNewPairs ?? false,
    maxParallel: o.maxParallel ?? 6,
    executionBudgetMs: o.executionBudgetMs ?? 1_200_000,
    executionWindowMs: o.executionWindowMs ?? 300_000,
  };
}
