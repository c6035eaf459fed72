import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BcSimulator, startBcSimulator } from '../../dev/bc-simulator';
import { defaultMappings } from '../../shared/domain/mappings';
import type { TableMapping } from '../../shared/domain/mappings/schema';
import { bcTarget } from '../../shared/domain/mappings/targets';
import { allDefaultMappingSetups } from '../../shared/queues';

/**
 * Every BC field a default mapping names must exist on the BC page the engine reads and writes for it
 * (`bcTarget`: the extension page when the mapping has one). A field that does not exist makes BC answer 400 on
 * the first write, or silently reads as undefined, so this pins the mappings to the pages.
 */

/** Every BC property a mapping refers to: field mappings, match criteria, table filter, format placeholders, unit owners. */
function bcProperties(m: TableMapping): Array<{ property: string; where: string }> {
  const out: Array<{ property: string; where: string }> = [];
  for (const f of m.fields) {
    if (f.status !== 'Enabled') continue;
    if (f.bcField) out.push({ property: f.bcField, where: `field ${f.alField ?? f.bcField}` });
    const t = f.transformation;
    if (t?.kind === 'unit' && t.ownerBcField) out.push({ property: t.ownerBcField, where: `unit owner of ${f.bcField}` });
    if (t?.kind === 'format')
      for (const [, p] of t.template.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g))
        if (p && p !== 'value') out.push({ property: p, where: `format of ${f.bcField}` });
  }
  for (const r of m.couplingRules.matchFields) out.push({ property: r.bcField, where: 'match criterion' });
  for (const [, p] of m.tableFilter.matchAll(/([A-Za-z_][A-Za-z0-9_]*) (?:eq|ne|gt|ge|lt|le) /g))
    if (p) out.push({ property: p, where: 'table filter' });
  return out;
}

describe('default mappings against the BC simulator pages', () => {
  let sim: BcSimulator;
  const headers = { Authorization: 'Bearer mapping-fields' };

  beforeAll(async () => {
    sim = await startBcSimulator({ port: 0 });
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('every enabled BC field of every default mapping (all setups) is a property of a row of its page', async () => {
    const mappings = new Map<string, TableMapping>();
    for (const setup of allDefaultMappingSetups())
      for (const m of defaultMappings(setup)) mappings.set(`${m.name}|${JSON.stringify(m.fields.map((f) => f.bcField))}`, m);
    const rows = new Map<string, Record<string, unknown>>();
    const missing: string[] = [];
    for (const m of mappings.values()) {
      const target = bcTarget(m);
      const base = target.kind === 'apiV2' ? sim.apiBase() : sim.customApiBase();
      const key = `${target.kind}/${target.entitySet}`;
      let row = rows.get(key);
      if (!row) {
        const res = await fetch(`${base}/${target.entitySet}?$top=1`, { headers });
        expect(res.status, `${m.name}: GET ${key}`).toBe(200);
        const body = (await res.json()) as { value: Array<Record<string, unknown>> };
        row = body.value[0];
        expect(row, `${m.name}: the demo company has no row in ${key}`).toBeDefined();
        if (!row) continue;
        rows.set(key, row);
      }
      for (const { property, where } of bcProperties(m)) {
        if (!(property in row)) missing.push(`${m.name} (${key}) ${where}: ${property}`);
      }
    }
    expect([...new Set(missing)]).toEqual([]);
    // Sanity: the check covered the Sales set, not just the base mappings.
    expect([...rows.keys()]).toEqual(
      expect.arrayContaining([
        'customApi/opportunities',
        'customApi/postedSalesInvoiceLines',
        'customApi/salesOrderLines',
        'customApi/unitGroups',
      ]),
    );
  });
});
