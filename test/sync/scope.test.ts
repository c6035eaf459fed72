import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TableMapping } from '../../shared/domain/mappings/schema';
import { bcTarget, dataverseTarget, recordSelect } from '../../shared/domain/mappings/targets';
import { evaluateFilter } from '../../shared/domain/odata/filter';
import { resolveFilter } from '../../shared/domain/odata/literal';
import type { RecordGateway, Side, VersionedRecord } from '../../shared/domain/ports';
import { inScope } from '../../shared/domain/sync/scope';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { type Stack, startStack } from '../support/stack';

/**
 * The engine decides a record's table filter on the record it read (`evaluateFilter`) and asks the side only when
 * unsure. Here every default mapping's filter, on each side, is put to both: the evaluator's answer on the record
 * the engine reads (its own `$select`) and the simulator's answer to `key eq id and (filter)`. They must agree
 * whenever the evaluator answers, and `inScope` must always give the side's answer.
 */
describe('table filters: the evaluator answers as the side does', () => {
  let stack: Stack;
  let rt: Runtime;
  let companyId: string;
  let otherCompanyId: string;
  const bcHeaders = { Authorization: 'Bearer test', 'Content-Type': 'application/json' };
  const dvHeaders = () => ({
    Authorization: `Bearer ${stack.dataverse.adminUserToken}`,
    'Content-Type': 'application/json',
    Accept: 'application/json',
    'OData-Version': '4.0',
    Prefer: 'return=representation',
  });
  const bcPost = async (entitySet: string, body: Record<string, unknown>) => {
    const res = await fetch(`${stack.bc.apiBase()}/${entitySet}`, { method: 'POST', headers: bcHeaders, body: JSON.stringify(body) });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as Record<string, unknown>;
  };
  const dvPost = async (entitySet: string, body: Record<string, unknown>) => {
    const res = await fetch(`${stack.dataverse.apiBase}/${entitySet}`, {
      method: 'POST',
      headers: dvHeaders(),
      body: JSON.stringify(body),
    });
    expect(res.status, await res.clone().text()).toBe(201);
    return (await res.json()) as Record<string, unknown>;
  };

  beforeAll(async () => {
    stack = await startStack({ functions: [] });
    rt = await getRuntime();
    companyId = String((await dvPost('bcbi_companies', { bcbi_name: 'Scope A', bcbi_externalid: 'scope-a' })).bcbi_companyid);
    otherCompanyId = String((await dvPost('bcbi_companies', { bcbi_name: 'Scope B', bcbi_externalid: 'scope-b' })).bcbi_companyid);
    // Records on both sides of each default filter (the demo seed holds mostly in-scope ones).
    for (const blocked of ['Ship', 'Invoice', 'All']) await bcPost('customers', { displayName: `Scope customer ${blocked}`, blocked });
    for (const blocked of ['Payment', 'All']) await bcPost('vendors', { displayName: `Scope vendor ${blocked}`, blocked });
    await bcPost('items', { displayName: 'Scope blocked item', blocked: true });
    const company = (id: string) => ({ 'bcbi_companyid@odata.bind': `/bcbi_companies(${id})` });
    for (const customertypecode of [3, 11, 1]) {
      await dvPost('accounts', { name: `Scope type ${customertypecode}`, customertypecode });
      await dvPost('accounts', { name: `Scope type ${customertypecode} A`, customertypecode, ...company(companyId) });
      await dvPost('accounts', { name: `Scope type ${customertypecode} B`, customertypecode, ...company(otherCompanyId) });
    }
    const inactive = await dvPost('accounts', { name: 'Scope inactive', customertypecode: 3 });
    const res = await fetch(`${stack.dataverse.apiBase}/accounts(${inactive.accountid})`, {
      method: 'PATCH',
      headers: { ...dvHeaders(), 'If-Match': '*' },
      body: JSON.stringify({ statecode: 1, statuscode: 2 }),
    });
    expect(res.status, await res.clone().text()).toBeLessThan(300);
    await dvPost('contacts', { firstname: 'Scope', lastname: 'Orphan' });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  /** Up to `n` records of the mapping's table on one side, read as the engine reads them. */
  async function records(mapping: TableMapping, side: Side, company: string | undefined, n = 40): Promise<VersionedRecord[]> {
    const gateway = (side === 'bc' ? rt.syncDeps.bc : rt.syncDeps.dataverse) as RecordGateway;
    const target = side === 'bc' ? bcTarget(mapping) : dataverseTarget(mapping);
    const page = await gateway.listPage(target, { select: recordSelect(mapping, side, company), pageSize: n });
    return page.items;
  }

  async function sideSays(mapping: TableMapping, side: Side, filter: string, record: VersionedRecord): Promise<boolean> {
    const gateway = (side === 'bc' ? rt.syncDeps.bc : rt.syncDeps.dataverse) as RecordGateway;
    const target = side === 'bc' ? bcTarget(mapping) : dataverseTarget(mapping);
    const key = side === 'bc' ? 'id' : mapping.dataverse.primaryKey;
    const page = await gateway.listPage(target, { filter: `${key} eq ${record.id} and (${filter})`, select: [key], pageSize: 1 });
    return page.items.length > 0;
  }

  for (const company of ['with a company', 'single company'] as const) {
    it(`agrees with the simulators on every default mapping's filters (${company})`, async () => {
      const id = company === 'with a company' ? companyId : undefined;
      const decided: Record<string, { in: number; out: number; asked: number }> = {};
      for (const mapping of await rt.syncDeps.mappings.all()) {
        if (mapping.optionMapping) continue;
        for (const side of ['bc', 'dataverse'] as const) {
          const filter = resolveFilter(side === 'bc' ? mapping.tableFilter : mapping.integrationTableFilter, id);
          if (!filter) continue;
          const tally = { in: 0, out: 0, asked: 0 };
          const gateway = (side === 'bc' ? rt.syncDeps.bc : rt.syncDeps.dataverse) as RecordGateway;
          const target = side === 'bc' ? bcTarget(mapping) : dataverseTarget(mapping);
          const key = side === 'bc' ? 'id' : mapping.dataverse.primaryKey;
          for (const record of await records(mapping, side, id)) {
            const truth = await sideSays(mapping, side, filter, record);
            const answer = evaluateFilter(filter, record.values);
            const where = `${mapping.name} ${side} ${record.id} (${filter}) on ${JSON.stringify(record.values)}`;
            if (answer === undefined) tally.asked++;
            else {
              expect(answer, where).toBe(truth);
              tally[answer ? 'in' : 'out']++;
            }
            expect(await inScope(gateway, target, key, filter, record), where).toBe(truth);
          }
          decided[`${mapping.name} ${side}`] = tally;
        }
      }
      // The common case is decided on the record: customers and accounts, inside and outside their filters.
      expect(decided['CUSTOMER bc']).toMatchObject({ asked: 0 });
      expect(decided['CUSTOMER bc']?.in).toBeGreaterThan(0);
      expect(decided['CUSTOMER bc']?.out).toBeGreaterThanOrEqual(3);
      expect(decided['CUSTOMER dataverse']).toMatchObject({ asked: 0 });
      expect(decided['CUSTOMER dataverse']?.in).toBeGreaterThan(0);
      expect(decided['CUSTOMER dataverse']?.out).toBeGreaterThanOrEqual(company === 'with a company' ? 7 : 5);
      expect(decided['VENDOR bc']).toMatchObject({ asked: 0 });
      expect(decided['VENDOR bc']?.out).toBeGreaterThanOrEqual(2);
      // A navigation path (the contact's parent account) is the side's to answer.
      expect(decided['CONTACT dataverse']?.asked).toBeGreaterThan(0);
    });
  }
});
