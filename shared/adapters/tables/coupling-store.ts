import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import { SyncDirectionSchema } from '../../domain/direction';
import {
  type Clock,
  type Coupling,
  CouplingConflictError,
  type CouplingStore,
  type NewCoupling,
  type Page,
  type Side,
  SYNC_RESULTS,
  type SyncedSnapshot,
  systemClock,
} from '../../domain/ports';
import { SyncError } from '../../errors';
import {
  decodeKey,
  encodeKey,
  hasStatus,
  jsonProperties,
  normalizeId,
  prefixEnd,
  readJsonProperty,
  sha256,
  storeCall,
  ValueTooLargeError,
} from './common';

/**
 * BC's table 5331 "CRM Integration Record" in Table Storage.
 *
 * Layout (table `<prefix>Couplings`): PartitionKey = mapping name; every coupling is two rows, `bc_<BC SystemId>`
 * and `dv_<Dataverse id>`, each carrying the whole coupling, so a lookup from either side is one point read.
 * Both rows are written in one entity-group transaction (same partition) with `create` for a new coupling, so
 * a second coupler of the same BC record or Dataverse row gets 409 and nothing is written. Every later change
 * also touches both rows in one transaction, which is why the ETag of either row is a complete concurrency
 * token for the pair.
 *
 * Uncoupling first turns both rows into tombstones in one conditional transaction (deletes inside a
 * transaction cannot carry an ETag), then deletes each tombstone with its own ETag. A tombstone reads as
 * "not coupled"; a coupler that meets one removes it (conditionally) and retries, so a crash between the
 * two steps only leaves garbage that is cleaned up on the next couple.
 */

const BC = 'bc_';
const DV = 'dv_';

/** Replaces a snapshot value when the snapshot is too large to store whole (see {@link snapshotForm}). */
export const HASHED_VALUE_KEY = '$sha256';

export function hashSnapshotValue(value: unknown): { [HASHED_VALUE_KEY]: string } {
  return { [HASHED_VALUE_KEY]: sha256(JSON.stringify(value ?? null)) };
}

export function isHashedSnapshotValue(value: unknown): value is { [HASHED_VALUE_KEY]: string } {
  return typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>)[HASHED_VALUE_KEY] === 'string';
}

/** Compares a current value with a stored snapshot value, which may be in hashed form. */
export function snapshotValueEquals(stored: unknown, current: unknown): boolean {
  if (isHashedSnapshotValue(stored)) return stored[HASHED_VALUE_KEY] === hashSnapshotValue(current)[HASHED_VALUE_KEY];
  return JSON.stringify(stored ?? null) === JSON.stringify(current ?? null);
}

/**
 * The identity a coupling belongs to: BC tenant/environment/company and the Dataverse organization. A copied
 * environment (sandbox from production) keeps the couplings table but not this identity.
 */
export function environmentIdentity(env: { bcTenantId: string; bcEnvironment: string; bcCompanyId: string; dataverseUrl: string }): string {
  const org = new URL(env.dataverseUrl).host;
  return `bc:${env.bcTenantId}/${env.bcEnvironment}/${env.bcCompanyId}|dv:${org}`.toLowerCase();
}

const couplingRowSchema = z.looseObject({
  mapping: z.string(),
  bcId: z.string(),
  dataverseId: z.string(),
  bcModifiedOn: z.string().optional(),
  dataverseModifiedOn: z.string().optional(),
  fingerprintToDataverse: z.string().optional(),
  fingerprintToBc: z.string().optional(),
  dataverseWrittenEtag: z.string().optional(),
  initialDirection: SyncDirectionSchema.optional(),
  snapshotForm: z.enum(['full', 'hashed', 'omitted']).optional(),
  lastResult: z.union([z.enum(SYNC_RESULTS), z.literal('')]).optional(),
  lastSyncedAt: z.string().optional(),
  lastError: z.string().optional(),
  openError: z.boolean().optional(),
  failureCount: z.number().int(),
  skipped: z.boolean(),
  environment: z.string(),
  createdAt: z.string(),
  tombstone: z.boolean().optional(),
  etag: z.string(),
});

const snapshotSchema = z.object({ bc: z.record(z.string(), z.unknown()), dataverse: z.record(z.string(), z.unknown()) });

const newCouplingSchema = z.object({
  mapping: z.string().min(1).max(100),
  bcId: z.string().min(1).max(400),
  dataverseId: z.string().min(1).max(400),
  environment: z.string().max(1000),
});

/** Rows one range of {@link TableCouplingStore.couplingsIn} aims at: within one result page. */
const RANGE_ROWS = 800;
/** Range queries of {@link TableCouplingStore.couplingsIn} in flight at once. */
const RANGES_IN_FLIGHT = 3;

/** Budget for one row's snapshot; two rows go in one transaction (4 MiB) and each entity holds 1 MiB. */
const SNAPSHOT_MAX_BYTES = 256 * 1024;
/** Error texts are kept whole up to this length; a longer text is cut (the errors table keeps the details). */
const MAX_ERROR_CHARS = 8_000;

export interface TableCouplingStoreOptions {
  clock?: Clock;
  /**
   * When set, every coupling read is checked against this environment identity and a mismatch throws
   * `COUPLE.ENVIRONMENT_MISMATCH` instead of letting a copied environment write into the wrong records.
   * Default: no check.
   */
  expectedEnvironment?: string;
}

/** A coupling's concurrency token names the index row it was read from: `bc:<etag>` or `dv:<etag>`. */
const TOKEN_PREFIX = { bc: 'bc', dataverse: 'dv' } as const satisfies Record<Side, string>;

function token(side: Side, etag: string): string {
  return `${TOKEN_PREFIX[side]}:${etag}`;
}

function parseToken(t: string): { side: Side; etag: string } {
  const prefix = t.slice(0, 2);
  if ((prefix !== TOKEN_PREFIX.bc && prefix !== TOKEN_PREFIX.dataverse) || t[2] !== ':')
    throw new Error(`not a coupling concurrency token: ${t}`);
  return { side: prefix === TOKEN_PREFIX.bc ? 'bc' : 'dataverse', etag: t.slice(3) };
}

export class TableCouplingStore implements CouplingStore {
  private readonly clock: Clock;
  private readonly expectedEnvironment: string | undefined;

  constructor(
    readonly client: TableClient,
    options: TableCouplingStoreOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.expectedEnvironment = options.expectedEnvironment;
  }

  async getByBcId(mapping: string, bcId: string): Promise<Coupling | undefined> {
    return this.read(mapping, BC, normalizeId(bcId));
  }

  async getByDataverseId(mapping: string, dataverseId: string): Promise<Coupling | undefined> {
    return this.read(mapping, DV, normalizeId(dataverseId));
  }

  async couple(input: NewCoupling): Promise<Coupling> {
    const parsed = newCouplingSchema.safeParse(input);
    if (!parsed.success) throw new SyncError('EVENT.INVALID', `invalid coupling: ${z.prettifyError(parsed.error)}`);
    const coupling: Coupling = {
      ...input,
      bcId: normalizeId(input.bcId),
      dataverseId: normalizeId(input.dataverseId),
      failureCount: input.failureCount ?? 0,
      skipped: input.skipped ?? false,
      createdAt: this.clock.now().toISOString(),
      etag: '',
    };
    const pk = encodeKey(coupling.mapping);
    const columns = this.columns(coupling);
    // A 409 whose blocker vanished before we could read it (a racing uncouple) is worth another try.
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await storeCall('coupling', () =>
          this.client.submitTransaction([
            ['create', { partitionKey: pk, rowKey: BC + encodeKey(coupling.bcId), ...columns }],
            ['create', { partitionKey: pk, rowKey: DV + encodeKey(coupling.dataverseId), ...columns }],
          ]),
        );
        const etag = res.subResponses[0]?.etag;
        return { ...coupling, etag: etag ? token('bc', etag) : await this.freshToken(coupling) };
      } catch (err) {
        if (!hasStatus(err, 409)) throw err;
        const rawBc = await this.readRaw(pk, BC + encodeKey(coupling.bcId));
        if (rawBc && rawBc.tombstone !== true) {
          const byBc = this.toCoupling(rawBc, 'bc');
          throw new CouplingConflictError(
            `Cannot couple ${coupling.mapping} BC record ${coupling.bcId} to Dataverse row ${coupling.dataverseId}, because the BC record is already coupled to ${byBc.dataverseId}.`,
            byBc,
          );
        }
        const rawDv = await this.readRaw(pk, DV + encodeKey(coupling.dataverseId));
        if (rawDv && rawDv.tombstone !== true) {
          const byDv = this.toCoupling(rawDv, 'dataverse');
          throw new CouplingConflictError(
            `Cannot couple ${coupling.mapping} BC record ${coupling.bcId} to Dataverse row ${coupling.dataverseId}, because the Dataverse row is already coupled to BC record ${byDv.bcId}.`,
            byDv,
          );
        }
        for (const raw of [rawBc, rawDv]) if (raw) await this.deleteTombstone(pk, String(raw.rowKey), String(raw.etag));
        if (attempt >= 3) throw new CouplingConflictError(`Coupling ${coupling.mapping} ${coupling.bcId} kept conflicting`);
      }
    }
  }

  /**
   * Couples many pairs of one mapping in entity-group transactions (all rows share the mapping's partition; 100
   * actions, i.e. 50 couplings, per transaction). A transaction that meets an existing coupling (409) is redone one
   * coupling at a time with `couple`, so each conflict is reported for its own pair. Results in input order.
   */
  async coupleMany(inputs: NewCoupling[]): Promise<Array<Coupling | Error>> {
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
          const input = inputs[i] as NewCoupling;
          const parsed = newCouplingSchema.safeParse(input);
          if (!parsed.success) return undefined;
          return {
            ...input,
            bcId: normalizeId(input.bcId),
            dataverseId: normalizeId(input.dataverseId),
            failureCount: input.failureCount ?? 0,
            skipped: input.skipped ?? false,
            createdAt: this.clock.now().toISOString(),
            etag: '',
          } satisfies Coupling;
        });
        const distinct = new Set(prepared.flatMap((c) => (c ? [`b${c.bcId}`, `d${c.dataverseId}`] : []))).size === group.length * 2;
        if (sameMapping && distinct && prepared.every(Boolean)) {
          const pk = encodeKey(first.mapping);
          const actions: TransactionAction[] = [];
          for (const c of prepared as Coupling[]) {
            const columns = this.columns(c);
            actions.push(['create', { partitionKey: pk, rowKey: BC + encodeKey(c.bcId), ...columns }]);
            actions.push(['create', { partitionKey: pk, rowKey: DV + encodeKey(c.dataverseId), ...columns }]);
          }
          try {
            const res = await storeCall('coupling', () => this.client.submitTransaction(actions));
            await Promise.all(
              group.map(async (i, k) => {
                const c = prepared[k] as Coupling;
                const etag = res.subResponses[k * 2]?.etag;
                out[i] = { ...c, etag: etag ? token('bc', etag) : await this.freshToken(c) };
              }),
            );
            return;
          } catch (err) {
            if (!hasStatus(err, 409)) throw err;
          }
        }
        for (const i of group) {
          try {
            out[i] = await this.couple(inputs[i] as NewCoupling);
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
  async couplingsIn(
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
          this.readRange(mapping, range[0] as string, range[range.length - 1] as string, maxRows - seen, (row) => {
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
  private async readRange(
    mapping: string,
    from: string,
    to: string,
    budget: number,
    each: (row: Record<string, unknown>) => void,
  ): Promise<number | undefined> {
    const filter = odata`PartitionKey eq ${encodeKey(mapping)} and RowKey ge ${from} and RowKey le ${to} and tombstone eq false`;
    let seen = 0;
    return storeCall('reading couplings', async () => {
      const rows = this.client.listEntities<Record<string, unknown>>({
        queryOptions: { filter, select: ['RowKey', 'lastSyncedAt', 'lastResult'] },
      });
      for await (const row of rows) {
        if (++seen > budget) return undefined;
        each(row);
      }
      return seen;
    });
  }

  async update(
    coupling: Coupling,
    patch: Partial<Omit<Coupling, 'mapping' | 'bcId' | 'dataverseId' | 'etag' | 'createdAt'>>,
  ): Promise<Coupling> {
    const { side, etag } = parseToken(coupling.etag);
    const next: Coupling = { ...coupling, ...patch };
    const pk = encodeKey(coupling.mapping);
    const columns = this.columns(next);
    // The row the caller read is checked with its ETag; the other row only has to exist ('*'), which is
    // enough because no writer ever changes one row without the other.
    const actions: TransactionAction[] = [
      ['update', { partitionKey: pk, rowKey: BC + encodeKey(coupling.bcId), ...columns }, 'Replace', { etag: side === 'bc' ? etag : '*' }],
      [
        'update',
        { partitionKey: pk, rowKey: DV + encodeKey(coupling.dataverseId), ...columns },
        'Replace',
        { etag: side === 'dataverse' ? etag : '*' },
      ],
    ];
    try {
      const res = await storeCall('updating a coupling', () => this.client.submitTransaction(actions));
      const newEtag = res.subResponses[0]?.etag;
      return { ...next, etag: newEtag ? token('bc', newEtag) : await this.freshToken(next) };
    } catch (err) {
      if (!hasStatus(err, 412, 404)) throw err;
      const current = await this.read(coupling.mapping, BC, coupling.bcId, false);
      throw new CouplingConflictError(
        current
          ? `The coupling of ${coupling.mapping} BC record ${coupling.bcId} changed meanwhile; re-read it and retry.`
          : `The coupling of ${coupling.mapping} BC record ${coupling.bcId} was removed meanwhile.`,
        current,
      );
    }
  }

  async uncouple(mapping: string, bcId: string): Promise<void> {
    await this.uncoupleFrom(mapping, BC, normalizeId(bcId));
  }

  /** Removes the coupling of a Dataverse row (e.g. after the row was deleted); no coupling is not an error. */
  async uncoupleByDataverseId(mapping: string, dataverseId: string): Promise<void> {
    await this.uncoupleFrom(mapping, DV, normalizeId(dataverseId));
  }

  async list(
    mapping: string,
    options: { pageSize?: number; continuation?: string; filter?: { skipped?: boolean; failed?: boolean } } = {},
  ): Promise<Page<Coupling>> {
    const pageSize = Math.min(Math.max(options.pageSize ?? 1000, 1), 1000);
    let filter = odata`PartitionKey eq ${encodeKey(mapping)} and RowKey ge ${BC} and RowKey lt ${prefixEnd(BC)} and tombstone eq false`;
    if (options.filter?.skipped !== undefined) filter += odata` and skipped eq ${options.filter.skipped}`;
    if (options.filter?.failed !== undefined) filter += odata` and failed eq ${options.filter.failed}`;
    return storeCall('listing couplings', async () => {
      const pages = this.client
        .listEntities<Record<string, unknown>>({ queryOptions: { filter } })
        .byPage({ maxPageSize: pageSize, continuationToken: options.continuation });
      // Filtered queries may return empty pages that still carry a continuation; skip those.
      for await (const page of pages) {
        if (page.length > 0 || !page.continuationToken) {
          return { items: page.map((e) => this.toCoupling(e, 'bc')), continuation: page.continuationToken };
        }
      }
      return { items: [] };
    });
  }

  /** Every coupling of a mapping, page by page. */
  async *listAll(mapping: string, filter?: { skipped?: boolean; failed?: boolean }): AsyncIterable<Coupling[]> {
    let continuation: string | undefined;
    do {
      const page = await this.list(mapping, { continuation, filter });
      if (page.items.length > 0) yield page.items;
      continuation = page.continuation;
    } while (continuation);
  }

  async count(mapping: string): Promise<number> {
    const filter = odata`PartitionKey eq ${encodeKey(mapping)} and RowKey ge ${BC} and RowKey lt ${prefixEnd(BC)} and tombstone eq false`;
    return storeCall('counting couplings', async () => {
      let n = 0;
      for await (const page of this.client.listEntities({ queryOptions: { filter, select: ['RowKey'] } }).byPage({ maxPageSize: 1000 })) {
        n += page.length;
      }
      return n;
    });
  }

  /**
   * Throws `COUPLE.ENVIRONMENT_MISMATCH` when any coupling (of one mapping, or of all) was written for another
   * environment: run at start-up so a copied environment stops before it writes into the wrong records.
   */
  async assertEnvironment(expected: string, options: { mapping?: string } = {}): Promise<void> {
    let filter = odata`RowKey ge ${BC} and RowKey lt ${prefixEnd(BC)} and tombstone eq false and environment ne ${expected}`;
    if (options.mapping !== undefined) filter = odata`PartitionKey eq ${encodeKey(options.mapping)} and ` + filter;
    const found = await storeCall('checking the coupling environment', async () => {
      for await (const page of this.client
        .listEntities<Record<string, unknown>>({ queryOptions: { filter, select: ['mapping', 'bcId', 'environment'] } })
        .byPage({ maxPageSize: 1 })) {
        if (page[0]) return page[0];
      }
      return undefined;
    });
    if (found) {
      throw environmentMismatch(String(found.mapping), String(found.bcId), String(found.environment), expected);
    }
  }

  private async uncoupleFrom(mapping: string, prefix: typeof BC | typeof DV, id: string): Promise<void> {
    const pk = encodeKey(mapping);
    for (let attempt = 0; ; attempt++) {
      const row = await this.readRaw(pk, prefix + encodeKey(id));
      if (!row) return;
      if (row.tombstone === true) {
        await this.deleteTombstone(pk, String(row.rowKey), String(row.etag));
        return;
      }
      const coupling = this.toCoupling(row, prefix === BC ? 'bc' : 'dataverse');
      const rowKeys = [BC + encodeKey(coupling.bcId), DV + encodeKey(coupling.dataverseId)] as const;
      const read = prefix === BC ? 0 : 1;
      const tomb = { mapping: coupling.mapping, bcId: coupling.bcId, dataverseId: coupling.dataverseId, tombstone: true };
      let etags: Array<string | undefined>;
      try {
        const res = await storeCall('uncoupling', () =>
          this.client.submitTransaction(
            rowKeys.map((rowKey, i) => [
              'update',
              { partitionKey: pk, rowKey, ...tomb },
              'Replace',
              { etag: i === read ? String(row.etag) : '*' },
            ]),
          ),
        );
        etags = res.subResponses.map((r) => r.etag);
      } catch (err) {
        // The pair changed under us (updated, uncoupled or re-coupled): re-read and decide again.
        if (!hasStatus(err, 404, 412) || attempt >= 5) throw err;
        continue;
      }
      for (const [i, rowKey] of rowKeys.entries()) await this.deleteTombstone(pk, rowKey, etags[i] ?? '*');
      return;
    }
  }

  /** Deletes a tombstone only if it is still that tombstone; anything else means someone else moved on. */
  private async deleteTombstone(pk: string, rowKey: string, etag: string): Promise<void> {
    await storeCall('removing an uncoupled row', async () => {
      try {
        await this.client.deleteEntity(pk, rowKey, { etag });
      } catch (err) {
        if (!hasStatus(err, 404, 412)) throw err;
      }
    });
  }

  private async readRaw(pk: string, rk: string): Promise<Record<string, unknown> | undefined> {
    return storeCall('reading a coupling', async () => {
      try {
        return await this.client.getEntity<Record<string, unknown>>(pk, rk);
      } catch (err) {
        if (hasStatus(err, 404)) return undefined;
        throw err;
      }
    });
  }

  private async read(mapping: string, prefix: typeof BC | typeof DV, id: string, check = true): Promise<Coupling | undefined> {
    const row = await this.readRaw(encodeKey(mapping), prefix + encodeKey(id));
    if (!row || row.tombstone === true) return undefined;
    const coupling = this.toCoupling(row, prefix === BC ? 'bc' : 'dataverse');
    if (check && this.expectedEnvironment !== undefined && coupling.environment !== this.expectedEnvironment) {
      throw environmentMismatch(coupling.mapping, coupling.bcId, coupling.environment, this.expectedEnvironment);
    }
    return coupling;
  }

  private async freshToken(c: Coupling): Promise<string> {
    const row = await this.readRaw(encodeKey(c.mapping), BC + encodeKey(c.bcId));
    if (!row) throw new CouplingConflictError(`The coupling of ${c.mapping} BC record ${c.bcId} was removed meanwhile.`);
    return token('bc', String(row.etag));
  }

  private columns(c: Coupling): Record<string, unknown> {
    const out: Record<string, unknown> = {
      mapping: c.mapping,
      bcId: c.bcId,
      dataverseId: c.dataverseId,
      lastResult: c.lastResult ?? '',
      // Stored (not derived at query time) so list filters are plain equality on a column every row has.
      failed: c.lastResult === 'failed',
      failureCount: c.failureCount,
      skipped: c.skipped,
      environment: c.environment,
      createdAt: c.createdAt,
      tombstone: false,
    };
    const optional = [
      'bcModifiedOn',
      'dataverseModifiedOn',
      'fingerprintToDataverse',
      'fingerprintToBc',
      'dataverseWrittenEtag',
      'initialDirection',
      'lastSyncedAt',
      'openError',
    ] as const;
    for (const k of optional) if (c[k] !== undefined) out[k] = c[k];
    if (c.lastError !== undefined) out.lastError = c.lastError.slice(0, MAX_ERROR_CHARS);
    if (c.snapshot !== undefined) Object.assign(out, snapshotColumns(c.snapshot));
    return out;
  }

  private toCoupling(entity: Record<string, unknown>, side: Side): Coupling {
    const row = couplingRowSchema.parse(entity);
    const snapshot = readJsonProperty(entity, 'snapshot');
    const c: Coupling = {
      mapping: row.mapping,
      bcId: row.bcId,
      dataverseId: row.dataverseId,
      failureCount: row.failureCount,
      skipped: row.skipped,
      environment: row.environment,
      createdAt: row.createdAt,
      etag: token(side, row.etag),
    };
    if (row.bcModifiedOn !== undefined) c.bcModifiedOn = row.bcModifiedOn;
    if (row.dataverseModifiedOn !== undefined) c.dataverseModifiedOn = row.dataverseModifiedOn;
    if (row.fingerprintToDataverse !== undefined) c.fingerprintToDataverse = row.fingerprintToDataverse;
    if (row.fingerprintToBc !== undefined) c.fingerprintToBc = row.fingerprintToBc;
    if (row.dataverseWrittenEtag !== undefined) c.dataverseWrittenEtag = row.dataverseWrittenEtag;
    if (row.initialDirection !== undefined) c.initialDirection = row.initialDirection;
    if (row.lastResult) c.lastResult = row.lastResult;
    if (row.lastSyncedAt !== undefined) c.lastSyncedAt = row.lastSyncedAt;
    if (row.lastError !== undefined) c.lastError = row.lastError;
    if (row.openError !== undefined) c.openError = row.openError;
    if (snapshot !== undefined) c.snapshot = snapshotSchema.parse(snapshot);
    return c;
  }
}

/**
 * The snapshot in the smallest faithful form that fits: whole (plain or gzipped chunks); else every value
 * longer than 64 characters of JSON replaced by its SHA-256 ({@link snapshotValueEquals} still tells
 * changed from unchanged); else omitted, which makes the next sync treat every field as changed.
 */
function snapshotColumns(snapshot: SyncedSnapshot): Record<string, unknown> {
  try {
    return { snapshotForm: 'full', ...jsonProperties('snapshot', snapshot, SNAPSHOT_MAX_BYTES) };
  } catch (err) {
    if (!(err instanceof ValueTooLargeError)) throw err;
  }
  const hashSide = (values: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(values).map(([k, v]) => [k, JSON.stringify(v ?? null).length > 64 ? hashSnapshotValue(v) : v]));
  try {
    return {
      snapshotForm: 'hashed',
      ...jsonProperties('snapshot', { bc: hashSide(snapshot.bc), dataverse: hashSide(snapshot.dataverse) }, SNAPSHOT_MAX_BYTES),
    };
  } catch (err) {
    if (!(err instanceof ValueTooLargeError)) throw err;
    return { snapshotForm: 'omitted' };
  }
}

function environmentMismatch(mapping: string, bcId: string, found: string, expected: string): SyncError {
  return new SyncError(
    'COUPLE.ENVIRONMENT_MISMATCH',
    `The ${mapping} coupling of BC record ${bcId} belongs to environment "${found}", but this service runs for "${expected}". ` +
      'The couplings table was probably copied with an environment: clear or re-couple it before syncing.',
    { details: { mapping, bcId, found, expected } },
  );
}
