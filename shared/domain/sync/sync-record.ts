import { SyncError, toSyncError } from '../../errors';
import type { ChangeEvent } from '../change-event';
import { passOf, sourceOf } from '../direction';
import { deterministicId, recordId as parseRecordId } from '../ids';
import type { SyncDirection, TableMapping } from '../mappings/schema';
import { type Coupling, CouplingConflictError, type VersionedRecord } from '../ports';
import { fingerprint, sameValue } from './compare';
import { type Engine, RecordContext } from './context';
import { createDestination, dropOrphanRow } from './creation';
import { destinationDeleted, sourceDeleted } from './deletions';
import { findUncoupledMatch, matchQueries } from './match';
import { resyncReferrers, syncOptionMapping } from './option-sync';
import { type FieldState, planPass } from './plan';
import { recordFailure, recordOutcome, untilResolved } from './record-outcome';
import { CORE_RULES } from './rules';
import { outsideFilters } from './scope';
import { couplingSuccess, snapshotAfter } from './snapshot';
import { deferOrFail, translated } from './translation';
import type { StepOutcome, SyncDeps, SyncOutcome, WriteContext } from './types';

/**
 * The sync use case: one record, one direction. Each step returns an outcome; `recordOutcome` books it (counters,
 * history, error resolution) in one place. The steps live beside this file: `translation.ts` (fields and
 * references), `creation.ts` (a new destination), `snapshot.ts` (what the coupling remembers), `deletions.ts`,
 * `option-sync.ts`, `match.ts` and `scope.ts` (the filters).
 */

const MAX_CONCURRENCY_RETRIES = 3;

/**
 * The direction of a newly coupled pair's first synchronization when nobody chose one (BC's "synchronize after
 * coupling"): a one-way mapping's own direction; a bidirectional one from BC, unless the mapping lets Dataverse win
 * update conflicts (GetUpdateFromIntegration).
 */
export function initialDirectionOf(m: TableMapping): SyncDirection {
  if (m.direction !== 'Bidirectional') return m.direction;
  return m.updateConflictResolution === 'GetUpdateFromIntegration' ? 'FromIntegrationTable' : 'ToIntegrationTable';
}

/**
 * Synchronizes one record, however its change arrived (webhook, poll, full sync, manual, replay): reads the
 * current state of both sides, so a late, duplicated or out-of-order event does no harm.
 *
 * Transient failures (throttling, outages) are thrown for the caller to retry or reschedule. Data and
 * configuration failures are recorded as sync errors and returned as a `failed` outcome.
 */
export async function syncRecord(event: ChangeEvent, deps: SyncDeps, depth = 0): Promise<SyncOutcome> {
  const mapping = await deps.mappings.get(event.mapping);
  const pass: SyncDirection = event.direction ?? passOf(event.source);
  if (!mapping) {
    const error = new SyncError('MAP.INVALID', `There is no table mapping named '${event.mapping}'.`);
    return recordFailure(deps, event.mapping, event, error, pass);
  }
  try {
    const handled = await deps.hooks?.beforeSync?.(event, mapping, deps);
    if (handled) return handled;
    return await recordOutcome(deps, await run(new RecordContext(mapping, event, pass, deps, depth, ENGINE)));
  } catch (err) {
    const error = toSyncError(err);
    if (error.transient) throw error;
    return recordFailure(deps, mapping.name, event, error, pass);
  }
}

const ENGINE: Engine = { syncRecord, syncUncoupled };

async function run(ctx: RecordContext): Promise<StepOutcome> {
  const m = ctx.mapping;
  if (!m.enabled) return ctx.outcome('skipped', { message: `Table mapping ${m.name} is disabled.` });
  if (m.direction !== 'Bidirectional' && m.direction !== ctx.pass && ctx.event.origin !== 'dependency') {
    return ctx.outcome('unchanged', { message: `Table mapping ${m.name} does not synchronize ${ctx.pass}.` });
  }

  if (m.optionMapping) return syncOptionMapping(ctx);

  const recordId = ctx.event.recordId;
  const sourceRecord = await ctx.gateway(ctx.source).get(ctx.target(ctx.source), recordId, ctx.select(ctx.source));
  if (!sourceRecord) return sourceDeleted(ctx, recordId);

  if (isOwnEcho(ctx, sourceRecord, await ctx.couplingOf(ctx.source, sourceRecord.id))) {
    return ctx.outcome('unchanged', { ...ctx.ids(sourceRecord.id), message: 'changed by the integration user (our own write)' });
  }
  const excluded = await outsideFilters(ctx, sourceRecord);
  if (excluded) return ctx.outcome('skipped', { ...ctx.ids(sourceRecord.id), message: excluded });

  for (let attempt = 0; ; attempt++) {
    try {
      const coupling = await ctx.couplingOf(ctx.source, sourceRecord.id);
      if (!coupling) return await syncUncoupled(ctx, sourceRecord);
      return await syncCoupled(ctx, sourceRecord, coupling);
    } catch (err) {
      // Another worker changed the coupling or the destination between our read and our write: start over
      // from fresh state; the second round sees what the other worker did.
      const retryable =
        err instanceof CouplingConflictError ||
        (err instanceof SyncError && (err.code === 'BC.CONCURRENCY' || err.code === 'DV.CONCURRENCY'));
      if (!retryable || attempt >= MAX_CONCURRENCY_RETRIES) {
        // Still racing another worker for this coupling: a concurrency failure, retried by the queue.
        if (err instanceof CouplingConflictError)
          throw new SyncError(ctx.dest === 'bc' ? 'BC.CONCURRENCY' : 'DV.CONCURRENCY', err.message, { cause: err });
        throw err;
      }
    }
  }
}

/**
 * Our own writes come back as changes. A row is our echo when the integration user modified it last and it is
 * still at the version our last write left (the coupling records that ETag, and only when the write left no
 * change of the row's own unsynchronized): "modified by us" alone is not enough, because our write may land
 * after a user's edit that is still on its way to us. An uncoupled row we modified is one we are creating.
 */
function isOwnEcho(ctx: RecordContext, record: VersionedRecord, coupling: Coupling | undefined): boolean {
  const own = ctx.deps.options.integrationUserId;
  if (ctx.source !== 'dataverse' || !own || !record.modifiedBy) return false;
  const origin = ctx.event.origin;
  if (origin === 'manual' || origin === 'full-sync' || origin === 'dependency') return false;
  if (record.modifiedBy.toLowerCase() !== own.toLowerCase()) return false;
  return !coupling || (coupling.dataverseWrittenEtag !== undefined && coupling.dataverseWrittenEtag === record.etag);
}

// ---------------------------------------------------------------------------------------------------------
// Uncoupled: match, or create and couple

async function syncUncoupled(ctx: RecordContext, sourceRecord: VersionedRecord): Promise<StepOutcome> {
  const m = ctx.mapping;
  const origin = ctx.event.origin;
  const mayCouple = !m.synchOnlyCoupledRecords || origin === 'full-sync' || origin === 'manual' || origin === 'dependency';
  if (!mayCouple) {
    return ctx.outcome('skipped', { ...ctx.ids(sourceRecord.id), message: `not coupled, and ${m.name} synchronizes only coupled records` });
  }

  const matched = await findMatch(ctx, sourceRecord);
  if (matched) {
    // The first synchronization of the pair goes in the mapping's initial direction, whichever side's change
    // found the match: a Dataverse edit must not overwrite the BC record it was just coupled to wholesale.
    const initial = origin === 'full-sync' || origin === 'manual' ? ctx.pass : initialDirectionOf(m);
    const coupling = await couple(ctx, sourceRecord, matched, undefined, initial);
    // The coupling is stored even in a dry run, so the coupling is booked as done.
    await recordOutcome(ctx.deps, ctx.book('coupled', ctx.ids(sourceRecord.id, matched.id), undefined, false));
    await resyncReferrers(ctx.deps, m, coupling, ctx.event.correlationId);
    // BC's ForceModify after a match: bring the matched row in line with the side the initial direction reads.
    const after = await recordOutcome(
      ctx.deps,
      initial === ctx.pass ? await syncCoupled(ctx, sourceRecord, coupling, true) : await syncInitialDirection(ctx, coupling, initial),
    );
    return { ...after, result: after.result === 'unchanged' || after.result === 'modified' ? 'coupled' : after.result };
  }

  // Salespeople are created from users (a full sync of SALESPEOPLE), never users from salespeople: the
  // mapping's direction (FromIntegrationTable) says exactly that.
  const mayCreate = m.direction === 'Bidirectional' || m.direction === ctx.pass;
  if (
    !mayCreate ||
    (m.couplingRules.matchFields.length > 0 && !m.couplingRules.createNewIfNoMatch && m.synchOnlyCoupledRecords && origin !== 'manual')
  ) {
    if (origin === 'dependency' || !mayCreate) {
      throw new SyncError(
        'DEP.PARENT_NOT_COUPLED',
        `No uncoupled ${ctx.dest === 'bc' ? 'Business Central record' : 'Dataverse row'} matches this ${m.name} record, and the mapping does not create new ones.`,
      );
    }
  }

  const { fields, missing, exclude } = await translated(ctx, sourceRecord);
  if (exclude) return ctx.outcome('skipped', { ...ctx.ids(sourceRecord.id), message: exclude });
  if (missing.length > 0) return deferOrFail(ctx, missing, sourceRecord);
  const payload: Record<string, unknown> = { ...(ctx.dest === 'bc' ? m.insertTemplate.bc : m.insertTemplate.dataverse) };
  // Team ownership: new rows belong to the company's owning team (BC's "BCI - <company>" team).
  const team = ctx.deps.options.owningTeamId;
  if (ctx.dest === 'dataverse' && ctx.deps.options.ownershipModel === 'Team' && m.ownership !== 'None') {
    // Never a silent fallback to the integration user as owner.
    if (!team) throw new SyncError('CONFIG.INVALID', 'OWNERSHIP_MODEL=Team, but the owner team (DATAVERSE_OWNING_TEAM) was not found');
    payload['ownerid@odata.bind'] = `/teams(${team})`;
  }
  // A new record needs no empty values; BC refuses nulls outright.
  for (const f of fields) if (f.payload !== null && f.payload !== undefined) payload[f.writeKey] = f.payload;
  for (const rule of CORE_RULES) await rule.beforeInsert?.(ctx.ruleContext(sourceRecord), payload);

  const wctx: WriteContext = { mapping: m, pass: ctx.pass, source: sourceRecord, payload, deps: ctx.deps };
  await ctx.deps.hooks?.beforeWrite?.(wctx);
  const changes = Object.fromEntries(
    fields.filter((f) => !sameValue(f.mapped, null)).map((f) => [f.label, [null, f.mapped] as [unknown, unknown]]),
  );
  if (ctx.dryRun) return ctx.book('inserted', { ...ctx.ids(sourceRecord.id), changes, message: 'dry run: nothing written' }, undefined);

  const created = await createDestination(ctx, sourceRecord, wctx.payload, deterministicId(m.name, sourceRecord.id));
  await ctx.deps.hooks?.afterWrite?.({ ...wctx, written: created });
  let coupling: Coupling;
  try {
    coupling = await couple(ctx, sourceRecord, created, fields);
  } catch (err) {
    if (err instanceof CouplingConflictError) await dropOrphanRow(ctx, sourceRecord, created);
    throw err;
  }
  await untilResolved(ctx.deps, m.name, ctx.ids(sourceRecord.id, created.id), () =>
    resyncReferrers(ctx.deps, m, coupling, ctx.event.correlationId),
  );
  if (ctx.dest === 'bc') await ctx.deps.claims?.release(ctx.claimKey(sourceRecord)).catch(() => undefined);
  // No coupling before: an error recorded for the record (a create that failed, say) is resolved now.
  return ctx.book('inserted', { ...ctx.ids(sourceRecord.id, created.id), changes }, undefined);
}

/** Match-based coupling by the mapping's criteria (`match.ts`); several candidates are an error for an admin. */
async function findMatch(ctx: RecordContext, sourceRecord: VersionedRecord): Promise<VersionedRecord | undefined> {
  const queries = matchQueries(ctx.mapping, ctx.source, sourceRecord.values, ctx.deps.options.dataverseCompanyId);
  if (queries.length === 0) return undefined;
  const match = await findUncoupledMatch(ctx.gateway(ctx.dest), ctx.target(ctx.dest), queries, ctx.select(ctx.dest), async (id) =>
    Boolean(await ctx.couplingOf(ctx.dest, id)),
  );
  if (match.kind === 'one') return match.row;
  if (match.kind === 'many') {
    throw new SyncError(
      'COUPLE.AMBIGUOUS',
      `${match.count} uncoupled ${ctx.dest === 'bc' ? 'Business Central records' : 'Dataverse rows'} match this ${ctx.mapping.name} record by the coupling criteria. Couple it to one of them by hand; nothing was created.`,
    );
  }
  return undefined;
}

async function couple(
  ctx: RecordContext,
  sourceRecord: VersionedRecord,
  destRecord: VersionedRecord,
  written?: Array<{ destKey?: string; mapped: unknown }>,
  initialDirection: SyncDirection = ctx.pass,
): Promise<Coupling> {
  const bc = ctx.source === 'bc' ? sourceRecord : destRecord;
  const dv = ctx.source === 'bc' ? destRecord : sourceRecord;
  const snapshot = written ? snapshotAfter(ctx, sourceRecord, destRecord, written).snapshot : undefined;
  return ctx.deps.couplings.couple({
    mapping: ctx.mapping.name,
    bcId: bc.id,
    dataverseId: dv.id,
    bcModifiedOn: bc.modifiedOn,
    dataverseModifiedOn: dv.modifiedOn,
    // A row we just created holds only what we wrote.
    ...(written && ctx.dest === 'dataverse' ? { dataverseWrittenEtag: destRecord.etag } : {}),
    initialDirection,
    snapshot,
    lastResult: written ? 'inserted' : 'coupled',
    lastSyncedAt: ctx.deps.clock.now().toISOString(),
    environment: ctx.deps.options.environment,
    // The recorder resolves, right after, whatever error the record had before it was coupled.
    openError: false,
  });
}

// ---------------------------------------------------------------------------------------------------------
// Coupled: detect changes, resolve conflicts, write with If-Match

async function syncCoupled(ctx: RecordContext, sourceRecord: VersionedRecord, coupling: Coupling, force = false): Promise<StepOutcome> {
  const m = ctx.mapping;
  const origin = ctx.event.origin;
  const destId = ctx.destIdOf(coupling);
  const ids = ctx.ids(sourceRecord.id, destId);
  if (coupling.skipped && origin !== 'manual' && origin !== 'replay') {
    return ctx.outcome('skipped', { ...ids, message: 'skipped after repeated failures; retry it to synchronize again' });
  }
  const destRecord = await ctx.gateway(ctx.dest).get(ctx.target(ctx.dest), destId, ctx.select(ctx.dest));
  if (!destRecord) return destinationDeleted(ctx, sourceRecord, coupling);

  const { fields, missing, exclude } = await translated(ctx, sourceRecord);
  if (exclude) return ctx.outcome('skipped', { ...ids, message: exclude });
  if (missing.length > 0) return deferOrFail(ctx, missing, sourceRecord);

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
    if (initial !== ctx.pass) return syncInitialDirection(ctx, coupling, initial);
    force = true;
  }
  const sourceSnap = snap ? (ctx.source === 'bc' ? snap.bc : snap.dataverse) : undefined;
  const destSnap = snap ? (ctx.dest === 'bc' ? snap.bc : snap.dataverse) : undefined;
  const states: FieldState[] = fields.map((f) => {
    // A derived value has no source column of its own: it changed when it differs from what was last written.
    const derivedBefore = f.derived && destSnap && f.destKey ? destSnap[f.destKey] : undefined;
    return {
      ...f,
      sourceBefore: f.derived ? derivedBefore : sourceSnap && f.sourceKey ? sourceSnap[f.sourceKey] : undefined,
      dest: f.destKey ? destRecord.values[f.destKey] : undefined,
      destBefore: destSnap && f.destKey ? destSnap[f.destKey] : undefined,
    };
  });
  const plan = planPass({
    pass: ctx.pass,
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
      `Cannot update a record in the ${ctx.dest === 'bc' ? m.bc.table : m.dataverse.entityLogicalName} table. The mapping between ${first?.label ?? 'a field'} is bi-directional, and one or both values have changed since the last synchronization.`,
      { details: { fields: plan.conflicts.map((c) => ({ field: c.label, source: c.source, destination: c.dest })) } },
    );
  }
  if (plan.kind === 'skip') return ctx.book('skipped', { ...ids, message: plan.reason }, coupling);
  if (plan.kind === 'unchanged') {
    await ctx.deps.couplings.update(coupling, couplingSuccess(ctx, sourceRecord, destRecord, fields, 'unchanged', snap));
    return ctx.book('unchanged', ids, coupling);
  }

  const payload: Record<string, unknown> = {};
  for (const f of plan.write) payload[f.writeKey] = ctx.dest === 'bc' ? bcValue(f.payload, destRecord.values[f.writeKey]) : f.payload;
  const changes = Object.fromEntries(plan.write.map((f) => [f.label, [f.dest ?? null, f.mapped] as [unknown, unknown]]));
  const lastFingerprint = ctx.dest === 'dataverse' ? coupling.fingerprintToDataverse : coupling.fingerprintToBc;
  const print = fingerprint(payload);
  const destModifiedOn = ctx.dest === 'bc' ? coupling.bcModifiedOn : coupling.dataverseModifiedOn;
  if (print === lastFingerprint && destModifiedOn && !isAfter(destRecord.modifiedOn, destModifiedOn) && !force) {
    // Exactly what we wrote last time, onto a destination nobody touched since: a repeat, not a change.
    return ctx.book('unchanged', { ...ids, message: 'same values as the last write' }, coupling);
  }

  const wctx: WriteContext = { mapping: m, pass: ctx.pass, source: sourceRecord, dest: destRecord, payload, deps: ctx.deps };
  await ctx.deps.hooks?.beforeWrite?.(wctx);
  if (ctx.dryRun) return ctx.book('modified', { ...ids, changes, message: 'dry run: nothing written' }, coupling);
  // If-Match: a destination changed since our read fails with *.CONCURRENCY and the whole record is redone.
  const written = await ctx.gateway(ctx.dest).update(ctx.target(ctx.dest), destId, wctx.payload, destRecord.etag);
  await ctx.deps.hooks?.afterWrite?.({ ...wctx, written });
  const patch = couplingSuccess(
    ctx,
    sourceRecord,
    { ...written, values: { ...destRecord.values, ...written.values } },
    fields,
    'modified',
    snap,
    plan.write,
  );
  if (ctx.dest === 'dataverse') patch.fingerprintToDataverse = print;
  else patch.fingerprintToBc = print;
  await ctx.deps.couplings.update(coupling, patch);
  return ctx.book('modified', { ...ids, changes }, coupling);
}

/** The first synchronization of a pair in its initial direction: from the other side, forced, as a manual sync. */
async function syncInitialDirection(ctx: RecordContext, coupling: Coupling, initial: SyncDirection): Promise<SyncOutcome> {
  const from = sourceOf(initial);
  const outcome = await syncRecord(
    {
      ...ctx.event,
      source: from,
      recordId: parseRecordId(from === 'bc' ? coupling.bcId : coupling.dataverseId),
      origin: 'manual',
      direction: initial,
      changeType: 'unknown',
    },
    ctx.deps,
    ctx.depth + 1,
  );
  return { ...outcome, message: `first synchronization after coupling, ${initial}${outcome.message ? `: ${outcome.message}` : ''}` };
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
