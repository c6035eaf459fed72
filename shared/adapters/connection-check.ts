import type { Settings } from '../config';
import type { BcEntityTarget } from '../domain/ports';
import { type ErrorCode, SyncError, toSyncError } from '../errors';
import { createBcClient } from './bc/factory';
import { type CredentialSettings, createTokenSource } from './credentials';
import type { DataverseClient } from './dataverse/client';
import { createDataverseClient } from './dataverse/factory';
import type { HttpHooks } from './http/client';

export type ConnectionCheckSettings = CredentialSettings &
  Pick<Settings, 'BC_API_URL' | 'BC_ENVIRONMENT' | 'BC_COMPANY_ID'> &
  Partial<
    Pick<
      Settings,
      'DATAVERSE_INTEGRATION_USER_ID' | 'BC_MAX_CONCURRENCY' | 'DATAVERSE_MAX_CONCURRENCY' | 'OWNERSHIP_MODEL' | 'DATAVERSE_OWNING_TEAM'
    >
  >;

export interface ConnectionCheck {
  /** Stable id, e.g. `bc.company`, `dataverse.integrationUser`, `dataverse.metadata.account`. */
  id: string;
  ok: boolean;
  /** What was found, or what is missing and how to fix it. */
  detail: string;
  code?: ErrorCode;
}

export interface ConnectionReport {
  ok: boolean;
  checks: ConnectionCheck[];
  bc: { companyName?: string };
  dataverse: { userId?: string; organizationId?: string; businessUnitId?: string };
}

export interface ConnectionCheckOptions {
  /** Dataverse tables (and columns) the mappings use; each must exist in metadata. Default `account`, `contact`. */
  dataverseTables?: Array<{ logicalName: string; columns?: string[] }>;
  /** BC entity sets (and fields) the mappings use. Default API v2.0 `customers`. */
  bcEntitySets?: Array<{ kind: BcEntityTarget['kind']; entitySet: string; fields?: string[] }>;
  hooks?: HttpHooks;
  /** Per-request timeout in ms. Default 20,000: a check should answer quickly, not retry for a minute. */
  timeoutMs?: number;
}

/**
 * Checks both connections and reports what works and what is missing: credentials (a token is obtained), BC
 * reachable and the company found, read access to BC, Dataverse reachable, WhoAmI is the configured integration
 * user (or reports the discovered one), read access to accounts and metadata access, and that the mapped tables and
 * columns exist. Never throws for a failed check; every failure is an entry with the stable error code.
 */
export async function checkConnections(settings: ConnectionCheckSettings, options: ConnectionCheckOptions = {}): Promise<ConnectionReport> {
  const checks: ConnectionCheck[] = [];
  const report: ConnectionReport = { ok: false, checks, bc: {}, dataverse: {} };
  const timeoutMs = options.timeoutMs ?? 20_000;
  const retry = { maxAttempts: 2, budgetMs: 5_000 };
  const run = async (id: string, fn: () => Promise<string>): Promise<boolean> => {
    try {
      checks.push({ id, ok: true, detail: await fn() });
      return true;
    } catch (err) {
      const e = toSyncError(err);
      checks.push({ id, ok: false, detail: e.message, code: e.code });
      return false;
    }
  };

  // ---- Business Central ----
  const bcTokenOk = await run('bc.credentials', async () => {
    await createTokenSource('bc', settings).getToken();
    return `token obtained (${settings.BC_AUTH})`;
  });
  if (bcTokenOk) {
    const bc = createBcClient(settings, { hooks: options.hooks, timeoutMs, retry });
    const companyOk = await run('bc.company', async () => {
      const companies = await bc.companies();
      const company = companies.find((c) => c.id.toLowerCase() === settings.BC_COMPANY_ID.toLowerCase());
      if (!company) {
        const known = companies.map((c) => `${c.name} (${c.id})`).join(', ') || 'none';
        throw new SyncError(
          'BC.NOT_FOUND',
          `company ${settings.BC_COMPANY_ID} not found in ${settings.BC_ENVIRONMENT}; companies: ${known}`,
        );
      }
      report.bc.companyName = company.name;
      return `company '${company.name}' found in environment ${settings.BC_ENVIRONMENT}`;
    });
    if (companyOk) {
      const sets = options.bcEntitySets ?? [{ kind: 'apiV2' as const, entitySet: 'customers' }];
      for (const s of sets) {
        await run(`bc.entitySet.${s.kind}.${s.entitySet}`, async () => {
          const page = await bc.listPage({ side: 'bc', kind: s.kind, entitySet: s.entitySet }, { pageSize: 1 });
          const missing: string[] = [];
          for (const f of s.fields ?? []) if (!(await bc.bcField({ kind: s.kind, entitySet: s.entitySet }, f))) missing.push(f);
          if (missing.length) throw new SyncError('MAP.INVALID', `${s.entitySet} has no field(s) ${missing.join(', ')}`);
          return `${s.entitySet} readable (${page.value.length ? 'has records' : 'empty'})${s.fields?.length ? `, ${s.fields.length} field(s) present` : ''}`;
        });
      }
    }
  }

  // ---- Dataverse ----
  const dvTokenOk = await run('dataverse.credentials', async () => {
    await createTokenSource('dataverse', settings).getToken();
    return `token obtained (${settings.DATAVERSE_AUTH})`;
  });
  if (dvTokenOk) {
    const dv = createDataverseClient(settings, { hooks: options.hooks, timeoutMs, retry });
    const whoOk = await run('dataverse.whoAmI', async () => {
      const who = await dv.whoAmI();
      report.dataverse = { userId: who.UserId, organizationId: who.OrganizationId, businessUnitId: who.BusinessUnitId };
      return `reachable; organization ${who.OrganizationId}`;
    });
    if (whoOk) {
      await run('dataverse.integrationUser', async () => {
        const configured = settings.DATAVERSE_INTEGRATION_USER_ID;
        const actual = report.dataverse.userId ?? '';
        if (!configured) return `DATAVERSE_INTEGRATION_USER_ID not set; discovered ${actual} (set it to make the check strict)`;
        if (configured.toLowerCase() !== actual.toLowerCase()) {
          throw new SyncError(
            'CONFIG.INVALID',
            `the credentials sign in as systemuser ${actual}, but DATAVERSE_INTEGRATION_USER_ID is ${configured}`,
          );
        }
        return `signed in as the integration user ${actual}`;
      });
      await run('dataverse.privileges', async () => {
        await dv.listPage('accounts', { select: ['accountid'], pageSize: 1 });
        const meta = await dv.entityInfo('account');
        if (!meta) throw new SyncError('DV.NOT_FOUND', 'EntityDefinitions has no account table');
        return 'can read accounts and table metadata';
      });
      if (settings.OWNERSHIP_MODEL === 'Team') {
        await run('dataverse.owningTeam', async () => {
          const team = await resolveOwningTeam(dv, settings.DATAVERSE_OWNING_TEAM);
          return `owner team '${team.name}' (${team.teamId}) has ${team.roles} security role(s)`;
        });
      }
      const tables = options.dataverseTables ?? [{ logicalName: 'account' }, { logicalName: 'contact' }];
      for (const t of tables) {
        await run(`dataverse.metadata.${t.logicalName}`, async () => {
          const info = await dv.entityInfo(t.logicalName);
          if (!info) throw new SyncError('MAP.INVALID', `table ${t.logicalName} does not exist`);
          const missing = (t.columns ?? []).filter((c) => !info.columns.has(c.toLowerCase()));
          if (missing.length) throw new SyncError('MAP.INVALID', `${t.logicalName} has no column(s) ${missing.join(', ')}`);
          return `${t.logicalName} (${info.entitySetName ?? '?'}) present with ${info.columns.size} columns${info.changeTrackingEnabled === false ? '; change tracking is OFF' : ''}`;
        });
      }
    }
  }

  report.ok = checks.every((c) => c.ok);
  return report;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** team teamtype 0 = Owner: only owner teams can own records (team entity reference). */
const OWNER_TEAM = 0;

/**
 * The owner team that owns new rows under Team ownership (DATAVERSE_OWNING_TEAM, a name or a teamid). It must
 * exist, be an owner team and have at least one security role (teamrolescollection) — a team without a role can
 * own nothing it cannot read. Throws CONFIG.INVALID naming what is wrong; never falls back to another owner.
 */
export async function resolveOwningTeam(
  dv: Pick<DataverseClient, 'listPage'>,
  team: string | undefined,
): Promise<{ teamId: string; name: string; roles: number }> {
  if (!team) throw new SyncError('CONFIG.INVALID', 'OWNERSHIP_MODEL=Team needs DATAVERSE_OWNING_TEAM (the owner team name or teamid)');
  const filter = GUID.test(team) ? `teamid eq ${team}` : `name eq '${team.replaceAll("'", "''")}'`;
  const found = await dv.listPage('teams', { filter, select: ['teamid', 'name', 'teamtype'], pageSize: 2 });
  const rows = found.value;
  if (rows.length === 0) throw new SyncError('CONFIG.INVALID', `DATAVERSE_OWNING_TEAM: no Dataverse team '${team}'`);
  if (rows.length > 1) throw new SyncError('CONFIG.INVALID', `DATAVERSE_OWNING_TEAM: several teams are named '${team}'; give its teamid`);
  const row = rows[0] as Record<string, unknown>;
  const teamId = String(row.teamid);
  const name = String(row.name ?? team);
  if (Number(row.teamtype) !== OWNER_TEAM) {
    throw new SyncError('CONFIG.INVALID', `DATAVERSE_OWNING_TEAM: team '${name}' is not an owner team (teamtype ${String(row.teamtype)})`);
  }
  const roles = await dv.listPage('teamrolescollection', { filter: `teamid eq ${teamId}`, select: ['roleid'], pageSize: 50 });
  if (roles.value.length === 0) {
    throw new SyncError(
      'CONFIG.INVALID',
      `DATAVERSE_OWNING_TEAM: team '${name}' has no security role; assign one (BC gives it Integration Administrator)`,
    );
  }
  return { teamId, name, roles: roles.value.length };
}

/** Human-readable lines for the CLI: `✔ id: detail` / `✘ id [CODE]: detail`. */
export function formatConnectionReport(report: ConnectionReport): string {
  return report.checks.map((c) => (c.ok ? `OK    ${c.id}: ${c.detail}` : `FAIL  ${c.id} [${c.code ?? 'ERROR'}]: ${c.detail}`)).join('\n');
}
