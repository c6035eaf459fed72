import { checkConnections, resolveOwningTeam } from '../adapters/connection-check';
import { ensureCompany, installationIdentity } from '../adapters/dataverse/company';
import { captureDepsFrom } from '../capture/context';
import { registerDataverseWebhooks, webhookInstallation } from '../capture/dataverse-registration';
import { ensureSubscriptions, INSTALL_EXTENSION, type SubscriptionState } from '../capture/subscriptions';
import { toSyncError } from '../errors';
import type { Runtime } from '../runtime';

/**
 * The server side of the assisted setup (BC's "Dataverse Connection Setup" wizard). Every step is idempotent,
 * so the setup can be re-run: it reports what it found, created, or could not do and how to fix it.
 */

export interface SetupStep {
  step: string;
  ok: boolean;
  detail: string;
  data?: unknown;
}

export async function runSetup(rt: Runtime, options: { steps?: string[] } = {}): Promise<{ ok: boolean; steps: SetupStep[] }> {
  const wanted = (s: string) => !options.steps || options.steps.includes(s);
  const steps: SetupStep[] = [];
  const run = async (step: string, f: () => Promise<Omit<SetupStep, 'step'>>) => {
    if (!wanted(step)) return;
    try {
      steps.push({ step, ...(await f()) });
    } catch (err) {
      steps.push({ step, ok: false, detail: toSyncError(err).message });
    }
  };

  await run('mappings', async () => {
    // Reading seeds the defaults for the configured switches on first use.
    const mappings = await rt.stores.mappings.list({ fresh: true });
    return { ok: true, detail: `${mappings.length} table mappings (${mappings.filter((m) => m.enabled).length} enabled)` };
  });

  await run('connection', async () => {
    const report = await checkConnections(rt.settings, { timeoutMs: 10_000 });
    const failed = report.checks.filter((c) => !c.ok);
    return {
      ok: report.ok,
      detail: report.ok ? `all ${report.checks.length} checks passed` : failed.map((c) => `${c.id}: ${c.detail}`).join('; '),
      data: report,
    };
  });

  await run('columns', async () => {
    // The columns BC's integration solution adds (bcbi_*); our mappings name every column they need.
    const mappings = (await rt.mappings.all()).filter((m) => m.enabled && !m.dataverse.optionSetColumn);
    const missing: string[] = [];
    const seen = new Set<string>();
    for (const m of mappings) {
      for (const f of m.fields) {
        if (f.status !== 'Enabled' || !f.dataverseColumn || f.dataverseType === 'EntityName') continue;
        const key = `${m.dataverse.entityLogicalName}.${f.dataverseColumn}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const info = await rt.dataverse.entityInfo(m.dataverse.entityLogicalName);
        if (!info) {
          missing.push(`${m.dataverse.entityLogicalName} (table)`);
          continue;
        }
        if (!info.columns.has(f.dataverseColumn.toLowerCase())) missing.push(key);
      }
    }
    if (missing.length === 0) return { ok: true, detail: `every mapped column exists (${seen.size} checked)` };
    return {
      ok: false,
      detail:
        `${missing.length} mapped column(s) missing: ${missing.slice(0, 20).join(', ')}. Import BC's integration solution ` +
        '(or create the columns in the maker portal), or disable those field mappings; then re-run setup.',
      data: { missing },
    };
  });

  if (rt.settings.MULTI_COMPANY_SYNC) {
    await run('company', async () => {
      // BC's connection setup: the company row, its business unit and owner team (or DATAVERSE_OWNING_TEAM's team).
      const team = rt.settings.DATAVERSE_OWNING_TEAM ? await resolveOwningTeam(rt.dataverse, rt.settings.DATAVERSE_OWNING_TEAM) : undefined;
      const identity = installationIdentity(rt.settings);
      const company = await ensureCompany(rt.dataverse, identity, team ? { owningTeamId: team.teamId } : {});
      const made = company.created.length > 0 ? `created ${company.created.join(', ')}` : 'found';
      return {
        ok: true,
        detail:
          `company '${company.name}' (bcbi_companyid ${company.companyId}, external id ${company.externalId}) ${made}; owning team ${company.owningTeamId ?? 'none'}` +
          (company.created.includes('team') ? ': assign it a security role in Dataverse (BC gives it Integration Administrator)' : ''),
        data: company,
      };
    });
  }

  await run('dataverse-webhooks', async () => {
    const report = await registerDataverseWebhooks(rt.dataverse, {
      publicBaseUrl: rt.settings.PUBLIC_BASE_URL,
      webhookKey: rt.settings.DATAVERSE_WEBHOOK_KEY,
      mappings: await rt.mappings.all(),
      installation: webhookInstallation(rt.settings),
    });
    return {
      ok: true,
      detail: `endpoint ${report.endpoint}; steps created ${report.created.length}, updated ${report.updated.length}, unchanged ${report.unchanged.length}, removed ${report.removed.length}`,
      data: report,
    };
  });

  await run('bc-subscriptions', async () => {
    const report = await ensureSubscriptions(captureDepsFrom(rt, { log: () => undefined }));
    // A missing extension page or a refused subscription leaves its mappings without change capture: not ok, and
    // each one says what to do.
    const page = (r: SubscriptionState) => `${r.group}/${r.entitySet} (${r.mappings.join(', ')})`;
    const missing = report.resources.filter((r) => r.status === 'missing');
    const failed = report.resources.filter((r) => r.status === 'failed');
    const detail = [
      summarize(report),
      ...(missing.length ? [`BC extension page missing: ${missing.map(page).join(', ')}. ${INSTALL_EXTENSION}`] : []),
      ...failed.map((r) => `${page(r)} could not be subscribed (polled instead): ${r.lastError ?? 'no reason given'}`),
    ];
    return { ok: missing.length === 0 && failed.length === 0, detail: detail.join('; '), data: report };
  });

  return { ok: steps.every((s) => s.ok), steps };
}

function summarize(report: unknown): string {
  if (typeof report !== 'object' || report === null) return 'done';
  return Object.entries(report as Record<string, unknown>)
    .filter(([, v]) => Array.isArray(v) || typeof v === 'number')
    .map(([k, v]) => `${k} ${Array.isArray(v) ? v.length : v}`)
    .join(', ');
}
