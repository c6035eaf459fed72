import type { ChangeEvent } from '../../shared/domain/change-event';

/** A change event as a test writes it: ids as plain strings. */
type TestEvent = Omit<ChangeEvent, 'recordId'> & { recordId: string };

/** What a test names of a change event; the rest takes the defaults below. */
export type TestEventInput = Pick<TestEvent, 'mapping' | 'source' | 'recordId'> & Partial<TestEvent>;

/**
 * Builds change events as the capture functions publish them; what `defaults` names (a mapping, say) the events
 * need not name. Defaults: `updated`, origin `webhook`, a fresh
 * correlation id starting with `prefix` (so a test's events are found in history), observed now.
 */
export function eventBuilder<D extends Partial<TestEvent> = Record<never, never>>(
  prefix: string,
  defaults: D = {} as D,
): (e: Omit<TestEventInput, keyof D> & Partial<TestEvent>) => ChangeEvent {
  return (e) =>
    ({
      v: 1,
      changeType: 'updated',
      origin: 'webhook',
      correlationId: `${prefix}-${Math.random().toString(36).slice(2)}`,
      observedAt: new Date().toISOString(),
      deferrals: 0,
      ...defaults,
      ...e,
    }) as ChangeEvent;
}
