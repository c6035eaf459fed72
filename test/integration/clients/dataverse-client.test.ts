import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DataverseSimulator, DemoIds, startDataverseSimulator } from '../../../dev/dataverse-simulator';
import { StaticTokenSource } from '../../../shared/adapters/credentials';
import { bindRef, DataverseClient } from '../../../shared/adapters/dataverse/client';
import { DataverseGateway } from '../../../shared/adapters/dataverse/gateway';
import { RequestCounter } from '../../../shared/adapters/http/counters';
import type { DataverseEntityTarget } from '../../../shared/domain/ports';
import { SyncError } from '../../../shared/errors';
import { control } from './support';

const accounts: DataverseEntityTarget = { side: 'dataverse', entitySet: 'accounts', logicalName: 'account', primaryKey: 'accountid' };

let sim: DataverseSimulator;
let counter: RequestCounter;
let client: DataverseClient;
let gateway: DataverseGateway;

function newClient(overrides: Partial<ConstructorParameters<typeof DataverseClient>[0]> = {}): DataverseClient {
  return new DataverseClient({
    url: sim.url,
    tokens: new StaticTokenSource(sim.integrationUserToken),
    hooks: counter,
    retry: { baseDelayMs: 5, maxDelayMs: 20 },
    ...overrides,
  });
}

async function rejection(p: Promise<unknown>): Promise<SyncError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SyncError);
  return err as SyncError;
}

beforeAll(async () => {
  sim = await startDataverseSimulator({ port: 0, webhookDelayMs: 60_000 });
});

afterAll(async () => {
  await sim?.stop();
});

beforeEach(async () => {
  counter = new RequestCounter();
  client = newClient();
  gateway = new DataverseGateway(client);
  await control(sim.url, 'POST', '/_sim/limits', { enabled: false, latencyMs: 0, requests: 6000, concurrent: 52, windowMs: 300_000 });
  await control(sim.url, 'DELETE', '/_sim/faults');
});

describe('Dataverse client against the simulator', () => {
  it('WhoAmI returns the integration user', async () => {
    const who = await client.whoAmI();
    expect(who.UserId).toBe(sim.integrationUserId);
    expect(who.OrganizationId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('creates, reads, updates with If-Match, refuses a stale ETag and deletes', async () => {
    const created = await gateway.create(accounts, { name: 'Client Test Account', telephone1: '555-0001' });
    expect(created.etag).toMatch(/^W\/"/);
    expect(created.modifiedBy).toBe(sim.integrationUserId);
    expect(Date.parse(created.modifiedOn)).not.toBeNaN();

    const read = await gateway.get(accounts, created.id, ['name']);
    expect(read?.values.name).toBe('Client Test Account');
    expect(read?.modifiedBy).toBe(sim.integrationUserId);
    expect(read?.etag).toBe(created.etag);

    const updated = await gateway.update(accounts, created.id, { telephone1: '555-0002' }, created.etag);
    expect(updated.values.telephone1).toBe('555-0002');
    expect(updated.etag).not.toBe(created.etag);

    const stale = await rejection(gateway.update(accounts, created.id, { telephone1: '555-0003' }, created.etag));
    expect(stale.code).toBe('DV.CONCURRENCY');
    expect(stale.message).toContain('0x80060882');

    const staleDelete = await rejection(gateway.delete(accounts, created.id, created.etag));
    expect(staleDelete.code).toBe('DV.CONCURRENCY');
    await gateway.delete(accounts, created.id, updated.etag);
    expect(await gateway.get(accounts, created.id)).toBeUndefined();
    await gateway.delete(accounts, created.id);
  });

  it('creates with a deterministic id exactly once, and follows the upsert matrix', async () => {
    const id = randomUUID();
    const first = await gateway.create(accounts, { name: 'Deterministic' }, { id });
    expect(first.id).toBe(id);
    const again = await rejection(gateway.create(accounts, { name: 'Deterministic again' }, { id }));
    expect(again.code).toBe('DV.CONCURRENCY');
    expect(again.details.status).toBe(412);

    const missing = await rejection(client.upsert('accounts', randomUUID(), { name: 'nope' }, 'updateOnly'));
    expect(missing.code).toBe('DV.NOT_FOUND');

    const upsertId = randomUUID();
    const created = await client.upsert('accounts', upsertId, { name: 'Upserted' });
    expect(created.created).toBe(true);
    const changed = await client.upsert('accounts', upsertId, { name: 'Upserted twice' });
    expect(changed.created).toBe(false);
    expect(changed.entity.name).toBe('Upserted twice');

    // Create without representation: 204 + OData-EntityId.
    const plainId = await client.createReturningId('accounts', { name: 'Plain create' });
    expect((await client.retrieve('accounts', plainId, { select: ['name'] }))?.name).toBe('Plain create');
  });

  it('addresses rows by alternate key and binds lookups', async () => {
    const number = `ALT-${randomUUID().slice(0, 8)}`;
    const account = await gateway.create(accounts, { name: 'Alt Key Ltd.', accountnumber: number });
    const byKey = await client.retrieve('accounts', { accountnumber: number }, { select: ['name'] });
    expect(byKey?.accountid).toBe(account.id);

    const contact = await client.create('contacts', {
      lastname: 'Bound',
      'parentcustomerid_account@odata.bind': bindRef('accounts', { accountnumber: number }),
    });
    expect(contact._parentcustomerid_value).toBe(account.id);

    const badBind = await rejection(
      client.create('contacts', { lastname: 'Bad', 'parentcustomerid_account@odata.bind': bindRef('accounts', randomUUID()) }),
    );
    expect(['DV.NOT_FOUND', 'DV.VALIDATION']).toContain(badBind.code);
  });

  it('classifies validation, auth and not-found errors', async () => {
    const invalid = await rejection(client.create('accounts', { name: 'x', nosuchcolumn: 1 }));
    expect(invalid.code).toBe('DV.VALIDATION');
    expect(invalid.message).toContain('nosuchcolumn');

    const anon = newClient({ tokens: new StaticTokenSource('not-a-known-token') });
    const auth = await rejection(anon.whoAmI());
    expect(auth.code).toBe('DV.AUTH');
    expect(auth.message).not.toContain('not-a-known-token');

    const gone = await rejection(client.update('accounts', randomUUID(), { name: 'x' }, 'W/"1"'));
    expect(['DV.NOT_FOUND', 'DV.CONCURRENCY']).toContain(gone.code);
    expect(await client.retrieve('accounts', randomUUID())).toBeUndefined();
  });

  it('pages through more than 5,000 accounts at the maximum page size', async () => {
    await control(sim.url, 'POST', '/_sim/seed?accounts=5200');
    counter.reset();
    const ids = new Set<string>();
    let pages = 0;
    for await (const page of gateway.list(accounts, { select: ['name'] })) {
      pages++;
      expect(page.length).toBeLessThanOrEqual(5_000);
      for (const r of page) ids.add(r.id);
    }
    expect(ids.size).toBeGreaterThan(5_200);
    expect(pages).toBe(2);
    expect(counter.requests).toBe(2);
  });

  it('lists rows modified after an instant (modifiedon gt)', async () => {
    const before = await gateway.create(accounts, { name: 'Before modifiedon' });
    await control(sim.url, 'POST', '/_sim/clock', { advanceMs: 5_000 });
    const after = await gateway.create(accounts, { name: 'After modifiedon' });
    const page = await gateway.listPage(accounts, { modifiedSince: before.modifiedOn, select: ['name'] });
    const ids = page.items.map((r) => r.id);
    expect(ids).toContain(after.id);
    expect(ids).not.toContain(before.id);
  });

  it('runs a multipart $batch with an all-or-nothing change set', async () => {
    const existing = await gateway.create(accounts, { name: 'Batch Read Me' });
    const marker = `Batch-${randomUUID().slice(0, 8)}`;
    const results = await client.batch([
      { method: 'GET', url: `accounts(${existing.id})?$select=name` },
      {
        changeSet: [
          { method: 'POST', url: 'accounts', body: { name: `${marker} A` } },
          { method: 'POST', url: 'accounts', body: { name: `${marker} B` } },
        ],
      },
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 204, 204]);
    expect(results[0]?.body).toMatchObject({ name: 'Batch Read Me' });
    const created = await client.listPage('accounts', { filter: `startswith(name,'${marker}')`, select: ['name'] });
    expect(created.value).toHaveLength(2);

    const failedMarker = `Failed-${randomUUID().slice(0, 8)}`;
    const failed = await client.batch([
      {
        changeSet: [
          { method: 'POST', url: 'accounts', body: { name: `${failedMarker} ok` } },
          { method: 'POST', url: 'accounts', body: { name: `${failedMarker} bad`, nosuchcolumn: 1 } },
        ],
      },
    ]);
    expect(failed.some((r) => r.error?.code === 'DV.VALIDATION')).toBe(true);
    const none = await client.listPage('accounts', { filter: `startswith(name,'${failedMarker}')`, select: ['name'] });
    expect(none.value).toHaveLength(0);
  });

  it('reads changes and deletions since a deltaLink', async () => {
    const keep = await gateway.create(accounts, { name: 'Delta Keep' });
    const doomed = await gateway.create(accounts, { name: 'Delta Doomed' });
    let deltaLink: string | undefined;
    let initial = 0;
    for await (const page of gateway.changes(accounts, { select: ['name'] })) {
      initial += page.changed.length;
      deltaLink = page.deltaLink ?? deltaLink;
    }
    expect(initial).toBeGreaterThan(2);
    expect(deltaLink).toContain('$deltatoken=');

    const fresh = await gateway.create(accounts, { name: 'Delta New' });
    await gateway.update(accounts, keep.id, { name: 'Delta Kept and Changed' }, keep.etag);
    await gateway.delete(accounts, doomed.id);

    const changed: string[] = [];
    const deleted: string[] = [];
    let next: string | undefined;
    for await (const page of gateway.changes(accounts, { deltaLink, select: ['name'] })) {
      changed.push(...page.changed.map((r) => r.id));
      deleted.push(...page.deleted);
      next = page.deltaLink ?? next;
    }
    expect(changed.sort()).toEqual([fresh.id, keep.id].sort());
    expect(deleted).toEqual([doomed.id]);
    expect(next).toBeTruthy();
    expect(next).not.toBe(deltaLink);
  });

  it('honours 429 + Retry-After from service protection limits and eventually succeeds', async () => {
    const rows = (await gateway.listPage(accounts, { pageSize: 4, select: ['name'] })).items;
    await control(sim.url, 'DELETE', '/_sim/counters');
    counter.reset();
    await control(sim.url, 'POST', '/_sim/limits', { enabled: true, requests: 2, windowMs: 1_000 });
    const got = [];
    for (const r of rows) got.push(await gateway.get(accounts, r.id));
    expect(got.map((r) => r?.id)).toEqual(rows.map((r) => r.id));
    expect(counter.status(429)).toBeGreaterThanOrEqual(1);
    expect(counter.requests).toBe(rows.length + counter.status(429));
    const counters = (await control(sim.url, 'GET', '/_sim/counters')) as { total: number };
    expect(counters.total).toBeGreaterThanOrEqual(rows.length);
  });

  it('stays under the concurrency limit: no 429 from the concurrent-request limit', async () => {
    const rows = (await gateway.listPage(accounts, { pageSize: 40, select: ['name'] })).items;
    // Only the concurrency meter: the request-count window an earlier test narrowed is put back to Dataverse's own.
    await control(sim.url, 'POST', '/_sim/limits', { enabled: true, concurrent: 4, latencyMs: 20, requests: 6_000, windowMs: 300_000 });
    const limited = newClient({ maxConcurrency: 4 });
    counter.reset();
    await Promise.all(rows.map((r) => limited.retrieve('accounts', r.id, { select: ['name'] })));
    expect(counter.status(429)).toBe(0);
    expect(counter.peakInFlight).toBe(4);

    // The same load with a client allowed 8 at a time does trip the server's limit. (Whether every request then
    // gets through within the retry budget depends on timing, so that is not what this checks.)
    const greedy = newClient({ maxConcurrency: 8 });
    counter.reset();
    await Promise.allSettled(rows.map((r) => greedy.retrieve('accounts', r.id, { select: ['name'] })));
    expect(counter.status(429)).toBeGreaterThan(0);
    expect(() => newClient({ maxConcurrency: 53 })).toThrow(/at most 52/);
  });

  it('reads column metadata with option sets', async () => {
    const name = await client.dataverseColumn('account', 'name');
    expect(name?.type).toBe('String');
    const terms = await client.dataverseColumn('account', 'paymenttermscode');
    expect(terms?.type).toBe('Picklist');
    expect(terms?.options?.map((o) => o.value)).toEqual(expect.arrayContaining([1, 2, 3, 4]));
    expect(terms?.options?.find((o) => o.value === 1)?.label).toBe('Net 30');
    const parent = await client.dataverseColumn('contact', 'parentcustomerid');
    expect(parent?.type).toBe('Customer');
    expect(await client.dataverseColumn('account', 'nosuchcolumn')).toBeUndefined();
    expect(await client.entityInfo('nosuchtable')).toBeUndefined();
    const info = await client.entityInfo('account');
    expect(info?.entitySetName).toBe('accounts');
    expect(info?.primaryIdAttribute).toBe('accountid');
  });

  it('impersonates a user with CallerObjectId', async () => {
    const annette = await client.retrieve('systemusers', DemoIds.salesUserAnnette, { select: ['azureactivedirectoryobjectid'] });
    const objectId = annette?.azureactivedirectoryobjectid;
    expect(typeof objectId).toBe('string');
    const asAnnette = new DataverseGateway(client.impersonate(String(objectId)));
    const row = await asAnnette.create(accounts, { name: 'Created on behalf' });
    expect(row.modifiedBy).toBe(DemoIds.salesUserAnnette);
  });
});
