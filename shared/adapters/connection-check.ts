import { BC_EXTENSION_MANIFEST, type BcExtensionManifest } from '../bc-extension/manifest';
import type { Settings } from '../config';
import { isGuid } from '../domain/ids';
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
  bc: {
    companyName?: string;
    /** The service's BC extension: whether it answers, its version as BC reports it, and pages it lacks. */
    extension?: { installed: boolean; version?: string; missingEntitySets: string[] };
  };
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
  /**
   * The service's BC extension to look for: its manifest (default the one generated from bc-extension/src) and the
   * entity sets to probe (default all of its pages). `false` skips the check.
   */
  bcExtension?: { manifest?: BcExtensionManifest; entitySets?: string[] } | false;
  /**
   * The subscription state the subscription manager last recorded (shared/capture/subscriptions.ts
   * `subscriptionHealthFrom`): each resource that is not subscribed becomes a failed `bc.subscription.*` check, so
   * the admin page and the CLI show "BC extension page missing" with what to do. Default: not reported.
   */
  subscriptions?: () => Promise<{ resources: Array<{ resource: string; mappings: string[]; status: string; lastError?: string }> }>;
}

/** The BC extension's entity sets that enabled mappings read or write (custom API pages and companion pages). */
export function extensionEntitySetsOf(
  mappings: ReadonlyArray<{ enabled: boolean; bc: { kind: string; entitySet: string; extensionEntitySet?: string | undefined } }>,
): string[] {
  const sets = new Set<string>();
  for (const m of mappings) {
    if (!m.enabled) continue;
    if (m.bc.kind === 'customApi') sets.add(m.bc.entitySet);
    if (m.bc.extensionEntitySet) sets.add(m.bc.extensionEntitySet);
  }
  return [...sets].sort();
}

/** `1.2.3.4` → [1, 2]: the automation API reports only the major and minor version. */
const majorMinor = (v: string): [number, number] => {
  const [a = 0, b = 0] = v.split('.').map(Number);
  return [a, b];
};

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
      if (options.bcExtension !== false) {
        const manifest = options.bcExtension?.manifest ?? BC_EXTENSION_MANIFEST;
        const sets = options.bcExtension?.entitySets ?? Object.keys(manifest.entitySets);
        await run('bc.extension', async () => {
          const { app, route } = manifest;
          let reported: { installed: boolean; version?: string } | undefined;
          let versionNote = '';
          try {
            const ours = (await bc.installedExtensions()).find((a) => a.id.toLowerCase() === app.id.toLowerCase());
            reported = ours?.isInstalled ? { installed: true, version: `${ours.versionMajor}.${ours.versionMinor}` } : { installed: false };
          } catch (err) {
            versionNote = `; version unknown (the automation API's extensions list answered ${toSyncError(err).code})`;
          }
          const missing: string[] = [];
          for (const entitySet of sets) {
            try {
              await bc.listPage({ side: 'bc', kind: 'customApi', entitySet }, { pageSize: 1, select: ['id'] });
            } catch (err) {
              if (toSyncError(err).code !== 'BC.NOT_FOUND') throw err;
              missing.push(entitySet);
            }
          }
          report.bc.extension = {
            installed: reported?.installed ?? missing.length < sets.length,
            ...(reported?.version ? { version: reported.version } : {}),
            missingEntitySets: missing,
          };
          const fix = `Build and publish bc-extension/ (docs/bc-extension.md) and assign its permission set BCS INTEGRATION to the app registration.`;
          if (sets.length > 0 && missing.length === sets.length)
            throw new SyncError(
              'CONFIG.INVALID',
              `BC extension '${app.name}' (${app.id}) is not installed in ${settings.BC_ENVIRONMENT}: ${route} answers 404. ${fix}`,
            );
          const expected = majorMinor(app.version);
          const found = reported?.version ? majorMinor(reported.version) : undefined;
          const older = found !== undefined && (found[0] < expected[0] || (found[0] === expected[0] && found[1] < expected[1]));
          if (missing.length || older)
            throw new SyncError(
              'CONFIG.INVALID',
              `BC extension ${reported?.version ? `version ${reported.version}` : '(version unknown)'} is older than this service expects (${app.version})` +
                `${missing.length ? `: BC extension page missing: ${missing.map((m) => `${route}/${m}`).join(', ')}` : ''}. ${fix}`,
            );
          return `BC extension '${app.name}' ${reported?.version ? `version ${reported.version} ` : ''}installed: ${sets.length} page(s) of ${route} answer${versionNote}`;
        });
      }
      if (options.subscriptions) {
        const state = await options.subscriptions().catch(() => undefined);
        for (const r of state?.resources ?? [])
          if (r.status !== 'active' && r.lastError)
            checks.push({
              id: `bc.subscription.${r.resource}`,
              ok: false,
              detail: `${r.mappings.join(', ')}: ${r.lastError}`,
              code: 'CONFIG.INVALID',
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
  const filter = isGuid(team) ? `teamid eq ${team}` : `name eq '${team.replaceAll("'", "''")}'`;
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
