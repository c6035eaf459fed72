import type { ErrorCode } from '../../errors';
import type { ChangeEvent } from '../change-event';
import type { SyncDirection, TableMapping } from '../mappings/schema';
import type {
  BcEntityTarget,
  ChangePublisher,
  Clock,
  CounterStore,
  CouplingStore,
  CreationClaims,
  DataverseEntityTarget,
  HistoryStore,
  OptionSets,
  RecordGateway,
  Side,
  SyncErrorStore,
  SyncResult,
  VersionedRecord,
} from '../ports';
import type { FieldState } from './plan';

/** The engine's vocabulary: what `syncRecord` is given (deps, options, hooks) and what it returns (outcomes). */

/** Where the engine finds the current table mappings (the configuration store, or fixed defaults in tests). */
export interface MappingProvider {
  get(name: string): Promise<TableMapping | undefined>;
  all(): Promise<TableMapping[]>;
}

export interface SyncEngineOptions {
  /** Identity of this BC environment + Dataverse org, stamped on every coupling (a copied environment is detected). */
  environment: string;
  /** Dataverse systemuserid of the integration user: rows it modified last are our own echoes. */
  integrationUserId?: string;
  /** Compute and record changes, write nothing. Default false. */
  dryRun?: boolean;
  /** The same error this many times in a row marks the record skipped, as BC does. Default 3. */
  skipAfterFailures?: number;
  /** How often a record waits for an uncoupled parent before it fails with DEP.PARENT_NOT_COUPLED. Default 5. */
  maxDeferrals?: number;
  /** First wait for an uncoupled parent; doubles each time. Default 15 s. */
  deferralBaseMs?: number;
  /** Value of `{companyId}` in integration table filters; without it the company clause is left out. */
  dataverseCompanyId?: string;
  /**
   * Multi-company (MULTI_COMPANY_SYNC): this installation's `bcbi_company` row, stamped on the rows it writes; its id
   * is undefined while the row is not known (then nothing is written to Dataverse). Absent with one installation.
   */
  company?: { id: string | undefined };
  /** Ownership model; with Team, new rows are owned by `owningTeamId`. Default Person. */
  ownershipModel?: 'Person' | 'Team';
  owningTeamId?: string;
  /** BC's local currency code (G/L Setup "LCY Code"); a blank currency code on a BC record means this currency. */
  lcyCode?: string;
}

/** Hooks for the special rules of particular mappings (owner, default price list, contact parents…). */
export interface SyncHooks {
  /**
   * Sees each event before the engine does. An outcome means the hook handled the event instead of the engine (e.g.
   * a submitted Sales order that legacy mode creates in BC rather than synchronizes); undefined lets the engine run.
   */
  beforeSync?(event: ChangeEvent, mapping: TableMapping, deps: SyncDeps): Promise<SyncOutcome | undefined>;
  /** Adjusts the write payload before it is sent (e.g. owner from the team). */
  beforeWrite?(ctx: WriteContext): Promise<void>;
  /** Runs after a successful write (e.g. maintain the item's default price list entry). */
  afterWrite?(ctx: WriteContext & { written: VersionedRecord }): Promise<void>;
  /** A record the filters let through that the rules still exclude (e.g. the write-in item). Return a reason to skip. */
  exclude?(mapping: TableMapping, side: Side, record: VersionedRecord): Promise<string | undefined>;
}

export interface WriteContext {
  mapping: TableMapping;
  pass: SyncDirection;
  source: VersionedRecord;
  /** Undefined when the destination is being created. */
  dest?: VersionedRecord;
  payload: Record<string, unknown>;
  deps: SyncDeps;
}

/** What `syncRecord` works with: the two sides, the stores it books into, and its settings. */
export interface SyncDeps {
  /** The table mappings in force. */
  mappings: MappingProvider;
  /** Business Central's records. */
  bc: RecordGateway<BcEntityTarget>;
  /** Dataverse's rows. */
  dataverse: RecordGateway<DataverseEntityTarget>;
  /** The coupled pairs and what each remembers of its last synchronization. */
  couplings: CouplingStore;
  /** Sync errors ("Coupled Data Synchronization Errors"): recorded on failure, resolved by the next success. */
  errors: SyncErrorStore;
  /** Per-record history of what each pass did. */
  history: HistoryStore;
  /** Per-mapping counts of outcomes. */
  counters: CounterStore;
  /** Queues change events: deferrals and referrers to synchronize again. */
  publisher: ChangePublisher;
  /** Claims on BC creates (BC's v2.0 pages assign the SystemId themselves; see RecordGateway.create); without it two workers may both create. */
  claims?: CreationClaims;
  /** Dataverse option sets, for option mappings. */
  optionSets?: OptionSets;
  clock: Clock;
  options: SyncEngineOptions;
  /** The special rules of particular mappings (lead-to-cash); none by default. */
  hooks?: SyncHooks;
}

/** What `syncRecord` did with one record, as it returns it. */
export interface SyncOutcome {
  result: SyncResult;
  mapping: string;
  bcId?: string;
  dataverseId?: string;
  message?: string;
  code?: ErrorCode;
  changes?: Record<string, [unknown, unknown]>;
}

/**
 * A field ready for the plan: translated for this pass; `sourceKey` is where the source record holds it (its
 * snapshot key); `derived` when a special rule produced it (it has no source column of its own).
 */
export type TranslatedField = Omit<FieldState, 'dest' | 'destBefore' | 'sourceBefore'> & {
  destKey: string | undefined;
  sourceKey?: string;
  derived?: boolean;
};

/**
 * What one step of the engine did, before it is recorded. `book` marks an outcome the recorder books (counters,
 * history, error resolution — see `recordOutcome`); an outcome without it is a no-op nothing records (a disabled
 * mapping, our own echo, a record outside the filters) or one already recorded (a nested `syncRecord`).
 */
export interface StepOutcome extends SyncOutcome {
  book?: {
    direction: SyncDirection;
    correlationId?: string;
    /** Nothing was written: history says so, counters and errors stay as they are. */
    dryRun?: boolean;
    /**
     * Whether a sync error of the pair may be open: false only when the coupling the step started from said
     * none is (`Coupling.openError === false`), so the recorder can leave the error store alone.
     */
    mayHaveOpenError: boolean;
  };
}
