import { createHash } from 'node:crypto';
import { SyncError } from '../../errors';
import type { DataverseClient } from './client';

/**
 * The company row of an installation in Dataverse, as BC's connection setup keeps it (CDSIntegrationImpl,
 * table 5393 "CDS Company" = `bcbi_company` of BC's integration solution): one row per BC company, found by
 * `bcbi_externalid`, named `bcbi_name` (Text[30]), with `bcbi_defaultowningteam` the owner team of the company's
 * business unit (`BCI - <business unit>`). Rows of the company carry it in `bcbi_companyid`.
 */

export interface InstallationIdentity {
  /** `bcbi_name`: at most 30 characters. */
  name: string;
  /** `bcbi_externalid`: at most 36 characters. */
  externalId: string;
}

export interface CompanyRow {
  companyId: string;
  name: string;
  externalId: string;
  owningTeamId?: string;
  businessUnitId?: string;
  /** What this call created (empty when everything existed). */
  created: Array<'company' | 'businessunit' | 'team'>;
}

/**
 * The installation's identity from BC's environment and company: BC writes the company's id to `bcbi_externalid`;
 * two environments (a production and its copied sandbox) keep the same company id, so ours is a name-based GUID of
 * tenant, environment and company (36 characters, the column's length), stable across restarts.
 */
export function installationIdentity(s: {
  BC_TENANT_ID: string;
  BC_ENVIRONMENT: string;
  BC_COMPANY_ID: string;
  INSTALLATION_NAME?: string | undefined;
}): InstallationIdentity {
  const hex = createHash('sha256').update(`${s.BC_TENANT_ID}/${s.BC_ENVIRONMENT}/${s.BC_COMPANY_ID}`.toLowerCase()).digest('hex');
  const externalId = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  return { name: s.INSTALLATION_NAME ?? defaultInstallationName(s.BC_ENVIRONMENT, s.BC_COMPANY_ID), externalId };
}

/** `<environment> <first 8 of the company id>`, cut to the 30 characters of `bcbi_name`. */
export function defaultInstallationName(environment: string, companyId: string): string {
  const suffix = ` ${companyId.slice(0, 8).toLowerCase()}`;
  return `${environment.slice(0, 30 - suffix.length)}${suffix}`;
}

const quote = (v: string) => `'${v.replaceAll("'", "''")}'`;

/**
 * Finds the installation's company row, or creates it with its business unit (child of the root unit) and owner
 * team `BCI - <name>` as BC's connection setup does. `owningTeamId` (DATAVERSE_OWNING_TEAM, resolved) is used as
 * the company's default owning team instead of a created one. Idempotent.
 */
export async function ensureCompany(
  dv: Pick<DataverseClient, 'listPage' | 'createReturningId' | 'update'>,
  identity: InstallationIdentity,
  options: { owningTeamId?: string; create?: boolean } = {},
): Promise<CompanyRow> {
  const created: CompanyRow['created'] = [];
  const found = await dv.listPage('bcbi_companies', {
    filter: `bcbi_externalid eq ${quote(identity.externalId)}`,
    select: ['bcbi_companyid', 'bcbi_name', 'bcbi_externalid', '_bcbi_defaultowningteam_value'],
    pageSize: 2,
  });
  const row = found.value[0];
  let teamId =
    options.owningTeamId ?? (typeof row?._bcbi_defaultowningteam_value === 'string' ? row._bcbi_defaultowningteam_value : undefined);
  let businessUnitId: string | undefined;
  if (!teamId && options.create !== false) {
    ({ teamId, businessUnitId } = await ensureTeam(dv, identity.name, created));
  }
  if (row) {
    const companyId = String(row.bcbi_companyid);
    if (teamId && row._bcbi_defaultowningteam_value !== teamId)
      await dv.update('bcbi_companies', companyId, { 'bcbi_defaultowningteam@odata.bind': `/teams(${teamId})` }, '*');
    return {
      companyId,
      name: String(row.bcbi_name ?? identity.name),
      externalId: identity.externalId,
      owningTeamId: teamId,
      businessUnitId,
      created,
    };
  }
  if (options.create === false)
    throw new SyncError('CONFIG.INVALID', `No Dataverse company row (bcbi_company) for installation '${identity.name}'; run setup`);
  const body: Record<string, unknown> = { bcbi_name: identity.name, bcbi_externalid: identity.externalId };
  if (teamId) {
    body['bcbi_defaultowningteam@odata.bind'] = `/teams(${teamId})`;
    body['ownerid@odata.bind'] = `/teams(${teamId})`;
  }
  const companyId = await dv.createReturningId('bcbi_companies', body);
  created.push('company');
  return { companyId, name: identity.name, externalId: identity.externalId, owningTeamId: teamId, businessUnitId, created };
}

/** The company's business unit (named after it, under the root unit) and its owner team `BCI - <name>`. */
async function ensureTeam(
  dv: Pick<DataverseClient, 'listPage' | 'createReturningId'>,
  name: string,
  created: CompanyRow['created'],
): Promise<{ teamId: string; businessUnitId: string }> {
  const units = await dv.listPage('businessunits', { filter: `name eq ${quote(name)}`, select: ['businessunitid'], pageSize: 1 });
  let businessUnitId = units.value[0]?.businessunitid as string | undefined;
  if (!businessUnitId) {
    const roots = await dv.listPage('businessunits', {
      filter: '_parentbusinessunitid_value eq null',
      select: ['businessunitid'],
      pageSize: 1,
    });
    const root = roots.value[0]?.businessunitid;
    if (typeof root !== 'string')
      throw new SyncError('DV.NOT_FOUND', 'Dataverse has no root business unit to create the company unit under');
    businessUnitId = await dv.createReturningId('businessunits', { name, 'parentbusinessunitid@odata.bind': `/businessunits(${root})` });
    created.push('businessunit');
  }
  const teamName = `BCI - ${name}`;
  const teams = await dv.listPage('teams', {
    filter: `name eq ${quote(teamName)} and _businessunitid_value eq ${businessUnitId}`,
    select: ['teamid'],
    pageSize: 1,
  });
  let teamId = teams.value[0]?.teamid as string | undefined;
  if (!teamId) {
    // teamtype 0 = Owner: only owner teams can own rows.
    teamId = await dv.createReturningId('teams', {
      name: teamName,
      teamtype: 0,
      'businessunitid@odata.bind': `/businessunits(${businessUnitId})`,
    });
    created.push('team');
  }
  return { teamId, businessUnitId };
}
