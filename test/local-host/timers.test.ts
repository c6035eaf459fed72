import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalFunctionsHost } from '../../dev/local-host/host';
import { NcrontabError, nextOccurrences, parseNcrontab } from '../../dev/local-host/ncrontab';
import { until } from '../support/until';
import { fixture } from './fixture';

describe('NCRONTAB schedules', () => {
  it('reads six fields with seconds first, in UTC', () => {
    const from = new Date('2025-03-14T10:07:41Z');
    expect(nextOccurrences('0 */5 * * * *', 3, from).map((d) => d.toISOString())).toEqual([
      '2025-03-14T10:10:00.000Z',
      '2025-03-14T10:15:00.000Z',
      '2025-03-14T10:20:00.000Z',
    ]);
    expect(nextOccurrences('30 0 3 * * *', 1, from)[0]?.toISOString()).toBe('2025-03-15T03:00:30.000Z');
    // 2025-03-14 is a Friday: the next weekday 09:00 is Monday the 17th.
    expect(nextOccurrences('0 0 9 * * MON-FRI', 2, new Date('2025-03-14T09:00:00Z')).map((d) => d.toISOString())).toEqual([
      '2025-03-17T09:00:00.000Z',
      '2025-03-18T09:00:00.000Z',
    ]);
    expect(nextOccurrences('*/15 * * * * *', 2, from).map((d) => d.toISOString())).toEqual([
      '2025-03-14T10:07:45.000Z',
      '2025-03-14T10:08:00.000Z',
    ]);
  });

  it('rejects five-field cron and nonsense with a message naming the expression', () => {
    expect(() => parseNcrontab('*/5 * * * *')).toThrow(NcrontabError);
    expect(() => parseNcrontab('*/5 * * * *')).toThrow('Invalid NCRONTAB schedule "*/5 * * * *": expected 6 fields');
    expect(() => parseNcrontab('0 61 * * * *')).toThrow('Invalid NCRONTAB schedule "0 61 * * * *"');
  });
});

describe('local Functions host: timer triggers', () => {
  let host: LocalFunctionsHost;

  beforeAll(async () => {
    host = await new LocalFunctionsHost({
      modules: [path.join(__dirname, 'fixtures', 'timer-functions.ts')],
      port: 0,
      env: { FAST_SCHEDULE: '* * * * * *' },
      log: () => undefined,
    }).start();
  });
  afterAll(async () => {
    await host?.stop();
  });

  it('runTimer invokes the handler with the library Timer object', async () => {
    const { ticks } = await fixture<typeof import('./fixtures/timer-functions')>('timer-functions.ts');
    await host.runTimer('nightly', { isPastDue: true });
    const tick = ticks.find((t) => t.functionName === 'nightly');
    expect(tick?.timer).toMatchObject({
      isPastDue: true,
      schedule: { adjustForDST: true },
      scheduleStatus: { next: expect.stringMatching(/T03:00:00\.000Z$/) },
    });
    await expect(host.runTimer('unknown')).rejects.toThrow('No timer function named "unknown" (timers: nightly, everySecond)');
  });

  it('honours runOnStartup and then fires on the schedule (a %SETTING% expression)', async () => {
    const { ticks } = await fixture<typeof import('./fixtures/timer-functions')>('timer-functions.ts');
    // runOnStartup gives one run right away; the every-second schedule adds more.
    await until(
      'two runs of everySecond',
      () => (ticks.filter((t) => t.functionName === 'everySecond').length >= 2 ? true : undefined),
      5_000,
    );
    expect(host.invocations('everySecond').every((r) => r.succeeded && r.triggerType === 'timerTrigger')).toBe(true);
  });

  it('refuses to start with an invalid schedule, naming the function', async () => {
    const bad = new LocalFunctionsHost({ port: 0, functions: ['everySecond'], env: { FAST_SCHEDULE: '* * * * *' }, log: () => undefined });
    await expect(bad.start()).rejects.toThrow(/everySecond: Invalid NCRONTAB schedule "\* \* \* \* \*"/);
    const missing = new LocalFunctionsHost({ port: 0, functions: ['everySecond'], env: {}, log: () => undefined });
    await expect(missing.start()).rejects.toThrow('%FAST_SCHEDULE% refers to app setting FAST_SCHEDULE, which is not set');
  });
});
