import { z } from 'zod';
import { DirectionSchema } from '../direction';

/**
 * Mapping model: BC's "Integration Table Mapping" (table 5335) and "Integration Field Mapping" (table 5336)
 * as data. BC fields are named by their API v2.0 / custom-API JSON property names, Dataverse columns by
 * logical name. See bc-integration-reference.md sections 1 and 2.
 */

// The direction vocabulary lives in ../direction; the mapping model re-exports it.
export { type Direction, DirectionSchema, type SyncDirection, SyncDirectionSchema } from '../direction';

/** Enum 5338 plus our field-level merge extension. */
export const UpdateConflictResolutionSchema = z.enum(['None', 'SendUpdateToIntegration', 'GetUpdateFromIntegration', 'FieldMerge']);
export type UpdateConflictResolution = z.infer<typeof UpdateConflictResolutionSchema>;

/** Enum 5337 plus our extensions PropagateDelete and IgnoreAndReport. */
export const DeletionConflictResolutionSchema = z.enum(['None', 'RemoveCoupling', 'RestoreRecords', 'PropagateDelete', 'IgnoreAndReport']);
export type DeletionConflictResolution = z.infer<typeof DeletionConflictResolutionSchema>;

export const OwnershipModelSchema = z.enum(['Person', 'Team']);
export type OwnershipModel = z.infer<typeof OwnershipModelSchema>;

/** How a mapping's rows are owned in Dataverse: by the Person/Team model, or not at all (organization-owned tables, option sets). */
export const OwnershipSchema = z.enum(['Person', 'Team', 'None']);
export type Ownership = z.infer<typeof OwnershipSchema>;

export const ChangeCaptureModeSchema = z.enum(['webhook', 'polling']);
export type ChangeCaptureMode = z.infer<typeof ChangeCaptureModeSchema>;

export const JsonPrimitiveSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export type JsonPrimitive = z.infer<typeof JsonPrimitiveSchema>;

const name = z.string().min(1).max(100);
const identifier = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a JSON property / logical name (letters, digits, underscore)');

/**
 * How BC exposes the table: the standard API v2.0, our custom API pages
 * (`/api/bcsync/integration/v1.0/companies({id})/<entitySet>`) or a published OData v4 page.
 */
export const BcSideSchema = z.object({
  kind: z.enum(['apiV2', 'customApi', 'odataPage']),
  entitySet: identifier,
  /** AL table name, e.g. "Customer". */
  table: z.string().min(1),
  /** AL table number, e.g. 18. */
  tableId: z.number().int().positive(),
  /**
   * Companion custom API page (`/api/bcsync/integration/v1.0/companies({id})/<name>`, same SystemId and ETag as the
   * standard page) that exposes the AL fields the standard API v2.0 page lacks (e.g. customer "Fax No."), shipped
   * in the service's BC extension. When set, the engine reads and writes the record through it. Required when any
   * field mapping has `bcExtension: true`.
   */
  extensionEntitySet: identifier.optional(),
});
export type BcSide = z.infer<typeof BcSideSchema>;

export const DataverseSideSchema = z.object({
  entityLogicalName: identifier,
  entitySet: identifier,
  primaryKey: identifier,
  /** `modifiedon` for tables; null for option-set mappings, which have no modified-on column. */
  modifiedOnColumn: identifier.nullable(),
  /** For option mappings: the option-set column on `entityLogicalName` whose values are coupled to BC codes. */
  optionSetColumn: identifier.optional(),
});
export type DataverseSide = z.infer<typeof DataverseSideSchema>;

export const LookupTransformationSchema = z.object({
  kind: z.literal('lookup'),
  /** Name of the table mapping whose couplings translate the value (e.g. CURRENCY, CUSTOMER). */
  mapping: name,
  /** Further mappings tried in order when `mapping` has no coupling (e.g. RESOURCE-PRODUCT after ITEM-PRODUCT). */
  alsoMappings: z.array(name).default([]),
  /** Dataverse entity set the lookup binds to, e.g. `transactioncurrencies` → `"/transactioncurrencies(<id>)"`. */
  entitySet: identifier,
  /** Single-valued navigation property for `@odata.bind`; defaults to the column (polymorphic lookups: `customerid_account`). */
  navigationProperty: identifier.optional(),
  /** Whether the BC field holds the referenced record's code/number or its SystemId. Default 'code'. */
  bcKey: z.enum(['code', 'id']).default('code'),
  /**
   * `contactCompany`: the BC field holds a company contact's number (an opportunity's "Contact Company No."), and the
   * referenced record is the customer (or vendor) that company's business relation links to. Default: the field
   * holds the referenced record's own key.
   */
  via: z.enum(['contactCompany']).optional(),
});

export const CurrencyTransformationSchema = z.object({
  kind: z.literal('currency'),
  /** Default CURRENCY. */
  mapping: name.default('CURRENCY'),
  /** Default `transactioncurrencies`. */
  entitySet: identifier.default('transactioncurrencies'),
  /** Whether the BC field holds the currency code or the currency's SystemId. Default 'code'. */
  bcKey: z.enum(['code', 'id']).default('code'),
});

export const UnitTransformationSchema = z.object({
  kind: z.literal('unit'),
  /** UNIT OF MEASURE (unit groups off) or ITEM UOM / RESOURCE UOM (unit groups on). */
  mapping: name,
  entitySet: identifier,
  /**
   * BC field of the owning item/resource number. Item/Resource Units of Measure are keyed by (owner, code), so the
   * resolver receives `<owner>|<code>`; absent for UNIT OF MEASURE, keyed by code alone.
   */
  ownerBcField: identifier.optional(),
});

export const OptionMapTransformationSchema = z.object({
  kind: z.literal('optionMap'),
  /** The option mapping (PAYMENT TERMS, SHIPMENT METHOD, SHIPPING AGENT) whose couplings supply further pairs at run time. */
  optionMapping: name,
  /** Static pairs: BC value (code, or SystemId when bcKey = 'id') → Dataverse option value. */
  map: z.record(z.string(), z.number().int()).default({}),
  bcKey: z.enum(['code', 'id']).default('code'),
  /** BC rule: an option value without a mapping is written blank and the record still syncs. */
  unmapped: z.literal('blank').default('blank'),
});

export const ValueMapTransformationSchema = z.object({
  kind: z.literal('valueMap'),
  /** BC value (as text) → Dataverse value. The reverse direction uses the inverted map. */
  map: z.record(z.string(), JsonPrimitiveSchema),
  /** What to write when the source value is not in the map. Default 'keep' (copy unchanged). */
  unmapped: z.enum(['blank', 'keep']).default('keep'),
});

export const TruncateTransformationSchema = z.object({
  kind: z.literal('truncate'),
  maxLength: z.number().int().positive(),
});

export const NonNegativeTransformationSchema = z.object({
  kind: z.literal('nonNegative'),
});

export const FormatTransformationSchema = z.object({
  kind: z.literal('format'),
  /** `{value}` is the field's value, `{<bcField>}` another field of the BC record. One-way (BC → Dataverse). */
  template: z.string().min(1),
  uppercase: z.boolean().default(false),
});

export const TransformationSchema = z.discriminatedUnion('kind', [
  OptionMapTransformationSchema,
  ValueMapTransformationSchema,
  LookupTransformationSchema,
  CurrencyTransformationSchema,
  UnitTransformationSchema,
  TruncateTransformationSchema,
  NonNegativeTransformationSchema,
  FormatTransformationSchema,
]);
export type Transformation = z.infer<typeof TransformationSchema>;
export type LookupTransformation = z.infer<typeof LookupTransformationSchema>;
export type CurrencyTransformation = z.infer<typeof CurrencyTransformationSchema>;
export type UnitTransformation = z.infer<typeof UnitTransformationSchema>;
export type OptionMapTransformation = z.infer<typeof OptionMapTransformationSchema>;
export type ValueMapTransformation = z.infer<typeof ValueMapTransformationSchema>;
export type TruncateTransformation = z.infer<typeof TruncateTransformationSchema>;
export type FormatTransformation = z.infer<typeof FormatTransformationSchema>;

export const ConstantSchema = z.object({
  /** Value as written on the wire (e.g. Dataverse option value 1). */
  value: JsonPrimitiveSchema,
  /** BC's caption of the constant (e.g. `CurrencyAmount`), kept for display and traceability. */
  label: z.string().optional(),
});
export type Constant = z.infer<typeof ConstantSchema>;

export const FieldMappingSchema = z.object({
  /** API v2.0 / custom-API JSON property; null when a constant is written to Dataverse. */
  bcField: identifier.nullable(),
  /** AL field name (e.g. `Name`, `"Phone No."` → `Phone No.`); null with bcField. */
  alField: z.string().min(1).nullable(),
  /** Dataverse logical name; null when a constant is written to BC. */
  dataverseColumn: identifier.nullable(),
  direction: DirectionSchema,
  status: z.enum(['Enabled', 'Disabled']).default('Enabled'),
  /** Constant written to the side whose counterpart is null. */
  constant: ConstantSchema.optional(),
  transformation: TransformationSchema.optional(),
  /** BC "Validate Field": run the BC field's validation when writing. Default true. */
  validateOnWrite: z.boolean().default(true),
  /** BC "Validate Integration Table Fld" (false for every default). */
  validateIntegrationTableField: z.boolean().default(false),
  /** BC "Clear Value on Failed Sync": an unresolvable lookup is blanked instead of failing the record. */
  clearValueOnFailedSync: z.boolean().default(false),
  /** BC "Not Null": skip the write when the resolved lookup would be empty (e.g. ownerid). */
  notNull: z.boolean().default(false),
  /** The field is not on the standard API v2.0 page; it is read/written through `bc.extensionEntitySet`. */
  bcExtension: z.boolean().default(false),
  /** The row only exists in this ownership model (owner rows are Person-only). */
  onlyForOwnership: OwnershipModelSchema.optional(),
  /** Type hints, checked against metadata when available (e.g. `Edm.String`, `Lookup`). */
  bcType: z.string().optional(),
  dataverseType: z.string().optional(),
  /** Free text: special rules BC applies in code around this field. */
  note: z.string().optional(),
});
export type FieldMapping = z.infer<typeof FieldMappingSchema>;
export type FieldMappingInput = z.input<typeof FieldMappingSchema>;

export const MatchFieldSchema = z.object({
  bcField: identifier,
  dataverseColumn: identifier,
  /** Lower runs first; BC's blank = 0 = highest. */
  priority: z.number().int().min(0).default(0),
  caseSensitive: z.boolean().default(false),
});
export type MatchField = z.infer<typeof MatchFieldSchema>;

export const CouplingRulesSchema = z.object({
  matchFields: z.array(MatchFieldSchema).default([]),
  /** BC "Create New in Case of No Match". */
  createNewIfNoMatch: z.boolean().default(false),
  /** BC "Synch. After Bulk Coupling" (caption "Synch. After Match-Based Coupling"). */
  synchAfterMatchBasedCoupling: z.boolean().default(false),
});
export type CouplingRules = z.infer<typeof CouplingRulesSchema>;

export const ChangeCaptureSchema = z.object({
  bc: ChangeCaptureModeSchema,
  dataverse: ChangeCaptureModeSchema,
});
export type ChangeCapture = z.infer<typeof ChangeCaptureSchema>;

export const PollingSchema = z.object({
  /** BC job queue "No. of Minutes between Runs" (30 for every default). */
  intervalMinutes: z.number().int().positive(),
  /** BC "Inactivity Timeout Period" in minutes (720 or 1440). */
  inactivityTimeoutMinutes: z.number().int().positive(),
});

export const TableMappingSchema = z.object({
  /** Mapping code as in BC, e.g. `CUSTOMER`, `ITEM-PRODUCT`. */
  name: name.regex(/^[A-Z0-9][A-Z0-9 _.-]*$/, 'must be upper case letters, digits, space, "-", "_" or "."'),
  bc: BcSideSchema,
  dataverse: DataverseSideSchema,
  direction: DirectionSchema,
  /** BC-side OData `$filter` text; `{…}` placeholders are filled at run time. Empty = all records. */
  tableFilter: z.string().default(''),
  /** Dataverse-side OData `$filter` text; `{companyId}` is this BC company's Dataverse company id. */
  integrationTableFilter: z.string().default(''),
  /**
   * Values written when a record is created on each side, like BC's config templates ("BCICUSTOME" sets
   * `customertypecode = Customer` on new accounts), so a new record passes its own mapping's filter.
   * Mapped values win over template values.
   */
  insertTemplate: z
    .object({ bc: z.record(z.string(), JsonPrimitiveSchema).default({}), dataverse: z.record(z.string(), JsonPrimitiveSchema).default({}) })
    .default({ bc: {}, dataverse: {} }),
  /** BC "Synch. Only Coupled Records" (InitValue true). */
  synchOnlyCoupledRecords: z.boolean().default(true),
  /** BC "Dependency Filter": mappings that must be synchronized first in a full sync. */
  dependencies: z.array(name).default([]),
  updateConflictResolution: UpdateConflictResolutionSchema.default('None'),
  deletionConflictResolution: DeletionConflictResolutionSchema.default('None'),
  couplingRules: CouplingRulesSchema.default({ matchFields: [], createNewIfNoMatch: false, synchAfterMatchBasedCoupling: false }),
  ownership: OwnershipSchema,
  changeCapture: ChangeCaptureSchema,
  /** BC job-queue cadence, used as the polling safety net; null = no own job (lines, OPPORTUNITY). */
  polling: PollingSchema.nullable(),
  /** Service Bus queue carrying this mapping's work; lines share their parent's queue. */
  queueName: z
    .string()
    .min(1)
    .max(260)
    .regex(/^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$/, 'must be a Service Bus queue name (lower case letters, digits, ".", "_", "-")'),
  /** Header mapping of a line mapping (POSTEDSALESLINE-INV → POSTEDSALESINV-INV); lines are synced with it. */
  parent: name.optional(),
  enabled: z.boolean().default(true),
  userDefined: z.boolean().default(false),
  /** The Dataverse side is an option set (BC "CDS Int. Option Couple"). */
  optionMapping: z.boolean().default(false),
  fields: z.array(FieldMappingSchema),
});
export type TableMapping = z.infer<typeof TableMappingSchema>;
export type TableMappingInput = z.input<typeof TableMappingSchema>;

/** A document of mappings, the unit of export/import and of the exported JSON Schema. */
export const MappingDocumentSchema = z.object({
  $schema: z.string().optional(),
  mappings: z.array(TableMappingSchema),
});
export type MappingDocument = z.infer<typeof MappingDocumentSchema>;

/** Human label of a field mapping, used in messages: `bcField -> dataverseColumn`. */
export function fieldLabel(field: Pick<FieldMapping, 'bcField' | 'dataverseColumn'>): string {
  return `${field.bcField ?? '(constant)'} -> ${field.dataverseColumn ?? '(constant)'}`;
}
