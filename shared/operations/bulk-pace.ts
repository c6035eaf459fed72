/** Bulk-write options of the full sync. */
export interface BulkWriteOptions {
  /**
   * Server time one bulk request should take; chunk sizes follow the measured time per row. Short requests keep the
   * execution-time window from being overrun by a few long ones admitted just under its budget. Default 2,000 ms, or
   * 1/{@link WINDOW_PER_REQUEST} of `executionWindowMs` when that is shorter: a request holds its share of the
   * budget from when it starts until one window after it ends, so the pace can spend at most W / (W + d) of the
   * budget with requests of d ms in a window of W ms (2 s in 300 s: 99 %; 2 s in a 10 s window: 83 %).
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
    // Looked at and entered in one synchronous step, so two requests never pass on the same free budget.
    for (let wait = this.ready(); wait; wait = this.ready()) await wait;
    const expectedMs = rows * (this.perRowMs() ?? this.options.targetRequestMs / Math.max(1, this.options.firstRows));
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

  /**
   * Resolves once a request may start: no request running while the time per row is unknown (a burst of requests
   * of unknown cost could overrun the window many times over: six first requests of 100 rows at 100 ms per row are
   * 60 s of a 40 s budget), and the window not used up, as Dataverse admits (a request that then runs past the
   * budget is what the page means by exceeding the limit "before the service protection API limits will take
   * effect"). Answers nothing when the request may start now (look again after awaiting what it answers), so a caller
   * that then sizes its chunk (`rows()`) and calls `run` in the same synchronous step is admitted on that look.
   */
  ready(): Promise<void> | undefined {
    const wait = this.waitMs();
    if (wait === 0) return undefined;
    return (async () => {
      for (let w = wait; w > 0; w = this.waitMs()) await new Promise((r) => setTimeout(r, w));
    })();
  }

  /** 0 when a request may start now, else how long to sleep before looking again. */
  private waitMs(now: number = Date.now()): number {
    if (this.perRowMs() === undefined && this.log.running.size > 0) return PACE_POLL_MS;
    if (this.usedMs(now) < this.options.executionBudgetMs) return 0;
    // Until the oldest finished request leaves the window, or a running one ends (whichever is first; capped).
    const oldest = this.log.finished[0];
    const wait = oldest ? oldest.at + this.options.executionWindowMs - now : PACE_POLL_MS;
    return Math.max(1, Math.min(wait, PACE_POLL_MS));
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

/**
 * Windows per bulk request's target time, at least: W / (W + W/20) keeps 95 % of the execution budget usable, while
 * the rows per request stay well above what Dataverse's request limit needs (at the documented 4 server-s/s and
 * 20 requests/s, requests of 200 ms or more).
 */
const WINDOW_PER_REQUEST = 20;

/** Default bulk options. */
export function bulkOptions(o: BulkWriteOptions = {}): Required<BulkWriteOptions> {
  const executionWindowMs = o.executionWindowMs ?? 300_000;
  return {
    targetRequestMs: o.targetRequestMs ?? Math.min(2_000, executionWindowMs / WINDOW_PER_REQUEST),
    maxRows: o.maxRows ?? 1000,
    firstRows: o.firstRows ?? 10,
    historyOfNewPairs: o.historyOfNewPairs ?? false,
    maxParallel: o.maxParallel ?? 6,
    executionBudgetMs: o.executionBudgetMs ?? 1_200_000,
    executionWindowMs,
  };
}
