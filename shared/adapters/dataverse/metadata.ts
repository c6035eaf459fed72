import { z } from 'zod';

/** What mapping validation needs to know about a Dataverse column. */
export interface DataverseColumnInfo {
  /** `AttributeType` from EntityDefinitions: `String`, `Memo`, `Picklist`, `Lookup`, `Customer`, `Money`, `Decimal`… */
  type: string;
  /** Option values and labels of Picklist / State / Status columns. */
  options?: Array<{ value: number; label: string }>;
  maxLength?: number;
  /** Target tables of Lookup / Customer / Owner columns. */
  targets?: string[];
  isValidForCreate?: boolean;
  isValidForUpdate?: boolean;
}

export interface DataverseEntityInfo {
  logicalName: string;
  entitySetName?: string;
  primaryIdAttribute?: string;
  primaryNameAttribute?: string;
  changeTrackingEnabled?: boolean;
  columns: Map<string, DataverseColumnInfo>;
}

export const entityDefinitionSchema = z.looseObject({
  LogicalName: z.string(),
  EntitySetName: z.string().nullish(),
  PrimaryIdAttribute: z.string().nullish(),
  PrimaryNameAttribute: z.string().nullish(),
  ChangeTrackingEnabled: z.boolean().nullish(),
});

export const attributeSchema = z.looseObject({
  LogicalName: z.string(),
  AttributeType: z.string().nullish(),
  AttributeTypeName: z.looseObject({ Value: z.string() }).nullish(),
  MaxLength: z.number().nullish(),
  Targets: z.array(z.string()).nullish(),
  IsValidForCreate: z.boolean().nullish(),
  IsValidForUpdate: z.boolean().nullish(),
});

const labelSchema = z
  .looseObject({
    UserLocalizedLabel: z.looseObject({ Label: z.string() }).nullish(),
    LocalizedLabels: z.array(z.looseObject({ Label: z.string() })).nullish(),
  })
  .nullish();

const optionSetSchema = z
  .looseObject({
    Options: z.array(z.looseObject({ Value: z.number(), Label: labelSchema })),
  })
  .nullish();

export const optionAttributeSchema = z.looseObject({
  LogicalName: z.string(),
  OptionSet: optionSetSchema,
  GlobalOptionSet: optionSetSchema,
});

export type OptionAttribute = z.infer<typeof optionAttributeSchema>;

export function optionsOf(attr: OptionAttribute): Array<{ value: number; label: string }> | undefined {
  const set = attr.OptionSet ?? attr.GlobalOptionSet;
  if (!set) return undefined;
  return set.Options.map((o) => ({
    value: o.Value,
    label: o.Label?.UserLocalizedLabel?.Label ?? o.Label?.LocalizedLabels?.[0]?.Label ?? String(o.Value),
  }));
}

/** `StringType` → `String`, the spelling `AttributeType` uses, for servers that only send `AttributeTypeName`. */
export function attributeType(attr: z.infer<typeof attributeSchema>): string {
  if (attr.AttributeType) return attr.AttributeType;
  const name = attr.AttributeTypeName?.Value;
  return name ? name.replace(/Type$/, '') : 'Unknown';
}
