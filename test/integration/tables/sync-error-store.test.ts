import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningAzurite, startAzurite } from '../../../dev/azurite';
import { REDACTED, redact, redactText } from '../../../shared/adapters/tables/redact';
import { TableSyncErrorStore } from '../../../shared/adapters/tables/sync-error-store';
import type { ChangeEvent } from '../../../shared/domain/change-event';
import { recordId as parseRecordId } from '../../../shared/domain/ids';
import type { Clock, SyncErrorRecord } from '../../../shared/domain/ports';
import { freshTable, guid } from './fixture';

class StepClock implements Clock {
  private t = Date.parse('2024-05-01T08:00:00.000Z');
  now(): Date {
    this.t += 1000;
    return new Date(this.t);
  }
}

function failure(i: number, overrides: Partial<Omit<SyncErrorRecord, 'id'>> = {}) {
  return {
    mapping: 'CUSTOMER',
    bcId: guid(i, 1),
    direction: 'ToIntegrationTable' as const,
    code: 'DV.VALIDATION',
    category: 'data' as const,
    message: `Account name is too long (record ${i})`,
    ...overrides,
  };
}

describe('redact', () => {
  it('replaces properties named like secrets at any depth and keeps the rest', () => {
    const input = {
      name: 'Adatum',
      clientSecret: 's3cr3t-value',
      Password: 'hunter2',
      nested: { apiKey: 'abc', AccountKey: 'xyz', accessToken: 'tok', list: [{ authorization: 'Bearer abc.def' }, { city: 'Oslo' }] },
      webhook_key: 'k',
      keyVaultName: 'kv-1',
      empty: '',
      count: 3,
    };
    const out = redact(input);
    expect(out).toEqual({
      name: 'Adatum',
      clientSecret: REDACTED,
      Password: REDACTED,
      nested: { apiKey: REDACTED, AccountKey: REDACTED, accessToken: REDACTED, list: [{ authorization: REDACTED }, { city: 'Oslo' }] },
      webhook_key: REDACTED,
      keyVaultName: 'kv-1',
      empty: '',
      count: 3,
    });
    expect(input.clientSecret).toBe('s3cr3t-value'); // the input is not modified
  });

  it('masks credentials inside text', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
    const text = `call failed: Authorization: Bearer ${jwt}; DefaultEndpointsProtocol=https;AccountName=st;AccountKey=AbC+/==;EndpointSuffix=x https://f.azurewebsites.net/api/hook?code=XYZ123&x=1 raw ${jwt}`;
    const out = redactText(text);
    expect(out).not.toContain('AbC+/==');
    expect(out).not.toContain('XYZ123');
    expect(out).not.toContain(jwt);
    expect(out).toContain('AccountName=st');
    expect(out).toContain('x=1');
    expect(out).toContain('call failed');
  });

  it('survives cycles', () => {
    const a: Record<string, unknown> = { n: 1 };
    a.self = a;
    expect(redact(a)).toEqual({ n: 1, self: '[cut]' });
  });
});

describe('TableSyncErrorStore (Azurite)', () => {
  let azurite: RunningAzurite;
  let store: TableSyncErrorStore;

  beforeAll(async () => {
    azurite = await startAzurite({ port: 0 });
    store = new TableSyncErrorStore(await freshTable(azurite.connectionString, 'SyncErrors'), { clock: new StepClock() });
  });
  afterAll(async () => {
    await azurite.stop();
  });

  it('keeps one open row per record and direction, bumping attempts and last seen', async () => {
    const event: ChangeEvent = {
      v: 1,
      mapping: 'CUSTOMER',
      source: 'bc',
      recordId: parseRecordId(guid(1, 1)),
      changeType: 'updated',
      origin: 'webhook',
      correlationId: 'c-1',
      observedAt: '2024-05-01T07:59:00.000Z',
      deferrals: 0,
    };
    const first = await store.record({ ...failure(1), values: { name: 'x'.repeat(200) }, event, correlationId: 'c-1' });
    expect(first).toMatchObject({ attempts: 1, status: 'open' });
    const second = await store.record({ ...failure(1), message: 'still too long', dataverseId: guid(1, 2) });
    expect(second.id).toBe(first.id);
    expect(second).toMatchObject({ attempts: 2, message: 'still too long', dataverseId: guid(1, 2), firstSeen: first.firstSeen });
    expect(second.lastSeen > first.lastSeen).toBe(true);
    const read = await store.get(first.id);
    expect(read).toMatchObject({ attempts: 2, event, values: { name: 'x'.repeat(200) }, correlationId: 'c-1' });
    // The other direction of the same record is its own error.
    const other = await store.record(failure(1, { direction: 'FromIntegrationTable', dataverseId: guid(1, 2) }));
    expect(other.id).not.toBe(first.id);
  });

  it('keeps one open row under concurrent failures of the same record', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => store.record(failure(2))));
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    const rec = await store.get(results[0]!.id);
    expect(rec?.attempts).toBe(10);
  });

  it('resolves the open error so the next failure opens a new one', async () => {
    const e = await store.record(failure(3));
    await store.resolve('CUSTOMER', { bcId: guid(3, 1) });
    expect((await store.get(e.id))?.status).toBe('resolved');
    const again = await store.record(failure(3));
    expect(again.id).not.toBe(e.id);
    expect(again.attempts).toBe(1);
    await store.resolve('CUSTOMER', { bcId: guid(999, 1) }); // nothing open: no error
  });

  it('resolves by the Dataverse id too', async () => {
    const e = await store.record(failure(4, { direction: 'FromIntegrationTable', bcId: undefined, dataverseId: guid(4, 2) }));
    await store.resolve('CUSTOMER', { dataverseId: guid(4, 2).toUpperCase() }, 'FromIntegrationTable');
    expect((await store.get(e.id))?.status).toBe('resolved');
  });

  it('dismisses an error', async () => {
    const e = await store.record(failure(5));
    await store.dismiss(e.id);
    expect((await store.get(e.id))?.status).toBe('dismissed');
    expect((await store.record(failure(5))).id).not.toBe(e.id);
    await expect(store.dismiss('CUSTOMER:err_nope')).rejects.toThrow(/no sync error/);
    await expect(store.dismiss('garbage')).rejects.toThrow(/not a sync error id/);
  });

  it('lists with filters and pages, newest first', async () => {
    const s = new TableSyncErrorStore(await freshTable(azurite.connectionString, 'ErrList'), { clock: new StepClock() });
    for (let i = 0; i < 25; i++) await s.record(failure(i, { code: i % 5 === 0 ? 'DEP.PARENT_NOT_COUPLED' : 'DV.VALIDATION' }));
    for (let i = 0; i < 5; i++) await s.record(failure(i, { mapping: 'VENDOR' }));
    await s.resolve('CUSTOMER', { bcId: guid(1, 1) });
    const all: SyncErrorRecord[] = [];
    let continuation: string | undefined;
    do {
      const page = await s.list({ mapping: 'CUSTOMER', pageSize: 10, continuation });
      expect(page.items.length).toBeLessThanOrEqual(10);
      all.push(...page.items);
      continuation = page.continuation;
    } while (continuation);
    expect(all).toHaveLength(25);
    expect(all.map((e) => e.firstSeen)).toEqual([...all.map((e) => e.firstSeen)].sort().reverse());
    expect((await s.list({ mapping: 'CUSTOMER', code: 'DEP.PARENT_NOT_COUPLED' })).items).toHaveLength(5);
    expect((await s.list({ mapping: 'CUSTOMER', status: 'open' })).items).toHaveLength(24);
    expect((await s.list({ status: 'resolved' })).items.map((e) => e.bcId)).toEqual([guid(1, 1)]);
    expect((await s.list({ pageSize: 1000 })).items).toHaveLength(30);
  });

  it('never stores secrets from the values or the message', async () => {
    const e = await store.record(
      failure(6, {
        message: 'POST failed with Authorization: Bearer abcdefghijk.lmnop',
        values: { name: 'Adatum', client_secret: 'abc', headers: { Authorization: 'Bearer zzz' } },
      }),
    );
    const raw = await store.client.getEntity<Record<string, unknown>>('CUSTOMER', e.id.slice('CUSTOMER:'.length));
    const stored = JSON.stringify(raw);
    expect(stored).not.toContain('abcdefghijk');
    expect(stored).not.toContain('zzz');
    expect(stored).not.toContain('"abc"');
    expect(stored).toContain('Adatum');
    expect((await store.get(e.id))?.values).toEqual({ name: 'Adatum', client_secret: REDACTED, headers: { Authorization: REDACTED } });
  });

  it('refuses an error without a record id or with a bad direction', async () => {
    await expect(store.record(failure(7, { bcId: undefined }))).rejects.toThrow(/bcId or dataverseId/);
    await expect(store.record({ ...failure(7), direction: 'Sideways' as never })).rejects.toThrow(/invalid sync error/);
  });
});
