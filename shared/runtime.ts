import type { ServiceBusClient } from '@azure/service-bus';
import { type BcClient, BcGateway, createBcClient } from './adapters/bc';
import { resolveOwningTeam } from './adapters/connection-check';
import { appendOption, ClientMappingMetadata, createDataverseClient, type DataverseClient, DataverseGateway } from './adapters/dataverse';
import { ensureCompany, installationIdentity } from './adapters/dataverse/company';
import { createServiceBusClient, serviceBusConnectionFromSettings } from './adapters/servicebus/client';
import { ServiceBusChangePublisher } from './adapters/servicebus/publisher';
import { createStores, environmentIdentity, type Stores, TableCreationClaims } from './adapters/tables';
import { settings as loadSettings, type Settings } from './config';
import { queueNameForMapping } from './domain/mappings/queue';
import { type Clock, systemClock } from './domain/ports';
import type { MappingProvider, SyncDeps, SyncHooks } from './domain/sync/types';
import { composeHooks, leadToCashHooks } from './lead-to-cash/hooks';

/**
 * The composition root: every adapter the functions need, built once per process from the settings. Functions
 * stay thin: they call `getRuntime()` and hand its ports to a use case.
 */
export interface Runtime {
  settings: Settings;
  bc: BcClient;
  dataverse: DataverseClient;
  bcGateway: BcGateway;
  dataverseGateway: DataverseGateway;
  stores: Stores;
  /** The current table mappings (configuration store, cached). */
  mappings: MappingProvider;
  publisher: ServiceBusChangePublisher;
  serviceBus: ServiceBusClient;
  /** systemuserid of the integration user (setting, else WhoAmI; undefined while Dataverse is unreachable). */
  integrationUserId: string | undefined;
  environment: string;
  syncDeps: SyncDeps;
  clock: Clock;
  close(): Promise<void>;
}

export interface RuntimeOverrides {
  clock?: Clock;
  hooks?: SyncHooks;
}

/** BC's empty GUID: with no company row known, the company clause matches only rows without a company. */
const NIL_GUID = '00000000-0000-0000-0000-000000000000';

let current: Promise<Runtime> | undefined;
let overrides: RuntimeOverrides = {};

/** The process's runtime. The first call builds it; a failure is not cached, so the next call tries again. */
export function getRuntime(): Promise<Runtime> {
  if (!current) {
    current = buildRuntime(loadSettings(), overrides);
    current.catch(() => {
      current = undefined;
    });
  }
  return current;
}

/** Tests and the local host: replace parts (a controllable clock) before the first `getRuntime()`. */
export function configureRuntime(o: RuntimeOverrides): void {
  overrides = o;
}

/** Closes and forgets the runtime (tests restart the host with new settings). */
export async function resetRuntime(): Promise<void> {
  const r = current;
  current = undefined;
  if (r) await (await r.catch(() => undefined))?.close();
}

export async function buildRuntime(s: Settings, o: RuntimeOverrides = {}): Promise<Runtime> {
  const clock = o.clock ?? systemClock;
  const environment = environmentIdentity({
    bcTenantId: s.BC_TENANT_ID,
    bcEnvironment: s.BC_ENVIRONMENT,
    bcCompanyId: s.BC_COMPANY_ID,
    dataverseUrl: s.DATAVERSE_URL,
  });
  const bc = createBcClient(s);
  const dataverse = createDataverseClient(s);
  // Mapping changes are checked against both systems' metadata: a column that does not exist is refused.
  const stores = await createStores(s, { environment, clock, mappingMetadata: new ClientMappingMetadata(bc, dataverse) });
  const mappings: MappingProvider = {
    get: (name) => stores.mappings.get(name),
    all: () => stores.mappings.list(),
  };
  const serviceBus = createServiceBusClient(serviceBusConnectionFromSettings(s));
  const publisher = new ServiceBusChangePublisher(serviceBus, async (name) => {
    const m = await mappings.get(name);
    return m ? queueNameForMapping(m) : queueNameForMapping({ name });
  });
  let integrationUserId = s.DATAVERSE_INTEGRATION_USER_ID?.toLowerCase();
  if (!integrationUserId) {
    try {
      integrationUserId = (await soon(dataverse.whoAmI())).UserId.toLowerCase();
    } catch {
      // Dataverse may be down at start-up; the engine then relies on fingerprints alone until the next start.
      integrationUserId = undefined;
    }
  }
  const bcGateway = new BcGateway(bc);
  const dataverseGateway = new DataverseGateway(dataverse);
  // BC shows its local currency as a code on records (or blank); Dataverse needs the matching currency row.
  let lcyCode: string | undefined;
  try {
    const info = await soon(bcGateway.listPage({ side: 'bc', kind: 'apiV2', entitySet: 'companyInformation' }, { pageSize: 1 }));
    const code = info.items[0]?.values.currencyCode;
    lcyCode = typeof code === 'string' && code ? code : undefined;
  } catch {
    lcyCode = undefined;
  }
  // Team ownership: new rows go to the owner team DATAVERSE_OWNING_TEAM names (checked by the connection test).
  // Unresolved (Dataverse down at start-up, or no such team), Team-owned inserts fail with CONFIG.INVALID.
  let owningTeamId: string | undefined;
  if (s.OWNERSHIP_MODEL === 'Team') {
    try {
      owningTeamId = (await soon(resolveOwningTeam(dataverse, s.DATAVERSE_OWNING_TEAM))).teamId;
    } catch {
      owningTeamId = undefined;
    }
  }
  // Multi-company: the installation's company row (found or created with its unit and owner team, as BC's
  // connection setup does). Not known yet (Dataverse down at start-up), filters see only rows without a company
  // and writes to Dataverse fail with CONFIG.INVALID until the next start.
  let company: { id: string | undefined } | undefined;
  if (s.MULTI_COMPANY_SYNC) {
    try {
      company = { id: (await soon(ensureCompany(dataverse, installationIdentity(s), { owningTeamId }))).companyId };
    } catch {
      company = { id: undefined };
    }
  }
  const syncDeps: SyncDeps = {
    mappings,
    bc: bcGateway,
    dataverse: dataverseGateway,
    couplings: stores.couplings,
    errors: stores.syncErrors,
    history: stores.history,
    counters: stores.counters,
    publisher,
    claims: new TableCreationClaims(stores.checkpoints, clock),
    optionSets: {
      options: async (entity, column) =>
        (await dataverse.dataverseColumn(entity, column))?.options?.map((o) => ({ value: o.value, label: o.label })),
      insert: (entity, column, label) => appendOption(dataverse, entity, column, label),
    },
    clock,
    options: {
      environment,
      integrationUserId,
      dryRun: s.DRY_RUN,
      skipAfterFailures: s.SKIP_AFTER_FAILURES,
      ownershipModel: s.OWNERSHIP_MODEL,
      lcyCode,
      owningTeamId,
      ...(company ? { company, dataverseCompanyId: company.id ?? NIL_GUID } : {}),
    },
    // The lead-to-cash rules apply on every path (sync functions, full sync, replays); a caller's hooks run after them.
    hooks: composeHooks(leadToCashHooks(s), o.hooks),
  };
  return {
    settings: s,
    bc,
    dataverse,
    bcGateway,
    dataverseGateway,
    stores,
    mappings,
    publisher,
    serviceBus,
    integrationUserId,
    environment,
    syncDeps,
    clock,
    close: async () => {
      await publisher.close();
      await serviceBus.close();
    },
  };
}

/** Start-up look-ups must not hold a cold start for the clients' whole retry budget when BC or Dataverse is down. */
const STARTUP_LOOKUP_MS = 3_000;

function soon<T>(p: Promise<T>): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer at start-up')), STARTUP_LOOKUP_MS).unref()),
  ]);
}
