import { z } from 'zod';
import { dataverseGuidSchema } from '../domain/ids';

/**
 * The RemoteExecutionContext a Dataverse webhook step POSTs (api-contracts.md A.3), as DataContractJsonSerializer
 * writes it: dictionaries are `[{key, value}]` arrays, polymorphic values carry `__type`, dates are WCF
 * `/Date(ms±hhmm)/` strings.
 */

const guid = dataverseGuidSchema;
const logicalName = z.string().regex(/^[a-z_][a-z0-9_]{0,127}$/, 'must be a table logical name');

const typeTag = (prefix: string) => z.string().refine((t) => t.startsWith(`${prefix}:`), `must be a ${prefix} __type`);

export const entityReferenceSchema = z.looseObject({
  __type: typeTag('EntityReference').optional(),
  Id: guid,
  LogicalName: z.string().max(128),
  Name: z.string().nullish(),
});

const optionSetValueSchema = z.looseObject({ __type: typeTag('OptionSetValue'), Value: z.number().int() });
const moneySchema = z.looseObject({ __type: typeTag('Money'), Value: z.number() });

/** A typed attribute value: plain JSON, OptionSetValue, Money, EntityReference, or another SDK type kept as is. */
export const attributeValueSchema = z.union([
  z.null(),
  z.string(),
  z.number(),
  z.boolean(),
  optionSetValueSchema,
  moneySchema,
  entityReferenceSchema,
  z.array(z.unknown()),
  z.looseObject({}),
]);

const kv = <T extends z.ZodType>(value: T) => z.object({ key: z.string().max(256), value });

export const entitySchema = z.looseObject({
  __type: typeTag('Entity').optional(),
  Attributes: z.array(kv(attributeValueSchema)).max(5000).default([]),
  FormattedValues: z.array(kv(z.unknown())).max(5000).optional(),
  Id: z.union([guid, z.literal('00000000-0000-0000-0000-000000000000')]).optional(),
  LogicalName: z.string().max(128),
});
export type ContextEntity = z.infer<typeof entitySchema>;

/** WCF JSON date (`/Date(1506384247000-0700)/`); the number is UTC milliseconds, the offset informational. */
const WCF_DATE = /^\/Date\((-?\d{1,15})([+-]\d{4})?\)\/$/;

export function wcfDateToIso(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = WCF_DATE.exec(value);
  if (!m) return undefined;
  const d = new Date(Number(m[1]));
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export const remoteExecutionContextSchema = z.looseObject({
  MessageName: z.string().min(1).max(100),
  PrimaryEntityName: logicalName,
  PrimaryEntityId: guid,
  InitiatingUserId: guid,
  UserId: guid,
  CorrelationId: z.string().max(128).optional(),
  Depth: z.number().int().min(0).optional(),
  Mode: z.number().int().optional(),
  Stage: z.number().int().optional(),
  OperationCreatedOn: z.string().max(64).optional(),
  OrganizationId: guid.optional(),
  // Removed when the payload exceeded 256 KB (A.2): absent, null or empty are all "not sent".
  InputParameters: z.array(kv(z.unknown())).max(1000).nullish(),
  PreEntityImages: z.array(kv(entitySchema)).max(100).nullish(),
  PostEntityImages: z.array(kv(entitySchema)).max(100).nullish(),
});
export type RemoteExecutionContext = z.infer<typeof remoteExecutionContextSchema>;

/** Plain value of a typed attribute: option and money values as numbers, references as their id. */
export function plainValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return wcfDateToIso(value) ?? value;
  const v = value as Record<string, unknown>;
  if ('Value' in v) return v.Value;
  if ('Id' in v && 'LogicalName' in v) return typeof v.Id === 'string' ? v.Id.toLowerCase() : v.Id;
  return value;
}

/** The Target entity (Create/Update), or undefined (Delete targets are references; trimmed payloads have none). */
export function targetEntity(ctx: RemoteExecutionContext): ContextEntity | undefined {
  const target = ctx.InputParameters?.find((p) => p.key === 'Target')?.value;
  if (!target || typeof target !== 'object' || !('Attributes' in target)) return undefined;
  const parsed = entitySchema.safeParse(target);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Every value the context carries for a column, from the Target and the images (pre values included, so a
 * row that moved out of a mapping's filter is still routed to it).
 */
export function knownValues(ctx: RemoteExecutionContext, column: string): unknown[] {
  const out: unknown[] = [];
  const entities = [
    targetEntity(ctx),
    ...(ctx.PostEntityImages ?? []).map((i) => i.value),
    ...(ctx.PreEntityImages ?? []).map((i) => i.value),
  ];
  for (const e of entities) {
    const attr = e?.Attributes.find((a) => a.key === column);
    if (attr) out.push(plainValue(attr.value));
  }
  return out;
}
