import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Secrets of the webhook endpoints. Both endpoints are anonymous at the Functions level (BC cannot send a
 * function key, and Dataverse sends its key in ways the host does not all understand), so these checks are
 * the only thing between the internet and the queues.
 */

/**
 * Constant-time string equality. Both sides are hashed first so neither the content nor the length of the
 * expected secret leaks through timing.
 */
export function safeEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b) && presented.length === expected.length;
}

/**
 * The `clientState` of the BC subscription for one resource: HMAC-SHA256 of the canonical resource
 * (`v2.0/companies(<id>)/customers`) under BC_WEBHOOK_SECRET, base64url. Derived per resource so a leaked
 * clientState of one subscription cannot be replayed against another table, and so nothing must be stored to
 * check it. Rotating BC_WEBHOOK_SECRET makes the subscription manager re-create every subscription.
 */
export function clientStateFor(secret: string, canonicalResource: string): string {
  return createHmac('sha256', secret).update(`bc-subscription:${canonicalResource}`, 'utf8').digest('base64url');
}
