import { createHash } from 'node:crypto';
import { z } from 'zod';
import { type Side, SyncDirectionSchema, sideSchema } from './direction';
import { recordIdSchema } from './ids';

/**
 * A change event is a hint that a record may have changed, never the record itself: the handler reads the
 * current state of both sides, so events can arrive late, twice or out of order without harm.
 */
export const changeTypeSchema = z.enum(['created', 'updated', 'deleted', 'unknown']);
export type ChangeType = z.infer<typeof changeTypeSchema>;

/** How the change reached us; kept for history and lag figures. */
export const changeOriginSchema = z.enum(['webhook', 'collection', 'poll', 'reconcile', 'full-sync', 'manual', 'replay', 'dependency']);
export type ChangeOrigin = z.infer<typeof changeOriginSchema>;

export const changeEventSchema = z.object({
  /** Schema version, so a future shape can be told apart from messages still in a queue. */
  v: z.literal(1).default(1),
  /** Table mapping name, e.g. `CUSTOMER`. */
  mapping: z.string().min(1).max(64),
  /** The side the change was seen on. */
  source: sideSchema,
  /** BC SystemId or Dataverse primary key of the changed record. */
  // A plain string, not a RecordId, until every producer builds events with newChangeEvent (the engine's
  // dependency and referrer events and the bench still build them by hand).
  recordId: recordIdSchema,
  changeType: changeTypeSchema,
  /**
   * Modified-on the notifier reported, if any. Only the message id uses it (to tell two states apart when there is
   * no row version, see {@link changeEventMessageId}); the handler reads the record's current state instead.
   */
  modifiedOn: z.iso.datetime({ offset: true }).optional(),
  /**
   * Version of the row the notifier saw (Dataverse `versionnumber` / BC ETag as read): two states of a row never
   * share it, unlike `modifiedOn`, which Dataverse keeps in whole seconds.
   */
  rowVersion: z.string().min(1).max(512).optional(),
  /**
   * Id of the notification that reported the change, when it has one that is stable across its redeliveries and
   * new for every write: a Dataverse webhook's system job (`OperationId`).
   */
  notificationId: z.string().min(1).max(128).optional(),
  /**
   * Set on a deliberate re-send of an event (error retry, reconciliation, replay): a fresh value gives the message
   * a new id, so Service Bus duplicate detection cannot drop it as a repeat of the original.
   */
  nonce: z.string().min(1).max(64).optional(),
  origin: changeOriginSchema,
  /** Follows one change through webhook, queue, sync and history. */
  correlationId: z.string().min(1).max(128),
  /** When the change was observed by us (ISO). */
  observedAt: z.iso.datetime({ offset: true }),
  /** Forces a direction for "synchronize now"; otherwise the mapping's direction and the source decide. */
  direction: SyncDirectionSchema.optional(),
  /** How many times this event was deferred because a parent record was not coupled yet. */
  deferrals: z.number().int().min(0).default(0),
});
export type ChangeEvent = z.infer<typeof changeEventSchema>;
export type ChangeEventInput = z.input<typeof changeEventSchema>;

/**
 * The one way to make a change event in code: validates it like a received one (the id in the service's spelling,
 * defaults filled), so an event made here is never one the handler would refuse.
 * @param e.changeType default `unknown` (the handler reads the current state either way).
 * @param e.observedAt default now.
 */
export function newChangeEvent(
  e: Omit<ChangeEventInput, 'v' | 'changeType' | 'observedAt' | 'source'> & {
    source: Side;
    changeType?: ChangeEventInput['changeType'];
    observedAt?: string | Date;
  },
): ChangeEvent {
  const observedAt = e.observedAt instanceof Date ? e.observedAt.toISOString() : (e.observedAt ?? new Date().toISOString());
  return changeEventSchema.parse({ ...e, changeType: e.changeType ?? 'unknown', observedAt });
}

/** Service Bus refuses message ids longer than 128 characters. */
export const MAX_MESSAGE_ID_LENGTH = 128;

/**
 * The Service Bus message id of an event. Duplicate detection drops a second message with the same id inside its
 * window, so the id must be equal only for repeats of one notification about one state of a record, and differ
 * whenever the content to sync may differ:
 * - the row version (or the notification id) tells two states apart where `modifiedOn` cannot (two Dataverse
 *   edits within one second share their `modifiedon`);
 * - a nonce marks a deliberate re-send (retry, reconcile, replay); a deferral and a rescheduled copy (`extra`)
 *   get their own ids too;
 * - without any of these, the modified-on hint (else the observation time) is what is left.
 * Ids over 128 characters keep the record id and replace the rest with its SHA-256, so no part is cut off.
 */
export function changeEventMessageId(
  e: Pick<
    ChangeEvent,
    'mapping' | 'source' | 'recordId' | 'changeType' | 'modifiedOn' | 'observedAt' | 'deferrals' | 'rowVersion' | 'notificationId' | 'nonce'
  >,
  extra: string[] = [],
): string {
  const parts = [e.mapping, e.source, e.recordId, e.changeType, e.modifiedOn ?? e.observedAt];
  if (e.rowVersion !== undefined) parts.push(`v${e.rowVersion}`);
  if (e.notificationId !== undefined) parts.push(`n${e.notificationId}`);
  if (e.nonce !== undefined) parts.push(`r${e.nonce}`);
  if (e.deferrals > 0) parts.push(`d${e.deferrals}`);
  parts.push(...extra);
  const id = parts.join('|');
  if (id.length <= MAX_MESSAGE_ID_LENGTH) return id;
  return `${e.recordId}|${createHash('sha256').update(id).digest('base64url')}`;
}
