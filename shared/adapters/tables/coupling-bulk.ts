import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { type Coupling, CouplingConflictError, type NewCoupling } from '../../domain/ports';
import { SyncError } from '../../errors';
import { encodeKey, hasStatus, normalizeId, storeCall } from './common';
import { clearPending, coupleSecondStep, type ProtocolContext } from './coupling-protocol';
import { BC, bcKey, DV, dvIndexRow, partitionOf, pendingBcRow, prepareCoupling, token } from './coupling-rows';

/** The bulk operations of {@link TableCouplingStore}: many couplings written or looked up in few requests. */

/** Rows one range of {@link couplingsIn} aims at: within one result page. */
const RANGE_ROWS = 800;
/** Range queries of {@link couplingsIn} in flight at once. */
const RANGES_IN_FLIGHT = 3;
/** Actions in one entity-group transaction (the documented maximum). */
const PER_TRANSACTION = 100;

/** What the bulk operations need of the store. */
export interface CouplingBulkContext extends ProtocolContext {
  /** Couples one pair, throwing `CouplingConflictError` or `SyncError` when it cannot. */
  couple(input: NewCoupling): Promise<Coupling>;
}

/**
 * Couples many pairs by the protocol of `coupling-protocol.ts`, each step in entity-group transactions per
 * partition. A pair whose first-step transaction met an existing row (409) is redone alone with `couple`; one whose
 * second-step transaction did is finished alone (so a conflict rolls back only its own BC row). Results in input order.
 */
export async function coupleMany(store: CouplingBulkContext, inputs: NewCoupling[]): Promise<Array<Coupling | Error>> {
  const out: Array<Coupling | Error> = new Array(inputs.length);
  const bulk: number[] = [];
  const alone: number[] = [];
  const taken = new Set<string>();
  const prepared = inputs.map((input, i) => {
    const c = prepareCoupling(input, store.clock);
    const keys = c instanceof SyncError ? [] : [`b${c.mapping}|${c.bcId}`, `d${c.mapping}|${c.dataverseId}`];
    // A pair repeating an id of an earlier one goes alone, after the others, so it meets that one's rows.
    if (c instanceof SyncError || keys.some((k) => taken.has(k))) alone.push(i);
    else bulk.push(i);
    for (const k of keys) taken.add(k);
    return c;
  });
  const written = await writePairs(
    store,
    bulk.map((i) => prepared[i] as Coupling),
    (k) => store.couple(inputs[bulk[k] as number] as NewCoupling),
  );
  for (const [k, i] of bulk.entries()) out[i] = written[k] as Coupling | Error;
  for (const i of alone) out[i] = await settle(() => store.couple(inputs[i] as NewCoupling));
  return out;
}

/**
 * Writes prepared pairs by the protocol in transactions; a pair whose first step met an existing row is handed to
 * `again` (default: reported as a conflict). Used by {@link coupleMany} and the migration of old-layout rows.
 */
export async function writePairs(
  ctx: ProtocolContext,
  pairs: Coupling[],
  again: (k: number) => Promise<Coupling> = (k) =>
    Promise.reject(new CouplingConflictError(`The ${pairs[k]?.mapping} BC record ${pairs[k]?.bcId} is already coupled.`)),
): Promise<Array<Coupling | Error>> {
  const out: Array<Coupling | Error> = new Array(pairs.length);
  const now = ctx.clock.now().toISOString();
  const step1 = await inTransactions(
    ctx.client,
    pairs.map((c) => ['create', pendingBcRow(c, now)]),
  );
  const second: number[] = [];
  await Promise.all(
    step1.map(async (etag, k) => {
      if (etag === undefined) out[k] = await settle(() => again(k));
      else second.push(k);
    }),
  );
  const step2 = await inTransactions(
    ctx.client,
    second.map((k) => ['create', dvIndexRow(pairs[k] as Coupling, now)]),
  );
  const third: number[] = [];
  await Promise.all(
    step2.map(async (etag, j) => {
      const k = second[j] as number;
      if (etag === undefined) out[k] = await settle(() => coupleSecondStep(ctx, pairs[k] as Coupling, step1[k] as string));
      else third.push(k);
    }),
  );
  const step3 = await inTransactions(
    ctx.client,
    third.map((k) => ['update', { ...bcKey(pairs[k] as Coupling), pending: false }, 'Merge', { etag: step1[k] as string }]),
  );
  await Promise.all(
    step3.map(async (etag, j) => {
      const k = third[j] as number;
      const c = pairs[k] as Coupling;
      out[k] =
        etag === undefined || etag === ''
          ? await settle(async () => ({ ...c, etag: token('bc', await clearPending(ctx, c, step1[k] as string)) }))
          : { ...c, etag: token('bc', etag) };
    }),
  );
  return out;
}

/**
 * Runs actions in entity-group transactions, grouped by partition (input order kept within one); the answer per
 * action is its ETag ('' when the answer had none), or undefined when its transaction met a 409, 404 or 412.
 */
async function inTransactions(client: TableClient, actions: TransactionAction[]): Promise<Array<string | undefined>> {
  // Filled, not sparse: callers map over it, and map skips holes.
  const out = new Array<string | undefined>(actions.length).fill(undefined);
  const byPartition = new Map<string, number[]>();
  for (const [i, a] of actions.entries()) {
    const pk = a[1].partitionKey as string;
    const list = byPartition.get(pk) ?? [];
    list.push(i);
    byPartition.set(pk, list);
  }
  const chunks: number[][] = [];
  for (const list of byPartition.values())
    for (let at = 0; at < list.length; at += PER_TRANSACTION) chunks.push(list.slice(at, at + PER_TRANSACTION));
  await Promise.all(
    chunks.map(async (chunk) => {
      try {
        const res = await storeCall('coupling', () => client.submitTransaction(chunk.map((i) => actions[i] as TransactionAction)));
        for (const [k, i] of chunk.entries()) out[i] = res.subResponses[k]?.etag ?? '';
      } catch (err) {
        if (!hasStatus(err, 409, 404, 412)) throw err;
      }
    }),
  );
  return out;
}

async function settle(fn: () => Promise<Coupling>): Promise<Coupling | Error> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CouplingConflictError || err instanceof SyncError) return err;
    throw err;
  }
}

type Found = Map<string, Pick<Coupling, 'lastSyncedAt' | 'lastResult'>>;

/**
 * The couplings of these ids (one side, one mapping), from range queries over the sorted ids' row keys within each
 * bucket partition instead of a point read each, so a full-sync wave learns its couplings in a few requests per
 * partition. Within a partition the sorted ids are taken in groups, one range query each, sized from the rows the
 * previous ranges held so a range stays within one result page (1,000 rows). After `maxRows` rows in all (default
 * 200 per id: still fewer requests than a point read each) the answer is marked incomplete (ids not seen are then
 * unknown). A pair still pending counts as found without its time and result (the engine reads it whole); a
 * Dataverse id counts only when the BC row it names names it back.
 */
export async function couplingsIn(
  client: TableClient,
  mapping: string,
  side: 'bc' | 'dataverse',
  ids: string[],
  maxRows = ids.length * 200,
): Promise<{ found: Found; complete: boolean }> {
  const found: Found = new Map();
  const budget = { left: maxRows };
  if (side === 'bc') {
    const rows = await rowsIn(client, mapping, BC, ids, budget);
    if (!rows) return { found, complete: false };
    for (const row of rows) found.set(row.bcId as string, summary(row));
    return { found, complete: true };
  }
  const index = await rowsIn(client, mapping, DV, ids, budget);
  if (!index) return { found, complete: false };
  const bcRows = await rowsIn(
    client,
    mapping,
    BC,
    index.map((r) => String(r.bcId)),
    budget,
  );
  if (!bcRows) return { found, complete: false };
  const byBc = new Map(bcRows.map((r) => [String(r.bcId), r]));
  for (const r of index) {
    const bc = byBc.get(String(r.bcId));
    if (bc && bc.dataverseId === r.dataverseId) found.set(String(r.dataverseId), summary(bc));
  }
  return { found, complete: true };
}

function summary(row: Record<string, unknown>): Pick<Coupling, 'lastSyncedAt' | 'lastResult'> {
  if (row.pending === true) return {};
  const lastResult = typeof row.lastResult === 'string' && row.lastResult !== '' ? (row.lastResult as Coupling['lastResult']) : undefined;
  return { ...(typeof row.lastSyncedAt === 'string' ? { lastSyncedAt: row.lastSyncedAt } : {}), ...(lastResult ? { lastResult } : {}) };
}

/** The rows of these ids on one side (ids not found are absent); undefined once more than the budget was read. */
async function rowsIn(
  client: TableClient,
  mapping: string,
  prefix: typeof BC | typeof DV,
  ids: string[],
  budget: { left: number },
): Promise<Array<Record<string, unknown>> | undefined> {
  const byPartition = new Map<string, string[]>();
  for (const id of new Set(ids.map(normalizeId))) {
    const pk = partitionOf(mapping, prefix, id);
    const list = byPartition.get(pk) ?? [];
    list.push(prefix + encodeKey(id));
    byPartition.set(pk, list);
  }
  const out: Array<Record<string, unknown>> = [];
  let over = false;
  let rowsPerId = 1;
  const partitions = [...byPartition.entries()];
  const worker = async () => {
    for (let next = partitions.shift(); next && !over; next = partitions.shift()) {
      const [pk, unsorted] = next;
      const keys = unsorted.sort();
      const wanted = new Set(keys);
      for (let at = 0; at < keys.length && !over; ) {
        const size = Math.max(10, Math.min(1000, Math.floor(RANGE_ROWS / rowsPerId)));
        const range = keys.slice(at, at + size);
        at += size;
        const rows = await readRange(client, pk, range[0] as string, range[range.length - 1] as string, budget.left);
        if (!rows) {
          over = true;
          return;
        }
        budget.left -= rows.length;
        if (budget.left < 0) over = true;
        rowsPerId = Math.max(1, rows.length / range.length);
        for (const row of rows) if (wanted.has(String(row.rowKey))) out.push(row);
      }
    }
  };
  await Promise.all(Array.from({ length: RANGES_IN_FLIGHT }, worker));
  return over ? undefined : out;
}

/** The rows of one partition's key range; undefined when it held more than `budget` rows. */
async function readRange(
  client: TableClient,
  pk: string,
  from: string,
  to: string,
  budget: number,
): Promise<Array<Record<string, unknown>> | undefined> {
  const filter = odata`PartitionKey eq ${pk} and RowKey ge ${from} and RowKey le ${to}`;
  return storeCall('reading couplings', async () => {
    const rows: Array<Record<string, unknown>> = [];
    const select = ['RowKey', 'bcId', 'dataverseId', 'pending', 'lastSyncedAt', 'lastResult'];
    for await (const row of client.listEntities<Record<string, unknown>>({ queryOptions: { filter, select } })) {
      if (rows.length >= budget) return undefined;
      rows.push(row);
    }
    return rows;
  });
}
