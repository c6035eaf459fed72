import { idKey } from '../ids';
import type { TableMapping } from '../mappings/schema';
import { bcCodeField, bcTarget } from '../mappings/targets';
import type { LookupResolver, MapRecordOptions } from '../mappings/transform';
import { odataLiteral } from '../odata/literal';
import type { RecordGateway, Side } from '../ports';
import type { MissingReference } from './field-values';
import { lcyCurrencyId } from './lcy-currency';
import type { SyncDeps } from './types';

/** The owner field of the BC unit-of-measure pages whose records are keyed by (owner, code). */
const UNIT_OWNER_FIELD: Record<string, string> = { itemUnitsOfMeasure: 'itemNumber', resourceUnitsOfMeasure: 'resourceNumber' };

/** Translates references through couplings, with the lookups a record needs cached for the record's duration. */
export class CouplingResolver {
  private readonly cache = new Map<string, string | undefined>();

  constructor(private readonly deps: SyncDeps) {}

  forget(): void {
    this.cache.clear();
  }

  private async memo(key: string, f: () => Promise<string | undefined>): Promise<string | undefined> {
    if (this.cache.has(key)) return this.cache.get(key);
    const v = await f();
    this.cache.set(key, v);
    return v;
  }

  private async bcIdOf(mapping: TableMapping, value: string, bcKey: 'code' | 'id'): Promise<string | undefined> {
    if (bcKey === 'id') return value;
    const keyField = bcCodeField(mapping);
    const code = value.includes('|') ? value.slice(value.indexOf('|') + 1) : value;
    // Item/Resource Units of Measure are keyed by (owner, code): 'PCS' alone matches every item's PCS.
    const owner = value.includes('|') ? UNIT_OWNER_FIELD[mapping.bc.entitySet] : undefined;
    const ownerClause = owner ? ` and ${owner} eq ${odataLiteral(value.slice(0, value.indexOf('|')))}` : '';
    const page = await this.deps.bc.listPage(bcTarget(mapping), {
      filter: `${keyField} eq ${odataLiteral(code)}${ownerClause}`,
      select: ['id', keyField],
      pageSize: 2,
    });
    return page.items.length === 1 ? page.items[0]?.id : undefined;
  }

  /** The mapping model's lookup port: BC code/id ⇄ coupled Dataverse id. */
  readonly lookup: LookupResolver = async (mappingName, sourceId, { direction, bcKey, via }) => {
    if (direction !== 'ToIntegrationTable') return this.toBc(mappingName, sourceId, bcKey);
    if (via !== 'contactCompany') return this.toDataverse(mappingName, sourceId, bcKey);
    const number = await this.linkedNumber(mappingName, sourceId);
    return number ? this.toDataverse(mappingName, number, 'code') : undefined;
  };

  /**
   * The customer (CUSTOMER) or vendor (VENDOR) number a company contact's business relation links to: BC's
   * opportunity names its company as a contact number (CT…), never the customer's.
   */
  private async linkedNumber(mappingName: string, contactNumber: string): Promise<string | undefined> {
    const linkTo = mappingName === 'VENDOR' ? 'Vendor' : 'Customer';
    return this.memo(`link|${linkTo}|${contactNumber}`, async () => {
      const page = await this.deps.bc.listPage(
        { side: 'bc', kind: 'customApi', entitySet: 'contactBusinessRelations' },
        { filter: `contactNumber eq ${odataLiteral(contactNumber)} and linkToTable eq ${odataLiteral(linkTo)}`, pageSize: 1 },
      );
      const number = page.items[0]?.values.linkNumber;
      return typeof number === 'string' && number !== '' ? number : undefined;
    });
  }

  async toDataverse(mappingName: string, bcValue: string, bcKey: 'code' | 'id'): Promise<string | undefined> {
    return this.memo(`dv|${mappingName}|${bcKey}|${bcValue}`, async () => {
      const mapping = await this.deps.mappings.get(mappingName);
      if (!mapping) return undefined;
      const bcId = await this.bcIdOf(mapping, bcValue, bcKey);
      if (!bcId) return undefined;
      return (await this.deps.couplings.getByBcId(mappingName, idKey(bcId)))?.dataverseId;
    });
  }

  async toBc(mappingName: string, dataverseId: string, bcKey: 'code' | 'id'): Promise<string | undefined> {
    return this.memo(`bc|${mappingName}|${bcKey}|${dataverseId}`, async () => {
      const coupling = await this.deps.couplings.getByDataverseId(mappingName, idKey(dataverseId));
      if (!coupling) return undefined;
      if (bcKey === 'id') return coupling.bcId;
      const mapping = await this.deps.mappings.get(mappingName);
      if (!mapping) return undefined;
      const keyField = bcCodeField(mapping);
      const record = await this.deps.bc.get(bcTarget(mapping), coupling.bcId, ['id', keyField]);
      const code = record?.values[keyField];
      return typeof code === 'string' ? code : undefined;
    });
  }

  /**
   * Option couplings (PAYMENT TERMS…) are few: load them once per record, keyed by BC SystemId and by code, so the
   * mapping model can translate options synchronously.
   */
  async mapOptions(mapping: TableMapping): Promise<MapRecordOptions> {
    const optionMappings = new Set<string>();
    for (const f of mapping.fields) if (f.transformation?.kind === 'optionMap') optionMappings.add(f.transformation.optionMapping);
    const pairs = new Map<string, Record<string, number>>();
    for (const name of optionMappings) {
      const om = await this.deps.mappings.get(name);
      const table: Record<string, number> = {};
      let continuation: string | undefined;
      do {
        const page = await this.deps.couplings.list(name, { pageSize: 1000, continuation });
        for (const c of page.items) {
          const option = Number(c.dataverseId);
          if (!Number.isFinite(option)) continue;
          table[c.bcId] = option;
          if (om) {
            const keyField = bcCodeField(om);
            const record = await this.deps.bc.get(bcTarget(om), c.bcId, ['id', keyField]);
            const code = record?.values[keyField];
            if (typeof code === 'string') table[code] = option;
          }
        }
        continuation = page.continuation;
      } while (continuation);
      pairs.set(name, table);
    }
    const lcyCode = this.deps.options.lcyCode;
    let lcy: MapRecordOptions['lcy'];
    if (lcyCode) {
      const id = await lcyCurrencyId(this.deps.dataverse as RecordGateway, lcyCode, this.deps.clock, async () => {
        const page = await this.deps.dataverse.listPage(
          {
            side: 'dataverse',
            entitySet: 'transactioncurrencies',
            logicalName: 'transactioncurrency',
            primaryKey: 'transactioncurrencyid',
          },
          { filter: `isocurrencycode eq ${odataLiteral(lcyCode)}`, select: ['transactioncurrencyid'], pageSize: 1 },
        );
        return page.items[0]?.id;
      });
      lcy = { code: lcyCode, transactionCurrencyId: id };
    }
    return { optionPairs: (name) => pairs.get(name), lcy };
  }
}

/** Finds the source-side record a missing reference points at (by SystemId, or by code/number). */
export async function findSourceRecordId(
  deps: SyncDeps,
  parent: TableMapping,
  side: Side,
  ref: MissingReference,
): Promise<string | undefined> {
  if (side === 'dataverse' || ref.bcKey === 'id') return ref.sourceValue;
  const keyField = bcCodeField(parent);
  const code = ref.sourceValue.includes('|') ? ref.sourceValue.slice(ref.sourceValue.indexOf('|') + 1) : ref.sourceValue;
  const page = await deps.bc.listPage(bcTarget(parent), {
    filter: `${keyField} eq ${odataLiteral(code)}`,
    select: ['id', keyField],
    pageSize: 2,
  });
  return page.items.length === 1 ? page.items[0]?.id : undefined;
}
