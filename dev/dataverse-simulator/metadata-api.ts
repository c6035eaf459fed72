import { createHash } from 'node:crypto';
import { z } from 'zod';
import { applySelect, compileFilter, parseExpand, parseSelect } from '../odata';
import { badRequest, Codes, DataverseError } from './errors';
import { type AttributeMeta, type Catalog, type EntityMeta, isLookup, type OptionMeta } from './metadata';
import { parseKeySegment, parseQuery, splitSegment } from './url';
import { json, type SimRequest, type SimResponse } from './webapi';

/** Stable pseudo-GUIDs for metadata ids, so MetadataId is the same on every run. */
function metadataId(...parts: string[]): string {
  const h = createHash('sha1').update(parts.join('|')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const METADATA_TYPE: Record<AttributeMeta['type'], string> = {
  String: 'StringAttributeMetadata',
  Memo: 'MemoAttributeMetadata',
  Integer: 'IntegerAttributeMetadata',
  BigInt: 'BigIntAttributeMetadata',
  Decimal: 'DecimalAttributeMetadata',
  Double: 'DoubleAttributeMetadata',
  Money: 'MoneyAttributeMetadata',
  Boolean: 'BooleanAttributeMetadata',
  DateTime: 'DateTimeAttributeMetadata',
  Uniqueidentifier: 'UniqueIdentifierAttributeMetadata',
  Lookup: 'LookupAttributeMetadata',
  Customer: 'LookupAttributeMetadata',
  Owner: 'LookupAttributeMetadata',
  Picklist: 'PicklistAttributeMetadata',
  State: 'StateAttributeMetadata',
  Status: 'StatusAttributeMetadata',
  EntityName: 'EntityNameAttributeMetadata',
};

const label = (text: string, id: string) => {
  const l = { Label: text, LanguageCode: 1033, IsManaged: false, MetadataId: id, HasChanged: null };
  return { LocalizedLabels: [l], UserLocalizedLabel: l };
};

const insertOptionSchema = z.object({
  EntityLogicalName: z.string().optional(),
  AttributeLogicalName: z.string().optional(),
  OptionSetName: z.string().optional(),
  Value: z.number().int().optional(),
  Label: z.object({ LocalizedLabels: z.array(z.object({ Label: z.string(), LanguageCode: z.number() })).min(1) }),
  SolutionUniqueName: z.string().optional(),
});

const updateOptionSchema = insertOptionSchema.extend({ Value: z.number().int(), MergeLabels: z.boolean().optional() });

/**
 * EntityDefinitions metadata (enough to check a mapped column exists, its type, and read option values) and the
 * InsertOptionValue / UpdateOptionValue actions BC uses to push payment terms and shipping options.
 */
export class MetadataApi {
  constructor(
    private readonly catalog: Catalog,
    private readonly apiBase: () => string,
  ) {}

  handle(req: SimRequest, segments: string[]): SimResponse {
    const first = segments[0] as string;
    if (first === '$metadata') return this.csdl();
    if (first === 'InsertOptionValue' || first === 'UpdateOptionValue') {
      if (req.method !== 'POST') throw new DataverseError(405, Codes.invalidArgument, `${first} is an action: use POST.`);
      return first === 'InsertOptionValue' ? this.insertOption(req) : this.updateOption(req);
    }
    if (req.method !== 'GET')
      throw new DataverseError(
        405,
        Codes.invalidArgument,
        'Metadata is read-only in the simulator (except InsertOptionValue / UpdateOptionValue).',
      );
    const query = parseQuery(req.rawQuery);
    const { key } = splitSegment(first);
    if (key === undefined) {
      if (segments.length > 1) throw notFoundSegment(segments[1] as string);
      const rows = [...this.catalog.byLogicalName.values()].map((m) => this.entity(m));
      return this.collection('EntityDefinitions', rows, query);
    }
    const meta = this.entityByKey(key);
    if (segments.length === 1) {
      const select = parseSelect(query.get('$select'));
      const body: Record<string, unknown> = { ...this.entity(meta) };
      for (const item of parseExpand(query.get('$expand'))) {
        if (item.property !== 'Attributes')
          throw badRequest(`Only $expand=Attributes is supported on EntityDefinitions, not '${item.property}'.`, Codes.unknownProperty);
        body.Attributes = [...meta.attributes.values()].map((a) => applySelect(this.attribute(meta, a, false), item.select));
      }
      const out = applySelect(body, select, ['MetadataId', ...(body.Attributes ? ['Attributes'] : [])]);
      return json(200, { '@odata.context': `${this.apiBase()}/$metadata#EntityDefinitions/$entity`, ...out });
    }
    const second = segments[1] as string;
    if (second === 'Keys' && segments.length === 2) {
      const keys = meta.alternateKeys.map((k) => ({
        MetadataId: metadataId(meta.logicalName, 'key', k.join(',')),
        LogicalName: `${meta.logicalName}_${k.join('_')}_key`,
        KeyAttributes: k,
        EntityLogicalName: meta.logicalName,
        EntityKeyIndexStatus: 'Active',
      }));
      return this.collection(`EntityDefinitions('${meta.logicalName}')/Keys`, keys, query);
    }
    const attrSeg = splitSegment(second);
    if (attrSeg.name !== 'Attributes') throw notFoundSegment(second);
    const expand = parseExpand(query.get('$expand'));
    const expandOptionSet = expand.some((e) => e.property === 'OptionSet' || e.property === 'GlobalOptionSet');
    for (const e of expand) {
      if (e.property !== 'OptionSet' && e.property !== 'GlobalOptionSet') {
        throw badRequest(
          `Could not find a property named '${e.property}' on type 'Microsoft.Dynamics.CRM.AttributeMetadata'.`,
          Codes.unknownProperty,
        );
      }
    }
    const cast = segments[2];
    const castType = cast === undefined ? undefined : /^Microsoft\.Dynamics\.CRM\.(\w+)$/.exec(cast)?.[1];
    if (cast !== undefined && (!castType || !Object.values(METADATA_TYPE).includes(castType) || segments.length > 3)) {
      throw notFoundSegment(cast);
    }
    if (expandOptionSet && !castType) {
      throw badRequest(
        'OptionSet is defined on the derived types: cast first, e.g. /Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet.',
        Codes.unknownProperty,
      );
    }
    const ofType = (a: AttributeMeta) => castType === undefined || METADATA_TYPE[a.type] === castType;
    if (attrSeg.key !== undefined) {
      const k = parseKeySegment(attrSeg.key);
      const logicalName = k.kind === 'keys' && k.pairs[0]?.[0] === 'LogicalName' ? String(k.pairs[0][1]) : undefined;
      const attr = logicalName
        ? meta.attributes.get(logicalName)
        : [...meta.attributes.values()].find((a) => k.kind === 'id' && metadataId(meta.logicalName, a.logicalName) === k.id);
      if (!attr) {
        throw new DataverseError(
          404,
          '0x80040217',
          `Could not find attribute '${logicalName ?? attrSeg.key}' on entity '${meta.logicalName}'.`,
        );
      }
      if (!ofType(attr)) {
        throw badRequest(`The attribute '${attr.logicalName}' is a ${METADATA_TYPE[attr.type]}, not a ${castType}.`, Codes.unknownProperty);
      }
      const select = parseSelect(query.get('$select'));
      const row = applySelect(this.attribute(meta, attr, expandOptionSet), select, ['MetadataId', 'OptionSet', 'GlobalOptionSet']);
      return json(200, {
        '@odata.context': `${this.apiBase()}/$metadata#EntityDefinitions('${meta.logicalName}')/Attributes/Microsoft.Dynamics.CRM.${METADATA_TYPE[attr.type]}/$entity`,
        ...row,
      });
    }
    const rows = [...meta.attributes.values()].filter(ofType).map((a) => this.attribute(meta, a, expandOptionSet));
    return this.collection(
      `EntityDefinitions('${meta.logicalName}')/Attributes${castType ? `/Microsoft.Dynamics.CRM.${castType}` : ''}`,
      rows,
      query,
      ['MetadataId', 'OptionSet', 'GlobalOptionSet'],
    );
  }

  private collection(
    context: string,
    rows: Record<string, unknown>[],
    query: Map<string, string>,
    keep: string[] = ['MetadataId'],
  ): SimResponse {
    const filter = query.get('$filter');
    const predicate = filter ? compileFilter(filter) : undefined;
    const select = parseSelect(query.get('$select'));
    const value = rows.filter((r) => !predicate || predicate(r)).map((r) => applySelect(r, select, keep));
    return json(200, { '@odata.context': `${this.apiBase()}/$metadata#${context}`, value });
  }

  private entityByKey(key: string): EntityMeta {
    const k = parseKeySegment(key);
    let meta: EntityMeta | undefined;
    if (k.kind === 'keys' && k.pairs.length === 1 && k.pairs[0]?.[0] === 'LogicalName')
      meta = this.catalog.byLogicalName.get(String(k.pairs[0][1]));
    else if (k.kind === 'id') meta = [...this.catalog.byLogicalName.values()].find((m) => metadataId(m.logicalName) === k.id);
    else
      throw badRequest(
        `Use EntityDefinitions(LogicalName='<name>') or EntityDefinitions(<MetadataId>), not (${key}).`,
        Codes.unknownProperty,
      );
    if (!meta) throw new DataverseError(404, '0x80040217', `Could not find an entity with the key (${key}).`);
    return meta;
  }

  entity(m: EntityMeta): Record<string, unknown> {
    return {
      MetadataId: metadataId(m.logicalName),
      LogicalName: m.logicalName,
      SchemaName: schemaName(m.logicalName),
      EntitySetName: m.entitySetName,
      LogicalCollectionName: m.entitySetName,
      PrimaryIdAttribute: m.primaryId,
      PrimaryNameAttribute: m.primaryName,
      ObjectTypeCode: m.objectTypeCode,
      OwnershipType: m.ownership === 'UserOwned' ? 'UserOwned' : m.ownership === 'BusinessOwned' ? 'BusinessOwned' : 'OrganizationOwned',
      ChangeTrackingEnabled: true,
      IsOptimisticConcurrencyEnabled: true,
      IsCustomEntity: false,
      DisplayName: label(schemaName(m.logicalName), metadataId(m.logicalName, 'label')),
    };
  }

  private attribute(m: EntityMeta, a: AttributeMeta, withOptionSet: boolean): Record<string, unknown> {
    const type = METADATA_TYPE[a.type];
    const out: Record<string, unknown> = {
      '@odata.type': `#Microsoft.Dynamics.CRM.${type}`,
      MetadataId: metadataId(m.logicalName, a.logicalName),
      LogicalName: a.logicalName,
      SchemaName: schemaName(a.logicalName),
      EntityLogicalName: m.logicalName,
      AttributeType: a.type,
      AttributeTypeName: { Value: `${a.type === 'Uniqueidentifier' ? 'Uniqueidentifier' : a.type}Type` },
      IsPrimaryId: a.logicalName === m.primaryId,
      IsPrimaryName: a.logicalName === m.primaryName,
      IsValidForCreate: a.validForCreate,
      IsValidForUpdate: a.validForUpdate,
      IsValidForRead: true,
      IsCustomAttribute: a.logicalName.startsWith('bcbi_'),
      RequiredLevel: { Value: a.requiredLevel, CanBeChanged: a.requiredLevel !== 'SystemRequired' },
      DisplayName: label(schemaName(a.logicalName), metadataId(m.logicalName, a.logicalName, 'label')),
    };
    if (a.maxLength !== undefined) out.MaxLength = a.maxLength;
    if (a.type === 'String') out.Format = 'Text';
    if (isLookup(a)) out.Targets = a.targets ?? [];
    if (a.type === 'DateTime') {
      out.Format = a.dateOnly ? 'DateOnly' : 'DateAndTime';
      out.DateTimeBehavior = { Value: a.dateOnly ? 'DateOnly' : 'UserLocal' };
    }
    if (a.type === 'Money' || a.type === 'Decimal') out.Precision = a.type === 'Money' ? 2 : 10;
    if (a.type === 'Picklist' || a.type === 'State' || a.type === 'Status') {
      out.DefaultFormValue = a.type === 'Picklist' ? -1 : null;
      if (withOptionSet) {
        const set = this.optionSet(m, a);
        out.OptionSet = set;
        out.GlobalOptionSet = a.optionSet?.global ? set : null;
      }
    }
    return out;
  }

  private optionSet(m: EntityMeta, a: AttributeMeta): Record<string, unknown> {
    const name = a.optionSet?.name ?? `${m.logicalName}_${a.logicalName}`;
    return {
      MetadataId: metadataId('optionset', name),
      Name: name,
      IsGlobal: a.optionSet?.global ?? false,
      OptionSetType: a.type === 'Picklist' ? 'Picklist' : a.type,
      Options: (a.options ?? []).map((o) => this.option(name, a, o)),
    };
  }

  private option(setName: string, a: AttributeMeta, o: OptionMeta): Record<string, unknown> {
    const out: Record<string, unknown> = {
      Value: o.value,
      Color: null,
      IsManaged: false,
      ExternalValue: '',
      MetadataId: null,
      HasChanged: null,
      Label: label(o.label, metadataId('option', setName, String(o.value))),
      Description: label('', metadataId('option-description', setName, String(o.value))),
    };
    if (a.type === 'State') {
      out['@odata.type'] = '#Microsoft.Dynamics.CRM.StateOptionMetadata';
      out.DefaultStatus = o.defaultStatus;
      out.InvariantName = o.invariantName;
    }
    if (a.type === 'Status') {
      out['@odata.type'] = '#Microsoft.Dynamics.CRM.StatusOptionMetadata';
      out.State = o.state;
    }
    return out;
  }

  /** Attributes an option action targets: one column, or every column sharing a global option set. */
  private optionTargets(body: z.infer<typeof insertOptionSchema>): AttributeMeta[] {
    if (body.OptionSetName) {
      const found = [...this.catalog.byLogicalName.values()].flatMap((m) =>
        [...m.attributes.values()].filter((a) => a.optionSet?.global === true && a.optionSet.name === body.OptionSetName),
      );
      if (found.length === 0) throw new DataverseError(404, '0x80040217', `Could not find optionset '${body.OptionSetName}'.`);
      return found;
    }
    const meta = body.EntityLogicalName ? this.catalog.byLogicalName.get(body.EntityLogicalName) : undefined;
    const attr = body.AttributeLogicalName ? meta?.attributes.get(body.AttributeLogicalName) : undefined;
    if (!meta || !attr || attr.type !== 'Picklist') {
      throw badRequest(
        'Give OptionSetName (global option set) or EntityLogicalName + AttributeLogicalName of a picklist column.',
        Codes.invalidArgument,
      );
    }
    if (attr.optionSet?.global) return this.optionTargets({ ...body, OptionSetName: attr.optionSet.name });
    return [attr];
  }

  private insertOption(req: SimRequest): SimResponse {
    const body = parseAction(insertOptionSchema, req.body);
    const targets = this.optionTargets(body);
    const text = body.Label.LocalizedLabels[0]?.Label ?? '';
    const existing = targets.flatMap((a) => (a.options ?? []).map((o) => o.value));
    const value = body.Value ?? Math.max(99_999_999, ...existing) + 1;
    if (existing.includes(value)) throw badRequest(`The option value ${value} already exists.`, Codes.duplicateKey);
    for (const a of targets) a.options = [...(a.options ?? []), { value, label: text }];
    return json(200, {
      '@odata.context': `${this.apiBase()}/$metadata#Microsoft.Dynamics.CRM.InsertOptionValueResponse`,
      NewOptionValue: value,
    });
  }

  private updateOption(req: SimRequest): SimResponse {
    const body = parseAction(updateOptionSchema, req.body);
    const text = body.Label.LocalizedLabels[0]?.Label ?? '';
    for (const a of this.optionTargets(body)) {
      const o = a.options?.find((x) => x.value === body.Value);
      if (!o) throw new DataverseError(404, '0x80040217', `The option value ${body.Value} does not exist on '${a.logicalName}'.`);
      o.label = text;
    }
    return { status: 204, headers: { 'OData-Version': '4.0' } };
  }

  /** A minimal CSDL: entity sets and keys, for tools that probe $metadata. */
  private csdl(): SimResponse {
    const types = [...this.catalog.byLogicalName.values()]
      .map(
        (m) =>
          `<EntityType Name="${m.logicalName}"><Key><PropertyRef Name="${m.primaryId}"/></Key>${[...m.attributes.values()]
            .map((a) => `<Property Name="${isLookup(a) ? `_${a.logicalName}_value` : a.logicalName}" Type="${edmType(a)}"/>`)
            .join('')}${m.collections
            .map((c) => `<NavigationProperty Name="${c.name}" Type="Collection(mscrm.${c.target})"/>`)
            .join('')}</EntityType>`,
      )
      .join('');
    const sets = [...this.catalog.byLogicalName.values()]
      .map((m) => `<EntitySet Name="${m.entitySetName}" EntityType="mscrm.${m.logicalName}"/>`)
      .join('');
    const xml = `<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">${types}<EntityContainer Name="System">${sets}</EntityContainer></Schema></edmx:DataServices></edmx:Edmx>`;
    return { status: 200, headers: { 'OData-Version': '4.0', 'Content-Type': 'application/xml' }, body: xml };
  }
}

function edmType(a: AttributeMeta): string {
  switch (a.type) {
    case 'Integer':
    case 'Picklist':
    case 'State':
    case 'Status':
      return 'Edm.Int32';
    case 'BigInt':
      return 'Edm.Int64';
    case 'Decimal':
    case 'Money':
      return 'Edm.Decimal';
    case 'Double':
      return 'Edm.Double';
    case 'Boolean':
      return 'Edm.Boolean';
    case 'DateTime':
      return a.dateOnly ? 'Edm.Date' : 'Edm.DateTimeOffset';
    case 'Uniqueidentifier':
    case 'Lookup':
    case 'Customer':
    case 'Owner':
      return 'Edm.Guid';
    default:
      return 'Edm.String';
  }
}

function schemaName(logicalName: string): string {
  return logicalName
    .split('_')
    .map((p) => (p.length ? (p[0] as string).toUpperCase() + p.slice(1) : p))
    .join('_');
}

function notFoundSegment(seg: string): DataverseError {
  return new DataverseError(404, Codes.unknownProperty, `Resource not found for the segment '${seg}'.`);
}

function parseAction<T extends z.ZodType>(schema: T, raw: string | undefined): z.infer<T> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw ?? '');
  } catch {
    throw badRequest('The action body is not valid JSON.');
  }
  const r = schema.safeParse(parsed);
  if (!r.success)
    throw badRequest(`Invalid action parameters: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}
