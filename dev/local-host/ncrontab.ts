import { Cron } from 'croner';

/**
 * NCRONTAB as Azure Functions timers use it: six fields, `{second} {minute} {hour} {day} {month} {day-of-week}`,
 * evaluated in UTC (the host's default when WEBSITE_TIME_ZONE is not set). croner's 6-part mode has the same
 * field order and syntax (`*`, ranges, lists, steps, names such as MON-FRI/JAN).
 */
export const NCRONTAB_TIMEZONE = 'Etc/UTC';

export class NcrontabError extends Error {
  constructor(expression: string, reason: string) {
    super(`Invalid NCRONTAB schedule "${expression}": ${reason}`);
    this.name = 'NcrontabError';
  }
}

/** Validates an expression and returns a paused croner job for it (no callback). */
export function parseNcrontab(expression: string): Cron {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new NcrontabError(expression, `expected 6 fields (second minute hour day month day-of-week), got ${fields.length}`);
  }
  try {
    return new Cron(fields.join(' '), { paused: true, timezone: NCRONTAB_TIMEZONE, mode: '6-part' });
  } catch (err) {
    throw new NcrontabError(expression, err instanceof Error ? err.message : String(err));
  }
}

/** The next `count` occurrences strictly after `from`. */
export function nextOccurrences(expression: string, count: number, from: Date = new Date()): Date[] {
  const job = parseNcrontab(expression);
  try {
    return job.nextRuns(count, from);
  } finally {
    job.stop();
  }
}

/**
 * Runs `run` on the schedule. Runs of one schedule never overlap (the host holds a singleton lock per timer), so a
 * run that is still going when the next occurrence arrives makes that occurrence be skipped.
 */
export function scheduleNcrontab(expression: string, run: () => Promise<void>): Cron {
  parseNcrontab(expression).stop();
  return new Cron(expression.trim().split(/\s+/).join(' '), { timezone: NCRONTAB_TIMEZONE, mode: '6-part', protect: true }, run);
}
