import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeEvent } from '../../shared/domain/change-event';
import { recordId as parseRecordId } from '../../shared/domain/ids';
import { syncRecord } from '../../shared/domain/sync/sync-record';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { type Stack, startStack } from '../support/stack';

/** Option mappings (BC "CDS Int. Option Couple"): BC codes ↔ Dataverse option values, missing options appended. */
describe('option mappings', () => {
  let stack: Stack;
  let rt: Runtime;
  const bc = { Authorization: 'Bearer t', 'Content-Type': 'application/json' };
  const event = (mapping: string, recordId: string): ChangeEvent => ({
    v: 1,
    mapping,
    source: 'bc',
    recordId: parseRecordId(recordId),
    changeType: 'updated',
    origin: 'full-sync',
    correlationId: `opt-${mapping}`,
    observedAt: new Date().toISOString(),
    deferrals: 0,
  });
  const options = async (column: string) => {
    const res = await fetch(
      `${stack.dataverse.apiBase}/EntityDefinitions(LogicalName='account')/Attributes(LogicalName='${column}')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet`,
      { headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}` } },
    );
    const body = (await res.json()) as {
      OptionSet: { Options: Array<{ Value: number; Label: { LocalizedLabels: Array<{ Label: string }> } }> };
    };
    return body.OptionSet.Options.map((o) => ({ value: o.Value, label: o.Label.LocalizedLabels[0]?.Label ?? '' }));
  };

  beforeAll(async () => {
    stack = await startStack({ functions: [] });
    rt = await getRuntime();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('couples a code to the option of the same label and appends an option for a code that has none', async () => {
    const created = await fetch(`${stack.bc.apiBase()}/paymentTerms`, {
      method: 'POST',
      headers: bc,
      body: JSON.stringify({ code: 'NET 45', displayName: 'Net 45 days' }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const net45 = (await created.json()) as { id: string };
    const before = await options('paymenttermscode');
    const existing = before.find((o) => o.label === 'Net 45');
    expect(existing).toBeDefined();
    const coupled = await syncRecord(event('PAYMENT TERMS', net45.id), rt.syncDeps);
    expect(coupled).toMatchObject({ result: 'coupled', dataverseId: String(existing?.value) });

    const list = (
      (await (
        await fetch(`${stack.bc.apiBase()}/paymentTerms?$filter=${encodeURIComponent("code eq '30 DAYS'")}`, { headers: bc })
      ).json()) as { value: Array<{ id: string }> }
    ).value;
    const thirty = list[0];
    if (!thirty) throw new Error('no 30 DAYS payment terms in the demo company');
    const inserted = await syncRecord(event('PAYMENT TERMS', thirty.id), rt.syncDeps);
    expect(inserted.result).toBe('inserted');
    const after = await options('paymenttermscode');
    expect(after).toHaveLength(before.length + 1);
    expect(after.find((o) => String(o.value) === inserted.dataverseId)?.label).toBe('30 DAYS');
    // Synchronizing again changes nothing.
    expect((await syncRecord(event('PAYMENT TERMS', thirty.id), rt.syncDeps)).result).toBe('unchanged');
    expect(await options('paymenttermscode')).toHaveLength(after.length);
  });

  it('writes the coupled option on an account, and blank for a code with no coupling', async () => {
    const [relecloud] = (
      (await (
        await fetch(`${stack.bc.customApiBase()}/customers?$filter=${encodeURIComponent("displayName eq 'Relecloud'")}`, { headers: bc })
      ).json()) as { value: Array<{ id: string; paymentTermsId: string; shippingAgentCode: string }> }
    ).value;
    if (!relecloud) throw new Error('no Relecloud');
    const terms = await rt.stores.couplings.getByBcId('PAYMENT TERMS', relecloud.paymentTermsId);
    expect(terms).toBeDefined();
    const out = await syncRecord({ ...event('CUSTOMER', relecloud.id), origin: 'manual' }, rt.syncDeps);
    expect(out.result, out.message).toBe('inserted');
    const account = (await (
      await fetch(`${stack.dataverse.apiBase}/accounts(${out.dataverseId})?$select=paymenttermscode,address1_shippingmethodcode`, {
        headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}` },
      })
    ).json()) as { paymenttermscode: number | null; address1_shippingmethodcode: number | null };
    expect(account.paymenttermscode).toBe(Number(terms?.dataverseId));
    // SHIPPING AGENT was never synchronized: BC's rule writes the option blank and the record still syncs.
    expect(relecloud.shippingAgentCode).not.toBe('');
    expect(account.address1_shippingmethodcode).toBeNull();
  });
});
