import { createHash } from 'node:crypto';
import type { DataverseClient } from '../adapters/dataverse/client';
import { defaultInstallationName } from '../adapters/dataverse/company';
import type { ODataEntity } from '../adapters/http/schemas';
import { discriminatingColumns } from '../domain/mappings/discriminators';
import type { TableMapping } from '../domain/mappings/schema';
import { SyncError } from '../errors';

/**
 * Registers the Dataverse side of change capture through the Web API (api-contracts.md A.1b), idempotently:
 * one webhook service endpoint (`contract` 8, WebhookKey auth → `?code=<DATAVERSE_WEBHOOK_KEY>`) pointing at
 * `${PUBLIC_BASE_URL}/api/webhooks/dataverse`, and per mapped table a Create, an Update (with filtering
 * attributes from the enabled field mappings) and a Delete step: asynchronous, post-operation. Steps of this
 * endpoint that no mapping needs any more are deleted. Running it twice changes nothing the second time.
 */

/** Name of our service endpoint with one installation; steps are found through it. */
export const SERVICE_ENDPOINT_NAME = 'bc-dataverse-sync';

/**
 * The endpoint of an installation: `bc-dataverse-sync` alone, `bc-dataverse-sync (<installation>)` with
 * MULTI_COMPANY_SYNC, so installations sharing one Dataverse each keep their own endpoint and steps (found through
 * the endpoint), and registering or removing one never touches another's.
 */
export function serviceEndpointName(installation?: string): string {
  return installation ? `${SERVICE_ENDPOINT_NAME} (${installation})` : SERVICE_ENDPOINT_NAME;
}

/** The installation whose webhooks these settings register: its name with MULTI_COMPANY_SYNC, none otherwise. */
export function webhookInstallation(s: {
  MULTI_COMPANY_SYNC: boolean;
  INSTALLATION_NAME?: string | undefined;
  BC_ENVIRONMENT: string;
  BC_COMPANY_ID: string;
}): string | undefined {
  return s.MULTI_COMPANY_SYNC ? (s.INSTALLATION_NAME ?? defaultInstallationName(s.BC_ENVIRONMENT, s.BC_COMPANY_ID)) : undefined;
}
const MESSAGES = ['Create', 'Update', 'Delete'] as const;
type Message = (typeof MESSAGES)[number];

export interface DesiredStep {
  name: string;
  message: Message;
  table: string;
  /** Comma-separated, sorted; empty for Create/Delete (fire on every row). */
  filteringAttributes: string;
  /**
   * Image carrying the columns that tell the table's mappings apart (account: `customertypecode`), so the webhook
   * can route an update or delete to CUSTOMER or VENDOR: a post image on Update, a pre image on Delete (the row is
   * gone afterwards). Absent when one mapping reads the table.
   */
  image?: { imageType: 0 | 1; alias: string; messagePropertyName: 'Target' | 'Id'; attributes: string };
}

export interface RegistrationReport {
  serviceEndpointId: string;
  endpoint: 'created' | 'updated' | 'unchanged';
  created: string[];
  updated: string[];
  removed: string[];
  unchanged: string[];
  /** Tables that could not get steps (no SDK message filter: the table does not allow custom steps). */
  skipped: Array<{ table: string; reason: string }>;
}

/** `${PUBLIC_BASE_URL}/api/webhooks/dataverse`. */
export function dataverseWebhookUrl(publicBaseUrl: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/api/webhooks/dataverse`;
}

/**
 * The steps the mappings need: every enabled, non-option mapping with `changeCapture.dataverse = 'webhook'`;
 * Update filters on the Dataverse columns of its enabled field mappings plus the columns its integration table
 * filter tests (a row entering the filter is a change too). Tables shared by mappings (account) get one set.
 */
export function desiredSteps(mappings: TableMapping[], installation?: string): DesiredStep[] {
  const prefix = `${serviceEndpointName(installation)}: `;
  const columns = new Map<string, Set<string>>();
  const byTable = new Map<string, TableMapping[]>();
  for (const m of mappings) {
    if (!m.enabled || m.optionMapping || m.changeCapture.dataverse !== 'webhook') continue;
    const table = m.dataverse.entityLogicalName;
    byTable.set(table, [...(byTable.get(table) ?? []), m]);
    const set = columns.get(table) ?? new Set<string>();
    for (const f of m.fields) if (f.status === 'Enabled' && f.dataverseColumn) set.add(f.dataverseColumn.toLowerCase());
    // Plain columns only: `nav/column` paths and `{placeholders}` are not columns of this table.
    for (const [, column] of m.integrationTableFilter.matchAll(/(?<![\w/{])([a-z_][a-z0-9_]*)\s+(?:eq|ne|gt|ge|lt|le)\s/g))
      if (column) set.add(column.replace(/^_(.*)_value$/, '$1'));
    columns.set(table, set);
  }
  const out: DesiredStep[] = [];
  for (const [table, set] of [...columns].sort(([a], [b]) => a.localeCompare(b))) {
    const tableMappings = byTable.get(table) ?? [];
    // Multi-company: the images carry the row's company too, so the webhook routes by it (routeByCompany).
    const company = installation && tableMappings.some((m) => m.integrationTableFilter.includes('_bcbi_companyid_value'));
    const imageColumns = [...discriminatingColumns(tableMappings), ...(company ? ['bcbi_companyid'] : [])].sort().join(',');
    for (const message of MESSAGES) {
      const step: DesiredStep = {
        name: `${prefix}${message} of ${table}`,
        message,
        table,
        filteringAttributes: message === 'Update' ? [...set].sort().join(',') : '',
      };
      // A Create's Target holds every column already; Update and Delete need the image to route.
      if (imageColumns && message === 'Update')
        step.image = { imageType: 1, alias: 'PostImage', messagePropertyName: 'Target', attributes: imageColumns };
      // The record travels as Target for Update and Delete; Id is Create's property (Plug-in Registration tool).
      if (imageColumns && message === 'Delete')
        step.image = { imageType: 0, alias: 'PreImage', messagePropertyName: 'Target', attributes: imageColumns };
      out.push(step);
    }
  }
  return out;
}

/** Marker stored in the endpoint's description: a digest of the key, so a changed key is noticed without reading authvalue. */
function keyMarker(key: string): string {
  return `bc-dataverse-sync webhook; key sha256:${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

const normalizeAttrs = (v: unknown) =>
  typeof v === 'string'
    ? v
        .split(',')
        .map((s) => s.trim().toLowerCase())
        .filter(Boolean)
        .sort()
        .join(',')
    : '';

export async function registerDataverseWebhooks(
  dv: DataverseClient,
  options: { publicBaseUrl: string; webhookKey: string; mappings: TableMapping[]; installation?: string | undefined },
): Promise<RegistrationReport> {
  const endpointName = serviceEndpointName(options.installation);
  const url = dataverseWebhookUrl(options.publicBaseUrl);
  const description = keyMarker(options.webhookKey);
  const report: RegistrationReport = {
    serviceEndpointId: '',
    endpoint: 'unchanged',
    created: [],
    updated: [],
    removed: [],
    unchanged: [],
    skipped: [],
  };

  // 1. The service endpoint.
  const endpoints = await dv.listPage('serviceendpoints', {
    filter: `name eq '${endpointName.replaceAll("'", "''")}' and contract eq 8`,
    select: ['serviceendpointid', 'name', 'url', 'authtype', 'description'],
  });
  const existing = endpoints.value[0];
  const endpoint = new URL(url);
  // name, contract, path, solutionnamespace, userclaim and connectionmode are SystemRequired (serviceendpoint
  // reference). A webhook has no Service Bus namespace: the URL's host and path stand in, userclaim 1 = None,
  // connectionmode 1 = Normal.
  const endpointBody = {
    name: endpointName,
    url,
    contract: 8,
    authtype: 4,
    authvalue: options.webhookKey,
    messageformat: 2,
    path: endpoint.pathname,
    solutionnamespace: endpoint.hostname,
    userclaim: 1,
    connectionmode: 1,
    description,
  };
  if (!existing) {
    report.serviceEndpointId = await dv.createReturningId('serviceendpoints', endpointBody);
    report.endpoint = 'created';
  } else {
    report.serviceEndpointId = String(existing.serviceendpointid);
    if (existing.url !== url || existing.authtype !== 4 || existing.description !== description) {
      await dv.update('serviceendpoints', report.serviceEndpointId, endpointBody, '*');
      report.endpoint = 'updated';
    }
  }

  // 2. SDK messages.
  const messages = await dv.listPage('sdkmessages', {
    filter: MESSAGES.map((m) => `name eq '${m}'`).join(' or '),
    select: ['sdkmessageid', 'name'],
  });
  const messageId = new Map(messages.value.map((m) => [String(m.name), String(m.sdkmessageid)]));
  for (const m of MESSAGES)
    if (!messageId.has(m)) throw new SyncError('DV.NOT_FOUND', `Dataverse has no sdkmessage named ${m}; cannot register webhook steps`);

  // 3. Steps: create missing, fix changed, remove unneeded.
  const current = new Map<string, ODataEntity>();
  for await (const page of dv.listAll('sdkmessageprocessingsteps', {
    filter: `_eventhandler_value eq ${report.serviceEndpointId}`,
    select: ['sdkmessageprocessingstepid', 'name', 'filteringattributes', 'mode', 'stage', '_sdkmessageid_value'],
  }))
    for (const s of page) current.set(String(s.name), s);

  const filterIds = new Map<string, string | undefined>();
  const filterFor = async (table: string, message: Message) => {
    const key = `${table}|${message}`;
    if (!filterIds.has(key)) {
      const page = await dv.listPage('sdkmessagefilters', {
        filter: `primaryobjecttypecode eq '${table}' and _sdkmessageid_value eq ${messageId.get(message)}`,
        select: ['sdkmessagefilterid'],
      });
      const id = page.value[0]?.sdkmessagefilterid;
      filterIds.set(key, typeof id === 'string' ? id : undefined);
    }
    return filterIds.get(key);
  };

  const desired = desiredSteps(options.mappings, options.installation);
  const skippedTables = new Set<string>();
  for (const step of desired) {
    const body = {
      name: step.name,
      mode: 1,
      stage: 40,
      rank: 1,
      supporteddeployment: 0,
      asyncautodelete: true,
      filteringattributes: step.filteringAttributes === '' ? null : step.filteringAttributes,
    };
    const have = current.get(step.name);
    if (have) {
      current.delete(step.name);
      const stepId = String(have.sdkmessageprocessingstepid);
      const same =
        Number(have.mode) === 1 && Number(have.stage) === 40 && normalizeAttrs(have.filteringattributes) === step.filteringAttributes;
      if (!same) await dv.update('sdkmessageprocessingsteps', stepId, body, '*');
      const imageChanged = await ensureImage(dv, stepId, step);
      if (same && !imageChanged) report.unchanged.push(step.name);
      else report.updated.push(step.name);
      continue;
    }
    const filterId = await filterFor(step.table, step.message);
    if (!filterId) {
      if (!skippedTables.has(step.table))
        report.skipped.push({ table: step.table, reason: `no sdkmessagefilter for ${step.table}: the table does not accept custom steps` });
      skippedTables.add(step.table);
      continue;
    }
    const stepId = await dv.createReturningId('sdkmessageprocessingsteps', {
      ...body,
      'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${report.serviceEndpointId})`,
      'sdkmessageid@odata.bind': `/sdkmessages(${messageId.get(step.message)})`,
      'sdkmessagefilterid@odata.bind': `/sdkmessagefilters(${filterId})`,
    });
    await ensureImage(dv, stepId, step);
    report.created.push(step.name);
  }
  for (const [name, stale] of current) {
    await dv.delete('sdkmessageprocessingsteps', String(stale.sdkmessageprocessingstepid));
    report.removed.push(name);
  }
  return report;
}

/**
 * Removes an installation's webhooks: its service endpoint and every step (with images) registered through it.
 * Other installations' endpoints are found by their own names and stay as they are. Returns the removed steps.
 */
export async function unregisterDataverseWebhooks(
  dv: DataverseClient,
  options: { installation?: string | undefined },
): Promise<{ serviceEndpointId?: string; removed: string[] }> {
  const name = serviceEndpointName(options.installation);
  const endpoints = await dv.listPage('serviceendpoints', {
    filter: `name eq '${name.replaceAll("'", "''")}' and contract eq 8`,
    select: ['serviceendpointid'],
  });
  const endpoint = endpoints.value[0];
  if (!endpoint) return { removed: [] };
  const serviceEndpointId = String(endpoint.serviceendpointid);
  const removed: string[] = [];
  for await (const page of dv.listAll('sdkmessageprocessingsteps', {
    filter: `_eventhandler_value eq ${serviceEndpointId}`,
    select: ['sdkmessageprocessingstepid', 'name'],
  }))
    for (const step of page) {
      await ensureImage(dv, String(step.sdkmessageprocessingstepid), { name: '', message: 'Create', table: '', filteringAttributes: '' });
      await dv.delete('sdkmessageprocessingsteps', String(step.sdkmessageprocessingstepid));
      removed.push(String(step.name));
    }
  await dv.delete('serviceendpoints', serviceEndpointId);
  return { serviceEndpointId, removed };
}

/** Makes the step's images match `step.image` (A.1b): creates, fixes or deletes. Returns whether anything changed. */
async function ensureImage(dv: DataverseClient, stepId: string, step: DesiredStep): Promise<boolean> {
  const page = await dv.listPage('sdkmessageprocessingstepimages', {
    filter: `_sdkmessageprocessingstepid_value eq ${stepId}`,
    select: ['sdkmessageprocessingstepimageid', 'entityalias', 'imagetype', 'attributes', 'messagepropertyname'],
  });
  let changed = false;
  let found = false;
  for (const img of page.value) {
    const id = String(img.sdkmessageprocessingstepimageid);
    const wanted = step.image;
    // An image registered with another message property (older versions used Id on Delete) is replaced.
    if (wanted && !found && img.entityalias === wanted.alias && img.messagepropertyname === wanted.messagePropertyName) {
      found = true;
      if (Number(img.imagetype) !== wanted.imageType || normalizeAttrs(img.attributes) !== wanted.attributes) {
        await dv.update('sdkmessageprocessingstepimages', id, { imagetype: wanted.imageType, attributes: wanted.attributes }, '*');
        changed = true;
      }
      continue;
    }
    await dv.delete('sdkmessageprocessingstepimages', id);
    changed = true;
  }
  if (step.image && !found) {
    await dv.createReturningId('sdkmessageprocessingstepimages', {
      name: step.image.alias,
      entityalias: step.image.alias,
      imagetype: step.image.imageType,
      messagepropertyname: step.image.messagePropertyName,
      attributes: step.image.attributes,
      'sdkmessageprocessingstepid@odata.bind': `/sdkmessageprocessingsteps(${stepId})`,
    });
    changed = true;
  }
  return changed;
}
