import { type ChangeEvent, newChangeEvent } from '../domain/change-event';
import { passOf, type SyncDirection, sourceOf } from '../domain/direction';
import type { TableMapping } from '../domain/mappings/schema';
import { bcTarget, dataverseTarget } from '../domain/mappings/targets';
import { resolveFilter } from '../domain/odata/literal';
import type { Coupling, RecordGateway, Side, VersionedRecord } from '../domain/ports';
import { CouplingConflictError } from '../domain/ports';
import { findUncoupledMatch, type Match, matchQueries } from '../domain/sync/match';
import { recordOutcome } from '../domain/sync/record-outcome';
import { initialDirectionOf, syncRecord } from '../domain/sync/sync-record';
import type { SyncDeps, SyncOutcome } from '../domain/sync/types';
import { SyncError } from '../errors';

/**
 * Coupling operations as BC's pages offer them (bc-integration-reference 3.2-3.4): search, "Set Up Coupling"
 * for one record (to a chosen row or a new one), match-based bulk coupling, and uncoupling. Data is never
 * deleted by any of them.
 */

async function mappingOf(deps: SyncDeps, name: string): Promise<TableMapping> {
  const m = await deps.mappings.get(name);
  if (!m) throw new SyncError('MAP.INVALID', `There is no table mapping named '${name}'.`);
  return m;
}

export async function findCouplings(
  deps: SyncDeps,
  q: { mapping: string; id?: string; pageSize?: number; continuation?: string; skipped?: boolean; failed?: boolean },
): Promise<{ items: Coupling[]; continuation?: string }> {
  await mappingOf(deps, q.mapping);
  if (q.id) {
    const byBc = await deps.couplings.getByBcId(q.mapping, q.id);
    const byDv = byBc ? undefined : await deps.couplings.getByDataverseId(q.mapping, q.id);
    const c = byBc ?? byDv;
    return { items: c ? [c] : [] };
  }
  const filter = q.skipped !== undefined || q.failed !== undefined ? { skipped: q.skipped, failed: q.failed } : undefined;
  return deps.couplings.list(q.mapping, {
    pageSize: q.pageSize ?? 100,
    ...(q.continuation ? { continuation: q.continuation } : {}),
    ...(filter ? { filter } : {}),
  });
}

function manualEvent(mapping: string, source: Side, recordId: string, now: Date, direction?: SyncDirection): ChangeEvent {
  return newChangeEvent({
    mapping,
    source,
    recordId,
    origin: 'manual',
    correlationId: `manual-${now.getTime().toString(36)}`,
    observedAt: now,
    ...(direction ? { direction } : {}),
  });
}

/** "Synchronize Now" for one record, in the chosen direction (default: from the side the id belongs to). */
export async function synchronizeNow(
  deps: SyncDeps,
  req: { mapping: string; bcId?: string; dataverseId?: string; direction?: SyncDirection },
): Promise<SyncOutcome> {
  await mappingOf(deps, req.mapping);
  let source: Side;
  let id: string;
  if (req.direction) {
    source = sourceOf(req.direction);
    const given = source === 'bc' ? req.bcId : req.dataverseId;
    if (given) id = given;
    else {
      // The other side's id was given: find its coupled record on the source side.
      const c = req.bcId
        ? await deps.couplings.getByBcId(req.mapping, req.bcId)
        : req.dataverseId
          ? await deps.couplings.getByDataverseId(req.mapping, req.dataverseId)
          : undefined;
      if (!c) throw new SyncError('COUPLE.NOT_COUPLED', 'The record is not coupled; give the id of the side to synchronize from.');
      id = source === 'bc' ? c.bcId : c.dataverseId;
    }
  } else if (req.bcId) {
    source = 'bc';
    id = req.bcId;
  } else if (req.dataverseId) {
    source = 'dataverse';
    id = req.dataverseId;
  } else throw new SyncError('EVENT.INVALID', 'bcId or dataverseId is required.');
  return syncRecord(manualEvent(req.mapping, source, id, deps.clock.now(), req.direction), deps);
}

/**
 * "Set Up Coupling" for one record: to a chosen existing row (both must exist and be uncoupled), or — without
 * the other id — to a new row created from it (a match by the coupling criteria is used first, as BC does).
 * A pair of existing records gets its initial direction (`synchronize`, default `initialDirectionOf` the mapping)
 * recorded and applied right away with "Synchronize Now".
 */
export async function coupleRecord(
  deps: SyncDeps,
  req: { mapping: string; bcId?: string; dataverseId?: string; synchronize?: SyncDirection },
): Promise<{ coupling?: Coupling; outcome?: SyncOutcome }> {
  const m = await mappingOf(deps, req.mapping);
  if (req.bcId && req.dataverseId) {
    const [bc, dv] = await Promise.all([
      deps.bc.get(bcTarget(m), req.bcId, ['id']),
      deps.dataverse.get(dataverseTarget(m), req.dataverseId),
    ]);
    if (!bc) throw new SyncError('EVENT.INVALID', `There is no Business Central ${m.bc.table} record ${req.bcId}.`);
    if (!dv) throw new SyncError('EVENT.INVALID', `There is no Dataverse ${m.dataverse.entityLogicalName} row ${req.dataverseId}.`);
    const initialDirection = req.synchronize ?? initialDirectionOf(m);
    const coupling = await deps.couplings.couple({
      mapping: m.name,
      bcId: bc.id,
      dataverseId: dv.id,
      bcModifiedOn: bc.modifiedOn,
      dataverseModifiedOn: dv.modifiedOn,
      initialDirection,
      lastResult: 'coupled',
      lastSyncedAt: deps.clock.now().toISOString(),
      environment: deps.options.environment,
    });
    await recordOutcome(deps, {
      result: 'coupled',
      mapping: m.name,
      bcId: bc.id,
      dataverseId: dv.id,
      book: { direction: initialDirection, mayHaveOpenError: true },
    });
    // The initial direction is applied right away; should that fail, the pair's next change applies it first.
    const outcome = await synchronizeNow(deps, { mapping: m.name, bcId: bc.id, direction: initialDirection });
    return { coupling: (await deps.couplings.getByBcId(m.name, bc.id)) ?? coupling, outcome };
  }
  const source: Side = req.bcId ? 'bc' : 'dataverse';
  const id = req.bcId ?? req.dataverseId;
  if (!id) throw new SyncError('EVENT.INVALID', 'bcId or dataverseId is required.');
  const existing = source === 'bc' ? await deps.couplings.getByBcId(m.name, id) : await deps.couplings.getByDataverseId(m.name, id);
  if (existing)
    throw new CouplingConflictError(
      `The record ${id} is already coupled to ${source === 'bc' ? existing.dataverseId : existing.bcId}.`,
      existing,
    );
  // Creating in the other side: the direction of the pass is from the given record's side.
  const outcome = await syncRecord(manualEvent(m.name, source, id, deps.clock.now(), passOf(source)), deps);
  const coupling = source === 'bc' ? await deps.couplings.getByBcId(m.name, id) : await deps.couplings.getByDataverseId(m.name, id);
  return { ...(coupling ? { coupling } : {}), outcome };
}

export interface BulkCoupleResult {
  examined: number;
  coupled: number;
  created: number;
  alreadyCoupled: number;
  unmatched: number;
  ambiguous: number;
  failed: number;
  results: Array<{ bcId: string; result: string; dataverseId?: string; message?: string }>;
}

/**
 * Match-based coupling (codeunit 5360, bc-integration-reference 3.3): every uncoupled BC record of the mapping
 * (or the given ones) is coupled to the one uncoupled Dataverse row that matches its criteria, priority group by
 * priority group. No match ⇒ created when `createNew` ("Create New if Unable to Find a Match"), else counted
 * unmatched; several matches ⇒ a COUPLE.AMBIGUOUS error row ("needs a decision"), never a new record.
 */
export async function bulkCouple(
  deps: SyncDeps,
  req: { mapping: string; bcIds?: string[]; createNew?: boolean; max?: number; synchronizeAfter?: boolean; companyId?: string },
): Promise<BulkCoupleResult> {
  const m = await mappingOf(deps, req.mapping);
  const rules = m.couplingRules.matchFields;
  if (rules.length === 0 && !req.createNew) {
    throw new SyncError(
      'MAP.INVALID',
      `You must specify which fields on the table mapping '${m.name}' should be used for match-based coupling.`,
    );
  }
  const out: BulkCoupleResult = {
    examined: 0,
    coupled: 0,
    created: 0,
    alreadyCoupled: 0,
    unmatched: 0,
    ambiguous: 0,
    failed: 0,
    results: [],
  };
  const max = req.max ?? 10_000;
  const bcSelect = [...new Set(['id', 'lastModifiedDateTime', ...rules.map((r) => r.bcField)])];
  const handle = async (record: VersionedRecord) => {
    out.examined++;
    if (await deps.couplings.getByBcId(m.name, record.id)) {
      out.alreadyCoupled++;
      return;
    }
    const match = await matchInDataverse(deps, m, record, req.companyId);
    if (match.kind === 'one') {
      try {
        await deps.couplings.couple({
          mapping: m.name,
          bcId: record.id,
          dataverseId: match.row.id,
          bcModifiedOn: record.modifiedOn,
          dataverseModifiedOn: match.row.modifiedOn,
          initialDirection: initialDirectionOf(m),
          lastResult: 'coupled',
          lastSyncedAt: deps.clock.now().toISOString(),
          environment: deps.options.environment,
        });
      } catch (err) {
        if (err instanceof CouplingConflictError) {
          out.ambiguous++;
          out.results.push({ bcId: record.id, result: 'conflict', message: err.message });
          return;
        }
        throw err;
      }
      out.coupled++;
      await recordOutcome(deps, {
        result: 'coupled',
        mapping: m.name,
        bcId: record.id,
        dataverseId: match.row.id,
        book: { direction: initialDirectionOf(m), mayHaveOpenError: true },
      });
      out.results.push({ bcId: record.id, result: 'coupled', dataverseId: match.row.id });
      if (req.synchronizeAfter !== false)
        await synchronizeNow(deps, { mapping: m.name, bcId: record.id, direction: initialDirectionOf(m) });
      return;
    }
    if (match.kind === 'many') {
      out.ambiguous++;
      await deps.errors.record({
        mapping: m.name,
        bcId: record.id,
        direction: 'ToIntegrationTable',
        code: 'COUPLE.AMBIGUOUS',
        category: 'data',
        message: `${match.count} uncoupled Dataverse rows match this ${m.name} record by the coupling criteria. Couple it to one of them by hand; nothing was created.`,
      });
      out.results.push({ bcId: record.id, result: 'ambiguous', message: `${match.count} matches` });
      return;
    }
    if (req.createNew) {
      const o = await syncRecord(manualEvent(m.name, 'bc', record.id, deps.clock.now(), 'ToIntegrationTable'), deps);
      if (o.result === 'failed') out.failed++;
      else out.created++;
      out.results.push({
        bcId: record.id,
        result: o.result,
        ...(o.dataverseId ? { dataverseId: o.dataverseId } : {}),
        ...(o.message ? { message: o.message } : {}),
      });
      return;
    }
    out.unmatched++;
    out.results.push({ bcId: record.id, result: 'unmatched' });
  };
  if (req.bcIds?.length) {
    for (const id of req.bcIds.slice(0, max)) {
      const r = await deps.bc.get(bcTarget(m), id, bcSelect);
      if (!r) {
        out.failed++;
        out.results.push({ bcId: id, result: 'failed', message: 'not found in Business Central' });
        continue;
      }
      await handle(r);
    }
  } else {
    const filter = resolveFilter(m.tableFilter, req.companyId);
    outer: for await (const page of deps.bc.list(bcTarget(m), { ...(filter ? { filter } : {}), select: bcSelect })) {
      for (const r of page) {
        if (out.examined >= max) break outer;
        await handle(r);
      }
    }
  }
  if (out.unmatched > 0) {
    await deps.errors
      .record({
        mapping: m.name,
        direction: 'ToIntegrationTable',
        code: 'COUPLE.NO_MATCH',
        category: 'data',
        message: `Failed to couple ${out.unmatched} record(s), because no unique uncoupled matching entity was found in Dataverse with the specified matching criteria.`,
      })
      .catch(() => undefined);
  }
  // Keep the response small; the counts are the summary.
  out.results = out.results.slice(0, 200);
  return out;
}

/** Match-based coupling's one rule (`domain/sync/match.ts`), from BC into Dataverse. */
async function matchInDataverse(deps: SyncDeps, m: TableMapping, record: VersionedRecord, companyId?: string): Promise<Match> {
  return findUncoupledMatch(
    deps.dataverse as RecordGateway,
    dataverseTarget(m),
    matchQueries(m, 'bc', record.values, companyId),
    undefined,
    async (id) => Boolean(await deps.couplings.getByDataverseId(m.name, id)),
  );
}

/** "Delete Coupling": removes the pair; neither record is changed or deleted. */
export async function uncoupleRecord(
  deps: SyncDeps,
  req: { mapping: string; bcId?: string; dataverseId?: string },
): Promise<{ uncoupled: boolean; coupling?: Coupling }> {
  await mappingOf(deps, req.mapping);
  const c = req.bcId
    ? await deps.couplings.getByBcId(req.mapping, req.bcId)
    : req.dataverseId
      ? await deps.couplings.getByDataverseId(req.mapping, req.dataverseId)
      : undefined;
  if (!req.bcId && !req.dataverseId) throw new SyncError('EVENT.INVALID', 'bcId or dataverseId is required.');
  if (!c) return { uncoupled: false };
  await deps.couplings.uncouple(req.mapping, c.bcId);
  await recordOutcome(deps, {
    result: 'deleted',
    mapping: req.mapping,
    bcId: c.bcId,
    dataverseId: c.dataverseId,
    changes: { coupling: [c.dataverseId, null] },
    book: { direction: 'ToIntegrationTable', mayHaveOpenError: false },
  });
  return { uncoupled: true, coupling: c };
}
