import { describe, expect, it } from 'vitest';
import type { VersionedRecord } from '../../../shared/domain/ports';
import { syncedInRun } from '../../../shared/operations/full-sync-bulk';
import { FAKE_INTEGRATION_USER, FakeClock, FakeCouplingStore } from '../../support/fakes';

const SINCE = '2026-12-06T10:00:00.300Z';
const USER = '00000000-0000-4000-8000-0000000000aa';

function row(n: number, modifiedBy: string, modifiedOn: string): VersionedRecord {
  const id = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  return { id, etag: `W/"${n}"`, modifiedOn, modifiedBy, values: {} };
}

/** The fake store, counting the look-ups the second pass makes by Dataverse id. */
function store() {
  const couplings = new FakeCouplingStore(new FakeClock());
  const looked: string[] = [];
  const get = couplings.getByDataverseId.bind(couplings);
  couplings.getByDataverseId = (mapping, id) => {
    looked.push(id);
    return get(mapping, id);
  };
  return { couplings, looked };
}

describe("the full sync's second pass: which Dataverse rows the first pass already synchronized", () => {
  it('skips the rows the integration user wrote since the run started without reading their couplings', async () => {
    const { couplings, looked } = store();
    const records = [
      row(1, FAKE_INTEGRATION_USER, '2026-12-06T10:00:01Z'),
      row(2, FAKE_INTEGRATION_USER.toUpperCase(), '2026-12-06T10:05:00Z'),
    ];
    const fresh = await syncedInRun(couplings, 'CUSTOMER', 'dataverse', records, {
      since: SINCE,
      integrationUserId: FAKE_INTEGRATION_USER,
      concurrency: 4,
    });
    expect(fresh).toEqual([true, true]);
    expect(looked).toEqual([]);
  });

  it("reads the coupling of a row someone else modified, one the integration user wrote before the run, and one of Dataverse's own second", async () => {
    const { couplings, looked } = store();
    const byUser = row(1, USER, '2026-12-06T10:05:00Z');
    const before = row(2, FAKE_INTEGRATION_USER, '2026-12-06T09:59:00Z');
    // Dataverse keeps whole seconds: 10:00:00Z is before the run's 10:00:00.300Z (a string comparison says after).
    const sameSecond = row(3, FAKE_INTEGRATION_USER, '2026-12-06T10:00:00Z');
    const synced = await couplings.couple({ mapping: 'CUSTOMER', bcId: `b${byUser.id.slice(1)}`, dataverseId: byUser.id, environment: '' });
    await couplings.update(synced, { lastSyncedAt: '2026-12-06T10:06:00.000Z', lastResult: 'modified' });
    const fresh = await syncedInRun(couplings, 'CUSTOMER', 'dataverse', [byUser, before, sameSecond], {
      since: SINCE,
      integrationUserId: FAKE_INTEGRATION_USER,
      concurrency: 4,
    });
    expect(fresh).toEqual([true, false, false]);
    expect(looked.sort()).toEqual([byUser.id, before.id, sameSecond.id].sort());
  });

  it('reads every coupling when the integration user is not known', async () => {
    const { couplings, looked } = store();
    const records = [row(1, FAKE_INTEGRATION_USER, '2026-12-06T10:05:00Z')];
    const fresh = await syncedInRun(couplings, 'CUSTOMER', 'dataverse', records, { since: SINCE, concurrency: 4 });
    expect(fresh).toEqual([false]);
    expect(looked).toEqual([records[0]?.id]);
  });
});
