import { z } from 'zod';

/**
 * The direction vocabulary, in BC's words. A record lives on a **side**, `bc` or `dataverse`; a mapping or field
 * has BC's Direction option (table 5335/5336 "Direction": `Bidirectional`, `ToIntegrationTable` = BC → Dataverse,
 * `FromIntegrationTable` = Dataverse → BC); one run of the engine goes one way, a {@link SyncDirection}.
 */

/** Where a record lives. A change event's `source` is the side the change was seen on. */
export const sideSchema = z.enum(['bc', 'dataverse']);
export type Side = z.infer<typeof sideSchema>;

/** BC's Direction option. ToIntegrationTable = BC → Dataverse, FromIntegrationTable = Dataverse → BC. */
export const DirectionSchema = z.enum(['Bidirectional', 'ToIntegrationTable', 'FromIntegrationTable']);
export type Direction = z.infer<typeof DirectionSchema>;

/** One way of a sync: the two unidirectional values of {@link Direction}. */
export const SyncDirectionSchema = z.enum(['ToIntegrationTable', 'FromIntegrationTable']);
export type SyncDirection = z.infer<typeof SyncDirectionSchema>;

export function otherSide(side: Side): Side {
  return side === 'bc' ? 'dataverse' : 'bc';
}

/**
 * The way a change travels: away from the side it was seen on, unless a direction was forced ("Synchronize Now"
 * in a chosen direction).
 */
export function passOf(source: Side, forced?: SyncDirection): SyncDirection {
  return forced ?? (source === 'bc' ? 'ToIntegrationTable' : 'FromIntegrationTable');
}

/** The side a one-way sync reads from. */
export function sourceOf(pass: SyncDirection): Side {
  return pass === 'ToIntegrationTable' ? 'bc' : 'dataverse';
}
