/**
 * Timer triggers: NCRONTAB schedules (six fields, UTC; see `../ncrontab`), `runOnStartup`, and `runTimer` for
 * callers that fire one now. The handler gets the timer object the host sends, past-due flag and schedule status.
 */
import type { Cron } from 'croner';
import type { CapturedFunction, CoreBindingInfo } from '../core-shim';
import { nextOccurrences, parseNcrontab, scheduleNcrontab } from '../ncrontab';
import type { ListenerContext } from './context';

export type TimerContext = Pick<ListenerContext, 'invoke' | 'track' | 'resolveExpressions'>;

interface TimerPlan {
  fn: CapturedFunction;
  schedule: string;
  runOnStartup: boolean;
  lastRun: Date | undefined;
  job: Cron | undefined;
}

export class TimerListener {
  private readonly timers = new Map<string, TimerPlan>();

  constructor(private readonly ctx: TimerContext) {}

  /** Indexes a `timerTrigger`; throws when its schedule is not valid NCRONTAB. */
  add(fn: CapturedFunction, trigger: CoreBindingInfo): void {
    const schedule = this.ctx.resolveExpressions(String(trigger.schedule ?? ''));
    parseNcrontab(schedule).stop();
    this.timers.set(fn.name, {
      fn,
      schedule,
      runOnStartup: trigger.runOnStartup === true,
      lastRun: undefined,
      job: undefined,
    });
  }

  /** Starts the schedules (unless `schedules` is false) and fires the `runOnStartup` timers. */
  start(schedules: boolean): void {
    for (const plan of this.timers.values()) {
      if (schedules) {
        plan.job = scheduleNcrontab(plan.schedule, () => this.ctx.track(this.fire(plan, false, false)));
      }
      if (plan.runOnStartup) void this.ctx.track(this.fire(plan, false, false));
    }
  }

  stop(): void {
    for (const timer of this.timers.values()) timer.job?.stop();
  }

  /** Runs a timer function now, as the schedule would; resolves when it finished, rejects with its error. */
  async run(name: string, isPastDue: boolean): Promise<void> {
    const plan = this.timers.get(name);
    if (!plan) {
      const known = [...this.timers.keys()];
      throw new Error(`No timer function named "${name}"${known.length ? ` (timers: ${known.join(', ')})` : ''}`);
    }
    await this.fire(plan, isPastDue, true);
  }

  private async fire(plan: TimerPlan, isPastDue: boolean, rethrow: boolean): Promise<void> {
    const now = new Date();
    const next = plan.job?.nextRun() ?? nextOccurrences(plan.schedule, 1)[0];
    // Same shape the host sends (PascalCase); the library camel-cases it into { isPastDue, schedule, scheduleStatus }.
    const timerInfo = {
      Schedule: { AdjustForDST: true },
      ScheduleStatus: {
        Last: (plan.lastRun ?? new Date(0)).toISOString(),
        Next: next?.toISOString() ?? null,
        LastUpdated: now.toISOString(),
      },
      IsPastDue: isPastDue,
    };
    plan.lastRun = now;
    try {
      await this.ctx.invoke(plan.fn, { json: JSON.stringify(timerInfo) }, {});
    } catch (err) {
      if (rethrow) throw err;
    }
  }
}
