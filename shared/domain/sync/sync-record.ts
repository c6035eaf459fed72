import { createHash } from 'node:crypto';
import { type ErrorCode, SyncError, toSyncError } from '../../errors';
import type { ChangeEvent } from '../change-event';
import type { SyncDirection, TableMapping } from '../mappings/schema';
import type { LookupResolver, MapRecordOptions } from '../mappings/transform';
import type {
  BcEntityTarget,
  ChangePublisher,
  Clock,
  CounterStore,
  Coupling,
  CouplingStore,
  CreationClaims,
  DataverseEntityTarget,
  EntityTarget,
  HistoryStore,
  OptionSets,
  RecordGateway,
  Side,
  SyncErrorStore,
  SyncedSnapshot,
  SyncResult,
  VersionedRecord,
} from '../ports';
import { CouplingConflictError } from '../ports';
import { fingerprint, sameValue } from './compare';
import {
  activeFields,
  dataverseReadKey,
  fieldAllowsPass,
  type MissingReference,
  selectColumns,
  sideValue,
  translateField,
} from './field-values';
import { lcyCurrencyId } from './lcy-currency';
import { type FieldState, planPass } from './plan';
import { CORE_RULES, type RuleContext } from './rules';
import { filterColumns, inScope } from './scope';

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

export interface SyncDeps {
  mappings: MappingProvider;
  bc: RecordGateway<BcEntityTarget>;
  dataverse: RecordGateway<DataverseEntityTarget>;
  couplings: CouplingStore;
  errors: SyncErrorStore;
  history: HistoryStore;
  counters: CounterStore;
  publisher: ChangePublisher;
  /** Claims on BC creates (BC takes no client-chosen id); without it two workers may both create. */
  claims?: CreationClaims;
  /** Dataverse option sets, for option mappings. */
  optionSets?: OptionSets;
  clock: Clock;
  options: SyncEngineOptions;
  hooks?: SyncHooks;
}

export interface SyncOutcome {
  result: SyncResult;
  mapping: string;
  bcId?: string;
  dataverseId?: string;
  message?: string;
  code?: ErrorCode;
  changes?: Record<string, [unknown, unknown]>;
}

/** A field ready for the plan: translated for this pass; `derived` when a special rule produced it. */
type TranslatedField = Omit<FieldState, 'dest' | 'destBefore' | 'sourceBefore'> & { destKey: string | undefined; derived?: boolean };

const MAX_CONCURRENCY_RETRIES = 3;
/** A creation claim older than this, with nothing created, belonged to a worker that died. */
const CLAIM_STALE_MS = 120_000;
const MAX_DEPENDENCY_DEPTH = 3;

/**
 * The `$select` the engine reads a mapping's records with on one side: the mapped fields, the columns the special
 * rules and format templates read, and what concurrency and echo detection need. Bulk readers (full sync) use the
 * same list so the engine can be handed their rows.
 */
export function recordSelect(mapping: TableMapping, side: Side, companyId?: string): string[] | undefined {
  const cols = selectColumns(mapping, side);
  if (cols.length === 0) return undefined;
  for (const rule of CORE_RULES) cols.push(...(rule.extraColumns?.(mapping, side) ?? []));
  cols.push(...filterColumns(resolveFilter(side === 'bc' ? mapping.tableFilter : mapping.integrationTableFilter, companyId)));
  if (side === 'bc') {
    for (const f of mapping.fields) {
      if (f.status !== 'Enabled' || f.transformation?.kind !== 'format') continue;
      for (const m of f.transformation.template.matchAll(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) if (m[1] && m[1] !== 'value') cols.push(m[1]);
    }
    for (const f of mapping.fields)
      if (f.status === 'Enabled' && f.transformation?.kind === 'unit' && f.transformation.ownerBcField)
        cols.push(f.transformation.ownerBcField);
  }
  if (side === 'dataverse') cols.push(mapping.dataverse.primaryKey, '_modifiedby_value');
  else cols.push('id');
  if (side === 'dataverse' && mapping.dataverse.modifiedOnColumn) cols.push(mapping.dataverse.modifiedOnColumn);
  if (side === 'bc') cols.push('lastModifiedDateTime');
  return [...new Set(cols)];
}

/** The page the engine uses for a mapping's BC records: the extended custom page when the mapping needs one. */
export function bcTarget(mapping: TableMapping): BcEntityTarget {
  if (mapping.bc.extensionEntitySet) return { side: 'bc', kind: 'customApi', entitySet: mapping.bc.extensionEntitySet };
  return { side: 'bc', kind: mapping.bc.kind, entitySet: mapping.bc.entitySet };
}

export function dataverseTarget(mapping: TableMapping): DataverseEntityTarget {
  return {
    side: 'dataverse',
    entitySet: mapping.dataverse.entitySet,
    logicalName: mapping.dataverse.entityLogicalName,
    primaryKey: mapping.dataverse.primaryKey,
  };
}

/**
 * The direction of a newly coupled pair's first synchronization when nobody chose one (BC's "synchronize after
 * coupling"): a one-way mapping's own direction; a bidirectional one from BC, unless the mapping lets Dataverse win
 * update conflicts (GetUpdateFromIntegration).
 */
export function initialDirectionOf(m: TableMapping): SyncDirection {
  if (m.direction !== 'Bidirectional') return m.direction;
  return m.updateConflictResolution === 'GetUpdateFromIntegration' ? 'FromIntegrationTable' : 'ToIntegrationTable';
}

const otherSide = (side: Side): Side => (side === 'bc' ? 'dataverse' : 'bc');
const passFrom = (source: Side): SyncDirection => (source === 'bc' ? 'ToIntegrationTable' : 'FromIntegrationTable');
const sourceOf = (pass: SyncDirection): Side => (pass === 'ToIntegrationTable' ? 'bc' : 'dataverse');

/**
 * Synchronizes one record, however its change arrived (webhook, poll, full sync, manual, replay): reads the
 * current state of both sides, so a late, duplicated or out-of-order event does no harm.
 *
 * Transient failures (throttling, outages) are thrown for the caller to retry or reschedule. Data and
 * configuration failures are recorded as sync errors and returned as a `failed` outcome.
 */
export async function syncRecord(event: ChangeEvent, deps: SyncDeps, depth = 0): Promise<SyncOutcome> {
  const mapping = await deps.mappings.get(event.mapping);
  if (!mapping) {
    return recordFailure(deps, undefined, event, new SyncError('MAP.INVALID', `There is no table mapping named '${event.mapping}'.`));
  }
  const pass: SyncDirection = event.direction ?? passFrom(event.source);
  try {
    const handled = await deps.hooks?.beforeSync?.(event, mapping, deps);
    if (handled) return handled;
    return await new RecordSync(mapping, event, pass, deps, depth).run();
  } catch (err) {
    const error = toSyncError(err);
    if (error.transient) throw error;
    return recordFailure(deps, mapping, event, error, pass);
  }
}

class RecordSync {
  private readonly source: Side;
  private readonly dest: Side;
  private readonly resolver: CouplingResolver;
  private mapOptions: MapRecordOptions | undefined;

  constructor(
    private readonly mapping: TableMapping,
    private readonly event: ChangeEvent,
    private readonly pass: SyncDirection,
    private readonly deps: SyncDeps,
    private readonly depth: number,
  ) {
    this.source = sourceOf(pass);
    this.dest = otherSide(this.source);
    this.resolver = new CouplingResolver(deps);
  }

  private outcome(result: SyncResult, extra: Partial<SyncOutcome> = {}): SyncOutcome {
    return { result, mapping: this.mapping.name, ...extra };
  }

  async run(): Promise<SyncOutcome> {
    const m = this.mapping;
    if (!m.enabled) return this.outcome('skipped', { message: `Table mapping ${m.name} is disabled.` });
    if (m.direction !== 'Bidirectional' && m.direction !== this.pass && this.event.origin !== 'dependency') {
      return this.outcome('unchanged', { message: `Table mapping ${m.name} does not synchronize ${this.pass}.` });
    }

    if (m.optionMapping) return this.syncOptionMapping();

    const recordId = this.event.recordId;
    const sourceRecord = await this.gateway(this.source).get(this.target(this.source), recordId, this.select(this.source));
    if (!sourceRecord) return this.sourceDeleted(recordId);

    if (this.isOwnEcho(sourceRecord, await this.couplingOf(this.source, sourceRecord.id))) {
      return this.outcome('unchanged', { ...this.ids(sourceRecord.id), message: 'changed by the integration user (our own write)' });
    }
    const excluded = await this.outsideFilters(sourceRecord);
    if (excluded) return this.outcome('skipped', { ...this.ids(sourceRecord.id), message: excluded });

    for (let attempt = 0; ; attempt++) {
      try {
        const coupling = await this.couplingOf(this.source, sourceRecord.id);
        if (!coupling) return await this.syncUncoupled(sourceRecord);
        return await this.syncCoupled(sourceRecord, coupling);
      } catch (err) {
        // Another worker changed the coupling or the destination between our read and our write: start over
        // from fresh state; the second round sees what the other worker did.
        const retryable =
          err instanceof CouplingConflictError ||
          (err instanceof SyncError && (err.code === 'BC.CONCURRENCY' || err.code === 'DV.CONCURRENCY'));
        if (!retryable || attempt >= MAX_CONCURRENCY_RETRIES) {
          // Still racing another worker for this coupling: a concurrency failure, retried by the queue.
          if (err instanceof CouplingConflictError)
            throw new SyncError(this.dest === 'bc' ? 'BC.CONCURRENCY' : 'DV.CONCURRENCY', err.message, { cause: err });
          throw err;
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------------
  // Reading

  private gateway(side: Side): RecordGateway {
    return (side === 'bc' ? this.deps.bc : this.deps.dataverse) as RecordGateway;
  }

  private target(side: Side): BcEntityTarget | DataverseEntityTarget {
    return side === 'bc' ? bcTarget(this.mapping) : dataverseTarget(this.mapping);
  }

  private select(side: Side): string[] | undefined {
    return recordSelect(this.mapping, side, this.deps.options.dataverseCompanyId);
  }

  private ids(sourceId: string, destId?: string): { bcId?: string; dataverseId?: string } {
    return this.source === 'bc' ? { bcId: sourceId, dataverseId: destId } : { dataverseId: sourceId, bcId: destId };
  }

  private async couplingOf(side: Side, id: string): Promise<Coupling | undefined> {
    const c =
      side === 'bc'
        ? await this.deps.couplings.getByBcId(this.mapping.name, id)
        : await this.deps.couplings.getByDataverseId(this.mapping.name, id);
    if (c && c.environment !== this.deps.options.environment) {
      throw new SyncError(
        'COUPLE.ENVIRONMENT_MISMATCH',
        `The coupling of ${this.mapping.name} record ${id} belongs to environment '${c.environment}', not '${this.deps.options.environment}'. ` +
          'Was this environment copied? Uncouple or re-couple its records before synchronizing.',
        { details: { coupledEnvironment: c.environment } },
      );
    }
    return c;
  }

  /**
   * Our own writes come back as changes. A row is our echo when the integration user modified it last and it is
   * still at the version our last write left (the coupling records that ETag, and only when the write left no
   * change of the row's own unsynchronized): "modified by us" alone is not enough, because our write may land
   * after a user's edit that is still on its way to us. An uncoupled row we modified is one we are creating.
   */
  private isOwnEcho(record: VersionedRecord, coupling: Coupling | undefined): boolean {
    const own = this.deps.options.integrationUserId;
    if (this.source !== 'dataverse' || !own || !record.modifiedBy) return false;
    if (this.event.origin === 'manual' || this.event.origin === 'full-sync' || this.event.origin === 'dependency') return false;
    if (record.modifiedBy.toLowerCase() !== own.toLowerCase()) return false;
    return !coupling || (coupling.dataverseWrittenEtag !== undefined && coupling.dataverseWrittenEtag === record.etag);
  }

  private filterOf(side: Side): string {
    const raw = side === 'bc' ? this.mapping.tableFilter : this.mapping.integrationTableFilter;
    return resolveFilter(raw, this.deps.options.dataverseCompanyId);
  }

  /** Table filter / integration table filter: on the record read when certain, else by the side itself (`inScope`). */
  private async outsideFilters(record: VersionedRecord): Promise<string | undefined> {
    const filter = this.filterOf(this.source);
    if (filter) {
      const key = this.source === 'bc' ? 'id' : this.mapping.dataverse.primaryKey;
      if (!(await inScope(this.gateway(this.source), this.target(this.source), key, filter, record)))
        return `outside the ${this.source === 'bc' ? 'table filter' : 'integration table filter'} (${filter})`;
    }
    return this.deps.hooks?.exclude?.(this.mapping, this.source, record);
  }

  // ---------------------------------------------------------------------------------------------------------
  // Field translation

  private async translate(
    sourceRecord: VersionedRecord,
  ): Promise<{ fields: TranslatedField[]; missing: MissingReference[]; exclude?: string }> {
    const fields: TranslatedField[] = [];
    const missing: MissingReference[] = [];
    for (const f of activeFields(this.mapping)) {
      if (!fieldAllowsPass(f, this.pass)) continue;
      this.mapOptions ??= await this.resolver.mapOptions(this.mapping);
      const t = await translateField(this.mapping, f, this.pass, sourceRecord.values, this.resolver.lookup, this.mapOptions);
      if (t.ok === 'skip') continue;
      if (t.ok === false) {
        missing.push(t.missing);
        continue;
      }
      fields.push({
        label: `${f.bcField ?? '(constant)'} -> ${f.dataverseColumn ?? '(constant)'}`,
        writeKey: t.writeKey,
        direction: f.direction,
        source: f.constant ? f.constant.value : sideValue(f, this.source, sourceRecord.values),
        mapped: t.comparable,
        payload: t.payload,
        destKey: this.dest === 'bc' ? (f.bcField ?? undefined) : dataverseReadKey(f),
      });
    }
    let exclude: string | undefined;
    for (const rule of CORE_RULES) {
      const d = await rule.derive?.(this.ruleContext(sourceRecord));
      if (!d) continue;
      exclude ??= d.exclude;
      missing.push(...d.missing);
      for (const f of d.fields) {
        fields.push({
          label: f.label,
          writeKey: f.writeKey,
          direction: f.direction,
          source: f.comparable,
          mapped: f.comparable,
          payload: f.payload,
          destKey: f.destKey,
          derived: true,
        });
      }
    }
    return { fields, missing, exclude };
  }

  /**
   * A referenced record (salesperson, currency, parent account…) is not coupled yet: sync it first when we can
   * find it on the source side, otherwise wait for it with backoff, and finally fail naming it.
   */
  private async resolveDependencies(missing: MissingReference[]): Promise<SyncOutcome | undefined> {
    if (this.depth < MAX_DEPENDENCY_DEPTH) {
      for (const ref of missing) {
        const parent = await this.deps.mappings.get(ref.mapping);
        if (!parent) continue;
        const parentId = await findSourceRecordId(this.deps, parent, this.source, ref);
        if (!parentId) continue;
        await syncRecord(
          {
            v: 1,
            mapping: parent.name,
            source: this.source,
            recordId: parentId,
            changeType: 'unknown',
            origin: 'dependency',
            correlationId: this.event.correlationId,
            observedAt: this.deps.clock.now().toISOString(),
            direction: this.pass,
            deferrals: 0,
          },
          this.deps,
          this.depth + 1,
        );
      }
    }
    return undefined;
  }

  private async deferOrFail(missing: MissingReference[], sourceRecord: VersionedRecord): Promise<SyncOutcome> {
    const names = missing.map((r) => `${r.mapping} '${r.sourceValue}' (field ${r.field})`).join(', ');
    const maxDeferrals = this.deps.options.maxDeferrals ?? 5;
    if (this.event.deferrals < maxDeferrals && this.event.origin !== 'dependency' && this.event.origin !== 'manual') {
      const base = this.deps.options.deferralBaseMs ?? 15_000;
      const delay = base * 2 ** this.event.deferrals;
      await this.deps.publisher.publish([{ ...this.event, deferrals: this.event.deferrals + 1 }], {
        scheduledAt: new Date(this.deps.clock.now().getTime() + delay),
      });
      await this.deps.counters.increment(this.mapping.name, 'deferred');
      return this.outcome('deferred', {
        ...this.ids(sourceRecord.id),
        message: `waiting for ${names} to be coupled (retry in ${Math.round(delay / 1000)} s)`,
      });
    }
    throw new SyncError(
      'DEP.PARENT_NOT_COUPLED',
      `The ${this.mapping.name} record uses ${names}, which is not coupled to a ${this.dest === 'bc' ? 'Business Central record' : 'Dataverse row'}. Couple or synchronize it first, then retry.`,
      { details: { missing } },
    );
  }

  private ruleContext(source: VersionedRecord): RuleContext {
    return {
      mapping: this.mapping,
      pass: this.pass,
      source,
      bc: this.deps.bc as RecordGateway,
      dataverse: this.deps.dataverse as RecordGateway,
      resolver: this.resolver,
      ...(this.deps.options.company ? { company: this.deps.options.company } : {}),
    };
  }

  private async translated(sourceRecord: VersionedRecord) {
    let t = await this.translate(sourceRecord);
    if (t.missing.length > 0) {
      await this.resolveDependencies(t.missing);
      // What was "not coupled" a moment ago may be coupled now.
      this.resolver.forget();
      this.mapOptions = undefined;
      t = await this.translate(sourceRecord);
    }
    return t;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Uncoupled: match, or create and couple

  private async syncUncoupled(sourceRecord: VersionedRecord): Promise<SyncOutcome> {
    const m = this.mapping;
    const origin = this.event.origin;
    const mayCouple = !m.synchOnlyCoupledRecords || origin === 'full-sync' || origin === 'manual' || origin === 'dependency';
    if (!mayCouple) {
      return this.outcome('skipped', {
        ...this.ids(sourceRecord.id),
        message: `not coupled, and ${m.name} synchronizes only coupled records`,
      });
    }

    const matched = await this.findMatch(sourceRecord);
    if (matched) {
      // The first synchronization of the pair goes in the mapping's initial direction, whichever side's change
      // found the match: a Dataverse edit must not overwrite the BC record it was just coupled to wholesale.
      const initial = origin === 'full-sync' || origin === 'manual' ? this.pass : initialDirectionOf(m);
      const coupling = await this.couple(sourceRecord, matched, undefined, initial);
      await this.deps.counters.increment(m.name, 'coupled');
      await this.history('coupled', sourceRecord.id, matched.id, {});
      await resyncReferrers(this.deps, m, coupling, this.event.correlationId);
      // BC's ForceModify after a match: bring the matched row in line with the side the initial direction reads.
      const after =
        initial === this.pass ? await this.syncCoupled(sourceRecord, coupling, true) : await this.syncInitialDirection(coupling, initial);
      return { ...after, result: after.result === 'unchanged' || after.result === 'modified' ? 'coupled' : after.result };
    }

    // Salespeople are created from users (a full sync of SALESPEOPLE), never users from salespeople: the
    // mapping's direction (FromIntegrationTable) says exactly that.
    const mayCreate = m.direction === 'Bidirectional' || m.direction === this.pass;
    if (
      !mayCreate ||
      (m.couplingRules.matchFields.length > 0 && !m.couplingRules.createNewIfNoMatch && m.synchOnlyCoupledRecords && origin !== 'manual')
    ) {
      if (origin === 'dependency' || !mayCreate) {
        throw new SyncError(
          'DEP.PARENT_NOT_COUPLED',
          `No uncoupled ${this.dest === 'bc' ? 'Business Central record' : 'Dataverse row'} matches this ${m.name} record, and the mapping does not create new ones.`,
        );
      }
    }

    const { fields, missing, exclude } = await this.translated(sourceRecord);
    if (exclude) return this.outcome('skipped', { ...this.ids(sourceRecord.id), message: exclude });
    if (missing.length > 0) return this.deferOrFail(missing, sourceRecord);
    const payload: Record<string, unknown> = { ...(this.dest === 'bc' ? m.insertTemplate.bc : m.insertTemplate.dataverse) };
    // Team ownership: new rows belong to the company's owning team (BC's "BCI - <company>" team).
    const team = this.deps.options.owningTeamId;
    if (this.dest === 'dataverse' && this.deps.options.ownershipModel === 'Team' && m.ownership !== 'None') {
      // Never a silent fallback to the integration user as owner.
      if (!team) throw new SyncError('CONFIG.INVALID', 'OWNERSHIP_MODEL=Team, but the owner team (DATAVERSE_OWNING_TEAM) was not found');
      payload['ownerid@odata.bind'] = `/teams(${team})`;
    }
    // A new record needs no empty values; BC refuses nulls outright.
    for (const f of fields) if (f.payload !== null && f.payload !== undefined) payload[f.writeKey] = f.payload;
    for (const rule of CORE_RULES) await rule.beforeInsert?.(this.ruleContext(sourceRecord), payload);

    const ctx: WriteContext = { mapping: m, pass: this.pass, source: sourceRecord, payload, deps: this.deps };
    await this.deps.hooks?.beforeWrite?.(ctx);
    const changes = Object.fromEntries(
      fields.filter((f) => !sameValue(f.mapped, null)).map((f) => [f.label, [null, f.mapped] as [unknown, unknown]]),
    );
    if (this.deps.options.dryRun) {
      await this.history('inserted', sourceRecord.id, undefined, changes, true);
      return this.outcome('inserted', { ...this.ids(sourceRecord.id), changes, message: 'dry run: nothing written' });
    }

    const created = await this.createDestination(sourceRecord, ctx.payload);
    await this.deps.hooks?.afterWrite?.({ ...ctx, written: created });
    let coupling: Coupling;
    try {
      coupling = await this.couple(sourceRecord, created, fields);
    } catch (err) {
      if (err instanceof CouplingConflictError) await this.dropOrphanRow(sourceRecord, created);
      throw err;
    }
    await resyncReferrers(this.deps, m, coupling, this.event.correlationId);
    if (this.dest === 'bc') await this.deps.claims?.release(this.claimKey(sourceRecord)).catch(() => undefined);
    await this.deps.counters.increment(m.name, 'inserted');
    await this.history('inserted', sourceRecord.id, created.id, changes);
    await this.deps.errors.resolve(m.name, this.ids(sourceRecord.id, created.id));
    return this.outcome('inserted', { ...this.ids(sourceRecord.id, created.id), changes });
  }

  /**
   * Creates the destination. Dataverse rows get an id derived from the BC record, so a retry after a crash
   * between "created" and "coupled" finds the row it already made instead of making a second one.
   */
  private async createDestination(sourceRecord: VersionedRecord, payload: Record<string, unknown>): Promise<VersionedRecord> {
    const gw = this.gateway(this.dest);
    const target = this.target(this.dest);
    if (this.dest === 'dataverse') {
      const id = deterministicId(this.mapping.name, sourceRecord.id);
      // Create-only (If-None-Match: *) straight away: a row left by an earlier attempt answers 412, and only then
      // is it read, so the common case costs one request.
      try {
        return await gw.create(target, payload, { id });
      } catch (err) {
        // Two workers raced to create the same row: the loser reads the winner's row.
        const again = await gw.get(target, id, this.select('dataverse'));
        if (again) return again;
        // Not our row: another row already has this record's alternate key (productnumber, say). That is data
        // to sort out, not a race to retry.
        if (err instanceof SyncError && err.code === 'DV.CONCURRENCY') {
          throw new SyncError(
            'DV.VALIDATION',
            `A ${this.mapping.dataverse.entityLogicalName} row with the same key already exists in Dataverse (${err.message}). ` +
              `Couple this ${this.mapping.name} record to it (match-based coupling or Set Up Coupling) instead of creating a new one.`,
            { cause: err },
          );
        }
        throw err;
      }
    }
    // BC assigns its own SystemId, so two workers handling the same new row would each create a record: the first
    // to claim the creation creates it and records its id; the other reuses that id, or retries while it is made.
    const claims = this.deps.claims;
    if (!claims) return gw.create(target, payload);
    const key = this.claimKey(sourceRecord);
    const claim = await claims.claim(key, CLAIM_STALE_MS);
    if (!claim.won) {
      const existing = claim.createdId ? await gw.get(target, claim.createdId, this.select('bc')) : undefined;
      if (existing) return existing;
      // The claimant may be gone with its create's response lost (it failed without recording what it made, and
      // the event came back): a record it made is adopted now rather than after the claim goes stale.
      const orphan = claim.claimedAt ? await this.findLostCreate(payload, claim.claimedAt) : undefined;
      if (orphan) return orphan;
      throw new SyncError(
        'BC.CONCURRENCY',
        `Another worker is creating the Business Central record for ${this.mapping.name} row ${sourceRecord.id}; retrying.`,
      );
    }
    // The claim may have been released by a winner that already coupled the row: look again before creating.
    if (await this.couplingOf(this.source, sourceRecord.id)) {
      await claims.release(key);
      throw new CouplingConflictError(`${this.mapping.name} row ${sourceRecord.id} was coupled by another worker meanwhile`);
    }
    // An earlier attempt may have created the record and lost the response (BC's POST is not idempotent): adopt
    // that record rather than create a second one.
    const orphan = claim.takenOverFrom ? await this.findLostCreate(payload, claim.takenOverFrom) : undefined;
    if (orphan) {
      await claims.created(key, claim.token, orphan.id);
      return orphan;
    }
    let created: VersionedRecord;
    try {
      created = await gw.create(target, payload);
    } catch (err) {
      // BC answered (a 503, say): its request is over, and a record it made anyway is already there to be found,
      // so the retry takes the claim over at once and looks for it. Otherwise every retry would wait out
      // CLAIM_STALE_MS and the event be dead-lettered meanwhile. A gateway timeout (504) or no answer at all
      // leaves the request possibly still running on BC: the claim stays, and a retry adopts what it makes.
      const status = err instanceof SyncError ? err.details.status : undefined;
      if (typeof status === 'number' && status !== 504 && status !== 408) await claims.abandon(key, claim.token).catch(() => undefined);
      throw err;
    }
    await claims.created(key, claim.token, created.id);
    return created;
  }

  /**
   * The source record got coupled to another Dataverse row while we created one for it (a Dataverse create whose BC
   * response was lost adopted the BC record its attempt made, say). The row we made, at the id derived from the
   * source, can then never be this record's partner: delete it rather than leave a second row behind. A row some
   * other worker coupled is left alone.
   */
  private async dropOrphanRow(sourceRecord: VersionedRecord, created: VersionedRecord): Promise<void> {
    if (this.dest !== 'dataverse') return;
    const partner = await this.couplingOf(this.source, sourceRecord.id);
    if (!partner || partner.dataverseId === created.id || (await this.couplingOf('dataverse', created.id))) return;
    await this.gateway('dataverse').delete(this.target('dataverse'), created.id);
  }

  /**
   * A BC record modified since `since` (less a minute of clock skew) that holds the non-blank values of `payload` and
   * is coupled to nothing: what an attempt whose create response was lost made. Two such records cannot be told
   * apart, so that is an error for an admin rather than a guess.
   */
  private async findLostCreate(payload: Record<string, unknown>, since: string): Promise<VersionedRecord | undefined> {
    // Blank values are left out: BC fills some in on insert (a blank currency code reads back as the LCY code).
    const keys = Object.keys(payload).filter(
      (k) => !k.includes('@') && typeof payload[k] !== 'object' && !sameValue(payload[k], null) && payload[k] !== false,
    );
    if (keys.length === 0) return undefined;
    const modifiedSince = new Date(Date.parse(since) - 60_000).toISOString();
    const found: VersionedRecord[] = [];
    for await (const page of this.deps.bc.list(bcTarget(this.mapping), { modifiedSince, select: [...new Set(['id', ...keys])] })) {
      for (const r of page) {
        if (!keys.every((k) => sameValue(r.values[k], payload[k]))) continue;
        if (!(await this.couplingOf('bc', r.id))) found.push(r);
      }
    }
    if (found.length > 1) {
      throw new SyncError(
        'COUPLE.AMBIGUOUS',
        `${found.length} uncoupled Business Central records created since ${since} hold the values of this ${this.mapping.name} row; an earlier attempt may have created one of them. Couple it to the right one by hand and delete the others.`,
      );
    }
    const [hit] = found;
    return hit ? await this.gateway('bc').get(bcTarget(this.mapping), hit.id, this.select('bc')) : undefined;
  }

  /** Match-based coupling by the mapping's criteria, priority group by priority group (BC 3.3). */
  private async findMatch(sourceRecord: VersionedRecord): Promise<VersionedRecord | undefined> {
    const rules = this.mapping.couplingRules.matchFields;
    if (rules.length === 0) return undefined;
    const groups = [...new Set(rules.map((r) => r.priority))].sort((a, b) => a - b);
    let ambiguous = 0;
    for (const priority of groups) {
      const conditions: string[] = [];
      for (const r of rules.filter((x) => x.priority === priority)) {
        const value = sourceRecord.values[this.source === 'bc' ? r.bcField : r.dataverseColumn];
        if (value === null || value === undefined || value === '') continue;
        const column = this.dest === 'bc' ? r.bcField : r.dataverseColumn;
        conditions.push(`${column} eq ${odataLiteral(value)}`);
      }
      if (conditions.length === 0) continue;
      const destFilter = this.filterOf(this.dest);
      const filter = [conditions.join(' and '), destFilter ? `(${destFilter})` : ''].filter(Boolean).join(' and ');
      const uncoupled = await uncoupledMatches(
        this.gateway(this.dest),
        this.target(this.dest),
        filter,
        this.select(this.dest),
        async (id) => Boolean(await this.couplingOf(this.dest, id)),
      );
      if (uncoupled.length === 1) return uncoupled[0];
      if (uncoupled.length > 1) ambiguous = uncoupled.length;
    }
    if (ambiguous > 0) {
      throw new SyncError(
        'COUPLE.AMBIGUOUS',
        `${ambiguous} uncoupled ${this.dest === 'bc' ? 'Business Central records' : 'Dataverse rows'} match this ${this.mapping.name} record by the coupling criteria. Couple it to one of them by hand; nothing was created.`,
      );
    }
    return undefined;
  }

  private async couple(
    sourceRecord: VersionedRecord,
    destRecord: VersionedRecord,
    written?: Array<{ destKey?: string; mapped: unknown }>,
    initialDirection: SyncDirection = this.pass,
  ): Promise<Coupling> {
    const bc = this.source === 'bc' ? sourceRecord : destRecord;
    const dv = this.source === 'bc' ? destRecord : sourceRecord;
    const snapshot = written ? this.snapshotAfter(sourceRecord, destRecord, written).snapshot : undefined;
    return this.deps.couplings.couple({
      mapping: this.mapping.name,
      bcId: bc.id,
      dataverseId: dv.id,
      bcModifiedOn: bc.modifiedOn,
      dataverseModifiedOn: dv.modifiedOn,
      // A row we just created holds only what we wrote.
      ...(written && this.dest === 'dataverse' ? { dataverseWrittenEtag: destRecord.etag } : {}),
      initialDirection,
      snapshot,
      lastResult: written ? 'inserted' : 'coupled',
      lastSyncedAt: this.deps.clock.now().toISOString(),
      environment: this.deps.options.environment,
    });
  }

  // ---------------------------------------------------------------------------------------------------------
  // Coupled: detect changes, resolve conflicts, write with If-Match

  private async syncCoupled(sourceRecord: VersionedRecord, coupling: Coupling, force = false): Promise<SyncOutcome> {
    const m = this.mapping;
    const origin = this.event.origin;
    if (coupling.skipped && origin !== 'manual' && origin !== 'replay') {
      return this.outcome('skipped', {
        ...this.ids(sourceRecord.id, this.destIdOf(coupling)),
        message: 'skipped after repeated failures; retry it to synchronize again',
      });
    }
    const destId = this.destIdOf(coupling);
    const destRecord = await this.gateway(this.dest).get(this.target(this.dest), destId, this.select(this.dest));
    if (!destRecord) return this.destinationDeleted(sourceRecord, coupling);

    const { fields, missing, exclude } = await this.translated(sourceRecord);
    if (exclude) return this.outcome('skipped', { ...this.ids(sourceRecord.id, destId), message: exclude });
    if (missing.length > 0) return this.deferOrFail(missing, sourceRecord);

    const snap = coupling.snapshot;
    if (!snap && !force && origin !== 'manual' && origin !== 'full-sync') {
      // Never synchronized since it was coupled: nothing says which side's values are current, so the pair's
      // initial direction is applied first (as BC's "synchronize after coupling"), never this event's wholesale.
      const initial = coupling.initialDirection ?? (m.direction === 'Bidirectional' ? undefined : m.direction);
      if (!initial) {
        throw new SyncError(
          'SYNC.UPDATE_CONFLICT',
          `This ${m.name} record was coupled but never synchronized, and no initial direction was chosen when it was coupled, so neither side can overwrite the other. Synchronize it now in the direction whose values are right (Synchronize Now with a direction), then retry.`,
        );
      }
      if (initial !== this.pass) return this.syncInitialDirection(coupling, initial);
      force = true;
    }
    const sourceSnap = snap ? (this.source === 'bc' ? snap.bc : snap.dataverse) : undefined;
    const destSnap = snap ? (this.dest === 'bc' ? snap.bc : snap.dataverse) : undefined;
    const states: FieldState[] = fields.map((f) => {
      const sourceKey = this.sourceKeyOf(f.label);
      // A derived value has no source column of its own: it changed when it differs from what was last written.
      const derivedBefore = f.derived && destSnap && f.destKey ? destSnap[f.destKey] : undefined;
      return {
        ...f,
        sourceBefore: f.derived ? derivedBefore : sourceSnap && sourceKey ? sourceSnap[sourceKey] : undefined,
        dest: f.destKey ? destRecord.values[f.destKey] : undefined,
        destBefore: destSnap && f.destKey ? destSnap[f.destKey] : undefined,
      };
    });
    const plan = planPass({
      pass: this.pass,
      tableDirection: m.direction,
      policy: m.updateConflictResolution,
      force: force || origin === 'manual' || origin === 'full-sync',
      fields: states,
      sourceModifiedOn: sourceRecord.modifiedOn,
      destModifiedOn: destRecord.modifiedOn,
    });

    if (plan.kind === 'conflict') {
      const first = plan.conflicts[0];
      throw new SyncError(
        'SYNC.UPDATE_CONFLICT',
        `Cannot update a record in the ${this.dest === 'bc' ? m.bc.table : m.dataverse.entityLogicalName} table. The mapping between ${first?.label ?? 'a field'} is bi-directional, and one or both values have changed since the last synchronization.`,
        { details: { fields: plan.conflicts.map((c) => ({ field: c.label, source: c.source, destination: c.dest })) } },
      );
    }
    if (plan.kind === 'skip') {
      await this.deps.counters.increment(m.name, 'skipped');
      return this.outcome('skipped', { ...this.ids(sourceRecord.id, destId), message: plan.reason });
    }
    if (plan.kind === 'unchanged') {
      await this.deps.couplings.update(coupling, this.couplingSuccess(sourceRecord, destRecord, fields, 'unchanged', snap));
      await this.deps.counters.increment(m.name, 'unchanged');
      await this.deps.errors.resolve(m.name, this.ids(sourceRecord.id, destId));
      return this.outcome('unchanged', this.ids(sourceRecord.id, destId));
    }

    const payload: Record<string, unknown> = {};
    for (const f of plan.write) payload[f.writeKey] = this.dest === 'bc' ? bcValue(f.payload, destRecord.values[f.writeKey]) : f.payload;
    const changes = Object.fromEntries(plan.write.map((f) => [f.label, [f.dest ?? null, f.mapped] as [unknown, unknown]]));
    const lastFingerprint = this.dest === 'dataverse' ? coupling.fingerprintToDataverse : coupling.fingerprintToBc;
    const print = fingerprint(payload);
    const destModifiedOn = this.dest === 'bc' ? coupling.bcModifiedOn : coupling.dataverseModifiedOn;
    if (print === lastFingerprint && destModifiedOn && !isAfter(destRecord.modifiedOn, destModifiedOn) && !force) {
      // Exactly what we wrote last time, onto a destination nobody touched since: a repeat, not a change.
      await this.deps.counters.increment(m.name, 'unchanged');
      return this.outcome('unchanged', { ...this.ids(sourceRecord.id, destId), message: 'same values as the last write' });
    }

    const ctx: WriteContext = { mapping: m, pass: this.pass, source: sourceRecord, dest: destRecord, payload, deps: this.deps };
    await this.deps.hooks?.beforeWrite?.(ctx);
    if (this.deps.options.dryRun) {
      await this.history('modified', sourceRecord.id, destId, changes, true);
      return this.outcome('modified', { ...this.ids(sourceRecord.id, destId), changes, message: 'dry run: nothing written' });
    }
    // If-Match: a destination changed since our read fails with *.CONCURRENCY and the whole record is redone.
    const written = await this.gateway(this.dest).update(this.target(this.dest), destId, ctx.payload, destRecord.etag);
    await this.deps.hooks?.afterWrite?.({ ...ctx, written });
    const patch = this.couplingSuccess(
      sourceRecord,
      { ...written, values: { ...destRecord.values, ...written.values } },
      fields,
      'modified',
      snap,
      plan.write,
    );
    if (this.dest === 'dataverse') patch.fingerprintToDataverse = print;
    else patch.fingerprintToBc = print;
    await this.deps.couplings.update(coupling, patch);
    await this.deps.counters.increment(m.name, 'modified');
    await this.history('modified', sourceRecord.id, destId, changes);
    await this.deps.errors.resolve(m.name, this.ids(sourceRecord.id, destId));
    return this.outcome('modified', { ...this.ids(sourceRecord.id, destId), changes });
  }

  /** The first synchronization of a pair in its initial direction: from the other side, forced, as a manual sync. */
  private async syncInitialDirection(coupling: Coupling, initial: SyncDirection): Promise<SyncOutcome> {
    const from = sourceOf(initial);
    const outcome = await syncRecord(
      {
        ...this.event,
        source: from,
        recordId: from === 'bc' ? coupling.bcId : coupling.dataverseId,
        origin: 'manual',
        direction: initial,
        changeType: 'unknown',
      },
      this.deps,
      this.depth + 1,
    );
    return { ...outcome, message: `first synchronization after coupling, ${initial}${outcome.message ? `: ${outcome.message}` : ''}` };
  }

  /**
   * Option mappings (BC "CDS Int. Option Couple"): a BC code record (payment terms, shipment method, shipping
   * agent) is coupled to the option of the mapped column whose label is its code; a code with no option gets one
   * appended, as BC does. Accounts then translate the code through this coupling.
   */
  private async syncOptionMapping(): Promise<SyncOutcome> {
    const m = this.mapping;
    if (this.source !== 'bc') return this.outcome('unchanged', { message: `${m.name} synchronizes from Business Central only` });
    const column = m.dataverse.optionSetColumn;
    const optionSets = this.deps.optionSets;
    if (!column || !optionSets)
      throw new SyncError('MAP.INVALID', `${m.name} is an option mapping without an option-set column or option-set access.`);
    const codeField = bcCodeField(m);
    const record = await this.deps.bc.get(bcTarget(m), this.event.recordId, ['id', codeField, 'lastModifiedDateTime']);
    const coupling = await this.couplingOf('bc', this.event.recordId);
    if (!record) {
      if (coupling) await this.deps.couplings.uncouple(m.name, coupling.bcId);
      return this.outcome(coupling ? 'deleted' : 'unchanged', {
        bcId: this.event.recordId,
        message: 'the BC code was deleted; the option stays',
      });
    }
    if (coupling) return this.outcome('unchanged', { bcId: record.id, dataverseId: coupling.dataverseId });
    const code = String(record.values[codeField] ?? '').trim();
    if (!code) return this.outcome('skipped', { bcId: record.id, message: 'a blank code is not an option' });
    const norm = (x: string) => x.toLowerCase().replace(/\s+/g, '');
    const options = await optionSets.options(m.dataverse.entityLogicalName, column);
    if (!options) throw new SyncError('MAP.INVALID', `Column '${column}' does not exist on ${m.dataverse.entityLogicalName}.`);
    let value = options.find((o) => norm(o.label) === norm(code))?.value;
    const created = value === undefined;
    if (this.deps.options.dryRun) {
      return this.outcome(created ? 'inserted' : 'coupled', {
        bcId: record.id,
        message: `dry run: ${created ? 'would append' : 'would couple to'} option '${code}'`,
      });
    }
    if (value === undefined) {
      const claims = this.deps.claims;
      const key = `${m.name}/${record.id}`;
      const claim = claims ? await claims.claim(key, CLAIM_STALE_MS) : ({ won: true, token: '' } as const);
      if (!claim.won) {
        if (claim.createdId) value = Number(claim.createdId);
        else throw new SyncError('DV.CONCURRENCY', `Another worker is appending option '${code}' to ${column}; retrying.`);
      } else {
        value = await optionSets.insert(m.dataverse.entityLogicalName, column, code);
        if (claims) await claims.created(key, claim.token, String(value));
      }
    }
    const optionCoupling = await this.deps.couplings.couple({
      mapping: m.name,
      bcId: record.id,
      dataverseId: String(value),
      bcModifiedOn: record.modifiedOn,
      lastResult: created ? 'inserted' : 'coupled',
      lastSyncedAt: this.deps.clock.now().toISOString(),
      environment: this.deps.options.environment,
    });
    await resyncReferrers(this.deps, m, optionCoupling, this.event.correlationId, code);
    await this.deps.claims?.release(`${m.name}/${record.id}`).catch(() => undefined);
    await this.deps.counters.increment(m.name, created ? 'inserted' : 'coupled');
    await this.history(
      created ? 'inserted' : 'coupled',
      record.id,
      String(value),
      created ? { [`${codeField} -> ${column}`]: [null, code] } : {},
    );
    return this.outcome(created ? 'inserted' : 'coupled', { bcId: record.id, dataverseId: String(value) });
  }

  private claimKey(sourceRecord: VersionedRecord): string {
    return `${this.mapping.name}/${sourceRecord.id}`;
  }

  private destIdOf(c: Coupling): string {
    return this.dest === 'bc' ? c.bcId : c.dataverseId;
  }

  private sourceKeyOf(label: string): string | undefined {
    const f = activeFields(this.mapping).find((x) => `${x.bcField ?? '(constant)'} -> ${x.dataverseColumn ?? '(constant)'}` === label);
    if (!f) return undefined;
    return this.source === 'bc' ? (f.bcField ?? undefined) : dataverseReadKey(f);
  }

  /**
   * The values each side holds for the mapped fields after this sync: the base of the next change detection.
   * A destination value this pass did not write and that is not in line with the source stays at its previous
   * snapshot when it changed since: that change is the destination's own, still to be carried the other way
   * (`pending`), and taking it into the snapshot would make the reverse pass think nothing changed.
   */
  private snapshotAfter(
    sourceRecord: VersionedRecord,
    destRecord: VersionedRecord,
    written: Array<{ destKey?: string; mapped: unknown }>,
    translated: Array<{ destKey?: string; mapped: unknown }> = written,
    previous?: SyncedSnapshot,
  ): { snapshot: SyncedSnapshot; pending: boolean } {
    const sourceSnap: Record<string, unknown> = {};
    const destSnap: Record<string, unknown> = {};
    const prevDest = previous ? (this.dest === 'bc' ? previous.bc : previous.dataverse) : undefined;
    const writtenByKey = new Map(written.filter((w) => w.destKey).map((w) => [w.destKey as string, w.mapped]));
    const mappedByKey = new Map(translated.filter((w) => w.destKey).map((w) => [w.destKey as string, w.mapped]));
    let pending = false;
    for (const f of activeFields(this.mapping)) {
      const sk = this.source === 'bc' ? f.bcField : dataverseReadKey(f);
      const dk = this.dest === 'bc' ? f.bcField : dataverseReadKey(f);
      if (sk) sourceSnap[sk] = sourceRecord.values[sk] ?? null;
      if (!dk) continue;
      if (writtenByKey.has(dk)) {
        destSnap[dk] = writtenByKey.get(dk) ?? null;
        continue;
      }
      const now = destRecord.values[dk] ?? null;
      const before = prevDest?.[dk];
      const inLine = mappedByKey.has(dk) && sameValue(mappedByKey.get(dk), now);
      if (!inLine && before !== undefined && !sameValue(now, before)) {
        destSnap[dk] = before;
        pending = true;
      } else destSnap[dk] = now;
    }
    const snapshot = this.source === 'bc' ? { bc: sourceSnap, dataverse: destSnap } : { bc: destSnap, dataverse: sourceSnap };
    return { snapshot, pending };
  }

  private couplingSuccess(
    sourceRecord: VersionedRecord,
    destRecord: VersionedRecord,
    fields: Array<{ destKey?: string; mapped: unknown }>,
    result: SyncResult,
    previous: SyncedSnapshot | undefined,
    written: Array<{ destKey?: string; mapped: unknown }> = [],
  ): Partial<Coupling> {
    const bc = this.source === 'bc' ? sourceRecord : destRecord;
    const dv = this.source === 'bc' ? destRecord : sourceRecord;
    const { snapshot, pending } = this.snapshotAfter(sourceRecord, destRecord, written, fields, previous);
    const patch: Partial<Coupling> = {
      bcModifiedOn: bc.modifiedOn,
      dataverseModifiedOn: dv.modifiedOn,
      snapshot,
      lastResult: result,
      lastSyncedAt: this.deps.clock.now().toISOString(),
      lastError: undefined,
      failureCount: 0,
      skipped: false,
    };
    // The row version our write left is our echo only if the row holds nothing of its own still to carry back.
    // A row we modified last whose content this pass found synchronized is at such a version too.
    const own = this.deps.options.integrationUserId?.toLowerCase();
    const dvPending = this.dest === 'dataverse' && pending;
    if (this.dest === 'dataverse' && result === 'modified') patch.dataverseWrittenEtag = pending ? undefined : destRecord.etag;
    else if (!dvPending && own && dv.modifiedBy?.toLowerCase() === own) patch.dataverseWrittenEtag = dv.etag;
    return patch;
  }

  // ---------------------------------------------------------------------------------------------------------
  // Deletions (BC 3.9 and our policies)

  private async sourceDeleted(recordId: string): Promise<SyncOutcome> {
    const coupling = await this.couplingOf(this.source, recordId);
    if (!coupling) return this.outcome('unchanged', { ...this.ids(recordId), message: 'deleted and not coupled: nothing to do' });
    const destId = this.destIdOf(coupling);
    const policy = this.mapping.deletionConflictResolution;
    const ids = this.ids(recordId, destId);
    switch (policy) {
      case 'PropagateDelete': {
        if (!this.deps.options.dryRun) {
          const dest = await this.gateway(this.dest).get(this.target(this.dest), destId);
          if (dest) await this.gateway(this.dest).delete(this.target(this.dest), destId, dest.etag);
          await this.deps.couplings.uncouple(this.mapping.name, coupling.bcId);
        }
        await this.deps.counters.increment(this.mapping.name, 'deleted');
        await this.history('deleted', recordId, destId, {}, this.deps.options.dryRun);
        return this.outcome('deleted', { ...ids, message: 'deleted on both sides' });
      }
      case 'RemoveCoupling':
        if (!this.deps.options.dryRun) await this.deps.couplings.uncouple(this.mapping.name, coupling.bcId);
        await this.history('deleted', recordId, destId, {}, this.deps.options.dryRun);
        return this.outcome('deleted', { ...ids, message: 'coupling removed; the other record is kept' });
      case 'RestoreRecords':
        return this.restore(coupling, recordId);
      case 'IgnoreAndReport':
        await this.deps.counters.increment(this.mapping.name, 'skipped');
        await this.history('skipped', recordId, destId, {});
        return this.outcome('skipped', { ...ids, message: 'the coupled record was deleted; policy IgnoreAndReport keeps the other one' });
      default:
        throw new SyncError(
          'SYNC.DELETION_CONFLICT',
          `The ${this.mapping.name} record ${destId} cannot be updated because it is coupled to a deleted record.`,
        );
    }
  }

  private async destinationDeleted(sourceRecord: VersionedRecord, coupling: Coupling): Promise<SyncOutcome> {
    const policy = this.mapping.deletionConflictResolution;
    const destId = this.destIdOf(coupling);
    const ids = this.ids(sourceRecord.id, destId);
    switch (policy) {
      case 'RestoreRecords': {
        // Re-create the deleted record from the survivor and couple the new one.
        await this.deps.couplings.uncouple(this.mapping.name, coupling.bcId);
        const origin = this.event.origin === 'dependency' ? 'dependency' : 'manual';
        const restored = await new RecordSync(this.mapping, { ...this.event, origin }, this.pass, this.deps, this.depth).syncUncoupled(
          sourceRecord,
        );
        return { ...restored, message: 'the deleted record was restored' };
      }
      case 'RemoveCoupling':
        await this.deps.couplings.uncouple(this.mapping.name, coupling.bcId);
        return this.outcome('deleted', { ...ids, message: 'the coupled record was deleted; coupling removed' });
      case 'PropagateDelete':
        await this.gateway(this.source).delete(this.target(this.source), sourceRecord.id, sourceRecord.etag);
        await this.deps.couplings.uncouple(this.mapping.name, coupling.bcId);
        await this.deps.counters.increment(this.mapping.name, 'deleted');
        return this.outcome('deleted', { ...ids, message: 'deleted on both sides' });
      case 'IgnoreAndReport':
        await this.deps.counters.increment(this.mapping.name, 'skipped');
        return this.outcome('skipped', { ...ids, message: 'coupled to a deleted record; policy IgnoreAndReport' });
      default:
        throw new SyncError(
          'SYNC.DELETION_CONFLICT',
          `The ${this.mapping.name} record cannot be updated because it is coupled to a deleted record.`,
        );
    }
  }

  /** Restore after the source was deleted: re-create it from the surviving destination (the reverse pass). */
  private async restore(coupling: Coupling, deletedId: string): Promise<SyncOutcome> {
    const survivorSide = this.dest;
    const survivorId = this.destIdOf(coupling);
    await this.deps.couplings.uncouple(this.mapping.name, coupling.bcId);
    const reverse = passFrom(survivorSide);
    const outcome = await syncRecord(
      { ...this.event, source: survivorSide, recordId: survivorId, origin: 'manual', direction: reverse, changeType: 'unknown' },
      this.deps,
      this.depth + 1,
    );
    return { ...outcome, message: `record ${deletedId} was deleted and restored from its coupled record` };
  }

  private async history(
    result: SyncResult,
    sourceId: string,
    destId: string | undefined,
    changes: Record<string, [unknown, unknown]>,
    dryRun = false,
  ) {
    await this.deps.history.append({
      mapping: this.mapping.name,
      ...this.ids(sourceId, destId),
      at: this.deps.clock.now().toISOString(),
      direction: this.pass,
      result,
      changes,
      correlationId: this.event.correlationId,
      dryRun: dryRun || undefined,
    });
  }
}

/**
 * Records a data/configuration failure: a row in the sync errors table, the coupling marked failed, and — when
 * the same error repeats — skipped, as BC does (bc-integration-reference 3.7).
 */
async function recordFailure(
  deps: SyncDeps,
  mapping: TableMapping | undefined,
  event: ChangeEvent,
  error: SyncError,
  pass: SyncDirection = passFrom(event.source),
): Promise<SyncOutcome> {
  const name = mapping?.name ?? event.mapping;
  const bcId = event.source === 'bc' ? event.recordId : undefined;
  const dataverseId = event.source === 'dataverse' ? event.recordId : undefined;
  let coupling: Coupling | undefined;
  try {
    coupling = bcId
      ? await deps.couplings.getByBcId(name, bcId)
      : dataverseId
        ? await deps.couplings.getByDataverseId(name, dataverseId)
        : undefined;
  } catch {
    coupling = undefined;
  }
  await deps.errors.record({
    mapping: name,
    bcId: bcId ?? coupling?.bcId,
    dataverseId: dataverseId ?? coupling?.dataverseId,
    direction: pass,
    code: error.code,
    category: error.category,
    message: error.message,
    correlationId: event.correlationId,
    values: error.details,
    event,
  });
  if (coupling && coupling.environment === deps.options.environment) {
    const repeated = coupling.lastError === error.message;
    const failureCount = coupling.failureCount + 1;
    const skipped = repeated && failureCount >= (deps.options.skipAfterFailures ?? 3);
    try {
      await deps.couplings.update(coupling, {
        lastResult: 'failed',
        lastError: error.message,
        failureCount,
        skipped,
        lastSyncedAt: deps.clock.now().toISOString(),
      });
    } catch (err) {
      if (!(err instanceof CouplingConflictError)) throw err;
    }
  }
  await deps.counters.increment(name, 'failed');
  return {
    result: 'failed',
    mapping: name,
    bcId: bcId ?? coupling?.bcId,
    dataverseId: dataverseId ?? coupling?.dataverseId,
    code: error.code,
    message: error.message,
  };
}

/**
 * A newly coupled record may be what other records waited for: an option (PAYMENT TERMS…) or a lookup that is
 * cleared when not coupled (primary contact) was written blank to their other side, and neither side changes now
 * that the coupling exists. Those records are synchronized again in the direction that carries the value, so the
 * blank is filled in (the plan writes a fill-in even though neither side changed). Only coupled referrers are
 * queued; uncoupled ones get the value when they are coupled.
 */
async function resyncReferrers(
  deps: SyncDeps,
  referenced: TableMapping,
  coupling: Coupling,
  correlationId: string,
  knownCode?: string,
): Promise<void> {
  if (deps.options.dryRun) return;
  let code = knownCode;
  const codeOf = async (): Promise<string | undefined> => {
    if (code !== undefined) return code;
    const keyField = bcCodeField(referenced);
    const record = await deps.bc.get(bcTarget(referenced), coupling.bcId, ['id', keyField]);
    const v = record?.values[keyField];
    code = typeof v === 'string' ? v : '';
    return code;
  };
  for (const m of await deps.mappings.all()) {
    if (!m.enabled || m.optionMapping) continue;
    for (const f of activeFields(m)) {
      const t = f.transformation;
      const refers =
        t?.kind === 'optionMap'
          ? t.optionMapping === referenced.name
          : t?.kind === 'lookup' && f.clearValueOnFailedSync && [t.mapping, ...t.alsoMappings].includes(referenced.name);
      if (!refers || !t || (t.kind !== 'optionMap' && t.kind !== 'lookup')) continue;
      const queries: Array<{ side: Side; filter: string }> = [];
      if (fieldAllowsPass(f, 'ToIntegrationTable') && f.bcField && (!f.bcExtension || m.bc.extensionEntitySet)) {
        const key = t.bcKey === 'id' ? odataGuid(coupling.bcId) : odataLiteral(await codeOf());
        if (t.bcKey === 'id' || code) queries.push({ side: 'bc', filter: `${f.bcField} eq ${key}` });
      }
      if (fieldAllowsPass(f, 'FromIntegrationTable') && f.dataverseColumn) {
        queries.push({
          side: 'dataverse',
          filter:
            t.kind === 'optionMap'
              ? `${f.dataverseColumn} eq ${odataLiteral(Number(coupling.dataverseId))}`
              : `_${f.dataverseColumn}_value eq ${odataGuid(coupling.dataverseId)}`,
        });
      }
      for (const q of queries) {
        try {
          await queueReferrers(deps, m, q, correlationId);
        } catch (err) {
          // The record itself is synchronized; a refused query only costs the referrers their fill-in, which their
          // next change or reconciliation brings. Recorded so it is visible, never thrown at the record.
          const e = toSyncError(err);
          if (e.transient) throw e;
          await deps.errors.record({
            mapping: m.name,
            ...(q.side === 'bc' ? { bcId: coupling.bcId } : { dataverseId: coupling.dataverseId }),
            direction: passFrom(q.side),
            code: e.code,
            category: e.category,
            message: `Could not queue the ${m.name} records that refer to ${referenced.name} ${q.side === 'bc' ? coupling.bcId : coupling.dataverseId} for a new synchronization: ${e.message}`,
            correlationId,
          });
        }
      }
    }
  }
}

/** Queues a new pass for every coupled record of `m` that one referrer query finds. */
async function queueReferrers(deps: SyncDeps, m: TableMapping, q: { side: Side; filter: string }, correlationId: string): Promise<void> {
  const gw = (q.side === 'bc' ? deps.bc : deps.dataverse) as RecordGateway;
  const target = q.side === 'bc' ? bcTarget(m) : dataverseTarget(m);
  const key = q.side === 'bc' ? 'id' : m.dataverse.primaryKey;
  for await (const page of gw.list(target as never, { filter: q.filter, select: [key] })) {
    const events: ChangeEvent[] = [];
    for (const r of page) {
      const c = q.side === 'bc' ? await deps.couplings.getByBcId(m.name, r.id) : await deps.couplings.getByDataverseId(m.name, r.id);
      if (!c) continue;
      events.push({
        v: 1,
        mapping: m.name,
        source: q.side,
        recordId: r.id.toLowerCase(),
        changeType: 'updated',
        origin: 'reconcile',
        correlationId,
        observedAt: deps.clock.now().toISOString(),
        direction: passFrom(q.side),
        deferrals: 0,
      });
    }
    if (events.length > 0) await deps.publisher.publish(events);
  }
}

/**
 * The first two candidates of a match query that are not coupled yet (two are enough to call it ambiguous), read
 * page by page: candidates already coupled to other records are skipped however many there are, so a match is
 * never missed — and a duplicate never created — because the first page was all coupled.
 */
export async function uncoupledMatches(
  gateway: RecordGateway,
  target: EntityTarget,
  filter: string,
  select: string[] | undefined,
  isCoupled: (id: string) => Promise<boolean>,
): Promise<VersionedRecord[]> {
  const out: VersionedRecord[] = [];
  let continuation: string | undefined;
  do {
    const page = await gateway.listPage(target as never, {
      ...(continuation ? { continuation } : { filter }),
      pageSize: 50,
      ...(select ? { select } : {}),
    });
    for (const candidate of page.items) {
      if (!(await isCoupled(candidate.id))) out.push(candidate);
      if (out.length >= 2) return out;
    }
    continuation = page.continuation;
  } while (continuation);
  return out;
}

/** Finds the source-side record a missing reference points at (by SystemId, or by code/number). */
async function findSourceRecordId(deps: SyncDeps, parent: TableMapping, side: Side, ref: MissingReference): Promise<string | undefined> {
  if (side === 'dataverse' || ref.bcKey === 'id') return ref.sourceValue;
  const keyField = bcCodeField(parent);
  const code = ref.sourceValue.includes('|') ? ref.sourceValue.slice(ref.sourceValue.indexOf('|') + 1) : ref.sourceValue;
  const page = await deps.bc.listPage(bcTarget(parent), {
    filter: `${keyField} eq ${odataLiteral(code)}`,
    select: ['id', keyField],
    pageSize: 2,
  });
  return page.items.length === 1 ? page.items[0]?.id : undefined;
}

/** The BC property that holds a table's code or number, which other records use to refer to it. */
export function bcCodeField(mapping: TableMapping): string {
  return ['customers', 'vendors', 'items', 'resources', 'contacts', 'salesOrders', 'salesInvoices'].includes(mapping.bc.entitySet)
    ? 'number'
    : 'code';
}

/** The owner field of the BC unit-of-measure pages whose records are keyed by (owner, code). */
const UNIT_OWNER_FIELD: Record<string, string> = { itemUnitsOfMeasure: 'itemNumber', resourceUnitsOfMeasure: 'resourceNumber' };

/** Translates references through couplings, with the lookups a record needs cached for the record's duration. */
export class CouplingResolver {
  private readonly cache = new Map<string, string | undefined>();

  constructor(private readonly deps: SyncDeps) {}

  forget(): void {
    this.cache.clear();
  }

  private async memo(key: string, f: () => Promise<string | undefined>): Promise<string | undefined> {
    if (this.cache.has(key)) return this.cache.get(key);
    const v = await f();
    this.cache.set(key, v);
    return v;
  }

  private async bcIdOf(mapping: TableMapping, value: string, bcKey: 'code' | 'id'): Promise<string | undefined> {
    if (bcKey === 'id') return value;
    const keyField = bcCodeField(mapping);
    const code = value.includes('|') ? value.slice(value.indexOf('|') + 1) : value;
    // Item/Resource Units of Measure are keyed by (owner, code): 'PCS' alone matches every item's PCS.
    const owner = value.includes('|') ? UNIT_OWNER_FIELD[mapping.bc.entitySet] : undefined;
    const ownerClause = owner ? ` and ${owner} eq ${odataLiteral(value.slice(0, value.indexOf('|')))}` : '';
    const page = await this.deps.bc.listPage(bcTarget(mapping), {
      filter: `${keyField} eq ${odataLiteral(code)}${ownerClause}`,
      select: ['id', keyField],
      pageSize: 2,
    });
    return page.items.length === 1 ? page.items[0]?.id : undefined;
  }

  /** The mapping model's lookup port: BC code/id ⇄ coupled Dataverse id. */
  readonly lookup: LookupResolver = async (mappingName, sourceId, { direction, bcKey, via }) => {
    if (direction !== 'ToIntegrationTable') return this.toBc(mappingName, sourceId, bcKey);
    if (via !== 'contactCompany') return this.toDataverse(mappingName, sourceId, bcKey);
    const number = await this.linkedNumber(mappingName, sourceId);
    return number ? this.toDataverse(mappingName, number, 'code') : undefined;
  };

  /**
   * The customer (CUSTOMER) or vendor (VENDOR) number a company contact's business relation links to: BC's
   * opportunity names its company as a contact number (CT…), never the customer's.
   */
  private async linkedNumber(mappingName: string, contactNumber: string): Promise<string | undefined> {
    const linkTo = mappingName === 'VENDOR' ? 'Vendor' : 'Customer';
    return this.memo(`link|${linkTo}|${contactNumber}`, async () => {
      const page = await this.deps.bc.listPage(
        { side: 'bc', kind: 'customApi', entitySet: 'contactBusinessRelations' },
        { filter: `contactNumber eq ${odataLiteral(contactNumber)} and linkToTable eq ${odataLiteral(linkTo)}`, pageSize: 1 },
      );
      const number = page.items[0]?.values.linkNumber;
      return typeof number === 'string' && number !== '' ? number : undefined;
    });
  }

  async toDataverse(mappingName: string, bcValue: string, bcKey: 'code' | 'id'): Promise<string | undefined> {
    return this.memo(`dv|${mappingName}|${bcKey}|${bcValue}`, async () => {
      const mapping = await this.deps.mappings.get(mappingName);
      if (!mapping) return undefined;
      const bcId = await this.bcIdOf(mapping, bcValue, bcKey);
      if (!bcId) return undefined;
      return (await this.deps.couplings.getByBcId(mappingName, bcId.toLowerCase()))?.dataverseId;
    });
  }

  async toBc(mappingName: string, dataverseId: string, bcKey: 'code' | 'id'): Promise<string | undefined> {
    return this.memo(`bc|${mappingName}|${bcKey}|${dataverseId}`, async () => {
      const coupling = await this.deps.couplings.getByDataverseId(mappingName, dataverseId.toLowerCase());
      if (!coupling) return undefined;
      if (bcKey === 'id') return coupling.bcId;
      const mapping = await this.deps.mappings.get(mappingName);
      if (!mapping) return undefined;
      const keyField = bcCodeField(mapping);
      const record = await this.deps.bc.get(bcTarget(mapping), coupling.bcId, ['id', keyField]);
      const code = record?.values[keyField];
      return typeof code === 'string' ? code : undefined;
    });
  }

  /**
   * Option couplings (PAYMENT TERMS…) are few: load them once per record, keyed by BC SystemId and by code, so the
   * mapping model can translate options synchronously.
   */
  async mapOptions(mapping: TableMapping): Promise<MapRecordOptions> {
    const optionMappings = new Set<string>();
    for (const f of mapping.fields) if (f.transformation?.kind === 'optionMap') optionMappings.add(f.transformation.optionMapping);
    const pairs = new Map<string, Record<string, number>>();
    for (const name of optionMappings) {
      const om = await this.deps.mappings.get(name);
      const table: Record<string, number> = {};
      let continuation: string | undefined;
      do {
        const page = await this.deps.couplings.list(name, { pageSize: 1000, continuation });
        for (const c of page.items) {
          const option = Number(c.dataverseId);
          if (!Number.isFinite(option)) continue;
          table[c.bcId] = option;
          if (om) {
            const keyField = bcCodeField(om);
            const record = await this.deps.bc.get(bcTarget(om), c.bcId, ['id', keyField]);
            const code = record?.values[keyField];
            if (typeof code === 'string') table[code] = option;
          }
        }
        continuation = page.continuation;
      } while (continuation);
      pairs.set(name, table);
    }
    const lcyCode = this.deps.options.lcyCode;
    let lcy: MapRecordOptions['lcy'];
    if (lcyCode) {
      const id = await lcyCurrencyId(this.deps.dataverse as RecordGateway, lcyCode, this.deps.clock, async () => {
        const page = await this.deps.dataverse.listPage(
          {
            side: 'dataverse',
            entitySet: 'transactioncurrencies',
            logicalName: 'transactioncurrency',
            primaryKey: 'transactioncurrencyid',
          },
          { filter: `isocurrencycode eq ${odataLiteral(lcyCode)}`, select: ['transactioncurrencyid'], pageSize: 1 },
        );
        return page.items[0]?.id;
      });
      lcy = { code: lcyCode, transactionCurrencyId: id };
    }
    return { optionPairs: (name) => pairs.get(name), lcy };
  }
}

/** Fills `{companyId}`; without a company id the company clause is dropped (single-company installations). */
export function resolveFilter(filter: string, companyId: string | undefined): string {
  if (!filter) return '';
  if (companyId) return filter.replaceAll('{companyId}', companyId);
  return filter
    .replace(/\s+and\s+\(_bcbi_companyid_value eq \{companyId\} or _bcbi_companyid_value eq null\)/g, '')
    .replace(/\(_bcbi_companyid_value eq \{companyId\} or _bcbi_companyid_value eq null\)\s+and\s+/g, '')
    .replace(/\(_bcbi_companyid_value eq \{companyId\} or _bcbi_companyid_value eq null\)/g, '')
    .trim();
}

/**
 * An OData literal for a text, number or boolean column: text is always quoted (GUID-shaped text too — a text
 * column compared with a bare GUID is a type error), numbers must be finite. GUID-typed columns take `odataGuid`.
 */
export function odataLiteral(value: unknown): string {
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new SyncError('MAP.TRANSFORM_FAILED', `${value} cannot be compared in a query: it is not a finite number.`);
    return String(value);
  }
  return `'${String(value).replaceAll("'", "''")}'`;
}

/** The OData literal of a GUID-typed column's value (unquoted); anything that is not a GUID is a data error. */
export function odataGuid(value: unknown): string {
  const s = String(value);
  if (!GUID_TEXT.test(s)) throw new SyncError('MAP.TRANSFORM_FAILED', `'${s}' is not a GUID.`);
  return s.toLowerCase();
}

const GUID_TEXT = /^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$/;

/**
 * A GUID derived from the mapping and the BC record (RFC 4122 version 5 layout over SHA-1), so creating the
 * Dataverse row for the same BC record twice addresses the same row.
 */
export function deterministicId(mapping: string, sourceId: string): string {
  const h = createHash('sha1').update(`bc-dataverse-sync|${mapping}|${sourceId.toLowerCase()}`).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** BC has no nulls: an emptied value is '' for text, 0 for numbers, false for booleans (by the field's current value). */
function bcValue(value: unknown, current: unknown): unknown {
  if (value !== null && value !== undefined) return value;
  if (typeof current === 'number') return 0;
  if (typeof current === 'boolean') return false;
  return '';
}

function isAfter(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  return Date.parse(a) > Date.parse(b);
}
