import { app, type InvocationContext, type Timer } from '@azure/functions';
import { captureDeps } from '../shared/capture/context';
import { ensureSubscriptions } from '../shared/capture/subscriptions';

export { subscriptionHealth } from '../shared/capture/health';

/** Default of the SUBSCRIPTION_RENEWAL_SCHEDULE setting (hourly), used when the app setting is absent. */
const DEFAULT_SCHEDULE = '0 0 * * * *';

/**
 * Keeps the BC webhook subscriptions alive. Runs on start-up (a fresh deployment or a changed PUBLIC_BASE_URL
 * must not wait an hour for its subscriptions) and then on SUBSCRIPTION_RENEWAL_SCHEDULE.
 */
export async function bcSubscriptions(_timer: Timer, context: InvocationContext): Promise<void> {
  const report = await ensureSubscriptions(await captureDeps());
  const summary = `BC subscriptions: ${report.created} created, ${report.renewed} renewed, ${report.deleted} deleted, ${report.failed} failed, ${report.missing} BC extension page(s) missing`;
  if (report.failed > 0 || report.missing > 0) context.warn(summary);
  else context.log(summary);
}

app.timer('bcSubscriptions', {
  schedule: process.env.SUBSCRIPTION_RENEWAL_SCHEDULE || DEFAULT_SCHEDULE,
  runOnStartup: true,
  handler: bcSubscriptions,
});
