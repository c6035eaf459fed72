import { z } from 'zod';
import account from './entities/account.json';
import asyncoperation from './entities/asyncoperation.json';
import bcbi_company from './entities/bcbi_company.json';
import businessunit from './entities/businessunit.json';
import contact from './entities/contact.json';
import invoice from './entities/invoice.json';
import invoicedetail from './entities/invoicedetail.json';
import opportunity from './entities/opportunity.json';
import pricelevel from './entities/pricelevel.json';
import product from './entities/product.json';
import productpricelevel from './entities/productpricelevel.json';
import quote from './entities/quote.json';
import salesorder from './entities/salesorder.json';
import salesorderdetail from './entities/salesorderdetail.json';
import sdkmessage from './entities/sdkmessage.json';
import sdkmessagefilter from './entities/sdkmessagefilter.json';
import sdkmessageprocessingstep from './entities/sdkmessageprocessingstep.json';
import sdkmessageprocessingstepimage from './entities/sdkmessageprocessingstepimage.json';
import serviceendpoint from './entities/serviceendpoint.json';
import systemuser from './entities/systemuser.json';
import team from './entities/team.json';
import teamroles from './entities/teamroles.json';
import transactioncurrency from './entities/transactioncurrency.json';
import uom from './entities/uom.json';
import uomschedule from './entities/uomschedule.json';

/**
 * Table definitions of the simulated Dataverse org, kept as data: one file per table under `entities/`, each naming
 * the Microsoft entity reference (and commit) its columns come from. Per column: type, valid for create / update,
 * required level, lookup targets and the option set (global or local) a choice column uses.
 *
 * Rows are stored in Web API wire form (`name`, `_primarycontactid_value`), so a column's "wire name" is what
 * $select/$filter use and its logical name is what metadata, bindings and webhook payloads use.
 */

const attributeTypes = [
  'String',
  'Memo',
  'Integer',
  'BigInt',
  'Decimal',
  'Double',
  'Money',
  'Boolean',
  'DateTime',
  'Uniqueidentifier',
  'Lookup',
  'Customer',
  'Owner',
  'Picklist',
  'State',
  'Status',
  'EntityName',
] as const;
export type AttributeType = (typeof attributeTypes)[number];

/** The entity reference's RequiredLevel values. */
export type RequiredLevel = 'None' | 'Recommended' | 'ApplicationRequired' | 'SystemRequired';

const optionSchema = z.object({
  value: z.number().int(),
  label: z.string(),
  /** Status options: the statecode they belong to. */
  state: z.number().int().optional(),
  /** State options: the statuscode a row gets when only statecode is set. */
  defaultStatus: z.number().int().optional(),
  /** State options: invariant name ("Active", "Submitted"). */
  invariantName: z.string().optional(),
});
export type OptionMeta = z.infer<typeof optionSchema>;

const attributeSchema = z.strictObject({
  logicalName: z.string(),
  type: z.enum(attributeTypes),
  maxLength: z.number().int().optional(),
  /** Lookup / Customer / Owner targets (logical names). */
  targets: z.array(z.string()).optional(),
  /** DateTime columns with DateOnly behaviour serialise as `YYYY-MM-DD`. */
  dateOnly: z.boolean().optional(),
  /** IsValidForCreate (default true). */
  validForCreate: z.boolean().optional(),
  /** IsValidForUpdate (default true). */
  validForUpdate: z.boolean().optional(),
  /** RequiredLevel (default None). */
  requiredLevel: z.enum(['None', 'Recommended', 'ApplicationRequired', 'SystemRequired']).optional(),
  /**
   * ApplicationRequired is normally enforced by forms only; `true` where a source shows the server enforcing it too
   * (or where none settles it and the simulator takes the stricter side — the README lists those).
   */
  serverEnforced: z.boolean().optional(),
  /**
   * Required once another column is set (a line's `uomid` once it names a catalogue `productid`). Stricter than the
   * reference, which leaves this to Sales pricing (error "Missing UOM"); the README lists it as an open point.
   */
  requiredWhenSet: z.string().optional(),
  /** The choice column's option set: GlobalChoiceName and whether it is a global set shared by other columns. */
  optionSet: z.object({ name: z.string(), global: z.boolean() }).optional(),
  options: z.array(optionSchema).optional(),
});
type AttributeDef = z.infer<typeof attributeSchema>;

export interface AttributeMeta extends Omit<AttributeDef, 'validForCreate' | 'validForUpdate' | 'requiredLevel'> {
  validForCreate: boolean;
  validForUpdate: boolean;
  requiredLevel: RequiredLevel;
  options?: OptionMeta[];
}

const collectionSchema = z.object({
  /** Collection-valued navigation property, e.g. `order_details`. */
  name: z.string(),
  /** Logical name of the related (child) table. */
  target: z.string(),
  /** Lookup column on the child that points back at the parent. */
  referencingAttribute: z.string(),
});
export type CollectionNavMeta = z.infer<typeof collectionSchema>;

const stateSchema = z.object({ statecode: z.number().int(), statuscode: z.number().int() });

const entitySchema = z.strictObject({
  logicalName: z.string(),
  /** The entity reference page (repository, path) and the commit it was read at; `also` lists further sources. */
  source: z.object({
    doc: z.string().min(1),
    commit: z
      .string()
      .regex(/^[0-9a-f]{40}$/)
      .optional(),
    also: z.array(z.string()).optional(),
    /** Why there is no commit: the page was not re-read. */
    note: z.string().optional(),
  }),
  entitySetName: z.string(),
  primaryId: z.string(),
  primaryName: z.string(),
  objectTypeCode: z.number().int(),
  ownership: z.enum(['UserOwned', 'OrganizationOwned', 'BusinessOwned', 'None']),
  /** Platform tables (webhook registrations, system jobs) never trigger webhook steps. */
  system: z.boolean().optional(),
  /** Header tables whose rows are read-only unless statecode is 0 (salesorder, quote, invoice). */
  editableOnlyWhenActive: z.boolean().optional(),
  /** Intersect tables read through RetrieveMultiple only (teamroles): every write is refused. */
  readOnlyTable: z.boolean().optional(),
  /** Detail tables whose parent must be editable (salesorderdetail -> salesorderid). */
  parentLookup: z.string().optional(),
  alternateKeys: z.array(z.array(z.string())).optional(),
  collections: z.array(collectionSchema).optional(),
  /** State and status a new row gets (product: Draft). Default: statecode 0 with its default status. */
  initialState: stateSchema.optional(),
  /**
   * State changes an Update (SetState) may make, as `from -> [to…]` statecodes; absent = any. A change that is
   * documented only through a message (FulfillSalesOrder) is left out and named in `stateMessages`.
   */
  stateTransitions: z.record(z.string(), z.array(z.number().int())).optional(),
  /** statecode -> the message that sets it, for the error a PATCH gets. */
  stateMessages: z.record(z.string(), z.string()).optional(),
  attributes: z.array(attributeSchema),
});
export type EntityDef = z.infer<typeof entitySchema>;

export interface EntityMeta extends Omit<EntityDef, 'attributes' | 'collections' | 'alternateKeys' | 'system'> {
  attributes: Map<string, AttributeMeta>;
  collections: CollectionNavMeta[];
  alternateKeys: string[][];
  system: boolean;
  /** Wire name -> attribute, filled by defineEntity. */
  wire: Map<string, AttributeMeta>;
  /** Single-valued navigation property -> lookup attribute + target. */
  navs: Map<string, { attribute: AttributeMeta; target?: string }>;
}

/** `_primarycontactid_value` for lookups, the logical name otherwise. */
export function wireName(a: Pick<AttributeMeta, 'type' | 'logicalName'>): string {
  return a.type === 'Lookup' || a.type === 'Customer' || a.type === 'Owner' ? `_${a.logicalName}_value` : a.logicalName;
}

export function isLookup(a: Pick<AttributeMeta, 'type'>): boolean {
  return a.type === 'Lookup' || a.type === 'Customer' || a.type === 'Owner';
}

/** Set by the platform on every write (IsValidForCreate and IsValidForUpdate both false). */
export function isReadOnly(a: AttributeMeta): boolean {
  return !a.validForCreate && !a.validForUpdate;
}

const ENTITY_FILES: unknown[] = [
  account,
  contact,
  systemuser,
  team,
  teamroles,
  businessunit,
  transactioncurrency,
  uomschedule,
  uom,
  pricelevel,
  productpricelevel,
  product,
  opportunity,
  quote,
  salesorder,
  salesorderdetail,
  invoice,
  invoicedetail,
  serviceendpoint,
  sdkmessage,
  sdkmessagefilter,
  sdkmessageprocessingstep,
  sdkmessageprocessingstepimage,
  asyncoperation,
  bcbi_company,
];

/** Every entity file, validated (a malformed file stops the simulator with the file's name). */
export const ENTITY_DEFS: readonly EntityDef[] = ENTITY_FILES.map((raw) => {
  const r = entitySchema.safeParse(raw);
  if (!r.success) {
    const name = (raw as { logicalName?: unknown }).logicalName;
    throw new Error(`dev/dataverse-simulator/entities/${String(name)}.json: ${r.error.message}`);
  }
  return r.data;
});

function defineEntity(def: EntityDef): EntityMeta {
  const attributes = new Map<string, AttributeMeta>();
  attributes.set(def.primaryId, {
    logicalName: def.primaryId,
    type: 'Uniqueidentifier',
    validForCreate: true,
    validForUpdate: false,
    requiredLevel: 'SystemRequired',
  });
  // Cloned so InsertOptionValue on one simulator instance never leaks into another.
  for (const a of def.attributes) {
    attributes.set(a.logicalName, {
      ...a,
      validForCreate: a.validForCreate ?? true,
      validForUpdate: a.validForUpdate ?? true,
      requiredLevel: a.requiredLevel ?? 'None',
      ...(a.options ? { options: a.options.map((o) => ({ ...o })) } : {}),
    });
  }
  const { attributes: _a, collections, alternateKeys, system, ...rest } = def;
  const meta: EntityMeta = {
    ...rest,
    attributes,
    collections: collections ?? [],
    alternateKeys: alternateKeys ?? [],
    system: system ?? false,
    wire: new Map(),
    navs: new Map(),
  };
  for (const a of attributes.values()) {
    meta.wire.set(wireName(a), a);
    if (!isLookup(a)) continue;
    const targets = a.targets ?? [];
    // Polymorphic lookups get one navigation property per target (`customerid_account`); owner is the exception.
    if (a.type === 'Owner' || targets.length === 1) meta.navs.set(a.logicalName, { attribute: a });
    else for (const t of targets) meta.navs.set(`${a.logicalName}_${t}`, { attribute: a, target: t });
  }
  return meta;
}

/** All simulated tables; immutable except for options added at run time through InsertOptionValue. */
export class Catalog {
  readonly byLogicalName = new Map<string, EntityMeta>();
  readonly bySetName = new Map<string, EntityMeta>();

  constructor() {
    for (const def of ENTITY_DEFS) {
      const meta = defineEntity(def);
      this.byLogicalName.set(meta.logicalName, meta);
      this.bySetName.set(meta.entitySetName, meta);
    }
  }

  entity(logicalName: string): EntityMeta {
    const meta = this.byLogicalName.get(logicalName);
    if (!meta) throw new Error(`No simulated table '${logicalName}'.`);
    return meta;
  }
}
