import { z } from 'zod';

/**
 * A change event is a hint that a record may have changed, never the record itself: the handler reads the
 * current state of both sides, so events can arrive late, twice or out of order without harm.
 */
export const changeSourceSchema = z.enum(['bc', 'dataverse']);
export type ChangeSource = z.infer<typeof changeSourceSchema>;

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
  source: changeSourceSchema,
  /** BC SystemId or Dataverse primary key of the changed record. */
  recordId: z
    .string()
    .regex(/^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/, 'must be a GUID')
    .transform((s) => s.toLowerCase()),
  changeType: changeTypeSchema,
  /** Modified-on the notifier reported, if any: lets a handler tell it already synced a newer state. */
  modifiedOn: z.iso.datetime({ offset: true }).optional(),
  origin: changeOriginSchema,
  /** Follows one change through webhook, queue, sync and history. */
  correlationId: z.string().min(1).max(128),
  /** When the change was observed by us (ISO). */
  observedAt: z.iso.datetime({ offset: true }),
  /** Forces a direction for "synchronize now"; otherwise the mapping's direction and the source decide. */
  direction: z.enum(['ToIntegrationTable', 'FromIntegrationTable']).optional(),
  /** How many times this event was deferred because a parent record was not coupled yet. */
  deferrals: z.number().int().min(0).default(0),
});
export type ChangeEvent = z.infer<typeof changeEventSchema>;
export type ChangeEventInput = z.input<typeof changeEventSchema>;

/**
 * The Service Bus message id of an event: identical for the same record and state, so duplicate detection (in
 * Azure) sees a repeated notification as a repeat. Without a modified-on hint the observation time keeps two
 * different changes apart; a deferral gets its own id so it is never mistaken for the original.
 */
export function changeEventMessageId(
  e: Pick<ChangeEvent, 'mapping' | 'source' | 'recordId' | 'changeType' | 'modifiedOn' | 'observedAt' | 'deferrals'>,
): string {
  const parts = [e.mapping, e.source, e.recordId, e.changeType, e.modifiedOn ?? e.observedAt];
  if (e.deferrals > 0) parts.push(`d${e.deferrals}`);
  return parts.join('|').slice(0, 128);
}
