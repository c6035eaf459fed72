import { SyncError } from '../../errors';
import { passOf } from '../direction';
import { recordId as parseRecordId } from '../ids';
import type { Coupling, VersionedRecord } from '../ports';
import type { RecordContext } from './context';
import type { StepOutcome } from './types';

/**
 * Deletions (BC 3.9 and our policies): one side of a coupled pair is gone, and the mapping's deletion-conflict
 * resolution says what happens to the other. Every outcome is booked alike (counted, written to history), and a
 * dry run decides without writing anything.
 */

/** The source record was deleted. */
export async function sourceDeleted(ctx: RecordContext, recordId: string): Promise<StepOutcome> {
  const coupling = await ctx.couplingOf(ctx.source, recordId);
  if (!coupling) return ctx.outcome('unchanged', { ...ctx.ids(recordId), message: 'deleted and not coupled: nothing to do' });
  const destId = ctx.destIdOf(coupling);
  const ids = ctx.ids(recordId, destId);
  switch (ctx.mapping.deletionConflictResolution) {
    case 'PropagateDelete':
      if (!ctx.dryRun) {
        const dest = await ctx.gateway(ctx.dest).get(ctx.target(ctx.dest), destId);
        if (dest) await ctx.gateway(ctx.dest).delete(ctx.target(ctx.dest), destId, dest.etag);
        await ctx.deps.couplings.uncouple(ctx.mapping.name, coupling.bcId);
      }
      return ctx.book('deleted', { ...ids, message: 'deleted on both sides' }, coupling);
    case 'RemoveCoupling':
      if (!ctx.dryRun) await ctx.deps.couplings.uncouple(ctx.mapping.name, coupling.bcId);
      return ctx.book('deleted', { ...ids, message: 'coupling removed; the other record is kept' }, coupling);
    case 'RestoreRecords':
      return restore(ctx, coupling, recordId);
    case 'IgnoreAndReport':
      return ctx.book(
        'skipped',
        { ...ids, message: 'the coupled record was deleted; policy IgnoreAndReport keeps the other one' },
        coupling,
      );
    default:
      throw new SyncError(
        'SYNC.DELETION_CONFLICT',
        `The ${ctx.mapping.name} record ${destId} cannot be updated because it is coupled to a deleted record.`,
      );
  }
}

/** The destination record of a coupled source was deleted. */
export async function destinationDeleted(ctx: RecordContext, sourceRecord: VersionedRecord, coupling: Coupling): Promise<StepOutcome> {
  const destId = ctx.destIdOf(coupling);
  const ids = ctx.ids(sourceRecord.id, destId);
  switch (ctx.mapping.deletionConflictResolution) {
    case 'RestoreRecords': {
      if (ctx.dryRun) return ctx.book('inserted', { ...ids, message: 'dry run: the deleted record would be restored' }, coupling);
      // Re-create the deleted record from the survivor and couple the new one.
      await ctx.deps.couplings.uncouple(ctx.mapping.name, coupling.bcId);
      const origin = ctx.event.origin === 'dependency' ? 'dependency' : 'manual';
      const restored = await ctx.engine.syncUncoupled(ctx.with({ ...ctx.event, origin }), sourceRecord);
      return { ...restored, message: 'the deleted record was restored' };
    }
    case 'RemoveCoupling':
      if (!ctx.dryRun) await ctx.deps.couplings.uncouple(ctx.mapping.name, coupling.bcId);
      return ctx.book('deleted', { ...ids, message: 'the coupled record was deleted; coupling removed' }, coupling);
    case 'PropagateDelete':
      if (!ctx.dryRun) {
        await ctx.gateway(ctx.source).delete(ctx.target(ctx.source), sourceRecord.id, sourceRecord.etag);
        await ctx.deps.couplings.uncouple(ctx.mapping.name, coupling.bcId);
      }
      return ctx.book('deleted', { ...ids, message: 'deleted on both sides' }, coupling);
    case 'IgnoreAndReport':
      return ctx.book('skipped', { ...ids, message: 'coupled to a deleted record; policy IgnoreAndReport' }, coupling);
    default:
      throw new SyncError(
        'SYNC.DELETION_CONFLICT',
        `The ${ctx.mapping.name} record cannot be updated because it is coupled to a deleted record.`,
      );
  }
}

/** Restore after the source was deleted: re-create it from the surviving destination (the reverse pass). */
async function restore(ctx: RecordContext, coupling: Coupling, deletedId: string): Promise<StepOutcome> {
  if (ctx.dryRun) {
    const booked = ctx.book(
      'inserted',
      { ...ctx.ids(deletedId, ctx.destIdOf(coupling)), message: 'dry run: the deleted record would be restored' },
      coupling,
    );
    // Booked as the restore would run: from the survivor, the reverse pass of this event.
    return booked.book ? { ...booked, book: { ...booked.book, direction: passOf(ctx.dest) } } : booked;
  }
  const survivorSide = ctx.dest;
  const survivorId = ctx.destIdOf(coupling);
  await ctx.deps.couplings.uncouple(ctx.mapping.name, coupling.bcId);
  const outcome = await ctx.engine.syncRecord(
    {
      ...ctx.event,
      source: survivorSide,
      recordId: parseRecordId(survivorId),
      origin: 'manual',
      direction: passOf(survivorSide),
      changeType: 'unknown',
    },
    ctx.deps,
    ctx.depth + 1,
  );
  return { ...outcome, message: `record ${deletedId} was deleted and restored from its coupled record` };
}
