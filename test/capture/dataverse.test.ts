import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeEventSchema } from '../../shared/domain/change-event';
import { until } from '../support/until';
import { activeCount, fn, receiveAll, type Stack, startStack } from './harness';

interface Delivery {
  primaryEntityId: string;
  initiatingUserId: string;
  state: string;
  attempts: Array<{ status?: number }>;
}

/** Dataverse → Service Bus: registration through the Web API, then real webhook deliveries from the simulator. */
describe('Dataverse webhooks into change events', () => {
  let s: Stack;
  let api: string;
  const as = (token: string) => ({ Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json' });
  const register = async () => {
    const res = await fetch(s.host.apiUrl('admin/dataverse-webhooks'), {
      method: 'POST',
      headers: { 'x-functions-key': s.host.masterKey },
    });
    expect(res.status).toBe(200);
    return (await res.json()) as {
      endpoint: string;
      created: string[];
      updated: string[];
      removed: string[];
      unchanged: string[];
      serviceEndpointId: string;
    };
  };
  const deliveries = async () => ((await (await fetch(`${s.dv?.url}/_sim/webhooks`)).json()) as { deliveries: Delivery[] }).deliveries;
  const deliveredFor = (id: string) =>
    until(`the webhook for ${id} to be answered`, async () =>
      (await deliveries()).find((d) => d.primaryEntityId === id && d.state !== 'pending'),
    );

  beforeAll(async () => {
    s = await startStack({ functions: [fn('dataverse-webhook')], bc: false });
    api = s.dv?.apiBase ?? '';
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('registers the endpoint and Create/Update/Delete steps idempotently, and removes stale steps', async () => {
    const first = await register();
    expect(first.endpoint).toBe('created');
    expect(first.created).toEqual(
      expect.arrayContaining([
        'bc-dataverse-sync: Create of account',
        'bc-dataverse-sync: Update of account',
        'bc-dataverse-sync: Delete of account',
      ]),
    );
    const steps = (await (
      await fetch(
        `${api}/sdkmessageprocessingsteps?$filter=_eventhandler_value eq ${first.serviceEndpointId}&$select=name,filteringattributes,mode,stage`,
        {
          headers: as('dv-admin-token'),
        },
      )
    ).json()) as { value: Array<{ name: string; filteringattributes: string | null; mode: number; stage: number }> };
    const update = steps.value.find((st) => st.name === 'bc-dataverse-sync: Update of account');
    expect(update).toMatchObject({ mode: 1, stage: 40 });
    expect(update?.filteringattributes?.split(',')).toEqual(
      expect.arrayContaining(['name', 'address1_city', 'telephone1', 'customertypecode', 'statecode']),
    );
    expect(steps.value).toHaveLength(first.created.length);

    const second = await register();
    expect(second).toMatchObject({ endpoint: 'unchanged', created: [], updated: [], removed: [] });
    expect(second.unchanged).toHaveLength(first.created.length);

    // A step someone changed is put back; a step no mapping needs is removed.
    const stale = await fetch(`${api}/sdkmessageprocessingsteps`, {
      method: 'POST',
      headers: as('dv-admin-token'),
      body: JSON.stringify({
        name: 'bc-dataverse-sync: Update of lead',
        mode: 1,
        stage: 40,
        'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${first.serviceEndpointId})`,
      }),
    });
    expect(stale.status).toBe(204);
    const updateId = (
      (await (
        await fetch(
          `${api}/sdkmessageprocessingsteps?$filter=name eq 'bc-dataverse-sync: Update of account'&$select=sdkmessageprocessingstepid`,
          { headers: as('dv-admin-token') },
        )
      ).json()) as {
        value: Array<{ sdkmessageprocessingstepid: string }>;
      }
    ).value[0]?.sdkmessageprocessingstepid;
    const patched = await fetch(`${api}/sdkmessageprocessingsteps(${updateId})`, {
      method: 'PATCH',
      headers: as('dv-admin-token'),
      body: JSON.stringify({ filteringattributes: 'name' }),
    });
    expect(patched.status).toBe(204);
    const third = await register();
    expect(third.removed).toEqual(['bc-dataverse-sync: Update of lead']);
    expect(third.updated).toEqual(['bc-dataverse-sync: Update of account']);
    expect(third.created).toEqual([]);
  });

  it('turns an account created by a user into exactly one event, on the queue its customer type selects', async () => {
    const res = await fetch(`${api}/accounts`, {
      method: 'POST',
      headers: { ...as('dv-sales-token'), Prefer: 'return=representation' },
      body: JSON.stringify({ name: 'Webhook Customer Ltd', customertypecode: 3 }),
    });
    expect(res.status).toBe(201);
    const id = ((await res.json()) as { accountid: string }).accountid;
    const delivery = await deliveredFor(id);
    expect(delivery.attempts.map((a) => a.status)).toEqual([202]);
    const messages = await receiveAll(s.sbClient, 'sync-customer', 10, 1_000);
    expect(messages).toHaveLength(1);
    expect(changeEventSchema.parse(messages[0]?.body)).toMatchObject({
      mapping: 'CUSTOMER',
      source: 'dataverse',
      recordId: id,
      changeType: 'created',
      origin: 'webhook',
    });
    expect(activeCount(s.sb, 'sync-vendor')).toBe(0);
  });

  it('enqueues nothing for changes made by the integration user (our own writes)', async () => {
    const res = await fetch(`${api}/accounts`, {
      method: 'POST',
      headers: { ...as('dv-integration-token'), Prefer: 'return=representation' },
      body: JSON.stringify({ name: 'Written by the sync', customertypecode: 3 }),
    });
    const id = ((await res.json()) as { accountid: string }).accountid;
    const patch = await fetch(`${api}/accounts(${id})`, {
      method: 'PATCH',
      headers: as('dv-integration-token'),
      body: JSON.stringify({ name: 'Again by the sync' }),
    });
    expect(patch.status).toBe(204);
    await until('both deliveries', async () => {
      const mine = (await deliveries()).filter((d) => d.primaryEntityId === id && d.state !== 'pending');
      return mine.length === 2 ? mine : undefined;
    });
    for (const d of (await deliveries()).filter((x) => x.primaryEntityId === id)) expect(d.attempts.map((a) => a.status)).toEqual([200]);
    expect(activeCount(s.sb, 'sync-customer')).toBe(0);
    expect(activeCount(s.sb, 'sync-vendor')).toBe(0);
  });

  it('routes a user’s update and delete of a vendor account to VENDOR only, through the registered images', async () => {
    const created = await fetch(`${api}/accounts`, {
      method: 'POST',
      headers: { ...as('dv-integration-token'), Prefer: 'return=representation' },
      body: JSON.stringify({ name: 'Vendor Co', customertypecode: 11 }),
    });
    const id = ((await created.json()) as { accountid: string }).accountid;
    await deliveredFor(id);
    // The user changes only the phone: the Target lacks customertypecode, the post image carries it.
    const upd = await fetch(`${api}/accounts(${id})`, {
      method: 'PATCH',
      headers: as('dv-sales-token'),
      body: JSON.stringify({ telephone1: '555-0100' }),
    });
    expect(upd.status).toBe(204);
    const [vendorEvent] = await receiveAll(s.sbClient, 'sync-vendor', 1);
    expect(changeEventSchema.parse(vendorEvent?.body)).toMatchObject({ mapping: 'VENDOR', recordId: id, changeType: 'updated' });
    // The pre image routes the delete too.
    const del = await fetch(`${api}/accounts(${id})`, { method: 'DELETE', headers: as('dv-sales-token') });
    expect(del.status).toBe(204);
    const [v] = await receiveAll(s.sbClient, 'sync-vendor', 1);
    expect(changeEventSchema.parse(v?.body)).toMatchObject({ mapping: 'VENDOR', recordId: id, changeType: 'deleted' });
    await until('the delete delivery', async () =>
      (await deliveries()).filter((d) => d.primaryEntityId === id && d.state !== 'pending').length === 3 ? true : undefined,
    );
    expect(activeCount(s.sb, 'sync-customer')).toBe(0);
    expect(activeCount(s.sb, 'sync-vendor')).toBe(0);
  });

  it("DELETE removes this installation's endpoint and steps; registering again restores them", async () => {
    const res = await fetch(s.host.apiUrl('admin/dataverse-webhooks'), {
      method: 'DELETE',
      headers: { 'x-functions-key': s.host.masterKey },
    });
    expect(res.status).toBe(200);
    const removed = (await res.json()) as { serviceEndpointId: string; removed: string[] };
    expect(removed.removed.length).toBeGreaterThan(0);
    const left = await fetch(`${api}/serviceendpoints?$select=name&$filter=contract eq 8`, { headers: as('dv-admin-token') });
    expect(((await left.json()) as { value: unknown[] }).value).toEqual([]);
    const again = await register();
    expect(again.endpoint).toBe('created');
    expect(again.created.length).toBe(removed.removed.length);
  });
});
