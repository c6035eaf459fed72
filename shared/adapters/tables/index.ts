import { defaultMappings, type MappingMetadataPort, type TableMapping } from '../../domain/mappings';
import type { Clock } from '../../domain/ports';
import { TableCheckpointStore } from './checkpoint-store';
import { ensureTable } from './common';
import { TableCounterStore } from './counter-store';
import { TableCouplingStore } from './coupling-store';
import { TableHistoryStore } from './history-store';
import { TableMappingStore } from './mapping-store';
import { TableSyncErrorStore } from './sync-error-store';
import { createTableClient, type TableClientOptions, type TablesConnectionSettings } from './table-client';

export { type Checkpoint, CheckpointConflictError, type PutCheckpointOptions, TableCheckpointStore } from './checkpoint-store';
export { ensureTable, normalizeId } from './common';
export { SYNC_RESULTS, type SyncRun, TableCounterStore } from './counter-store';
export { hashSnapshotValue, isHashedSnapshotValue, snapshotValueEquals } from './coupling-rows';
export { environmentIdentity, TableCouplingStore } from './coupling-store';
export { TableCreationClaims } from './creation-claims';
export { TableHistoryStore } from './history-store';
export {
  type ChangeAudit,
  type MappingChange,
  MappingChangedSinceError,
  MappingConflictError,
  MappingValidationError,
  TableMappingStore,
} from './mapping-store';
export type { PurgeResult } from './purge';
export { REDACTED, redact, redactText } from './redact';
export { syncErrorId, TableSyncErrorStore } from './sync-error-store';
export { createTableClient, type TableClientOptions, type TablesConnectionSettings } from './table-client';

/** The settings the stores read (a subset of `Settings`; the sync switches pick the default mappings). */
export interface StoresSettings extends TablesConnectionSettings {
  /** Table name prefix. Default `sync`. */
  TABLE_PREFIX?: string;
  OWNERSHIP_MODEL?: 'Person' | 'Team';
  SALES_INTEGRATION?: boolean;
  UNIT_GROUP_MAPPING?: boolean;
  EXTENDED_PRICING?: boolean;
  SALES_ORDER_INTEGRATION?: 'none' | 'legacy' | 'bidirectional';
}

export interface CreateStoresOptions {
  /**
   * This installation's environment identity (see `environmentIdentity`). When set, coupling reads refuse
   * couplings of another environment with `COUPLE.ENVIRONMENT_MISMATCH`. Default: no check.
   */
  environment?: string;
  /** Mappings seeded on first use. Default: BC's defaults for the settings' connection switches. */
  mappingDefaults?: TableMapping[] | (() => TableMapping[]);
  /** Metadata of both systems, to check mapping changes against. Default: structural checks only. */
  mappingMetadata?: MappingMetadataPort;
  /** Mapping read cache. Default 10,000 ms. */
  mappingCacheTtlMs?: number;
  clock?: Clock;
  /** Passed to every TableClient (retry policy, user agent…). */
  clientOptions?: TableClientOptions;
}

export interface Stores {
  couplings: TableCouplingStore;
  syncErrors: TableSyncErrorStore;
  history: TableHistoryStore;
  counters: TableCounterStore;
  checkpoints: TableCheckpointStore;
  mappings: TableMappingStore;
  tables: TableNames;
}

export interface TableNames {
  couplings: string;
  syncErrors: string;
  history: string;
  counters: string;
  checkpoints: string;
  mappings: string;
}

/** The service's table names for a prefix (the Bicep template and the CLI use the same names). */
export function tableNames(prefix = 'sync'): TableNames {
  return {
    couplings: `${prefix}Couplings`,
    syncErrors: `${prefix}SyncErrors`,
    history: `${prefix}History`,
    counters: `${prefix}Counters`,
    checkpoints: `${prefix}Checkpoints`,
    mappings: `${prefix}Mappings`,
  };
}

/**
 * Every Table Storage store of the service. Creates the tables first (once per process per table, so a
 * second call is cheap); hold on to the result, the mapping store's cache lives in it.
 */
export async function createStores(settings: StoresSettings, options: CreateStoresOptions = {}): Promise<Stores> {
  const names = tableNames(settings.TABLE_PREFIX ?? 'sync');
  const client = (name: string) => createTableClient(settings, name, options.clientOptions);
  const clients = {
    couplings: client(names.couplings),
    syncErrors: client(names.syncErrors),
    history: client(names.history),
    counters: client(names.counters),
    checkpoints: client(names.checkpoints),
    mappings: client(names.mappings),
  };
  await Promise.all(Object.values(clients).map((c) => ensureTable(c)));
  const clock = options.clock;
  const defaults =
    options.mappingDefaults ??
    (() =>
      defaultMappings({
        ownershipModel: settings.OWNERSHIP_MODEL ?? 'Person',
        salesIntegration: settings.SALES_INTEGRATION ?? true,
        unitGroupMapping: settings.UNIT_GROUP_MAPPING ?? true,
        extendedPricing: settings.EXTENDED_PRICING ?? false,
        salesOrderIntegration: settings.SALES_ORDER_INTEGRATION ?? 'legacy',
      }));
  return {
    couplings: new TableCouplingStore(clients.couplings, {
      ...(clock ? { clock } : {}),
      ...(options.environment !== undefined ? { expectedEnvironment: options.environment } : {}),
    }),
    syncErrors: new TableSyncErrorStore(clients.syncErrors, clock ? { clock } : {}),
    history: new TableHistoryStore(clients.history),
    counters: new TableCounterStore(clients.counters, clock ? { clock } : {}),
    checkpoints: new TableCheckpointStore(clients.checkpoints, clock ? { clock } : {}),
    mappings: new TableMappingStore(clients.mappings, {
      defaults,
      ...(options.mappingMetadata ? { metadata: options.mappingMetadata } : {}),
      ...(options.mappingCacheTtlMs !== undefined ? { cacheTtlMs: options.mappingCacheTtlMs } : {}),
      ...(clock ? { clock } : {}),
    }),
    tables: names,
  };
}
