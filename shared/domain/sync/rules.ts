import { SyncError } from '../../errors';
import type { SyncDirection, TableMapping } from '../mappings/schema';
import type { RecordGateway, Side, VersionedRecord } from '../ports';
import { DATAVERSE_RULES } from './dataverse-rules';
import type { MissingReference } from './field-values';

/**
 * Special rules BC applies in code around particular mappings (bc-integration-reference section 5), kept out of
 * the generic engine. A rule can read extra columns, derive values that are not plain field mappings, exclude
 * records and adjust a write.
 */

/** A value derived by a rule, translated and compared like a mapped field. */
export interface DerivedField {
  label: string;
  writeKey: string;
  /** Key of the comparable value on the destination record. */
  destKey: string;
  payload: unknown;
  comparable: unknown;
  direction: 'Bidirectional' | 'ToIntegrationTable' | 'FromIntegrationTable';
}

/** Lookups a rule needs: the same couplings the engine resolves field lookups with. */
export interface RuleResolver {
  toDataverse(mapping: string, bcValue: string, bcKey: 'code' | 'id'): Promise<string | undefined>;
  toBc(mapping: string, dataverseId: string, bcKey: 'code' | 'id'): Promise<string | undefined>;
}

export interface RuleContext {
  mapping: TableMapping;
  pass: SyncDirection;
  source: VersionedRecord;
  bc: RecordGateway;
  dataverse: RecordGateway;
  resolver: RuleResolver;
  /** Multi-company only: this installation's `bcbi_company` row (id undefined while it is not known). */
  company?: { id: string | undefined };
}

export interface SyncRule {
  /** Columns the rule reads besides the mapped fields, per side. */
  extraColumns?(mapping: TableMapping, side: Side): string[];
  /** Values beyond the field mappings; a reference that is not coupled yet is reported like a field lookup. */
  derive?(ctx: RuleContext): Promise<{ fields: DerivedField[]; missing: MissingReference[]; exclude?: string }>;
  /** Values a new record needs that no field mapping supplies (a key, say). */
  beforeInsert?(ctx: RuleContext, payload: Record<string, unknown>): Promise<void>;
}

const BC_CONTACT_COMPANY = 'companyNumber';

/**
 * CONTACT: a contact syncs only with its company linked (BC rule 8). BC keeps the link as the contact's company
 * (a company contact) whose business relation points at a customer or vendor; Dataverse keeps it as the
 * contact's parent account. The parent is translated through the CUSTOMER/VENDOR couplings, so an uncoupled
 * parent is synced first or waited for, like any lookup.
 */
export const contactParentRule: SyncRule = {
  extraColumns: (mapping, side) => (mapping.name !== 'CONTACT' ? [] : side === 'bc' ? [BC_CONTACT_COMPANY] : ['_parentcustomerid_value']),
  async derive(ctx) {
    if (ctx.mapping.name !== 'CONTACT') return { fields: [], missing: [] };
    const relations = { side: 'bc' as const, kind: 'customApi' as const, entitySet: 'contactBusinessRelations' };
    if (ctx.pass === 'ToIntegrationTable') {
      const company = ctx.source.values[BC_CONTACT_COMPANY];
      if (typeof company !== 'string' || company === '')
        return { fields: [], missing: [], exclude: 'a contact without a company is not synchronized' };
      const page = await ctx.bc.listPage(relations, { filter: `contactNumber eq '${company.replaceAll("'", "''")}'`, pageSize: 20 });
      const link = page.items.find((r) => r.values.linkToTable === 'Customer') ?? page.items.find((r) => r.values.linkToTable === 'Vendor');
      if (!link) return { fields: [], missing: [], exclude: `company ${company} has no business relation to a customer or vendor` };
      const parentMapping = link.values.linkToTable === 'Customer' ? 'CUSTOMER' : 'VENDOR';
      const number = String(link.values.linkNumber ?? '');
      const accountId = await ctx.resolver.toDataverse(parentMapping, number, 'code');
      if (!accountId) {
        return {
          fields: [],
          missing: [{ field: `${BC_CONTACT_COMPANY} -> parentcustomerid`, mapping: parentMapping, sourceValue: number, bcKey: 'code' }],
        };
      }
      return {
        fields: [
          {
            label: `${BC_CONTACT_COMPANY} -> parentcustomerid`,
            writeKey: 'parentcustomerid_account@odata.bind',
            destKey: '_parentcustomerid_value',
            payload: `/accounts(${accountId})`,
            comparable: accountId,
            direction: 'Bidirectional',
          },
        ],
        missing: [],
      };
    }
    const parent = ctx.source.values._parentcustomerid_value;
    if (typeof parent !== 'string' || parent === '')
      return { fields: [], missing: [], exclude: 'a contact without a parent account is not synchronized' };
    for (const parentMapping of ['CUSTOMER', 'VENDOR']) {
      const number = await ctx.resolver.toBc(parentMapping, parent, 'code');
      if (!number) continue;
      const linkTo = parentMapping === 'CUSTOMER' ? 'Customer' : 'Vendor';
      const page = await ctx.bc.listPage(relations, {
        filter: `linkToTable eq '${linkTo}' and linkNumber eq '${number.replaceAll("'", "''")}'`,
        pageSize: 1,
      });
      const companyContact = page.items[0]?.values.contactNumber;
      if (typeof companyContact !== 'string') {
        throw new SyncError(
          'MAP.TRANSFORM_FAILED',
          `${linkTo} ${number} has no company contact in Business Central to link the contact to.`,
        );
      }
      return {
        fields: [
          {
            label: `${BC_CONTACT_COMPANY} -> parentcustomerid`,
            writeKey: BC_CONTACT_COMPANY,
            destKey: BC_CONTACT_COMPANY,
            payload: companyContact,
            comparable: companyContact,
            direction: 'Bidirectional',
          },
        ],
        missing: [],
      };
    }
    return {
      fields: [],
      missing: [{ field: `${BC_CONTACT_COMPANY} -> parentcustomerid`, mapping: 'CUSTOMER', sourceValue: parent, bcKey: 'code' }],
    };
  },
};

/**
 * ITEM-PRODUCT / RESOURCE-PRODUCT with unit groups: Dataverse needs a product's unit group as well as its
 * default unit; BC sets the group from the unit it maps (`UpdateCRMProductAfterTransferRecordFields`).
 */
export const productUnitGroupRule: SyncRule = {
  async derive(ctx) {
    const none = { fields: [], missing: [] };
    if ((ctx.mapping.name !== 'ITEM-PRODUCT' && ctx.mapping.name !== 'RESOURCE-PRODUCT') || ctx.pass !== 'ToIntegrationTable') return none;
    const unitField = ctx.mapping.fields.find(
      (f) => f.status === 'Enabled' && f.dataverseColumn === 'defaultuomid' && f.transformation?.kind === 'unit',
    );
    if (!unitField?.bcField || unitField.transformation?.kind !== 'unit') return none;
    const code = ctx.source.values[unitField.bcField];
    if (typeof code !== 'string' || code === '') return none;
    const owner = unitField.transformation.ownerBcField
      ? String(ctx.source.values[unitField.transformation.ownerBcField] ?? '')
      : undefined;
    const uomId = await ctx.resolver.toDataverse(unitField.transformation.mapping, owner !== undefined ? `${owner}|${code}` : code, 'code');
    // An uncoupled unit is reported by the unit field itself.
    if (!uomId) return none;
    const uom = await ctx.dataverse.get({ side: 'dataverse', entitySet: 'uoms', logicalName: 'uom', primaryKey: 'uomid' }, uomId, [
      'uomid',
      '_uomscheduleid_value',
    ]);
    const group = uom?.values._uomscheduleid_value;
    if (typeof group !== 'string') return none;
    return {
      fields: [
        {
          label: `${unitField.bcField} -> defaultuomscheduleid`,
          writeKey: 'defaultuomscheduleid@odata.bind',
          destKey: '_defaultuomscheduleid_value',
          payload: `/uomschedules(${group})`,
          comparable: group,
          direction: 'ToIntegrationTable',
        },
      ],
      missing: [],
    };
  },
};

/** SALESPEOPLE: a salesperson created from a Dataverse user gets the next `SP NO. 0000n` code, as BC numbers them. */
export const salespersonCodeRule: SyncRule = {
  async beforeInsert(ctx, payload) {
    if (ctx.mapping.name !== 'SALESPEOPLE' || ctx.pass !== 'FromIntegrationTable' || payload.code) return;
    const page = await ctx.bc.listPage(
      { side: 'bc', kind: ctx.mapping.bc.kind, entitySet: ctx.mapping.bc.entitySet },
      { filter: "startswith(code,'SP NO. ')", select: ['id', 'code'], pageSize: 1000 },
    );
    const used = page.items.map((r) => Number(String(r.values.code ?? '').slice(7))).filter((n) => Number.isFinite(n));
    payload.code = `SP NO. ${String(Math.max(0, ...used) + 1).padStart(5, '0')}`;
  },
};

/**
 * ITEM UOM / RESOURCE UOM: a unit lives in its item's unit group (`ITEM <No.> UOM GR`), which BC creates the
 * unit in; the group is the UNIT GROUP mapping's coupled uomschedule.
 */
export const unitInGroupRule: SyncRule = {
  extraColumns: (mapping, side) =>
    side !== 'bc' ? [] : mapping.name === 'ITEM UOM' ? ['itemNumber'] : mapping.name === 'RESOURCE UOM' ? ['resourceNumber'] : [],
  async derive(ctx) {
    const none = { fields: [], missing: [] };
    const item = ctx.mapping.name === 'ITEM UOM';
    if ((!item && ctx.mapping.name !== 'RESOURCE UOM') || ctx.pass !== 'ToIntegrationTable') return none;
    const owner = ctx.source.values[item ? 'itemNumber' : 'resourceNumber'];
    if (typeof owner !== 'string' || owner === '') return none;
    const groups = await ctx.bc.listPage(
      { side: 'bc', kind: 'customApi', entitySet: 'unitGroups' },
      {
        filter: `sourceType eq '${item ? 'Item' : 'Resource'}' and sourceNumber eq '${owner.replaceAll("'", "''")}'`,
        select: ['id'],
        pageSize: 1,
      },
    );
    const groupId = groups.items[0]?.id;
    if (!groupId) return none;
    const schedule = await ctx.resolver.toDataverse('UNIT GROUP', groupId, 'id');
    if (!schedule)
      return { fields: [], missing: [{ field: 'unit group -> uomscheduleid', mapping: 'UNIT GROUP', sourceValue: groupId, bcKey: 'id' }] };
    return {
      fields: [
        {
          label: 'unit group -> uomscheduleid',
          writeKey: 'uomscheduleid@odata.bind',
          destKey: '_uomscheduleid_value',
          payload: `/uomschedules(${schedule})`,
          comparable: schedule,
          direction: 'ToIntegrationTable',
        },
      ],
      missing: [],
    };
  },
};

export const CORE_RULES: SyncRule[] = [contactParentRule, unitInGroupRule, productUnitGroupRule, salespersonCodeRule, ...DATAVERSE_RULES];
