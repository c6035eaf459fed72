import type { ChangeEvent } from '../../../shared/domain/change-event';
import type { Side } from '../../../shared/domain/direction';
import {
  type DeletionConflictResolution,
  type Direction,
  type TableMapping,
  TableMappingSchema,
  type UpdateConflictResolution,
} from '../../../shared/domain/mappings/schema';
import type { BcEntityTarget, DataverseEntityTarget } from '../../../shared/domain/ports';
import { syncRecord } from '../../../shared/domain/sync/sync-record';
import type { SyncEngineOptions } from '../../../shared/domain/sync/types';
import { eventBuilder } from '../../support/events';
import { type FakeWorld, fakeDeps } from '../../support/fakes';

/** BC customers ⇄ Dataverse accounts by two bidirectional fields; no special rule applies to the name `WIDGET`. */
export function widgetMapping(
  options: { direction?: Direction; update?: UpdateConflictResolution; deletion?: DeletionConflictResolution } = {},
): TableMapping {
  return TableMappingSchema.parse({
    name: 'WIDGET',
    bc: { kind: 'apiV2', entitySet: 'customers', table: 'Customer', tableId: 18 },
    dataverse: { entityLogicalName: 'account', entitySet: 'accounts', primaryKey: 'accountid', modifiedOnColumn: 'modifiedon' },
    direction: options.direction ?? 'Bidirectional',
    updateConflictResolution: options.update ?? 'None',
    deletionConflictResolution: options.deletion ?? 'None',
    ownership: 'None',
    changeCapture: { bc: 'webhook', dataverse: 'webhook' },
    polling: null,
    queueName: 'sync-custom',
    fields: [
      { bcField: 'displayName', alField: 'Name', dataverseColumn: 'name', direction: 'Bidirectional' },
      { bcField: 'city', alField: 'City', dataverseColumn: 'address1_city', direction: 'Bidirectional' },
    ],
  });
}

export const BC: BcEntityTarget = { side: 'bc', kind: 'apiV2', entitySet: 'customers' };
export const DV: DataverseEntityTarget = { side: 'dataverse', entitySet: 'accounts', logicalName: 'account', primaryKey: 'accountid' };
export const CITY = 'city -> address1_city';
export const NAME = 'displayName -> name';

export const other = (side: Side): Side => (side === 'bc' ? 'dataverse' : 'bc');
export const passOf = (side: Side) => (side === 'bc' ? 'ToIntegrationTable' : 'FromIntegrationTable');
/** The city column of a side. */
export const cityOf = (side: Side) => (side === 'bc' ? 'city' : 'address1_city');
export const nameOf = (side: Side) => (side === 'bc' ? 'displayName' : 'name');

export interface Pair extends FakeWorld {
  mapping: TableMapping;
  ids: { bc: string; dataverse: string };
  /** The pair's ids as outcomes, history and errors name them. */
  keys: { bcId: string; dataverseId: string };
  /** A change event for one side's record of the pair (origin webhook unless told). */
  event(side: Side, extra?: Partial<ChangeEvent>): ChangeEvent;
  /** A person changes one side's record. */
  edit(side: Side, values: Record<string, unknown>): void;
  /** A person deletes one side's record. */
  remove(side: Side): void;
  /**
   * A person changes one side's record just before the engine's next write to that side lands (after the engine
   * read it), as a race would have it. Tells afterwards whether the race happened.
   */
  editBeforeNextWrite(side: Side, values: Record<string, unknown>): { happened(): boolean };
  exists(side: Side): boolean;
  values(side: Side): Record<string, unknown> | undefined;
  /** Writes either gateway made since set-up. */
  writes(): Array<{ side: Side; op: string; id: string }>;
}

const ev = eventBuilder('unit');

/**
 * A record created on one side and synchronized to the other by the engine itself (so the coupling, snapshot and echo
 * ETag are the engine's own), then everything counted, logged or written during the set-up forgotten. The engine
 * runs with `options` afterwards (a dry run, say); the set-up never does.
 */
export async function coupledPair(mapping: TableMapping, options: Partial<SyncEngineOptions> = {}): Promise<Pair> {
  const w = fakeDeps([mapping]);
  // Created from the side the mapping lets create the other.
  const from: Side = mapping.direction === 'FromIntegrationTable' ? 'dataverse' : 'bc';
  const first =
    from === 'bc'
      ? w.bc.seed(BC, { displayName: 'Widget Co', city: 'Oslo' })
      : w.dataverse.seed(DV, { name: 'Widget Co', address1_city: 'Oslo' });
  const made = await syncRecord(ev({ mapping: mapping.name, source: from, recordId: first.id, origin: 'manual' }), w.deps);
  if (made.result !== 'inserted' || !made.bcId || !made.dataverseId) throw new Error(`set-up: ${made.result} ${made.message ?? ''}`);
  const ids = { bc: made.bcId, dataverse: made.dataverseId };
  w.forget();
  w.deps.options = { ...w.deps.options, ...options };
  const gw = (side: Side) => (side === 'bc' ? w.bc : w.dataverse);
  const edit = (side: Side, values: Record<string, unknown>) => {
    if (side === 'bc') w.bc.edit(BC, ids.bc, values);
    else w.dataverse.edit(DV, ids.dataverse, values);
  };
  return {
    ...w,
    mapping,
    ids,
    keys: { bcId: ids.bc, dataverseId: ids.dataverse },
    event: (side, extra = {}) => ev({ mapping: mapping.name, source: side, recordId: ids[side], ...extra }),
    edit,
    remove: (side) => {
      if (side === 'bc') w.bc.remove(BC, ids.bc);
      else w.dataverse.remove(DV, ids.dataverse);
    },
    editBeforeNextWrite(side, values) {
      const gateway = gw(side);
      let happened = false;
      gateway.beforeWrite = () => {
        gateway.beforeWrite = undefined;
        happened = true;
        edit(side, values);
      };
      return { happened: () => happened };
    },
    exists: (side) => (side === 'bc' ? w.bc.peek(BC, ids.bc) : w.dataverse.peek(DV, ids.dataverse)) !== undefined,
    values: (side) => (side === 'bc' ? w.bc.peek(BC, ids.bc) : w.dataverse.peek(DV, ids.dataverse))?.values,
    writes: () => (['bc', 'dataverse'] as const).flatMap((side) => gw(side).writes.map((x) => ({ side, op: x.op, id: x.id }))),
  };
}
