import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../shared/domain/change-event';
import { recordId as parseRecordId } from '../../shared/domain/ids';
import type { FieldMapping, TableMapping } from '../../shared/domain/mappings/schema';
import { syncRecord } from '../../shared/domain/sync/sync-record';
import type { SyncOutcome } from '../../shared/domain/sync/types';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { type Stack, startStack } from '../support/stack';

/**
 * Every default mapping, round trip, against the metadata-enforcing Dataverse simulator (valid for create /
 * update, required columns, option sets, state rules): a BC record is created in (or coupled with) Dataverse,
 * a mapped BC change is written to Dataverse, and where the mapping is bidirectional a Dataverse change comes back
 * to BC. A mapping whose payload Dataverse would reject fails here with Dataverse's own error.
 *
 * Two setups cover both variants of each switch: the defaults (unit groups, customer price groups, legacy orders)
 * and the other side (units of measure, extended pricing, bidirectional orders).
 */

/** Team ownership: rows get the demo owner team, so no record waits for a salesperson coupled to a Dataverse user. */
const TEAM = { OWNERSHIP_MODEL: 'Team', DATAVERSE_OWNING_TEAM: 'BCI - CRONUS USA, Inc.' };
const SETUPS: Array<{ name: string; env: Record<string, string> }> = [
  { name: 'defaults (unit groups, price groups, legacy orders)', env: TEAM },
  {
    name: 'units of measure, extended pricing, bidirectional orders',
    env: {
      ...TEAM,
      UNIT_GROUP_MAPPING: 'false',
      EXTENDED_PRICING: 'true',
      SALES_ORDER_INTEGRATION: 'bidirectional',
      AUTO_CREATE_SALES_ORDERS: 'false',
    },
  },
];

/** Dataverse alternate keys a BC record is created under: a BC record whose key a demo row already has is not picked. */
const KEY_COLUMNS = ['productnumber', 'isocurrencycode', 'accountnumber', 'ordernumber', 'invoicenumber'];

/** Mappings that are written with their parent (lines), or that create options instead of rows. */
const CHILD_OR_OPTION = (m: TableMapping) => m.parent !== undefined || m.optionMapping === true;

/**
 * Left out here, with the reason: SALESORDER-ORDER (and its lines) starts in Sales, not in BC: the lead-to-cash
 * suites round-trip it against the same enforcing simulator (lead-to-cash.test.ts legacy, bidirectional-orders.test.ts
 * both directions). OPPORTUNITY is in: its account comes from the contact company's business relation.
 */
const NOT_COVERED = new Set(['SALESORDER-ORDER']);

const event = (mapping: string, source: 'bc' | 'dataverse', recordId: string): ChangeEvent => ({
  v: 1,
  mapping,
  source,
  recordId: parseRecordId(recordId),
  changeType: 'updated',
  origin: 'manual',
  correlationId: `roundtrip-${mapping}-${Math.random().toString(36).slice(2)}`,
  observedAt: new Date().toISOString(),
  deferrals: 0,
});

const OK_FIRST = ['inserted', 'coupled', 'modified', 'unchanged'];

/** A plain field (no lookup, no constant) this pass writes, whose BC value the test can change. */
function plainField(
  m: TableMapping,
  pass: 'ToIntegrationTable' | 'FromIntegrationTable',
  sample: Record<string, unknown>,
): FieldMapping | undefined {
  return m.fields.find(
    (f) =>
      f.status === 'Enabled' &&
      f.bcField !== null &&
      f.dataverseColumn !== null &&
      !f.constant &&
      !f.transformation &&
      !f.bcExtension &&
      (f.direction === 'Bidirectional' || f.direction === pass) &&
      ['string', 'number'].includes(typeof sample[f.bcField]) &&
      // Keys the coupling rules match on stay put; so do numbers and codes other rows point at.
      !m.couplingRules.matchFields.some((k) => k.bcField === f.bcField) &&
      !['number', 'code', 'no', 'sequence'].includes(f.bcField),
  );
}

/** Parents before children, as a full sync runs them. */
function dependencyOrder(mappings: TableMapping[]): TableMapping[] {
  const out: TableMapping[] = [];
  const names = new Set(mappings.map((m) => m.name));
  while (out.length < mappings.length) {
    const next = mappings.find((m) => !out.includes(m) && m.dependencies.every((d) => !names.has(d) || out.some((o) => o.name === d)));
    if (!next) throw new Error('dependency cycle');
    out.push(next);
  }
  return out;
}

const changed = (v: unknown, n: number): string | number => (typeof v === 'number' ? v + n : `RT ${n} ${String(v)}`.slice(0, 30));

for (const setup of SETUPS) {
  describe(`default mappings round trip: ${setup.name}`, () => {
    let stack: Stack;
    let rt: Runtime;
    beforeAll(async () => {
      stack = await startStack({ functions: [], env: setup.env });
      rt = await getRuntime();
    });
    afterAll(async () => {
      await stack?.stop();
    });

    const bcBase = (m: TableMapping) => (m.bc.kind === 'customApi' ? stack.bc.customApiBase() : stack.bc.apiBase());
    const bcHeaders = { Authorization: 'Bearer roundtrip', 'Content-Type': 'application/json' };
    const dvHeaders = () => ({ Authorization: `Bearer ${stack.dataverse.adminUserToken}`, 'Content-Type': 'application/json' });
    const bcRows = async (m: TableMapping): Promise<Array<Record<string, unknown>>> => {
      const q = m.tableFilter ? `?$filter=${encodeURIComponent(m.tableFilter)}` : '';
      const res = await fetch(`${bcBase(m)}/${m.bc.entitySet}${q}`, { headers: bcHeaders });
      expect(res.status, `${m.name}: GET ${m.bc.entitySet}`).toBe(200);
      return ((await res.json()) as { value: Array<Record<string, unknown>> }).value;
    };
    const bcPatch = async (m: TableMapping, id: string, body: Record<string, unknown>) => {
      const url = `${bcBase(m)}/${m.bc.entitySet}(${id})`;
      const etag = String(((await (await fetch(url, { headers: bcHeaders })).json()) as Record<string, unknown>)['@odata.etag']);
      return fetch(url, { method: 'PATCH', headers: { ...bcHeaders, 'If-Match': etag }, body: JSON.stringify(body) });
    };
    const dvRow = async (m: TableMapping, id: string) =>
      (await (await fetch(`${stack.dataverse.apiBase}/${m.dataverse.entitySet}(${id})`, { headers: dvHeaders() })).json()) as Record<
        string,
        unknown
      >;
    /**
     * Demo rows already in Dataverse under a BC record's key (the demo products): coupled first, as the admin does
     * (Set Up Coupling). Returns the BC records whose key no Dataverse row has, which the first sync creates.
     */
    const coupleExisting = async (m: TableMapping, rows: Array<Record<string, unknown>>) => {
      const key = m.fields.find((f) => f.status === 'Enabled' && f.bcField && f.dataverseColumn && KEY_COLUMNS.includes(f.dataverseColumn));
      if (!key?.bcField || !key.dataverseColumn) return rows;
      const res = await fetch(`${stack.dataverse.apiBase}/${m.dataverse.entitySet}?$select=${key.dataverseColumn}`, {
        headers: dvHeaders(),
      });
      const taken = new Map(
        ((await res.json()) as { value: Array<Record<string, unknown>> }).value.map((r) => [
          r[key.dataverseColumn as string],
          String(r[m.dataverse.primaryKey]),
        ]),
      );
      const fresh: Array<Record<string, unknown>> = [];
      for (const r of rows) {
        const dvId = taken.get(r[key.bcField]);
        if (dvId === undefined) fresh.push(r);
        else if (!(await rt.stores.couplings.getByBcId(m.name, String(r.id).toLowerCase()))) {
          await rt.stores.couplings.couple({
            mapping: m.name,
            bcId: String(r.id).toLowerCase(),
            dataverseId: dvId.toLowerCase(),
            lastResult: 'coupled',
            lastSyncedAt: new Date().toISOString(),
            environment: rt.environment,
          });
        }
      }
      return fresh;
    };
    const sync = async (m: TableMapping, source: 'bc' | 'dataverse', id: string): Promise<SyncOutcome> =>
      syncRecord(event(m.name, source, id), rt.syncDeps);

    it("refuses enabling a field onto a column Dataverse sets itself (the price list item's productnumber)", async () => {
      const all = await rt.stores.mappings.list();
      const prices = all.find((m) => m.name === 'SALESPRC-PRODPRICE' || m.name === 'PLLINE-PRODPRICE') as TableMapping;
      const field = prices.fields.find((f) => f.dataverseColumn === 'productnumber');
      expect(field?.status).toBe('Disabled');
      const enabled = { ...prices, fields: prices.fields.map((f) => (f === field ? { ...f, status: 'Enabled' } : f)) };
      await expect(rt.stores.mappings.put(enabled)).rejects.toThrow(/productnumber' of productpricelevel is read-only/);
    });

    it('creates, updates and (where bidirectional) updates back every default mapping', { timeout: 240_000 }, async () => {
      const all = await rt.stores.mappings.list();
      const mappings = dependencyOrder(
        all.filter((m) => m.enabled && !CHILD_OR_OPTION(m) && m.direction !== 'FromIntegrationTable' && !NOT_COVERED.has(m.name)),
      );
      expect(mappings.length).toBeGreaterThan(8);
      const report: string[] = [];
      for (const m of mappings) {
        const rows = await bcRows(m);
        expect(rows.length, `${m.name}: the BC demo company has records for it`).toBeGreaterThan(0);
        const fresh = new Set((await coupleExisting(m, rows)).map((r) => String(r.id)));
        // 1. BC → Dataverse: every record of the demo company, in dependency order as a full sync does. Dataverse
        // refuses none (no DV.* error); a record may wait for a parent its own filter keeps out (a blocked resource).
        const results = new Map<string, SyncOutcome>();
        for (const r of rows) {
          const outcome = await sync(m, 'bc', String(r.id));
          const where = `${m.name} create ${String(r.id)}: ${outcome.message ?? ''}`;
          if (outcome.result === 'failed') expect(outcome.code, where).toBe('DEP.PARENT_NOT_COUPLED');
          else expect([...OK_FIRST, 'skipped'], where).toContain(outcome.result);
          results.set(String(r.id), outcome);
        }
        // The round trip goes on with a record this run created (or, when a dependency sync created them all, any).
        const ok = rows.filter((r) => OK_FIRST.includes((results.get(String(r.id)) as SyncOutcome).result));
        const row = (ok.find((r) => fresh.has(String(r.id))) ?? ok[0]) as Record<string, unknown>;
        expect(row, `${m.name}: a record reached Dataverse`).toBeDefined();
        const id = String(row.id);
        const dvId = String((results.get(id) as SyncOutcome).dataverseId);
        report.push(`${m.name}: ${[...results.values()].map((o) => o.result).join(',')}`);
        // 2. A BC change reaches Dataverse (update).
        const field = plainField(m, 'ToIntegrationTable', row);
        if (field?.bcField && field.dataverseColumn) {
          const value = changed(row[field.bcField], 1);
          const patched = await bcPatch(m, id, { [field.bcField]: value });
          if (patched.status === 200) {
            report.push(`  ${m.name} update ${field.bcField}`);
            const second = await sync(m, 'bc', id);
            expect(second.result, `${m.name} update ${field.bcField}: ${second.message ?? ''}`).toBe('modified');
            expect((await dvRow(m, dvId))[field.dataverseColumn], `${m.name}: ${field.dataverseColumn}`).toBe(value);
          }
        }
        // 3. Bidirectional: a Dataverse change comes back to BC.
        if (m.direction === 'Bidirectional') {
          const back = plainField(m, 'FromIntegrationTable', row);
          if (back?.bcField && back.dataverseColumn && typeof row[back.bcField] === 'string') {
            const value = changed(row[back.bcField], 2);
            const res = await fetch(`${stack.dataverse.apiBase}/${m.dataverse.entitySet}(${dvId})`, {
              method: 'PATCH',
              headers: { ...dvHeaders(), 'If-Match': '*' },
              body: JSON.stringify({ [back.dataverseColumn]: value }),
            });
            expect(res.status, `${m.name}: Dataverse PATCH ${await res.clone().text()}`).toBe(204);
            report.push(`  ${m.name} back ${back.dataverseColumn}`);
            const third = await sync(m, 'dataverse', dvId);
            expect(third.result, `${m.name} update back ${back.dataverseColumn}: ${third.message ?? ''}`).toBe('modified');
            const bc = (await (await fetch(`${bcBase(m)}/${m.bc.entitySet}(${id})`, { headers: bcHeaders })).json()) as Record<
              string,
              unknown
            >;
            expect(bc[back.bcField], `${m.name}: ${back.bcField}`).toBe(value);
          }
        }
      }
      // Every mapping reached Dataverse; the line below each lists what was round-tripped.
      for (const m of mappings)
        expect(
          report.some((r) => r.startsWith(`${m.name}:`)),
          m.name,
        ).toBe(true);

      // What BC's own integration leaves in a real environment (issue 17):
      const dvList = async (path: string) =>
        (
          (await (await fetch(`${stack.dataverse.apiBase}/${path}`, { headers: dvHeaders() })).json()) as {
            value: Array<Record<string, unknown>>;
          }
        ).value;
      // currencies carry BC's exchange rate (EUR 0.92 per USD in the demo) and a precision;
      const [eur] = await dvList(`transactioncurrencies?$filter=isocurrencycode eq 'EUR'&$select=exchangerate,currencyprecision`);
      expect(eur).toMatchObject({ exchangerate: 0.92, currencyprecision: 2 });
      // products are published, with a default unit and the default price list;
      const products = await dvList('products?$select=productnumber,statecode,statuscode,_defaultuomid_value,_pricelevelid_value');
      expect(products.length).toBeGreaterThan(5);
      for (const p of products) {
        expect(p, String(p.productnumber)).toMatchObject({ statecode: 0, statuscode: 1 });
        expect(p._defaultuomid_value, String(p.productnumber)).toEqual(expect.any(String));
        expect(p._pricelevelid_value, String(p.productnumber)).toEqual(expect.any(String));
      }
      // price list items have a unit, the product's number (copied by Dataverse) and their price list's currency;
      const items = await dvList('productpricelevels?$select=_uomid_value,productnumber,_productid_value,_transactioncurrencyid_value');
      expect(items.length).toBeGreaterThan(5);
      for (const i of items) {
        expect(i._uomid_value).toEqual(expect.any(String));
        const product = products.find((p) => p.productid === i._productid_value);
        expect(product, String(i._productid_value)).toBeDefined();
        expect(i.productnumber).toBe(product?.productnumber);
      }
      // invoice lines of catalogue products have a unit and the amounts set after the insert.
      const lines = await dvList('invoicedetails?$select=_productid_value,_uomid_value,baseamount,extendedamount,priceperunit,quantity');
      expect(lines.length).toBeGreaterThan(0);
      for (const l of lines.filter((x) => x._productid_value)) {
        expect(l._uomid_value).toEqual(expect.any(String));
        expect(Number(l.baseamount)).toBeGreaterThan(0);
      }
    });
  });
}
