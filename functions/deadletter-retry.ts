import { app, type InvocationContext, type Timer } from '@azure/functions';
import { retryDeadLetters } from '../shared/operations/dead-letters';
import { getRuntime } from '../shared/runtime';

/** Dead-letter retry timer (`DEADLETTER_RETRY_SCHEDULE`): re-drives every queue's dead letters (sync-* and ops-*) by reason with backoff, up to a limit. */
export async function deadLetterRetryTimer(_timer: Timer, context: InvocationContext): Promise<void> {
  const runtime = await getRuntime();
  const r = await retryDeadLetters(runtime.serviceBus, { now: () => runtime.clock.now() });
  if (r.replayed || r.left) context.log(`dead letters: ${r.replayed} re-driven, ${r.left} left for an admin`);
}

app.timer('deadletter-retry', { schedule: '%DEADLETTER_RETRY_SCHEDULE%', handler: deadLetterRetryTimer });
