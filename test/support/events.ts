import type { ChangeEvent } from '../../shared/domain/change-event';

/** What a test names of a change event; the rest takes the defaults below. */
export type TestEventInput = Pick<ChangeEvent, 'mapping' | 'source' | 'recordId'> & Partial<ChangeEvent>;

/**
 * Builds change events as the capture functions publish them. Defaults: `updated`, origin `webhook`, a fresh
 * correlation id starting with `prefix` (so a test's events are found in history), observed now.
 */
export function eventBuilder(prefix: string, defaults: Partial<ChangeEvent> = {}): (e: TestEventInput) => ChangeEvent {
  return (e) => ({
    v: 1,
    changeType: 'updated',
    origin: 'webhook',
    correlationId: `${prefix}-${Math.random().toString(36).slice(2)}`,
    observedAt: new Date().toISOString(),
    deferrals: 0,
    ...defaults,
    ...e,
  });
}
