import { captureDeps } from './context';
import { type SubscriptionHealth, subscriptionHealthFrom } from './subscriptions';

/**
 * BC webhook subscription state for the health endpoint: what the subscription manager last recorded (no BC
 * call, so a probe stays cheap). `degraded` when a mapped resource has no live subscription; its table is then
 * polled, so changes are delayed, not lost.
 */
export async function subscriptionHealth(): Promise<SubscriptionHealth> {
  const deps = await captureDeps();
  return subscriptionHealthFrom(deps.checkpoints, deps.clock);
}
