import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DataverseSimulator, startDataverseSimulator } from '../../dev/dataverse-simulator';

/** `$filter` through a single-valued navigation property, as BC's CONTACT integration table filter uses it. */
describe('Dataverse simulator: navigation paths in $filter', () => {
  let sim: DataverseSimulator;
  beforeAll(async () => {
    sim = await startDataverseSimulator({ port: 0 });
  });
  afterAll(async () => {
    await sim.stop();
  });
  const count = async (filter: string) => {
    const res = await fetch(`${sim.apiBase}/contacts?$select=contactid&$filter=${encodeURIComponent(filter)}`, {
      headers: { Authorization: `Bearer ${sim.adminUserToken}`, Accept: 'application/json' },
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { value: unknown[] }).value.length;
  };

  it('sees the referenced key only when the polymorphic lookup points at that table', async () => {
    const all = await count('_parentcustomerid_value ne null');
    expect(all).toBeGreaterThan(0);
    expect(await count('parentcustomerid_account/accountid ne null')).toBe(all);
    expect(await count('parentcustomerid_contact/contactid ne null')).toBe(0);
    expect(await count('parentcustomerid_account/accountid eq null')).toBe((await count('contactid ne null')) - all);
  });

  it('still refuses an unknown navigation property', async () => {
    const res = await fetch(`${sim.apiBase}/contacts?$filter=${encodeURIComponent('nosuchnav/accountid ne null')}`, {
      headers: { Authorization: `Bearer ${sim.adminUserToken}`, Accept: 'application/json' },
    });
    expect(res.status).toBe(400);
  });
});
