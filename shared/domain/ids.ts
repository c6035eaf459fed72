import { createHash } from 'node:crypto';
import { z } from 'zod';
import { SyncError } from '../errors';

/**
 * Record ids. A BC SystemId and a Dataverse primary key are both GUIDs, and both services compare them
 * case-insensitively (BC answers a `customers(ID)` request in any case; Dataverse lower-cases ids it returns).
 * The service spells every id one way, lower case without braces, so a coupling row, an index row, a message id
 * and a cache key made from the same record are equal. This file is the one place that knows the GUID syntax.
 */

/** A GUID in the service's one spelling: 8-4-4-4-12 lower-case hex digits, no braces. */
export type RecordId = string & { readonly __brand: 'RecordId' };

/** GUID text in any case, to embed in a larger pattern (no anchors, no capture group). */
export const GUID_PATTERN = '[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}';

const GUID = new RegExp(`^${GUID_PATTERN}$`);
/** Dataverse also writes GUIDs in braces (`{…}`) in plug-in contexts and some headers. */
const BRACED_GUID = new RegExp(`^\\{(${GUID_PATTERN})\\}$`);

/** The all-zero GUID: BC's blank Guid field and Dataverse's "no record". */
export const NIL_GUID = '00000000-0000-0000-0000-000000000000' as RecordId;

/**
 * Whether `value` is GUID text (any case). With `braces`, Dataverse's `{…}` form counts too.
 * @param options.braces accept `{…}`. Default false.
 */
export function isGuid(value: unknown, options: { braces?: boolean } = {}): boolean {
  if (typeof value !== 'string') return false;
  return GUID.test(value) || (options.braces === true && BRACED_GUID.test(value));
}

/** The id in the service's spelling, or undefined when `value` is not a GUID (braces accepted). */
export function toRecordId(value: unknown): RecordId | undefined {
  if (typeof value !== 'string') return undefined;
  if (GUID.test(value)) return value.toLowerCase() as RecordId;
  const braced = BRACED_GUID.exec(value);
  return braced ? (braced[1]!.toLowerCase() as RecordId) : undefined;
}

/** The key an id is compared and stored by: a GUID in the service's spelling, anything else (a BC code) as it is. */
export function idKey(value: string): string {
  return toRecordId(value) ?? value;
}

/**
 * The one parser of a record id: GUID text (Dataverse's `{…}` form too) → {@link RecordId}. Anything else is an
 * `EVENT.INVALID` error naming the value.
 */
export function recordId(value: unknown): RecordId {
  const id = toRecordId(value);
  if (id === undefined) throw new SyncError('EVENT.INVALID', `${JSON.stringify(value)?.slice(0, 80)} is not a GUID`);
  return id;
}

/**
 * zod at a boundary: GUID text (no braces) → lower case. Its output is a plain string so that messages built by
 * hand still type-check; {@link recordIdSchema} is the branded form.
 */
export const guidSchema = z
  .string()
  .regex(GUID, 'must be a GUID')
  .transform((s) => s.toLowerCase());

/** {@link guidSchema} typed as a {@link RecordId}. */
export const recordIdSchema = guidSchema.transform((s) => s as RecordId);

/** zod for Dataverse payloads, which may write a GUID in braces: `{…}` or bare → {@link RecordId}. */
export const dataverseGuidSchema = z
  .string()
  .refine((s) => isGuid(s, { braces: true }), 'must be a GUID')
  .transform((s): string => toRecordId(s)!);

/**
 * A GUID derived from the mapping and the BC record (RFC 4122 version 5 layout over SHA-1), so creating the
 * Dataverse row for the same BC record twice addresses the same row.
 */
export function deterministicId(mapping: string, sourceId: string): string {
  const h = createHash('sha1').update(`bc-dataverse-sync|${mapping}|${sourceId.toLowerCase()}`).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}
