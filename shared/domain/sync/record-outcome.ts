import { type SyncError, toSyncError } from '../../errors';
import type { ChangeEvent } from '../change-event';
import type { SyncDirection } from '../mappings/schema';
import { type Coupling, CouplingConflictError, type SyncResult } from '../ports';
import type { StepOutcome, SyncDeps, SyncOutcome } from './types';

/**
 * The one place an outcome is booked, so every path of the engine is recorded the same way:
 * - counters: every booked result, except in a dry run (nothing happened);
 * - history: every booked result but `unchanged` and `deferred` (nothing changed), a dry run's marked as such;
 * - sync errors: a success (`inserted`, `modified`, `coupled`, `unchanged`) resolves the pair's open error, unless
 *   the coupling the step started from records that none is open (`Coupling.openError === false`).
 * Returns the outcome without its booking, as `syncRecord` returns it.
 */
export async function recordOutcome(deps: SyncDeps, outcome: StepOutcome): Promise<SyncOutcome> {
  const { book, ...plain } = outcome;
  if (!book) return plain;
  const ids = { bcId: outcome.bcId, dataverseId: outcome.dataverseId };
  if (!book.dryRun) await deps.counters.increment(outcome.mapping, outcome.result);
  if (outcome.result !== 'unchanged' && outcome.result !== 'deferred') {
    await deps.history.append({
      mapping: outcome.mapping,
      ...ids,
      at: deps.clock.now().toISOString(),
      direction: book.direction,
      result: outcome.result,
      changes: outcome.changes ?? {},
      correlationId: book.correlationId,
      dryRun: book.dryRun || undefined,
    });
  }
  if (!book.dryRun && RESOLVES.has(outcome.result) && book.mayHaveOpenError) {
    try {
      await deps.errors.resolve(outcome.mapping, ids);
    } catch (err) {
      // The step has already told the coupling no error is open; say otherwise again so the retry resolves it.
      await markOpenError(deps, outcome.mapping, ids).catch(() => undefined);
      throw err;
    }
  }
  return plain;
}

const RESOLVES: ReadonlySet<SyncResult> = new Set<SyncResult>(['inserted', 'modified', 'coupled', 'unchanged']);

/**
 * Records a data/configuration failure: a row in the sync errors table, the coupling marked failed (with an open
 * error), and — when the same error repeats — skipped, as BC does (bc-integration-reference 3.7).
 */
export async function recordFailure(
  deps: SyncDeps,
  mappingName: string,
  event: ChangeEvent,
  error: SyncError,
  pass: SyncDirection,
): Promise<SyncOutcome> {
  const bcId = event.source === 'bc' ? event.recordId : undefined;
  const dataverseId = event.source === 'dataverse' ? event.recordId : undefined;
  let coupling: Coupling | undefined;
  try {
    coupling = await couplingOfKey(deps, mappingName, { bcId, dataverseId });
  } catch {
    coupling = undefined;
  }
  await deps.errors.record({
    mapping: mappingName,
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
        openError: true,
      });
    } catch (err) {
      if (!(err instanceof CouplingConflictError)) throw err;
      // Another worker wrote the coupling meanwhile: its failure count may go, the open error must not.
      await markOpenError(deps, mappingName, { bcId: coupling.bcId });
    }
  }
  await deps.counters.increment(mappingName, 'failed');
  return {
    result: 'failed',
    mapping: mappingName,
    bcId: bcId ?? coupling?.bcId,
    dataverseId: dataverseId ?? coupling?.dataverseId,
    code: error.code,
    message: error.message,
  };
}

/**
 * Tells the pair's coupling (if any) that a sync error of it is open, so the next success resolves it. Whoever
 * records a sync error for a coupled record outside `recordFailure` (a dead-lettered message, say) calls this.
 */
export async function markOpenError(deps: SyncDeps, mapping: string, key: { bcId?: string; dataverseId?: string }): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const c = await couplingOfKey(deps, mapping, key);
    if (c?.openError !== false) return;
    try {
      await deps.couplings.update(c, { openError: true });
      return;
    } catch (err) {
      if (!(err instanceof CouplingConflictError)) throw toSyncError(err);
    }
  }
}

/**
 * Runs what comes between storing a new coupling (which says no error is open) and booking the outcome (which
 * resolves the record's earlier error): should it fail, the coupling is told an error may be open after all, so the
 * retry resolves it.
 */
export async function untilResolved<T>(
  deps: SyncDeps,
  mapping: string,
  ids: { bcId?: string; dataverseId?: string },
  step: () => Promise<T>,
): Promise<T> {
  try {
    return await step();
  } catch (err) {
    await markOpenError(deps, mapping, ids).catch(() => undefined);
    throw err;
  }
}

async function couplingOfKey(deps: SyncDeps, mapping: string, key: { bcId?: string; dataverseId?: string }) {
  if (key.bcId) return deps.couplings.getByBcId(mapping, key.bcId);
  if (key.dataverseId) return deps.couplings.getByDataverseId(mapping, key.dataverseId);
  return undefined;
}
