import type { PurgeResult, Stores } from '../adapters/tables';
import type { StatePort } from './ports';

/**
 * Retention, as BC's "Delete Entries Older Than 7 Days" on the Integration Synch. Jobs page and its retention
 * policies: history entries, synchronization-log hours and closed (resolved or dismissed) sync errors older
 * than `RETENTION_DAYS` are deleted by a timer. Open errors are kept however old. Each table is purged in
 * transactions of at most 100 rows of one partition and at most `maxRowsPerTable` rows per run, so one run is
 * bounded; what is left is taken by the next run (`more`).
 */

export interface RetentionOptions {
  /** Days rows are kept (RETENTION_DAYS). */
  days: number;
  now: () => Date;
  /** Rows deleted per table in one run. Default 20,000. */
  maxRowsPerTable?: number;
}

export interface RetentionResult {
  /** Rows older than this were deleted. */
  cutoff: string;
  finishedAt: string;
  history: PurgeResult;
  syncErrors: PurgeResult;
  runLog: PurgeResult;
}

export const RETENTION_STATE_KEY = 'retention/last-run';

export async function purgeExpired(
  deps: { stores: Pick<Stores, 'history' | 'syncErrors' | 'counters'>; state: StatePort },
  options: RetentionOptions,
): Promise<RetentionResult> {
  const cutoff = new Date(options.now().getTime() - options.days * 86_400_000);
  const max = options.maxRowsPerTable ?? 20_000;
  const history = await deps.stores.history.purgeBefore(cutoff, max);
  const syncErrors = await deps.stores.syncErrors.purgeClosedBefore(cutoff, max);
  const runLog = await deps.stores.counters.purgeRunsBefore(cutoff, max);
  const result: RetentionResult = { cutoff: cutoff.toISOString(), finishedAt: options.now().toISOString(), history, syncErrors, runLog };
  await deps.state.put(RETENTION_STATE_KEY, result);
  return result;
}

/** What the page shows: how long rows are kept, and what the last run deleted. */
export async function retentionStatus(deps: { state: StatePort }, days: number, schedule: string) {
  const last = await deps.state.get<RetentionResult>(RETENTION_STATE_KEY);
  return {
    days,
    schedule,
    keeps: `history, synchronization log and resolved or dismissed errors of the last ${days} days; open errors until they are closed`,
    lastRun: last?.value,
  };
}
