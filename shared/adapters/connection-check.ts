import type { Settings } from '../config';
import type { BcEntityTarget } from '../domain/ports';
import { type ErrorCode, SyncError, toSyncError } from '../errors';
import { createBcClient } from './bc/factory';
import { type CredentialSettings, createTokenSource } from './credentials';
import { createDataverseClient } from './dataverse/factory';
import type { HttpHooks } from './http/client';

export type ConnectionCheckSettings = CredentialSettings &
  Pick<Settings, 'BC_API_URL' | 'BC_ENVIRONMENT' | 'BC_COMPANY_ID'> &
  Partial<Pick<Settings, 'DATAVERSE_INTEGRATION_USER_ID' | 'BC_MAX_CONCURRENCY' | 'DATAVERSE_MAX_CONCURRENCY'>>;

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

/** Human-readable lines for the CLI: `✔ id: detail` / `✘ id [CODE]: detail`. */
export function formatConnectionReport(report: ConnectionReport): string {
  return report.checks.map((c) => (c.ok ? `OK    ${c.id}: ${c.detail}` : `FAIL  ${c.id} [${c.code ?? 'ERROR'}]: ${c.detail}`)).join('\n');
}
