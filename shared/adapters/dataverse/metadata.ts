import { z } from 'zod';
import { OPTION_SETS } from '../../domain/mappings/option-sets';

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

/** What appending an option needs from the Dataverse client. */
export interface OptionSetWriter {
  dataverseColumn(entityLogicalName: string, column: string): Promise<DataverseColumnInfo | undefined>;
  insertOptionValue(entityLogicalName: string, column: string, label: string, languageCode?: number, value?: number): Promise<number>;
}

/**
 * Appends a BC code as an option of the column an option mapping couples to, then the same value to the
 * documents' columns — salesorder, quote and invoice have their own local option sets (`salesorder_paymenttermscode`
 * …, GlobalChoiceName in their entity references), and BC inserts the value into each
 * (CDSIntTableSubscriber: InsertOptionSetMetadataWithOptionValue). A document set that already has the value keeps it.
 */
export async function appendOption(dataverse: OptionSetWriter, entityLogicalName: string, column: string, label: string): Promise<number> {
  const value = await dataverse.insertOptionValue(entityLogicalName, column, label);
  const definition = Object.values(OPTION_SETS).find((d) => entityLogicalName === 'account' && d.accountColumn === column);
  for (const doc of definition?.documentColumns ?? []) {
    const info = await dataverse.dataverseColumn(doc.entityLogicalName, doc.column);
    if (!info || info.options?.some((o) => o.value === value)) continue;
    await dataverse.insertOptionValue(doc.entityLogicalName, doc.column, label, undefined, value);
  }
  return value;
}
