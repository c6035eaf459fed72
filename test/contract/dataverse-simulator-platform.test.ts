import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DataverseSimulator, DemoIds } from '../../dev/dataverse-simulator';
import { until } from '../support/until';
import { call, control, startSim } from './dataverse-simulator-helpers';

let sim: DataverseSimulator;
beforeAll(async () => {
  sim = await startSim();
});
afterAll(async () => {
  await sim.stop();
});

function part(method: string, url: string, body?: unknown, extra: string[] = []): string {
  const lines = ['Content-Type: application/http', 'Content-Transfer-Encoding: binary', ...extra, '', `${method} ${url} HTTP/1.1`];
  if (body !== undefined) lines.push('Content-Type: application/json; type=entry', '', JSON.stringify(body));
  else lines.push('');
  return lines.join('\r\n');
}

async function batch(parts: string[], prefer?: string) {
  const body = `${parts.map((p) => `--batch_AAA123\r\n${p}`).join('\r\n')}\r\n--batch_AAA123--\r\n`;
  return call(sim, '$batch', {
    method: 'POST',
    headers: { 'Content-Type': 'multipart/mixed; boundary="batch_AAA123"', ...(prefer ? { Prefer: prefer } : {}) },
    body,
  });
}

function changeset(parts: string[]): string {
  const inner = `${parts.map((p) => `--changeset_BBB456\r\n${p}`).join('\r\n')}\r\n--changeset_BBB456--`;
  return `Content-Type: multipart/mixed; boundary="changeset_BBB456"\r\n\r\n${inner}`;
}

describe('$batch (B.10)', () => {
  it('runs independent requests and a change set with Content-ID references', async () => {
    const r = await batch([
      part('GET', `${sim.apiBase}/accounts(${DemoIds.account(1)})?$select=name`),
      changeset([
        part('POST', `${sim.apiBase}/accounts`, { name: 'Batch parent' }, ['Content-ID: 1']),
        part('POST', '/api/data/v9.2/contacts', { firstname: 'Batch', lastname: 'Child', 'parentcustomerid_account@odata.bind': '$1' }, [
          'Content-ID: 2',
        ]),
        part('PATCH', '$1', { telephone1: '555' }, ['Content-ID: 3']),
      ]),
    ]);
    expect(r.status).toBe(200);
    const boundary = /boundary=(batchresponse_[0-9a-f-]+)/.exec(r.headers.get('content-type') ?? '')?.[1];
    expect(boundary).toBeDefined();
    expect(r.text).toContain(`--${boundary}`);
    expect(r.text).toMatch(/--changesetresponse_[0-9a-f-]+/);
    expect(r.text).toContain('HTTP/1.1 200 OK');
    expect(r.text).toContain('"name":"Adatum Corporation"');
    expect((r.text.match(/HTTP\/1\.1 204 No Content/g) ?? []).length).toBe(3);
    expect(r.text).toMatch(/Location: http:\/\/127\.0\.0\.1:\d+\/api\/data\/v9\.2\/accounts\([0-9a-f-]+\)/);
    expect(r.text).toContain('Content-ID: 2');
    const parent = await call(
      sim,
      "accounts?$filter=name eq 'Batch parent'&$select=telephone1&$expand=contact_customer_accounts($select=fullname)",
    );
    expect(parent.body.value[0].telephone1).toBe('555');
    expect(parent.body.value[0].contact_customer_accounts[0].fullname).toBe('Batch Child');
  });

  it('rolls back a whole change set when one request fails and answers with the error part', async () => {
    const r = await batch([
      changeset([
        part('POST', 'accounts', { name: 'Rolled back' }, ['Content-ID: 1']),
        part('POST', 'accounts', { name: 'x'.repeat(200) }, ['Content-ID: 2']),
      ]),
    ]);
    expect(r.status).toBe(400);
    expect(r.text).toContain('HTTP/1.1 400 Bad Request');
    expect(r.text).toContain('"code":"0x80044331"');
    expect((await call(sim, "accounts?$filter=name eq 'Rolled back'&$select=name")).body.value).toEqual([]);
  });

  it('continues after errors with odata.continue-on-error', async () => {
    const r = await batch(
      [part('POST', 'accounts', { nope: 1 }), part('POST', 'accounts', { name: 'After error' })],
      'odata.continue-on-error',
    );
    expect(r.status).toBe(200);
    expect(r.text).toContain('HTTP/1.1 400 Bad Request');
    expect(r.text).toContain('HTTP/1.1 204 No Content');
    expect((await call(sim, "accounts?$filter=name eq 'After error'&$select=name")).body.value).toHaveLength(1);
  });

  it('rejects undeclared Content-ID references, GET inside change sets and more than 1000 requests', async () => {
    const ref = await batch([changeset([part('PATCH', '$9', { name: 'x' }, ['Content-ID: 1'])])]);
    expect(ref.status).toBe(400);
    expect(ref.text).toContain("Content-ID Reference: '$9' does not exist in the batch context.");
    const get = await batch([changeset([part('GET', 'accounts')])]);
    expect(get.status).toBe(400);
    const many = await batch(Array.from({ length: 1001 }, () => part('GET', 'WhoAmI')));
    expect(many.status).toBe(400);
    expect(many.text).toContain('exceeds the limit of 1000');
  });
});

describe('metadata', () => {
  it('describes an entity and its attributes with types and lookup targets', async () => {
    const e = await call(
      sim,
      "EntityDefinitions(LogicalName='account')?$select=LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,ChangeTrackingEnabled",
    );
    expect(e.status).toBe(200);
    expect(e.body).toMatchObject({
      LogicalName: 'account',
      EntitySetName: 'accounts',
      PrimaryIdAttribute: 'accountid',
      PrimaryNameAttribute: 'name',
      ChangeTrackingEnabled: true,
    });
    const attrs = await call(
      sim,
      "EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName,AttributeType&$filter=LogicalName eq 'paymenttermscode' or LogicalName eq 'name' or LogicalName eq 'primarycontactid'",
    );
    const byName = Object.fromEntries(
      attrs.body.value.map((a: { LogicalName: string; AttributeType: string }) => [a.LogicalName, a.AttributeType]),
    );
    expect(byName).toEqual({ name: 'String', paymenttermscode: 'Picklist', primarycontactid: 'Lookup' });
    const one = await call(sim, "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')");
    expect(one.body).toMatchObject({
      '@odata.type': '#Microsoft.Dynamics.CRM.StringAttributeMetadata',
      MaxLength: 160,
      IsPrimaryName: true,
    });
    const lookup = await call(
      sim,
      "EntityDefinitions(LogicalName='contact')/Attributes(LogicalName='parentcustomerid')/Microsoft.Dynamics.CRM.LookupAttributeMetadata?$select=Targets",
    );
    expect(lookup.body.Targets).toEqual(['account', 'contact']);
    const missing = await call(sim, "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='nope')");
    expect(missing.status).toBe(404);
    const keys = await call(sim, "EntityDefinitions(LogicalName='account')/Keys");
    expect(keys.body.value[0].KeyAttributes).toEqual(['accountnumber']);
  });

  it('returns option values through the documented cast paths and inserts new options', async () => {
    const r = await call(
      sim,
      "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet($select=Options)",
    );
    expect(r.status).toBe(200);
    const pay = r.body.value.find((a: { LogicalName: string }) => a.LogicalName === 'paymenttermscode');
    expect(
      pay.OptionSet.Options.map((o: { Value: number; Label: { UserLocalizedLabel: { Label: string } } }) => [
        o.Value,
        o.Label.UserLocalizedLabel.Label,
      ]),
    ).toEqual([
      [1, 'Net 30'],
      [2, '2% 10; Net 30'],
      [3, 'Net 45'],
      [4, 'Net 60'],
    ]);
    expect(
      r.body.value.every((a: { '@odata.type': string }) => a['@odata.type'] === '#Microsoft.Dynamics.CRM.PicklistAttributeMetadata'),
    ).toBe(true);
    const state = await call(
      sim,
      "EntityDefinitions(LogicalName='salesorder')/Attributes(LogicalName='statecode')/Microsoft.Dynamics.CRM.StateAttributeMetadata?$expand=OptionSet",
    );
    expect(state.body.OptionSet.Options.find((o: { Value: number }) => o.Value === 1)).toMatchObject({
      InvariantName: 'Submitted',
      DefaultStatus: 3,
    });
    // Account's choice columns use account's own (local) sets: GlobalChoiceName `account_address1_shippingmethodcode`.
    const ship = await call(
      sim,
      "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='address1_shippingmethodcode')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet,GlobalOptionSet",
    );
    expect(ship.body.OptionSet).toMatchObject({ Name: 'account_address1_shippingmethodcode', IsGlobal: false });
    expect(ship.body.GlobalOptionSet).toBeNull();
    const global = await call(sim, 'InsertOptionValue', {
      method: 'POST',
      token: sim.adminUserToken,
      body: { OptionSetName: 'paymentterms', Label: { LocalizedLabels: [{ Label: '14 DAYS', LanguageCode: 1033 }] } },
    });
    expect(global.status).toBe(404);
    const inserted = await call(sim, 'InsertOptionValue', {
      method: 'POST',
      token: sim.adminUserToken,
      body: {
        EntityLogicalName: 'account',
        AttributeLogicalName: 'paymenttermscode',
        Label: { LocalizedLabels: [{ Label: '14 DAYS', LanguageCode: 1033 }] },
      },
    });
    expect(inserted.status).toBe(200);
    const value = inserted.body.NewOptionValue;
    expect(value).toBeGreaterThan(99_999_999);
    // A local set: account accepts the new value, salesorder's own set does not have it.
    expect((await call(sim, 'accounts', { method: 'POST', body: { name: 'New terms', paymenttermscode: value } })).status).toBe(204);
    const order = await call(
      sim,
      "EntityDefinitions(LogicalName='salesorder')/Attributes(LogicalName='paymenttermscode')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$expand=OptionSet",
    );
    expect(order.body.OptionSet.Options.map((o: { Value: number }) => o.Value)).not.toContain(value);
    const noCast = await call(sim, "EntityDefinitions(LogicalName='account')/Attributes?$expand=OptionSet");
    expect(noCast.status).toBe(400);
  });
});

describe('service protection limits (B.12) and faults', () => {
  it('answers 429 with the documented code, message and Retry-After once the request limit is reached', async () => {
    await control(sim, 'POST', 'limits', { enabled: true, requests: 5 });
    try {
      for (let i = 0; i < 5; i++) {
        const ok = await call(sim, 'WhoAmI');
        expect(ok.status).toBe(200);
        expect(ok.headers.get('x-ms-ratelimit-burst-remaining-xrm-requests')).toBe(String(4 - i));
      }
      const r = await call(sim, 'WhoAmI');
      expect(r.status).toBe(429);
      expect(r.body).toEqual({
        error: { code: '0x80072322', message: 'Number of requests exceeded the limit of 5 over time window of 300 seconds.' },
      });
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      // Limits are per user: another user still gets through.
      expect((await call(sim, 'WhoAmI', { token: sim.adminUserToken })).status).toBe(200);
      await control(sim, 'POST', 'clock', { advanceMs: 301_000 });
      expect((await call(sim, 'WhoAmI')).status).toBe(200);
    } finally {
      await control(sim, 'POST', 'limits', { enabled: false, requests: 6000 });
    }
  });

  it('rejects requests beyond the concurrency limit with 0x80072326 and enforces execution time', async () => {
    await control(sim, 'POST', 'limits', { enabled: true, concurrent: 2, latencyMs: 150 });
    try {
      const results = await Promise.all(Array.from({ length: 5 }, () => call(sim, 'WhoAmI')));
      const throttled = results.filter((r) => r.status === 429);
      expect(throttled.length).toBeGreaterThan(0);
      expect(throttled[0]?.body.error.code).toBe('0x80072326');
      expect(throttled[0]?.body.error.message).toBe('Number of concurrent requests exceeded the limit of 2.');
      await control(sim, 'POST', 'limits', { concurrent: 52, executionMs: 100 });
      expect((await call(sim, 'WhoAmI')).status).toBe(200);
      const r = await call(sim, 'WhoAmI');
      expect(r.status).toBe(429);
      expect(r.body.error.code).toBe('0x80072321');
      expect(r.body.error.message).toContain('Combined execution time of incoming requests exceeded limit of 100  milliseconds');
    } finally {
      await control(sim, 'POST', 'limits', { enabled: false, concurrent: 52, executionMs: 1_200_000, latencyMs: 0 });
    }
  });

  it('counts the execution time of a request still running: the next request is refused while it runs', async () => {
    // api-limits.md does not say when a request's time is counted; the simulator counts it while it runs (stricter
    // than counting it when it ends, which let a burst of long requests all in against a budget they then overran).
    await control(sim, 'POST', 'limits', { enabled: true, executionMs: 300, windowMs: 60_000, latencyMs: 1_500 });
    try {
      const slow = call(sim, 'WhoAmI');
      await until('the slow request to have run 300 ms', async () => {
        const u = (await control(sim, 'GET', 'limits')).body.usage[sim.integrationUserId];
        return u?.inFlight === 1 && u.executionMs >= 300;
      });
      const r = await call(sim, 'WhoAmI');
      expect(r.status).toBe(429);
      expect(r.body.error.code).toBe('0x80072321');
      expect((await slow).status).toBe(200);
      const usage = (await control(sim, 'GET', 'limits')).body.usage[sim.integrationUserId];
      expect(usage.refused).toEqual({ '0x80072321': 1 });
      expect(usage.executionMsTotal).toBeGreaterThanOrEqual(1_500);
    } finally {
      await control(sim, 'POST', 'limits', { enabled: false, executionMs: 1_200_000, windowMs: 300_000, latencyMs: 0 });
    }
  });

  it('refuses every request of the user until the Retry-After of a 429 has passed', async () => {
    // "a service protection API Limit error will be returned on subsequent requests … until the Retry-After
    // duration has ended" (api-limits.md): here after a concurrency refusal, once the request in the way is done.
    await control(sim, 'POST', 'clock', { set: '2026-01-01T00:00:00Z' });
    await control(sim, 'POST', 'limits', { enabled: true, concurrent: 1, latencyMs: 400 });
    try {
      const slow = call(sim, 'WhoAmI');
      await until(
        'the first request in flight',
        async () => (await control(sim, 'GET', 'limits')).body.usage[sim.integrationUserId]?.inFlight === 1,
      );
      const refused = await call(sim, 'WhoAmI');
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('0x80072326');
      expect(refused.headers.get('retry-after')).toBe('1');
      expect((await slow).status).toBe(200);
      // Nothing is in flight any more, but the clock has not moved past the Retry-After: still refused.
      const held = await call(sim, 'WhoAmI');
      expect(held.status).toBe(429);
      expect(held.body.error.code).toBe('0x80072326');
      expect(held.headers.get('retry-after')).toBe('1');
      await control(sim, 'POST', 'clock', { advanceMs: 1_000 });
      expect((await call(sim, 'WhoAmI')).status).toBe(200);
    } finally {
      await control(sim, 'POST', 'limits', { enabled: false, concurrent: 52, latencyMs: 0 });
      await control(sim, 'POST', 'clock', { unfreeze: true });
    }
  });

  it('injects 5xx errors on request and counts requests by user, method and entity set', async () => {
    await control(sim, 'DELETE', 'counters');
    await control(sim, 'POST', 'faults', { failNext: 2, errorStatus: 503 });
    const a = await call(sim, 'accounts?$top=1');
    const b = await call(sim, 'accounts?$top=1');
    const c = await call(sim, 'accounts?$top=1');
    expect([a.status, b.status, c.status]).toEqual([503, 503, 200]);
    expect(a.body.error.code).toBe('0x80040216');
    await call(sim, `contacts(${DemoIds.contact(1)})`, { method: 'PATCH', body: { fax: '1' } });
    const counters = await control(sim, 'GET', 'counters');
    expect(counters.body.byEntitySet).toMatchObject({ accounts: 1, contacts: 1 });
    expect(counters.body.byMethod).toMatchObject({ GET: 1, PATCH: 1 });
    expect(counters.body.byUser[sim.integrationUserId]).toBe(2);
  });

  it('hangs and drops the connection for injected timeouts', async () => {
    await control(sim, 'POST', 'faults', { timeoutRate: 1, timeoutMs: 50 });
    try {
      await expect(call(sim, 'WhoAmI')).rejects.toThrow();
    } finally {
      await control(sim, 'DELETE', 'faults');
    }
    expect((await call(sim, 'WhoAmI')).status).toBe(200);
  });

  it('validates control input and seeds bulk accounts quickly', async () => {
    const bad = await control(sim, 'POST', 'faults', { errorRate: 2 });
    expect(bad.status).toBe(400);
    const unknown = await control(sim, 'GET', 'nope');
    expect(unknown.status).toBe(404);
    const seeded = await control(sim, 'POST', 'seed?accounts=1000');
    expect(seeded.status).toBe(200);
    expect(seeded.body.accounts).toBeGreaterThanOrEqual(1000);
    const reset = await control(sim, 'POST', 'reset', { seed: 'empty' });
    expect(reset.status).toBe(200);
    const after = await call(sim, 'accounts?$select=name');
    expect(after.body.value).toEqual([]);
    expect((await call(sim, `systemusers(${sim.integrationUserId})?$select=fullname`)).status).toBe(200);
  });
});
