import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { type Stack, startStack } from '../support/stack';

/** Mapping changes are validated against the live metadata of both systems (issue 5). */
describe('mapping changes checked against metadata', () => {
  let stack: Stack;
  let rt: Runtime;
  beforeAll(async () => {
    stack = await startStack({ functions: [] });
    rt = await getRuntime();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('refuses a field mapping to a Dataverse column that does not exist, naming it, and keeps the old mapping', async () => {
    const customer = await rt.stores.mappings.get('CUSTOMER');
    if (!customer) throw new Error('no CUSTOMER');
    const bad = {
      ...customer,
      fields: [
        ...customer.fields,
        { bcField: 'website', alField: 'Home Page', dataverseColumn: 'new_doesnotexist', direction: 'Bidirectional' },
      ],
    };
    await expect(rt.stores.mappings.put(bad)).rejects.toThrow(/new_doesnotexist/);
    const after = await rt.stores.mappings.get('CUSTOMER', { fresh: true });
    expect(after?.fields.some((f) => f.dataverseColumn === 'new_doesnotexist')).toBe(false);
  });

  it('accepts a custom field mapping whose column exists on both sides', async () => {
    const customer = await rt.stores.mappings.get('CUSTOMER');
    if (!customer) throw new Error('no CUSTOMER');
    const ok = {
      ...customer,
      fields: [
        ...customer.fields,
        // On the BC extension's customers page, which CUSTOMER reads through (bc-extension/src/pages/CustomerApi.Page.al).
        {
          bcField: 'blocked',
          alField: 'Blocked',
          dataverseColumn: 'description',
          direction: 'ToIntegrationTable',
        },
      ],
    };
    const saved = await rt.stores.mappings.put(ok);
    expect(saved.fields.some((f) => f.bcField === 'blocked')).toBe(true);
  });

  it('does not refuse a mapping because a BC table has no records yet (its fields are unknown, not missing)', async () => {
    const reset = await fetch(`${stack.bc.url}/_sim/reset?seed=empty`, { method: 'POST' });
    expect(reset.status).toBe(200);
    rt.bc.clearMetadataCache();
    const customer = await rt.stores.mappings.get('CUSTOMER', { fresh: true });
    if (!customer) throw new Error('no CUSTOMER');
    const saved = await rt.stores.mappings.put({ ...customer, synchOnlyCoupledRecords: false });
    expect(saved.synchOnlyCoupledRecords).toBe(false);
    // A Dataverse column that does not exist is still refused.
    const bad = {
      ...customer,
      fields: [
        ...customer.fields,
        { bcField: 'website', alField: 'Home Page', dataverseColumn: 'new_missing', direction: 'Bidirectional' },
      ],
    };
    await expect(rt.stores.mappings.put(bad)).rejects.toThrow(/new_missing/);
  });
});
