import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DemoIds } from '../../dev/dataverse-simulator';
import { checkConnections } from '../../shared/adapters/connection-check';
import { parseSettings } from '../../shared/config';
import { recordId as parseRecordId } from '../../shared/domain/ids';
import { syncRecord } from '../../shared/domain/sync/sync-record';
import { buildRuntime, getRuntime, type Runtime } from '../../shared/runtime';
import { type Stack, startStack } from '../support/stack';

/**
 * Team ownership (BC's connection setup option): new rows are owned by the owner team DATAVERSE_OWNING_TEAM
 * names; the connection check proves it exists and has a role, and a missing team never falls back to the
 * integration user.
 */
describe('Team ownership model', () => {
  let stack: Stack;
  let rt: Runtime;
  const TEAM = 'BCI - CRONUS USA, Inc.';
  beforeAll(async () => {
    stack = await startStack({ functions: [], env: { OWNERSHIP_MODEL: 'Team', DATAVERSE_OWNING_TEAM: TEAM } });
    rt = await getRuntime();
  });
  afterAll(async () => {
    await stack?.stop();
  });
  const dv = async (path: string, init: RequestInit = {}) =>
    fetch(`${stack.dataverse.apiBase}/${path}`, {
      ...init,
      headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}`, 'Content-Type': 'application/json', ...init.headers },
    });
  const newCustomer = async (name: string) => {
    const res = await fetch(`${stack.bc.apiBase()}/customers`, {
      method: 'POST',
      headers: { Authorization: 'Bearer t', 'Content-Type': 'application/json' },
      body: JSON.stringify({ displayName: name, salespersonCode: 'JO' }),
    });
    return ((await res.json()) as { id: string }).id;
  };
  const sync = (recordId: string) =>
    syncRecord(
      {
        v: 1,
        mapping: 'CUSTOMER',
        source: 'bc',
        recordId: parseRecordId(recordId),
        changeType: 'created',
        origin: 'manual',
        correlationId: 'team',
        observedAt: new Date().toISOString(),
        deferrals: 0,
      },
      rt.syncDeps,
    );
  const check = (team: string | undefined) =>
    checkConnections({ ...rt.settings, DATAVERSE_OWNING_TEAM: team }, { dataverseTables: [] }).then((r) =>
      r.checks.find((c) => c.id === 'dataverse.owningTeam'),
    );

  it('drops SALESPEOPLE and gives a new account to the configured team instead of the salesperson', async () => {
    expect(await rt.stores.mappings.get('SALESPEOPLE')).toBeUndefined();
    const outcome = await sync(await newCustomer('Team Owned Ltd'));
    expect(outcome.result, outcome.message).toBe('inserted');
    const account = (await (await dv(`accounts(${outcome.dataverseId})?$select=_ownerid_value`)).json()) as { _ownerid_value: string };
    expect(account._ownerid_value).toBe(DemoIds.owningTeam);
  });

  it('requires DATAVERSE_OWNING_TEAM with Team ownership', () => {
    expect(() => parseSettings({ ...process.env, OWNERSHIP_MODEL: 'Team', DATAVERSE_OWNING_TEAM: '' })).toThrow(/DATAVERSE_OWNING_TEAM/);
  });

  it('the connection check finds the team by name or id, with its roles, and fails for a missing or role-less team', async () => {
    expect(await check(TEAM)).toMatchObject({ ok: true, detail: expect.stringContaining('1 security role') });
    expect(await check(DemoIds.owningTeam)).toMatchObject({ ok: true });
    expect(await check('BCI - Nobody')).toMatchObject({
      ok: false,
      code: 'CONFIG.INVALID',
      detail: expect.stringContaining("no Dataverse team 'BCI - Nobody'"),
    });
    const created = await dv('teams', {
      method: 'POST',
      headers: { Prefer: 'return=representation' },
      body: JSON.stringify({ name: 'BCI - No Roles', teamtype: 0, 'businessunitid@odata.bind': `/businessunits(${DemoIds.businessUnit})` }),
    });
    expect(created.status).toBe(201);
    expect(await check('BCI - No Roles')).toMatchObject({
      ok: false,
      code: 'CONFIG.INVALID',
      detail: expect.stringContaining('no security role'),
    });
  });

  it('a team that does not exist makes Team-owned inserts fail with CONFIG.INVALID, never owned by the integration user', async () => {
    const orphaned = await buildRuntime(parseSettings({ ...process.env, DATAVERSE_OWNING_TEAM: 'BCI - Nobody' }));
    try {
      const outcome = await syncRecord(
        {
          v: 1,
          mapping: 'CUSTOMER',
          source: 'bc',
          recordId: parseRecordId(await newCustomer('Orphan Ltd')),
          changeType: 'created',
          origin: 'manual',
          correlationId: 'team-missing',
          observedAt: new Date().toISOString(),
          deferrals: 0,
        },
        orphaned.syncDeps,
      );
      expect(outcome.result).toBe('failed');
      expect(outcome.message).toContain('DATAVERSE_OWNING_TEAM');
      const found = (await (await dv(`accounts?$select=accountid&$filter=${encodeURIComponent("name eq 'Orphan Ltd'")}`)).json()) as {
        value: unknown[];
      };
      expect(found.value).toHaveLength(0);
    } finally {
      await orphaned.close();
    }
  });
});
