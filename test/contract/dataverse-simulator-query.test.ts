import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DataverseSimulator, DemoIds } from '../../dev/dataverse-simulator';
import { call, control, startSim } from './dataverse-simulator-helpers';

let sim: DataverseSimulator;
beforeAll(async () => {
  sim = await startSim({ seed: 'empty' });
  sim.seedBulk({ accounts: 12_000 });
});
afterAll(async () => {
  await sim.stop();
});

describe('queries (B.7)', () => {
  it('applies $select, $filter with logical operators, contains/startswith, lookups and $orderby', async () => {
    const r = await call(
      sim,
      "accounts?$select=name,address1_city&$filter=(address1_city eq 'Seattle' or address1_city eq 'Denver') and contains(name,'0001') and startswith(accountnumber,'BULK')&$orderby=address1_city desc,name asc",
    );
    expect(r.status).toBe(200);
    expect(r.body['@odata.context']).toBe(`${sim.apiBase}/$metadata#accounts(name,address1_city)`);
    const rows = r.body.value as Array<Record<string, string>>;
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(['Seattle', 'Denver']).toContain(row.address1_city);
      expect(row.name).toContain('0001');
      expect(Object.keys(row).sort()).toEqual(['@odata.etag', 'accountid', 'address1_city', 'name']);
    }
    const cities = rows.map((x) => x.address1_city);
    expect(cities).toEqual([...cities].sort().reverse());
    const lookup = await call(sim, `accounts?$select=name&$filter=_ownerid_value eq ${DemoIds.adminUser}&$top=3`);
    expect(lookup.body.value).toHaveLength(3);
    expect(lookup.body['@odata.nextLink']).toBeUndefined();
  });

  it('rejects unknown columns, $skip and malformed filters with the error body', async () => {
    const unknown = await call(sim, 'accounts?$select=nope');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error).toEqual({
      code: '0x80060888',
      message: "Could not find a property named 'nope' on type 'Microsoft.Dynamics.CRM.account'.",
    });
    const filter = await call(sim, "accounts?$filter=nope eq 'x'");
    expect(filter.status).toBe(400);
    const skip = await call(sim, 'accounts?$skip=10');
    expect(skip.status).toBe(400);
    expect(skip.body.error.message).toContain('$skip is not supported');
    const syntax = await call(sim, "accounts?$filter=name eq 'unterminated");
    expect(syntax.status).toBe(400);
    expect(syntax.body.error.code).toBe('0x80060888');
    const nav = await call(sim, 'accounts?$select=primarycontactid');
    expect(nav.status).toBe(400);
    expect(nav.body.error.message).toContain('_primarycontactid_value');
  });

  it('expands single-valued lookups', async () => {
    const c = await call(sim, 'contacts', { method: 'POST', body: { firstname: 'Ex', lastname: 'Pand' } });
    const contactId = /\(([^)]+)\)/.exec(c.headers.get('odata-entityid') ?? '')?.[1];
    const a = await call(sim, 'accounts?$select=name', {
      method: 'POST',
      headers: { Prefer: 'return=representation' },
      body: { name: 'Expander', 'primarycontactid@odata.bind': `/contacts(${contactId})` },
    });
    const r = await call(sim, `accounts(${a.body.accountid})?$select=name&$expand=primarycontactid($select=fullname)`);
    expect(r.body.primarycontactid).toEqual({
      '@odata.etag': expect.stringMatching(/^W\/"\d+"$/),
      fullname: 'Ex Pand',
      contactid: contactId,
    });
    const bad = await call(sim, `accounts(${a.body.accountid})?$expand=nothing`);
    expect(bad.status).toBe(400);
  });
});

describe('paging (B.8)', () => {
  it('pages with odata.maxpagesize and a key-based nextLink until the last page, which has none', async () => {
    const seen = new Set<string>();
    let next: string | undefined = 'accounts?$select=name';
    let pages = 0;
    while (next) {
      const r = await call(sim, next, { headers: { Prefer: 'odata.maxpagesize=5000' } });
      expect(r.status).toBe(200);
      expect(r.headers.get('preference-applied')).toBe('odata.maxpagesize=5000');
      for (const row of r.body.value) seen.add(row.accountid);
      next = r.body['@odata.nextLink'];
      if (next) {
        expect(next.startsWith(`${sim.apiBase}/accounts?$select=name&$skiptoken=`)).toBe(true);
        expect(decodeURIComponent(next)).toMatch(/\$skiptoken=<cookie pagenumber="\d+" pagingcookie="[^"]+" istracking="False" \/>$/);
      }
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen.size).toBe(sim.store.table('account').rows.size);
    expect(seen.size).toBeGreaterThanOrEqual(12_000);
  });

  it('caps maxpagesize at 5000 and defaults to 5000 pages without the preference', async () => {
    const big = await call(sim, 'accounts?$select=name', { headers: { Prefer: 'odata.maxpagesize=9000' } });
    expect(big.body.value).toHaveLength(5000);
    const plain = await call(sim, 'accounts?$select=name');
    expect(plain.body.value).toHaveLength(5000);
    expect(plain.body['@odata.nextLink']).toBeDefined();
  });

  it('ignores $top when maxpagesize is present', async () => {
    const r = await call(sim, 'accounts?$select=name&$top=3', { headers: { Prefer: 'odata.maxpagesize=10' } });
    expect(r.body.value).toHaveLength(10);
    expect(r.body['@odata.nextLink']).toContain('$top=3');
  });

  it('keeps paging stable when rows are inserted and deleted between pages, also with $orderby', async () => {
    const first = await call(sim, "accounts?$select=name&$orderby=name desc&$filter=startswith(name,'Bulk Account 0000')", {
      headers: { Prefer: 'odata.maxpagesize=40' },
    });
    const page1 = (first.body.value as Array<{ name: string; accountid: string }>).map((r) => r.name);
    // Delete a row already returned and add one that sorts before the cursor: neither shifts the next page.
    await call(sim, `accounts(${first.body.value[0].accountid})`, { method: 'DELETE' });
    await call(sim, 'accounts', { method: 'POST', body: { name: 'Bulk Account 00009z' } });
    const second = await call(sim, first.body['@odata.nextLink'], { headers: { Prefer: 'odata.maxpagesize=40' } });
    const page2 = (second.body.value as Array<{ name: string }>).map((r) => r.name);
    expect((page2[0] ?? '') < (page1[page1.length - 1] ?? '')).toBe(true);
    expect(page2.filter((n) => page1.includes(n))).toEqual([]);
    expect([...page1, ...page2]).toEqual([...page1, ...page2].sort().reverse());
    expect(page1.length + page2.length).toBe(80);
  });

  it('rejects a tampered $skiptoken', async () => {
    const r = await call(sim, 'accounts?$skiptoken=garbage');
    expect(r.status).toBe(400);
  });

  it('counts with $count=true and /$count', async () => {
    const r = await call(sim, "accounts?$select=name&$count=true&$filter=address1_city eq 'Miami'", {
      headers: { Prefer: 'odata.maxpagesize=1' },
    });
    expect(r.body['@odata.count']).toBe(2400);
    const c = await call(sim, 'accounts/$count');
    expect(c.text).toBe('5000');
  });
});

describe('change tracking (B.9)', () => {
  it('returns a deltaLink after the initial read and the documented delta shape after changes', async () => {
    const init = await call(sim, 'contacts?$select=fullname,telephone1', { headers: { Prefer: 'odata.track-changes' } });
    expect(init.status).toBe(200);
    expect(init.headers.get('preference-applied')).toBe('odata.track-changes');
    const deltaLink = init.body['@odata.deltaLink'] as string;
    expect(deltaLink).toMatch(
      new RegExp(
        `^${sim.apiBase.replace(/\./g, '\\.')}/contacts\\?\\$select=fullname,telephone1&\\$deltatoken=\\d+%21\\d{2}%2f\\d{2}%2f\\d{4}%20\\d{2}%3a\\d{2}%3a\\d{2}$`,
      ),
    );
    expect(Object.keys(init.body)).toEqual(['@odata.context', '@odata.deltaLink', 'value']);

    const created = await call(sim, 'contacts', {
      method: 'POST',
      headers: { Prefer: 'return=representation' },
      body: { firstname: 'Monte', lastname: 'Orton', telephone1: '555000' },
    });
    const gone = await call(sim, 'contacts', {
      method: 'POST',
      headers: { Prefer: 'return=representation' },
      body: { firstname: 'Short', lastname: 'Lived' },
    });
    const keep = await call(sim, 'contacts', {
      method: 'POST',
      headers: { Prefer: 'return=representation' },
      body: { firstname: 'Will', lastname: 'Delete' },
    });
    const second = await call(sim, deltaLink, { headers: { Prefer: 'odata.track-changes' } });
    const secondLink = second.body['@odata.deltaLink'] as string;
    await call(sim, `contacts(${keep.body.contactid})`, { method: 'DELETE' });
    await call(sim, `contacts(${created.body.contactid})`, { method: 'PATCH', body: { telephone1: '555001' } });
    await call(sim, `contacts(${gone.body.contactid})`, { method: 'DELETE' });

    expect(second.body['@odata.context']).toBe(`${sim.apiBase}/$metadata#contacts(fullname,telephone1)/$delta`);
    expect(second.body.value.map((r: { fullname: string }) => r.fullname)).toEqual(['Monte Orton', 'Short Lived', 'Will Delete']);

    const delta = await call(sim, secondLink);
    expect(delta.status).toBe(200);
    expect(delta.body.value).toEqual([
      {
        '@odata.etag': expect.stringMatching(/^W\/"\d+"$/),
        fullname: 'Monte Orton',
        telephone1: '555001',
        contactid: created.body.contactid,
      },
      { '@odata.context': `${sim.apiBase}/$metadata#contacts/$deletedEntity`, id: keep.body.contactid, reason: 'deleted' },
      { '@odata.context': `${sim.apiBase}/$metadata#contacts/$deletedEntity`, id: gone.body.contactid, reason: 'deleted' },
    ]);
    const count = await call(
      sim,
      `contacts/$count?${new URL(secondLink).search
        .slice(1)
        .split('&')
        .filter((p) => p.startsWith('$deltatoken'))
        .join('&')}`,
    );
    expect(count.text).toBe('3');
    const quiet = await call(sim, delta.body['@odata.deltaLink']);
    expect(quiet.body.value).toEqual([]);
  });

  it('pages the initial read at 5000 and ends with a deltaLink that sees changes made while paging', async () => {
    let link: string | undefined = 'accounts?$select=name';
    let rows = 0;
    let deltaLink: string | undefined;
    let changed = false;
    while (link) {
      const r = await call(sim, link, { headers: { Prefer: 'odata.track-changes, odata.maxpagesize=5000' } });
      rows += r.body.value.length;
      if (!changed) {
        await call(sim, `accounts(${r.body.value[0].accountid})`, { method: 'PATCH', body: { name: 'Changed while paging' } });
        changed = true;
      }
      link = r.body['@odata.nextLink'];
      deltaLink = r.body['@odata.deltaLink'];
      if (link) expect(decodeURIComponent(link)).toContain('istracking="True"');
    }
    expect(rows).toBeGreaterThan(11_000);
    const delta = await call(sim, deltaLink as string);
    expect(delta.body.value.map((r: { name: string }) => r.name)).toContain('Changed while paging');
  });

  it('rejects $filter/$orderby/$expand/$top with track-changes using the documented text', async () => {
    for (const opt of ['$filter', '$orderby', '$expand', '$top']) {
      const value = opt === '$filter' ? "name eq 'x'" : opt === '$top' ? '1' : opt === '$expand' ? 'primarycontactid' : 'name';
      const r = await call(sim, `accounts?$select=name&${opt}=${value}`, { headers: { Prefer: 'odata.track-changes' } });
      expect(r.status).toBe(400);
      expect(r.body.error.message).toBe(`The "${opt}" query parameter isn't supported when Change Tracking is enabled.`);
    }
  });

  it('expires delta tokens after 7 days', async () => {
    const init = await call(sim, 'contacts?$select=fullname', { headers: { Prefer: 'odata.track-changes' } });
    await control(sim, 'POST', 'clock', { advanceMs: 8 * 86_400_000 });
    try {
      const r = await call(sim, init.body['@odata.deltaLink']);
      expect(r.status).toBe(400);
      expect(r.body.error).toEqual({
        code: '0x80044352',
        message: 'Version stamp associated with the client has expired. Please perform a full sync.',
      });
    } finally {
      await control(sim, 'POST', 'clock', { advanceMs: -8 * 86_400_000 });
    }
  });
});
