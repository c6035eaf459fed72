import type { TableClient } from '@azure/data-tables';
import { type Clock, type Coupling, CouplingConflictError } from '../../domain/ports';
import { hasStatus, storeCall } from './common';
import { bcKey, dvIndexRow, dvKey, freshToken, pendingBcRow, pendingExpired, readCouplingRow, toCoupling, token } from './coupling-rows';

/**
 * The couple / uncouple protocol over a pair's two rows, which live in different partitions (see
 * {@link TableCouplingStore} for the layout), so no transaction holds both.
 *
 * Couple: (1) create the BC row marked `pending` — 409 means that BC record is already coupled (or being coupled);
 * (2) create the Dataverse row — 409 means that Dataverse row is coupled to another BC record: delete our BC row
 * and report the conflict; (3) clear `pending` on the BC row.
 * Uncouple: (1) mark the BC row `pending` (conditional on its ETag, so a racing update loses); (2) delete the
 * Dataverse row; (3) delete the BC row.
 *
 * The rule readers follow: a BC row that is not pending is a coupling. A pending BC row is a coupling only while its
 * Dataverse row exists and names it; otherwise it is not coupled, and once older than the grace period it is garbage
 * (a crash between steps) that the next reader or coupler deletes. A Dataverse row is a coupling only when the BC row
 * it names exists and names it back; else it is garbage, deleted on sight (it is only ever written after its BC row,
 * and its BC row is only removed after it). Every delete is conditional on the ETag that was judged.
 */

export interface ProtocolContext {
  client: TableClient;
  clock: Clock;
}

export type BcState =
  | { kind: 'none' }
  | { kind: 'coupled'; row: Record<string, unknown> }
  /** Half-written or half-removed, within the grace period: not coupled, but not yet garbage. */
  | { kind: 'pending'; row: Record<string, unknown> }
  | { kind: 'garbage'; row: Record<string, unknown> };

/** Judges a BC row by the rule above (one more read only when it is pending). */
export async function judgeBcRow(ctx: ProtocolContext, row: Record<string, unknown> | undefined): Promise<BcState> {
  if (!row || row.tombstone === true) return { kind: 'none' };
  if (row.pending !== true) return { kind: 'coupled', row };
  const dv = await readCouplingRow(ctx.client, ...keyOf(dvKey({ mapping: String(row.mapping), dataverseId: String(row.dataverseId) })));
  if (dv && dv.bcId === row.bcId) return { kind: 'coupled', row };
  return pendingExpired(row, ctx.clock.now()) ? { kind: 'garbage', row } : { kind: 'pending', row };
}

/** The BC row a Dataverse row points at when it points back; otherwise the Dataverse row is deleted as garbage. */
export async function resolveDvRow(
  ctx: ProtocolContext,
  index: Record<string, unknown> | undefined,
): Promise<Record<string, unknown> | undefined> {
  if (!index) return undefined;
  const bc = await readCouplingRow(ctx.client, ...keyOf(bcKey({ mapping: String(index.mapping), bcId: String(index.bcId) })));
  if (bc && bc.tombstone !== true && bc.dataverseId === index.dataverseId) return bc;
  await deleteIf(ctx.client, String(index.partitionKey), String(index.rowKey), String(index.etag));
  return undefined;
}

/** Couples one prepared pair by the protocol; throws `CouplingConflictError` naming the coupling in the way. */
export async function coupleOne(ctx: ProtocolContext, c: Coupling): Promise<Coupling> {
  const key = bcKey(c);
  for (let attempt = 0; ; attempt++) {
    let etag: string | undefined;
    try {
      const res = await storeCall('coupling', () => ctx.client.createEntity(pendingBcRow(c, ctx.clock.now().toISOString())));
      etag = res.etag ?? '*';
    } catch (err) {
      if (!hasStatus(err, 409)) throw err;
      const state = await judgeBcRow(ctx, await readCouplingRow(ctx.client, key.partitionKey, key.rowKey));
      if (state.kind === 'coupled') {
        const byBc = toCoupling(state.row, 'bc');
        throw new CouplingConflictError(
          `Cannot couple ${c.mapping} BC record ${c.bcId} to Dataverse row ${c.dataverseId}, because the BC record is already coupled to ${byBc.dataverseId}.`,
          byBc,
        );
      }
      if (state.kind === 'pending' || attempt >= 3) {
        // Named when it is this very pair (a racing coupler of the same pair, or our own earlier attempt whose
        // answer was lost), so callers that accept "already coupled to the same row" still can.
        const same = state.kind === 'pending' && state.row.dataverseId === c.dataverseId ? toCoupling(state.row, 'bc') : undefined;
        throw new CouplingConflictError(
          `The ${c.mapping} BC record ${c.bcId} is being coupled or uncoupled by another worker; retry.`,
          same,
        );
      }
      if (state.kind === 'garbage') await deleteIf(ctx.client, key.partitionKey, key.rowKey, String(state.row.etag));
      continue;
    }
    return coupleSecondStep(ctx, c, etag);
  }
}

/**
 * Steps 2 and 3 for a pair whose pending BC row exists with this ETag: writes the Dataverse row (or rolls the BC
 * row back when that Dataverse row is coupled elsewhere), then clears `pending`.
 */
export async function coupleSecondStep(ctx: ProtocolContext, c: Coupling, bcEtag: string): Promise<Coupling> {
  const dv = dvKey(c);
  for (let attempt = 0; ; attempt++) {
    try {
      await storeCall('coupling', () => ctx.client.createEntity(dvIndexRow(c, ctx.clock.now().toISOString())));
      break;
    } catch (err) {
      if (!hasStatus(err, 409)) throw err;
    }
    const index = await readCouplingRow(ctx.client, dv.partitionKey, dv.rowKey);
    if (index?.bcId === c.bcId) break; // ours: an earlier attempt's answer was lost
    const other = await resolveDvRow(ctx, index);
    if (other || attempt >= 3) {
      const key = bcKey(c);
      await deleteIf(ctx.client, key.partitionKey, key.rowKey, bcEtag);
      throw new CouplingConflictError(
        `Cannot couple ${c.mapping} BC record ${c.bcId} to Dataverse row ${c.dataverseId}, because the Dataverse row is already coupled to BC record ${String(other?.bcId ?? 'another record')}.`,
        other ? toCoupling(other, 'bc') : undefined,
      );
    }
  }
  return { ...c, etag: token('bc', await clearPending(ctx, c, bcEtag)) };
}

/** Step 3: the BC row stops being pending; returns its new ETag. */
export async function clearPending(ctx: ProtocolContext, c: Coupling, bcEtag: string): Promise<string> {
  const key = bcKey(c);
  try {
    const res = await storeCall('coupling', () => ctx.client.updateEntity({ ...key, pending: false }, 'Merge', { etag: bcEtag }));
    return res.etag ?? (await freshToken(ctx.client, c)).slice(3);
  } catch (err) {
    if (!hasStatus(err, 404, 412)) throw err;
    // Uncoupled meanwhile (the BC row went first): take our Dataverse row back out, or it would point at nothing.
    const index = await readCouplingRow(ctx.client, ...keyOf(dvKey(c)));
    if (index?.bcId === c.bcId) await resolveDvRow(ctx, index);
    throw new CouplingConflictError(`The coupling of ${c.mapping} BC record ${c.bcId} was removed meanwhile.`);
  }
}

/**
 * Removes the coupling of a BC record (only if it is still coupled to `onlyDataverseId`, when given): mark the BC
 * row pending, delete the Dataverse row, delete the BC row.
 */
export async function uncoupleBc(ctx: ProtocolContext, mapping: string, bcId: string, onlyDataverseId?: string): Promise<void> {
  const key = bcKey({ mapping, bcId });
  for (let attempt = 0; ; attempt++) {
    const row = await readCouplingRow(ctx.client, key.partitionKey, key.rowKey);
    if (!row || (onlyDataverseId !== undefined && row.dataverseId !== onlyDataverseId)) return;
    let etag = String(row.etag);
    if (row.pending !== true) {
      try {
        const marked = { ...key, pending: true, pendingSince: ctx.clock.now().toISOString() };
        etag = (await storeCall('uncoupling', () => ctx.client.updateEntity(marked, 'Merge', { etag }))).etag ?? '*';
      } catch (err) {
        // The coupling changed under us (updated, uncoupled or re-coupled): re-read and decide again.
        if (!hasStatus(err, 404, 412) || attempt >= 5) throw err;
        continue;
      }
    }
    const dv = dvKey({ mapping, dataverseId: String(row.dataverseId) });
    const index = await readCouplingRow(ctx.client, dv.partitionKey, dv.rowKey);
    if (index?.bcId === bcId) await deleteIf(ctx.client, dv.partitionKey, dv.rowKey, String(index.etag));
    await deleteIf(ctx.client, key.partitionKey, key.rowKey, etag);
    return;
  }
}

/** Deletes a row only if it is still the version that was judged; anything else means someone else moved on. */
export async function deleteIf(client: TableClient, pk: string, rk: string, etag: string): Promise<void> {
  await storeCall('removing a coupling row', async () => {
    try {
      await client.deleteEntity(pk, rk, { etag });
    } catch (err) {
      if (!hasStatus(err, 404, 412)) throw err;
    }
  });
}

function keyOf(k: { partitionKey: string; rowKey: string }): [string, string] {
  return [k.partitionKey, k.rowKey];
}
