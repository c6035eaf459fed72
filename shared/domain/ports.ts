/**
 * The ports the sync domain needs from the outside world. The domain (mappings, coupling, sync engine) only
 * sees these interfaces; `shared/adapters/*` implement them over BC, Dataverse, Table Storage and Service Bus.
 */
import type { ChangeEvent } from './change-event';
import type { Side, SyncDirection } from './direction';

export type { Side } from './direction';

/** Where a BC table lives: API v2.0, a custom API page, or a published OData v4 page. */
export interface BcEntityTarget {
  side: 'bc';
  kind: 'apiV2' | 'customApi' | 'odataPage';
  /** Entity set name as in the URL, e.g. `customers`, `priceListLines`, `ItemAvailability`. */
  entitySet: string;
  /** Key property; `id` (SystemId) for API pages. */
  key?: string;
}

export interface DataverseEntityTarget {
  side: 'dataverse';
  /** Entity set name, e.g. `accounts`. */
  entitySet: string;
  /** Logical name, e.g. `account`. */
  logicalName: string;
  /** Primary key column, e.g. `accountid`. */
  primaryKey: string;
}

export type EntityTarget = BcEntityTarget | DataverseEntityTarget;

/** A record as read from one side, with what optimistic concurrency and change detection need. */
export interface VersionedRecord {
  id: string;
  /** Opaque ETag to send back as If-Match. */
  etag: string;
  /** BC `lastModifiedDateTime` / Dataverse `modifiedon`, ISO. */
  modifiedOn: string;
  /** Dataverse `_modifiedby_value` when known; lets the engine recognise its own writes. */
  modifiedBy?: string;
  values: Record<string, unknown>;
}

export interface ListOptions {
  /** OData `$filter` in the side's own syntax. */
  filter?: string;
  select?: string[];
  /** Only records modified after this instant (BC `lastModifiedDateTime gt`, Dataverse `modifiedon gt`). */
  modifiedSince?: string;
  /** Page size; defaults to the side's maximum (BC 20,000, Dataverse 5,000). */
  pageSize?: number;
  /** Resume a listing from a previous page's continuation (a nextLink). */
  continuation?: string;
}

export interface Page<T> {
  items: T[];
  /** Opaque; pass back as `continuation` to get the next page. Undefined on the last page. */
  continuation?: string;
}

/** Reads and writes records of one side. Errors are thrown as `SyncError` with a stable code. */
export interface RecordGateway<T extends EntityTarget = EntityTarget> {
  readonly side: Side;
  get(target: T, id: string, select?: string[]): Promise<VersionedRecord | undefined>;
  /** One page at a time, at the maximum page size unless told otherwise. */
  listPage(target: T, options?: ListOptions): Promise<Page<VersionedRecord>>;
  /** All pages, lazily: memory stays constant however many records there are. */
  list(target: T, options?: ListOptions): AsyncIterable<VersionedRecord[]>;
  /**
   * Creates a record. `id` asks for a client-chosen primary key, where the side takes one. Dataverse does on every
   * table. BC does only on an API page whose `id` (SystemId) is editable, such as this service's Sales Order API
   * page; the standard v2.0 pages declare `id` with `Editable = false` and insert with `Rec.Insert(true)`, so
   * the platform assigns the SystemId (microsoft/BCApps, page 30009 "APIV2 - Customers"), and the BC simulator
   * refuses an `id` there. So a BC create elsewhere cannot be made idempotent by its id: it needs a claim.
   */
  create(target: T, values: Record<string, unknown>, options?: { id?: string }): Promise<VersionedRecord>;
  /** Updates with If-Match; a stale ETag throws `BC.CONCURRENCY` / `DV.CONCURRENCY`. */
  update(target: T, id: string, values: Record<string, unknown>, etag: string): Promise<VersionedRecord>;
  /** Deletes with If-Match when an ETag is given; a missing record is not an error. */
  delete(target: T, id: string, etag?: string): Promise<void>;
  /** Dataverse only: an unbound action (`POST <name>`), for state changes a plain update may not make (FulfillSalesOrder). */
  action?(name: string, body: Record<string, unknown>): Promise<void>;
}

/** The values last synced for one coupled pair, so the next sync can tell which side changed which field. */
export interface SyncedSnapshot {
  /** Values of the mapped BC fields as last read or written. */
  bc: Record<string, unknown>;
  /** Values of the mapped Dataverse columns as last read or written. */
  dataverse: Record<string, unknown>;
}

/** Every result a sync can have; BC's statistics (inserted, modified, unchanged, skipped, failed, coupled) and ours. */
export const SYNC_RESULTS = ['inserted', 'modified', 'unchanged', 'skipped', 'failed', 'coupled', 'deleted', 'deferred'] as const;
export type SyncResult = (typeof SYNC_RESULTS)[number];

/** One row of BC's "CRM Integration Record": a BC record coupled to a Dataverse row for one table mapping. */
export interface Coupling {
  mapping: string;
  bcId: string;
  dataverseId: string;
  /** Modified-on of each side at the last successful sync. */
  bcModifiedOn?: string;
  dataverseModifiedOn?: string;
  /** Hash of the values last written each way; a write that would repeat it is a no-op (no echo). */
  fingerprintToDataverse?: string;
  fingerprintToBc?: string;
  /**
   * ETag (row version) of the Dataverse row as our last write left it, set only when that write left nothing of
   * the row unsynchronized: a change event for the row at exactly this version is our own echo.
   */
  dataverseWrittenEtag?: string;
  snapshot?: SyncedSnapshot;
  /**
   * Direction of the first synchronization of the pair, chosen when it was coupled (BC: "synchronize after
   * coupling"): until the pair has a snapshot, any change applies it first rather than overwriting the other side.
   */
  initialDirection?: SyncDirection;
  lastResult?: SyncResult;
  lastSyncedAt?: string;
  lastError?: string;
  /**
   * Whether a sync error of the pair may be open: set when a failure is recorded for it, false once a success has
   * resolved it, so a success looks in the error store only when there is something to resolve. Absent (couplings
   * stored before it existed): treated as possibly open.
   */
  openError?: boolean;
  failureCount: number;
  skipped: boolean;
  /** BC tenant/environment/company and Dataverse org this coupling belongs to. */
  environment: string;
  createdAt: string;
  /** Optimistic concurrency token of the stored row. */
  etag: string;
}

export type NewCoupling = Omit<Coupling, 'etag' | 'createdAt' | 'failureCount' | 'skipped'> &
  Partial<Pick<Coupling, 'failureCount' | 'skipped'>>;

export interface CouplingStore {
  getByBcId(mapping: string, bcId: string): Promise<Coupling | undefined>;
  getByDataverseId(mapping: string, dataverseId: string): Promise<Coupling | undefined>;
  /**
   * Couples atomically (both index rows in one transaction). Throws `SyncError('COUPLE.AMBIGUOUS')`-free
   * `CouplingConflictError` when either record is already coupled, so two workers can never couple twice.
   */
  couple(coupling: NewCoupling): Promise<Coupling>;
  /** Updates sync state with ETag concurrency; throws `CouplingConflictError` when the row changed meanwhile. */
  update(coupling: Coupling, patch: Partial<Omit<Coupling, 'mapping' | 'bcId' | 'dataverseId' | 'etag' | 'createdAt'>>): Promise<Coupling>;
  uncouple(mapping: string, bcId: string): Promise<void>;
  list(
    mapping: string,
    options?: { pageSize?: number; continuation?: string; filter?: { skipped?: boolean; failed?: boolean } },
  ): Promise<Page<Coupling>>;
  count(mapping: string): Promise<number>;
}

export class CouplingConflictError extends Error {
  constructor(
    message: string,
    readonly existing?: Coupling,
  ) {
    super(message);
    this.name = 'CouplingConflictError';
  }
}

/** A row of "Coupled Data Synchronization Errors": stays until resolved or dismissed. */
export interface SyncErrorRecord {
  id: string;
  mapping: string;
  bcId?: string;
  dataverseId?: string;
  direction: SyncDirection;
  code: string;
  category: 'transient' | 'data' | 'configuration';
  message: string;
  attempts: number;
  firstSeen: string;
  lastSeen: string;
  correlationId?: string;
  /** The values involved (never secrets). */
  values?: Record<string, unknown>;
  /** The change event to replay on retry. */
  event?: ChangeEvent;
  status: 'open' | 'resolved' | 'dismissed';
}

export interface SyncErrorStore {
  /** Records or bumps the error for this record and direction (one open row per record+direction). */
  record(error: Omit<SyncErrorRecord, 'id' | 'attempts' | 'firstSeen' | 'lastSeen' | 'status'>): Promise<SyncErrorRecord>;
  /** Marks the open error of a record resolved (after a successful sync). */
  resolve(mapping: string, recordKey: { bcId?: string; dataverseId?: string }): Promise<void>;
  get(id: string): Promise<SyncErrorRecord | undefined>;
  list(filter?: {
    mapping?: string;
    status?: SyncErrorRecord['status'];
    code?: string;
    pageSize?: number;
    continuation?: string;
  }): Promise<Page<SyncErrorRecord>>;
  dismiss(id: string): Promise<void>;
}

/** One applied change, for per-record history. */
export interface HistoryEntry {
  mapping: string;
  bcId?: string;
  dataverseId?: string;
  at: string;
  direction: SyncDirection;
  result: SyncResult;
  /** field → [from, to] */
  changes: Record<string, [unknown, unknown]>;
  correlationId?: string;
  dryRun?: boolean;
}

export interface HistoryStore {
  append(entry: HistoryEntry): Promise<void>;
  forRecord(mapping: string, key: { bcId?: string; dataverseId?: string }, options?: { limit?: number }): Promise<HistoryEntry[]>;
}

/** Counters per mapping (inserted, modified, unchanged, skipped, failed, coupled, deleted, deferred). */
export interface CounterStore {
  increment(mapping: string, result: SyncResult, by?: number): Promise<void>;
  get(mapping: string): Promise<Record<SyncResult, number>>;
}

/** Sends change events to the queue of their table mapping. Resolves only when the broker has accepted them. */
export interface ChangePublisher {
  publish(events: ChangeEvent[], options?: { scheduledAt?: Date }): Promise<void>;
}

/**
 * Claims on creating a destination record, for sides that cannot take a deterministic id (BC). Two workers
 * handling the same new source record race here instead of both creating a record.
 */
export interface CreationClaims {
  /**
   * Claims `key`. `won` with a token, or lost: with the id the winner created (use it), or none yet (the winner
   * is still creating: retry later). A claim older than `staleAfterMs` without a created id is taken over; then
   * `takenOverFrom` is when the earlier claim was made, since when its attempt may have created a record. A claim
   * lost to one still running says since when (`claimedAt`).
   */
  claim(
    key: string,
    staleAfterMs: number,
  ): Promise<{ won: true; token: string; takenOverFrom?: string } | { won: false; createdId?: string; claimedAt?: string }>;
  /** Records what the winner created, so a retry after a crash between "created" and "coupled" reuses it. */
  created(key: string, token: string, createdId: string): Promise<void>;
  /** Drops the claim once the coupling is stored. */
  release(key: string): Promise<void>;
  /**
   * The winner's create failed with an answer from the server, so its request is over: the next claim takes this
   * one over at once (with `takenOverFrom`, to look for what the attempt may have made) instead of after `staleAfterMs`.
   */
  abandon(key: string, token: string): Promise<void>;
}

/** Option sets of Dataverse columns, for BC's option mappings (PAYMENT TERMS → paymenttermscode…). */
export interface OptionSets {
  /** The options of a Picklist column; undefined when the column does not exist. */
  options(entityLogicalName: string, column: string): Promise<Array<{ value: number; label: string }> | undefined>;
  /** Appends an option (BC appends missing options, reference rule 18) and returns its value. */
  insert(entityLogicalName: string, column: string, label: string): Promise<number>;
}

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
