import { SyncError } from '../../errors';
import { idKey } from '../ids';
import type { DataverseEntityTarget } from '../ports';
import type { DerivedField, RuleContext, SyncRule } from './rules';

/**
 * Values a Dataverse row needs that no BC field mapping supplies, set in code by BC around these mappings
 * (issue 17, checked against the entity references and BC's CRM proxy tables):
 * - CURRENCY: `exchangerate` and `currencyprecision` are SystemRequired on transactioncurrency; BC fills them in
 *   UpdateCRMTransactionCurrencyBeforeInsertRecord / …AfterTransferRecordFields from its exchange-rate table.
 * - UNIT OF MEASURE: the unit group `name` is SystemRequired; BC names it `NAV <Code>` (GetUnitGroupName).
 * - ITEM-PRODUCT / RESOURCE-PRODUCT without unit groups: the product's default unit is the base unit of the
 *   `NAV <Code>` group (UpdateCRMProductUoMFieldsIfChanged), and its group when no field maps it.
 */

const UOMS: DataverseEntityTarget = { side: 'dataverse', entitySet: 'uoms', logicalName: 'uom', primaryKey: 'uomid' };
const none = () => ({ fields: [] as DerivedField[], missing: [] });

/** Organization.CurrencyDecimalPrecision's default, which BC reads as CRM Connection Setup's currency precision. */
export const DEFAULT_CURRENCY_PRECISION = 2;

/** BC's unit group name for a unit of measure without unit-group mapping: `NAV <Code>`. */
export const unitGroupName = (code: string) => `NAV ${code}`;

/**
 * The Dataverse exchange rate of a BC currency: units of the currency per unit of the base currency (BC's LCY),
 * i.e. BC's current currency factor, Exchange Rate Amount / Relational Exch. Rate Amount of the latest rate that
 * starts on or before today (GetCurrentCurrencyFactor). Undefined when BC has no rate.
 */
export async function currentExchangeRate(ctx: Pick<RuleContext, 'bc'>, code: string, today: string): Promise<number | undefined> {
  let best: { date: string; rate: number } | undefined;
  for await (const page of ctx.bc.list(
    { side: 'bc', kind: 'apiV2', entitySet: 'currencyExchangeRates' },
    {
      filter: `currencyCode eq '${code.replaceAll("'", "''")}'`,
      select: ['currencyCode', 'startingDate', 'exchangeRateAmount', 'relationalExchangeRateAmount'],
    },
  )) {
    for (const r of page) {
      const date = String(r.values.startingDate ?? '');
      const amount = Number(r.values.exchangeRateAmount);
      const relational = Number(r.values.relationalExchangeRateAmount);
      if (date > today || !(amount > 0) || !(relational > 0)) continue;
      if (!best || date > best.date) best = { date, rate: amount / relational };
    }
  }
  // Dataverse keeps 10 decimals of an exchange rate (BC rounds to 0.0000000001).
  return best ? Math.round(best.rate * 1e10) / 1e10 : undefined;
}

export const currencyExchangeRateRule: SyncRule = {
  async derive(ctx) {
    if (ctx.mapping.name !== 'CURRENCY' || ctx.pass !== 'ToIntegrationTable') return none();
    const code = String(ctx.source.values.code ?? '');
    if (!code) return none();
    const rate = await currentExchangeRate(ctx, code, new Date().toISOString().slice(0, 10));
    if (rate === undefined) {
      throw new SyncError(
        'MAP.TRANSFORM_FAILED',
        `Cannot create or update the currency ${code} in Dataverse, because there is no exchange rate defined for it.`,
      );
    }
    return {
      fields: [
        {
          label: 'exchange rate -> exchangerate',
          writeKey: 'exchangerate',
          destKey: 'exchangerate',
          payload: rate,
          comparable: rate,
          direction: 'ToIntegrationTable',
        },
      ],
      missing: [],
    };
  },
  async beforeInsert(ctx, payload) {
    if (ctx.mapping.name === 'CURRENCY' && ctx.pass === 'ToIntegrationTable' && payload.currencyprecision === undefined) {
      payload.currencyprecision = DEFAULT_CURRENCY_PRECISION;
    }
  },
};

export const unitGroupNameRule: SyncRule = {
  async beforeInsert(ctx, payload) {
    if (ctx.mapping.name !== 'UNIT OF MEASURE' || ctx.pass !== 'ToIntegrationTable') return;
    const code = String(ctx.source.values.code ?? '');
    if (code && payload.name === undefined) payload.name = unitGroupName(code);
  },
};

const BASE_UNIT_FIELD = 'baseUnitOfMeasureCode';

/**
 * A product without unit-group mapping: the default unit is the base unit of the unit group coupled with the
 * item's/resource's base unit of measure under UNIT OF MEASURE; the group too when no field maps it (RESOURCE-PRODUCT).
 */
export const productDefaultUnitRule: SyncRule = {
  extraColumns: (mapping, side) =>
    side === 'bc' && (mapping.name === 'ITEM-PRODUCT' || mapping.name === 'RESOURCE-PRODUCT') ? [BASE_UNIT_FIELD] : [],
  async derive(ctx) {
    if ((ctx.mapping.name !== 'ITEM-PRODUCT' && ctx.mapping.name !== 'RESOURCE-PRODUCT') || ctx.pass !== 'ToIntegrationTable')
      return none();
    const enabled = ctx.mapping.fields.filter((f) => f.status === 'Enabled');
    if (enabled.some((f) => f.dataverseColumn === 'defaultuomid')) return none();
    const code = String(ctx.source.values[BASE_UNIT_FIELD] ?? '');
    if (!code) return none();
    const schedule = await ctx.resolver.toDataverse('UNIT OF MEASURE', code, 'code');
    const label = `${BASE_UNIT_FIELD} -> defaultuomid`;
    if (!schedule) return { fields: [], missing: [{ field: label, mapping: 'UNIT OF MEASURE', sourceValue: code, bcKey: 'code' }] };
    const page = await ctx.dataverse.listPage(UOMS, {
      filter: `_uomscheduleid_value eq ${schedule} and isschedulebaseuom eq true`,
      select: ['uomid'],
      pageSize: 1,
    });
    const uom = page.items[0]?.id;
    if (!uom) throw new SyncError('DV.NOT_FOUND', `The unit group ${unitGroupName(code)} in Dataverse has no base unit.`);
    const fields: DerivedField[] = [
      {
        label,
        writeKey: 'defaultuomid@odata.bind',
        destKey: '_defaultuomid_value',
        payload: `/uoms(${uom})`,
        comparable: uom,
        direction: 'ToIntegrationTable',
      },
    ];
    if (!enabled.some((f) => f.dataverseColumn === 'defaultuomscheduleid')) {
      fields.push({
        label: `${BASE_UNIT_FIELD} -> defaultuomscheduleid`,
        writeKey: 'defaultuomscheduleid@odata.bind',
        destKey: '_defaultuomscheduleid_value',
        payload: `/uomschedules(${schedule})`,
        comparable: schedule,
        direction: 'ToIntegrationTable',
      });
    }
    return { fields, missing: [] };
  },
};

/** The company lookup of BC's integration solution, as its filter clause names it (`COMPANY_FILTER`). */
export const COMPANY_COLUMN = 'bcbi_companyid';
const COMPANY_READ_KEY = `_${COMPANY_COLUMN}_value`;
const hasCompanyClause = (m: RuleContext['mapping']) => m.integrationTableFilter.includes(COMPANY_READ_KEY);

/**
 * Multi-company ("Multi Company Synch. Enabled"): every row written on a table whose mapping carries BC's company
 * clause gets this installation's company, on insert and on update (BC sets CompanyId in its OnAfterTransferRecordFields
 * subscribers, never through a field mapping; the proxy tables CRM Account, Contact, Product, Pricelevel, Opportunity,
 * Quote, Salesorder and Invoice have CompanyId → `bcbi_companyid`, a lookup to `bcbi_company`). A derived field, so
 * the single-record engine and every bulk path that translates through the rules stamp it the same way. Without a
 * known company row nothing is written: a row without company would be every installation's.
 */
export const companyIdRule: SyncRule = {
  extraColumns: (mapping, side) => (side === 'dataverse' && hasCompanyClause(mapping) ? [COMPANY_READ_KEY] : []),
  async derive(ctx) {
    if (!ctx.company || ctx.pass !== 'ToIntegrationTable' || !hasCompanyClause(ctx.mapping)) return none();
    const id = ctx.company.id;
    if (!id)
      throw new SyncError(
        'CONFIG.INVALID',
        'MULTI_COMPANY_SYNC is on, but this installation has no company row (bcbi_company) in Dataverse yet: run setup, then retry.',
      );
    return {
      fields: [
        {
          label: `(company) -> ${COMPANY_COLUMN}`,
          writeKey: `${COMPANY_COLUMN}@odata.bind`,
          destKey: COMPANY_READ_KEY,
          payload: `/bcbi_companies(${id})`,
          comparable: idKey(id),
          direction: 'ToIntegrationTable',
        },
      ],
      missing: [],
    };
  },
};

export const DATAVERSE_RULES: SyncRule[] = [currencyExchangeRateRule, unitGroupNameRule, productDefaultUnitRule, companyIdRule];
