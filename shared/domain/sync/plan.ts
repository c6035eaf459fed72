import type { Direction, SyncDirection, UpdateConflictResolution } from '../mappings/schema';
import { sameValue } from './compare';

/**
 * One mapped field seen from one sync pass (source → destination): what the source holds now and held at the
 * last sync, what the destination holds now and held at the last sync, and what the mapping would write.
 */
export interface FieldState {
  /** Label used in messages and history, e.g. `addressLine1 -> address1_line1`. */
  label: string;
  /** Key of the destination value in the write payload (e.g. `address1_line1`, `transactioncurrencyid@odata.bind`). */
  writeKey: string;
  /** The field mapping's own direction. */
  direction: Direction;
  /** Source value now, and at the last sync (undefined when never synced). */
  source: unknown;
  sourceBefore: unknown;
  /** Destination value now (comparable form), and at the last sync. */
  dest: unknown;
  destBefore: unknown;
  /** The value this pass would write (comparable form), and the payload form. */
  mapped: unknown;
  payload: unknown;
}

export interface PlanInput {
  pass: SyncDirection;
  tableDirection: Direction;
  policy: UpdateConflictResolution;
  /** No snapshot yet (first sync after coupling, or a forced sync): every differing field is written. */
  force: boolean;
  fields: FieldState[];
  /** Modified-on of each side, for FieldMerge's "latest change wins" on truly conflicting fields. */
  sourceModifiedOn?: string;
  destModifiedOn?: string;
}

export type PlanOutcome =
  /** Write `write` to the destination. */
  | { kind: 'write'; write: FieldState[]; conflicts: FieldState[] }
  /** Nothing differs. */
  | { kind: 'unchanged' }
  /** Both sides changed a bidirectional field and the policy makes this side lose: BC counts it Skipped. */
  | { kind: 'skip'; reason: string; conflicts: FieldState[] }
  /** Both sides changed a bidirectional field and the policy is None: the record fails, naming the field. */
  | { kind: 'conflict'; conflicts: FieldState[] };

const changed = (now: unknown, before: unknown, hasBefore: boolean) => hasBefore && !sameValue(now, before);

/**
 * Decides what one pass writes, following BC's rules (bc-integration-reference 3.5–3.6) and our field merge.
 *
 * - Only fields whose mapped value differs from the destination are written (BC's OnlyTransferModifiedFields).
 * - A field that changed on neither side since the snapshot is never written, except to fill in a blank the
 *   destination holds because its option or lookup was not coupled at the last sync.
 * - Without a snapshot everything that differs is written (BC's ForceModify after coupling).
 * - Both sides changed since the last sync and a bidirectional field would change: an update conflict, resolved
 *   by the mapping's policy. `FieldMerge` goes further than BC: a field changed only on the destination is kept,
 *   a field changed only on the source is written, and a field changed on both sides with different values goes
 *   to the side that changed last.
 */
export function planPass(input: PlanInput): PlanOutcome {
  const fieldAllowsPass = (f: FieldState) => f.direction === 'Bidirectional' || f.direction === input.pass;
  const candidates = input.fields.filter((f) => fieldAllowsPass(f) && !sameValue(f.mapped, f.dest));
  if (candidates.length === 0) return { kind: 'unchanged' };
  if (input.force) return { kind: 'write', write: candidates, conflicts: [] };

  const hasSnapshot = (f: FieldState) => f.sourceBefore !== undefined || f.destBefore !== undefined;
  const sourceChanged = (f: FieldState) => changed(f.source, f.sourceBefore, hasSnapshot(f));
  const destChanged = (f: FieldState) => changed(f.dest, f.destBefore, hasSnapshot(f));
  // Changed on neither side since the last sync, yet the mapped value differs: the translation changed, not the
  // data — an option or lookup that was not coupled then (written blank) is coupled now, or the other way round.
  // Only a fill-in is written (a value where the destination holds the blank we wrote); writing a blank back over
  // a value nobody changed would wipe it.
  const fillsIn = (f: FieldState) => !sameValue(f.mapped, null) && sameValue(f.dest, null);
  const unchangedOnBoth = (f: FieldState) => hasSnapshot(f) && !sourceChanged(f) && !destChanged(f);

  const anySourceChange = input.fields.some(sourceChanged);
  const anyDestChange = input.fields.some(destChanged);
  const bothModified = input.tableDirection === 'Bidirectional' && anySourceChange && anyDestChange;

  if (input.policy === 'FieldMerge') {
    const write: FieldState[] = [];
    const conflicts: FieldState[] = [];
    for (const f of candidates) {
      const s = sourceChanged(f) || !hasSnapshot(f);
      const d = destChanged(f);
      if (unchangedOnBoth(f)) {
        if (fillsIn(f)) write.push(f);
      } else if (s && !d) write.push(f);
      else if (s && d) {
        conflicts.push(f);
        if (sourceIsLater(input)) write.push(f);
      }
      // Changed on the destination only: the destination's own pass carries it the other way.
    }
    return write.length === 0 ? { kind: 'unchanged' } : { kind: 'write', write, conflicts };
  }

  // A bidirectional field that only the destination changed is not ours to write: the destination's own pass
  // carries it back, and writing it here would undo a change the other side just made. A field neither side
  // changed is written only as a fill-in.
  const write = candidates.filter((f) =>
    unchangedOnBoth(f) ? fillsIn(f) : f.direction !== 'Bidirectional' || sourceChanged(f) || !destChanged(f),
  );
  if (write.length === 0) return { kind: 'unchanged' };
  if (!bothModified) return { kind: 'write', write, conflicts: [] };

  const conflicts = write.filter((f) => f.direction === 'Bidirectional');
  if (conflicts.length === 0) return { kind: 'write', write, conflicts: [] };

  const sourceWins =
    (input.policy === 'SendUpdateToIntegration' && input.pass === 'ToIntegrationTable') ||
    (input.policy === 'GetUpdateFromIntegration' && input.pass === 'FromIntegrationTable');
  const sourceLoses =
    (input.policy === 'SendUpdateToIntegration' && input.pass === 'FromIntegrationTable') ||
    (input.policy === 'GetUpdateFromIntegration' && input.pass === 'ToIntegrationTable');
  if (sourceWins) return { kind: 'write', write, conflicts };
  if (sourceLoses) return { kind: 'skip', reason: `the other side wins update conflicts (${input.policy})`, conflicts };
  return { kind: 'conflict', conflicts };
}

function sourceIsLater(input: PlanInput): boolean {
  if (!input.sourceModifiedOn || !input.destModifiedOn) return true;
  return Date.parse(input.sourceModifiedOn) >= Date.parse(input.destModifiedOn);
}
