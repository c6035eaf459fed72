import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { type Clock, type Coupling, CouplingConflictError, type NewCoupling } from '../../domain/ports';
import { SyncError } from '../../errors';
import { decodeKey, encodeKey, hasStatus, normalizeId, storeCall } from './common';
import { BC, couplingColumns, DV, freshToken, prepareCoupling, token } from './coupling-rows';

/** The bulk operations of {@link TableCouplingStore}: many couplings written or looked up in few requests. */

/** Rows one range of {@link couplingsIn} aims at: within one result page. */
const RANGE_ROWS = 800;
/** Range queries of {@link couplingsIn} in flight at once. */
const RANGES_IN_FLIGHT = 3;

/** What the bulk operations need of the store. */
export interface CouplingBulkContext {
  client: TableClient;
  clock: Clock;
  /** Couples one pair, throwing `CouplingConflictError` or `SyncError` when it cannot. */
  couple(input: NewCoupling): Promise<Coupling>;
}

/**
 * Couples many pairs of one mapping in entity-group transactions (all rows share the mapping's partition; 100
 * actions, i.e. 50 couplings, per transaction). A transaction that meets an existing coupling (409) is redone one
 * coupling at a time with `couple`, so each conflict is reported for its own pair. Results in input order.
 */
export async function coupleMany(store: CouplingBulkContext, inputs: NewCoupling[]): Promise<Array<Coupling | Error>> {
  const out: Array<Coupling | Error> = new Array(inputs.length);
  const perTransaction = 50;
  const groups: number[][] = [];
  for (let i = 0; i < inputs.length; i += perTransaction)
    groups.push([...Array(Math.min(perTransaction, inputs.length - i)).keys()].map((k) => i + k));
  await Promise.all(
    groups.map(async (group) => {
      const first = inputs[group[0] as number] as NewCoupling;
      const sameMapping = group.every((i) => inputs[i]?.mapping === first.mapping);
      const prepared = group.map((i) => {
        const c = prepareCoupling(inputs[i] as NewCoupling, store.clock);
        return c instanceof SyncError ? undefined : c;
      });
      const distinct = new Set(prepared.flatMap((c) => (c ? [`b${c.bcId}`, `d${c.dataverseId}`] : []))).size === group.length * 2;
      if (sameMapping && distinct && prepared.every(Boolean)) {
        const pk = encodeKey(first.mapping);
        const actions: TransactionAction[] = [];
        for (const c of prepared as Coupling[]) {
          const columns = couplingColumns(c);
          actions.push(['create', { partitionKey: pk, rowKey: BC + encodeKey(c.bcId), ...columns }]);
          actions.push(['create', { partitionKey: pk, rowKey: DV + encodeKey(c.dataverseId), ...columns }]);
        }
        try {
          const res = await storeCall('coupling', () => store.client.submitTransaction(actions));
          await Promise.all(
            group.map(async (i, k) => {
              const c = prepared[k] as Coupling;
              const etag = res.subResponses[k * 2]?.etag;
              out[i] = { ...c, etag: etag ? token('bc', etag) : await freshToken(store.client, c) };
            }),
          );
          return;
        } catch (err) {
          if (!hasStatus(err, 409)) throw err;
        }
      }
      for (const i of group) {
        try {
          out[i] = await store.couple(inputs[i] as NewCoupling);
        } catch (err) {
          if (err instanceof CouplingConflictError || err instanceof SyncError) out[i] = err;
          else throw err;
        }
      }
    }),
  );
  return out;
}

/**
 * The couplings of these ids (one side, one mapping), from range queries over the sorted ids' row keys instead of
 * a point read each, so a full-sync wave learns its couplings in a few requests. The sorted ids are taken in
 * groups, one range query each, sized from the rows the previous ranges held so a range stays within one result
 * page (1,000 rows): a range holds other records' couplings too, and as the table grows, one range over all the
 * ids would read the whole side. After `maxRows` rows in all (default 200 per id: still fewer requests than a point
 * read each) the answer is marked incomplete (ids not seen are then unknown).
 */
export async function couplingsIn(
  client: TableClient,
  mapping: string,
  side: 'bc' | 'dataverse',
  ids: string[],
  maxRows = ids.length * 200,
): Promise<{ found: Map<string, Pick<Coupling, 'lastSyncedAt' | 'lastResult'>>; complete: boolean }> {
  const prefix = side === 'bc' ? BC : DV;
  const keys = [...new Set(ids.map((id) => prefix + encodeKey(normalizeId(id))))].sort();
  const found = new Map<string, Pick<Coupling, 'lastSyncedAt' | 'lastResult'>>();
  const wanted = new Set(keys);
  let seen = 0;
  let rowsPerId = 1;
  for (let at = 0; at < keys.length; ) {
    // A few ranges at a time, each sized from the density measured so far.
    const size = Math.max(10, Math.min(1000, Math.floor(RANGE_ROWS / rowsPerId)));
    const ranges: string[][] = [];
    for (let r = 0; r < RANGES_IN_FLIGHT && at < keys.length; r++, at += size) ranges.push(keys.slice(at, at + size));
    const counts = await Promise.all(
      ranges.map((range) =>
        readRange(client, mapping, range[0] as string, range[range.length - 1] as string, maxRows - seen, (row) => {
          const rk = String(row.rowKey);
          if (!wanted.has(rk)) return;
          const lastResult =
            typeof row.lastResult === 'string' && row.lastResult !== '' ? (row.lastResult as Coupling['lastResult']) : undefined;
          found.set(decodeKey(rk.slice(prefix.length)), {
            ...(typeof row.lastSyncedAt === 'string' ? { lastSyncedAt: row.lastSyncedAt } : {}),
            ...(lastResult ? { lastResult } : {}),
          });
        }),
      ),
    );
    for (const c of counts) {
      if (c === undefined) return { found, complete: false };
      seen += c;
    }
    if (seen > maxRows) return { found, complete: false };
    const idsRead = ranges.reduce((n, r) => n + r.length, 0);
    rowsPerId = Math.max(1, counts.reduce((n: number, c) => n + (c ?? 0), 0) / idsRead);
  }
  return { found, complete: true };
}

/** Rows of one mapping's key range (live couplings only); undefined when it held more than `budget` rows. */
async function readRange(
  client: TableClient,
  mapping: string,
  from: string,
  to: string,
  budget: number,
  each: (row: Record<string, unknown>) => void,
): Promise<number | undefined> {
  const filter = odata`PartitionKey eq ${encodeKey(mapping)} and RowKey ge ${from} and RowKey le ${to} and tombstone eq false`;
  let seen = 0;
  return storeCall('reading couplings', async () => {
    const rows = client.listEntities<Record<string, unknown>>({
      queryOptions: { filter, select: ['RowKey', 'lastSyncedAt', 'lastResult'] },
    });
    for await (const row of rows) {
      if (++seen > budget) return undefined;
      each(row);
    }
    return seen;
  });
}
