import { z } from 'zod';
import { OPTION_SETS } from '../../domain/mappings/option-sets';
import { SyncError } from '../../errors';
import type { HttpClient, HttpRequest } from '../http/client';
import { parseWith } from './response';

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

/** The client's Web API access that metadata reads go through. */
export interface MetadataApi {
  http: HttpClient;
  /** `https://<org>/api/data/v9.2/`. */
  apiBase: string;
  /** Adds the client's caller headers to a request. */
  req(r: HttpRequest): HttpRequest;
}

/**
 * Table metadata from `EntityDefinitions(LogicalName='…')`, its attributes and the options of its option columns;
 * undefined when the table does not exist.
 */
export async function fetchEntityInfo(api: MetadataApi, logicalName: string): Promise<DataverseEntityInfo | undefined> {
  if (!/^[a-z_][a-z0-9_]*$/.test(logicalName))
    throw new SyncError('DV.VALIDATION', `not a table logical name: ${JSON.stringify(logicalName)}`);
  const def = `${api.apiBase}EntityDefinitions(LogicalName='${logicalName}')`;
  const defReq = api.req({
    method: 'GET',
    url: `${def}?$select=LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,ChangeTrackingEnabled`,
    accept: [404],
  });
  const defRes = await api.http.send(defReq);
  if (defRes.status === 404) return undefined;
  const entity = parseWith(defReq, defRes.body, entityDefinitionSchema);
  const { data: attrs } = await api.http.json(
    api.req({ method: 'GET', url: `${def}/Attributes` }),
    z.looseObject({ value: z.array(attributeSchema) }),
  );
  const columns = new Map<string, DataverseColumnInfo>();
  for (const a of attrs.value) {
    columns.set(a.LogicalName.toLowerCase(), {
      type: attributeType(a),
      ...(a.MaxLength != null ? { maxLength: a.MaxLength } : {}),
      ...(a.Targets?.length ? { targets: a.Targets } : {}),
      ...(a.IsValidForCreate != null ? { isValidForCreate: a.IsValidForCreate } : {}),
      ...(a.IsValidForUpdate != null ? { isValidForUpdate: a.IsValidForUpdate } : {}),
    });
  }
  const optionCasts = ['PicklistAttributeMetadata', 'StateAttributeMetadata', 'StatusAttributeMetadata'];
  for (const cast of optionCasts) {
    if (![...columns.values()].some((c) => c.type === cast.replace('AttributeMetadata', ''))) continue;
    const req = api.req({
      method: 'GET',
      url: `${def}/Attributes/Microsoft.Dynamics.CRM.${cast}?$select=LogicalName&$expand=OptionSet($select=Options)${cast === 'PicklistAttributeMetadata' ? ',GlobalOptionSet($select=Options)' : ''}`,
    });
    const { data } = await api.http.json(req, z.looseObject({ value: z.array(optionAttributeSchema) }));
    for (const a of data.value) {
      const col = columns.get(a.LogicalName.toLowerCase());
      const options = optionsOf(a);
      if (col && options) col.options = options;
    }
  }
  return {
    logicalName: entity.LogicalName,
    ...(entity.EntitySetName ? { entitySetName: entity.EntitySetName } : {}),
    ...(entity.PrimaryIdAttribute ? { primaryIdAttribute: entity.PrimaryIdAttribute } : {}),
    ...(entity.PrimaryNameAttribute ? { primaryNameAttribute: entity.PrimaryNameAttribute } : {}),
    ...(entity.ChangeTrackingEnabled != null ? { changeTrackingEnabled: entity.ChangeTrackingEnabled } : {}),
    columns,
  };
}
