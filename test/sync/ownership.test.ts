import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syncRecord } from '../../shared/domain/sync/sync-record';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { type Stack, startStack } from '../support/stack';

/** Team ownership (BC's connection setup option): new rows are owned by the company's owning team. */
describe('Team ownership model', () => {
  let stack: Stack;
  let rt: Runtime;
  beforeAll(async () => {
    stack = await startStack({ functions: [], env: { OWNERSHIP_MODEL: 'Team' } });
    rt = await getRuntime();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('drops SALESPEOPLE and gives a new account to the BCI team instead of the salesperson', async () => {
    expect(await rt.stores.mappings.get('SALESPEOPLE')).toBeUndefined();
    const res = await fetch(`${stack.bc.apiBase()}/customers`, {
      method: 'POST',
      headers: { Authorization: 'Bearer t', 'Content-Type': 'application/json' },
      body: JSON.stringify({ displayName: 'Team Owned Ltd', salespersonCode: 'JO' }),
    });
    const id = ((await res.json()) as { id: string }).id;
    const outcome = await syncRecord(
      {
        v: 1,
        mapping: 'CUSTOMER',
        source: 'bc',
        recordId: id,
        changeType: 'created',
        origin: 'manual',
        correlationId: 'team',
        observedAt: new Date().toISOString(),
        deferrals: 0,
      },
      rt.syncDeps,
    );
    expect(outcome.result, outcome.message).toBe('inserted');
    const account = (await (
      await fetch(`${stack.dataverse.apiBase}/accounts(${outcome.dataverseId})?$select=_ownerid_value`, {
        headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}` },
      })
    ).json()) as { _ownerid_value: string };
    const teams = (await (
      await fetch(`${stack.dataverse.apiBase}/teams?$select=teamid,name&$filter=${encodeURIComponent("startswith(name,'BCI - ')")}`, {
        headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}` },
      })
    ).json()) as { value: Array<{ teamid: string }> };
    expect(account._ownerid_value).toBe(teams.value[0]?.teamid);
  });
});
