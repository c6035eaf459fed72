import { randomUUID } from 'node:crypto';
import { type ChangeEvent, changeEventMessageId } from '../domain/change-event';
import type { ChangePublisher, SyncErrorRecord, SyncErrorStore } from '../domain/ports';
import { SyncError } from '../errors';

/**
 * "Coupled Data Synchronization Errors": rows stay until a successful sync resolves them or an admin dismisses
 * them. Retry re-publishes the stored change event (origin `replay`, which also passes a skipped coupling);
 * the row is resolved by the engine when that sync succeeds.
 *
 * Every re-publish carries a fresh nonce, so its message id is new: with the original id (or a previous retry's),
 * Service Bus duplicate detection would accept the send and drop it inside its 10-minute window, and the admin
 * would see "republished" for a retry that never ran.
 */

export async function listSyncErrors(
  errors: SyncErrorStore,
  f: { mapping?: string; status?: SyncErrorRecord['status']; code?: string; pageSize?: number; continuation?: string },
) {
  return errors.list({ status: 'open', ...f });
}

export async function retrySyncError(deps: { errors: SyncErrorStore; publisher: ChangePublisher; now: () => Date }, id: string) {
  const e = await deps.errors.get(id);
  if (!e) throw new NotFoundError(`There is no sync error '${id}'.`);
  if (!e.event) {
    throw new SyncError(
      'EVENT.INVALID',
      `Sync error '${id}' has no change event to replay (${e.code}); fix the cause and synchronize the record now instead.`,
    );
  }
  const event = replayEvent(e.event, deps.now());
  await deps.publisher.publish([event]);
  return { id, republished: true, mapping: e.mapping, messageId: changeEventMessageId(event) };
}

export async function retryAllSyncErrors(deps: { errors: SyncErrorStore; publisher: ChangePublisher; now: () => Date }, mapping: string) {
  let continuation: string | undefined;
  let republished = 0;
  let withoutEvent = 0;
  do {
    const page = await deps.errors.list({ mapping, status: 'open', pageSize: 500, ...(continuation ? { continuation } : {}) });
    const events = page.items.filter((e) => e.event);
    withoutEvent += page.items.length - events.length;
    const now = deps.now();
    if (events.length) await deps.publisher.publish(events.map((e) => replayEvent(e.event as ChangeEvent, now)));
    republished += events.length;
    continuation = page.continuation;
  } while (continuation);
  return { mapping, republished, withoutEvent };
}

/**
 * The event to re-publish. An error raised by an admin's own action (synchronize now, coupling, full sync) is
 * retried with that permission (`manual`): a replay of it must still be allowed to couple or create, which the
 * engine refuses to plain replays of uncoupled records on "synchronize only coupled records" mappings.
 */
export function replayEvent(event: ChangeEvent, now: Date): ChangeEvent {
  const origin = event.origin === 'manual' || event.origin === 'full-sync' ? 'manual' : 'replay';
  return { ...event, origin, deferrals: 0, observedAt: now.toISOString(), nonce: randomUUID() };
}

export async function dismissSyncError(errors: SyncErrorStore, id: string) {
  const e = await errors.get(id);
  if (!e) throw new NotFoundError(`There is no sync error '${id}'.`);
  await errors.dismiss(id);
  return { id, dismissed: true };
}

export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}
