/** Bulk-write options of the full sync. */
export interface BulkWriteOptions {
  /**
   * Server time one bulk request should take; chunk sizes follow the measured time per row. Short requests keep the
   * execution-time budget (counted when a request ends) from being overrun by a few long ones. Default 2,000 ms.
   */
  targetRequestMs?: number;
  /** Largest bulk request (Microsoft: 1,000 "a reasonable place to start" on standard tables). Default 1,000. */
  maxRows?: number;
  /** Rows of the first request, before any time per row is measured. Default 100. */
  firstRows?: number;
  /**
   * Write a history entry for every pair the full sync creates or couples (two Table requests per record), not
   * only for changes to pairs already coupled. Default false: the coupling records the creation (as BC's full sync).
   */
  historyOfNewPairs?: boolean;
  /** Most bulk requests in flight; lowered on throttling, raised again after successes. Default 6, start 4. */
  maxParallel?: number;
}

/** Adapts the chunk size to the measured server time per row and the parallelism to throttling. */
export class BulkPace {
  private perRowMs: number | undefined;
  private successes = 0;
  parallel: number;

  constructor(readonly options: Required<BulkWriteOptions>) {
    this.parallel = Math.min(4, options.maxParallel);
  }

  rows(): number {
    if (this.perRowMs === undefined) return this.options.firstRows;
    return Math.max(1, Math.min(this.options.maxRows, Math.floor(this.options.targetRequestMs / Math.max(this.perRowMs, 0.01))));
  }

  observe(rows: number, ms: number): void {
    const sample = ms / Math.max(rows, 1);
    this.perRowMs = this.perRowMs === undefined ? sample : this.perRowMs * 0.7 + sample * 0.3;
    if (++this.successes >= 4 && this.parallel < this.options.maxParallel) {
      this.parallel++;
      this.successes = 0;
    }
  }

  throttled(): void {
    // Dataverse allows 4 server-seconds per second per web server: fewer than 2 streams cannot use it.
    this.parallel = Math.max(2, this.parallel - 1);
    this.successes = 0;
  }
}

/** Default bulk options. */
export function bulkOptions(o: BulkWriteOptions = {}): Required<BulkWriteOptions> {
  return {
    targetRequestMs: o.targetRequestMs ?? 2_000,
    maxRows: o.maxRows ?? 1000,
    firstRows: o.firstRows ?? 100,
    historyOfNewPairs: o.historyOfNewPairs ?? false,
    maxParallel: o.maxParallel ?? 6,
  };
}
