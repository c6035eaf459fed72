import type { Coupling, SyncedSnapshot, SyncResult, VersionedRecord } from '../ports';
import { sameValue } from './compare';
import type { RecordContext } from './context';
import { activeFields, dataverseReadKey } from './field-values';

/** What a coupling remembers after a successful pass: both sides' synchronized values and versions. */

/**
 * The values each side holds for the mapped fields after this sync: the base of the next change detection.
 * A destination value this pass did not write and that is not in line with the source stays at its previous
 * snapshot when it changed since: that change is the destination's own, still to be carried the other way
 * (`pending`), and taking it into the snapshot would make the reverse pass think nothing changed.
 */
export function snapshotAfter(
  ctx: RecordContext,
  sourceRecord: VersionedRecord,
  destRecord: VersionedRecord,
  written: Array<{ destKey?: string; mapped: unknown }>,
  translated: Array<{ destKey?: string; mapped: unknown }> = written,
  previous?: SyncedSnapshot,
): { snapshot: SyncedSnapshot; pending: boolean } {
  const sourceSnap: Record<string, unknown> = {};
  const destSnap: Record<string, unknown> = {};
  const prevDest = previous ? (ctx.dest === 'bc' ? previous.bc : previous.dataverse) : undefined;
  const writtenByKey = new Map(written.filter((w) => w.destKey).map((w) => [w.destKey as string, w.mapped]));
  const mappedByKey = new Map(translated.filter((w) => w.destKey).map((w) => [w.destKey as string, w.mapped]));
  let pending = false;
  for (const f of activeFields(ctx.mapping)) {
    const sk = ctx.source === 'bc' ? f.bcField : dataverseReadKey(f);
    const dk = ctx.dest === 'bc' ? f.bcField : dataverseReadKey(f);
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
  const snapshot = ctx.source === 'bc' ? { bc: sourceSnap, dataverse: destSnap } : { bc: destSnap, dataverse: sourceSnap };
  return { snapshot, pending };
}

export function couplingSuccess(
  ctx: RecordContext,
  sourceRecord: VersionedRecord,
  destRecord: VersionedRecord,
  fields: Array<{ destKey?: string; mapped: unknown }>,
  result: SyncResult,
  previous: SyncedSnapshot | undefined,
  written: Array<{ destKey?: string; mapped: unknown }> = [],
): Partial<Coupling> {
  const bc = ctx.source === 'bc' ? sourceRecord : destRecord;
  const dv = ctx.source === 'bc' ? destRecord : sourceRecord;
  const { snapshot, pending } = snapshotAfter(ctx, sourceRecord, destRecord, written, fields, previous);
  const patch: Partial<Coupling> = {
    bcModifiedOn: bc.modifiedOn,
    dataverseModifiedOn: dv.modifiedOn,
    snapshot,
    lastResult: result,
    lastSyncedAt: ctx.deps.clock.now().toISOString(),
    lastError: undefined,
    // The recorder resolves the pair's open error right after (see `recordOutcome`).
    openError: false,
    failureCount: 0,
    skipped: false,
  };
  // The row version our write left is our echo only if the row holds nothing of its own still to carry back.
  // A row we modified last whose content this pass found synchronized is at such a version too.
  const own = ctx.deps.options.integrationUserId?.toLowerCase();
  const dvPending = ctx.dest === 'dataverse' && pending;
  if (ctx.dest === 'dataverse' && result === 'modified') patch.dataverseWrittenEtag = pending ? undefined : destRecord.etag;
  else if (!dvPending && own && dv.modifiedBy?.toLowerCase() === own) patch.dataverseWrittenEtag = dv.etag;
  return patch;
}
