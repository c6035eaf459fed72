import { odata, type TableClient } from '@azure/data-tables';
import {
  type Clock,
  type Coupling,
  CouplingConflictError,
  type CouplingStore,
  type NewCoupling,
  type Page,
  systemClock,
} from '../../domain/ports';
import { SyncError } from '../../errors';
import { hasStatus, normalizeId, prefixEnd, storeCall } from './common';
import { coupleMany, couplingsIn } from './coupling-bulk';
import { migrateLegacyCouplings } from './coupling-migration';
import { coupleOne, deleteIf, judgeBcRow, resolveDvRow, uncoupleBc } from './coupling-protocol';
import {
  BC,
  bcKey,
  couplingColumns,
  dvKey,
  freshToken,
  parseToken,
  partitionRange,
  prepareCoupling,
  readCouplingRow,
  toCoupling,
  token,
} from './coupling-rows';

/**
 * BC's table 5331 "CRM Integration Record" in Table Storage.
 *
 * Layout (table `<prefix>Couplings`): every coupling is two rows. `bc_<BC SystemId>` in partition
 * `<mapping>|bc|<bucket>` holds the whole coupling; `dv_<Dataverse id>` in partition `<mapping>|dv|<bucket>` only
 * names the BC record. The bucket is the first hex character of the SHA-256 of the row's own id, so a mapping's
 * rows are spread over 16 partitions per side (see `BUCKET_CHARS`). A lookup by BC id is one point read; by
 * Dataverse id, two.
 *
 * The two rows are in different partitions, so no transaction holds both: couple and uncouple follow the two-step
 * protocol in `coupling-protocol.ts`, whose reading rule makes a crash between the steps leave no half-coupling
 * that counts, blocks for longer than a minute, or duplicates. `create` on each row is still what stops two
 * workers coupling the same BC record or Dataverse row (409). Updates change the BC row alone, so its ETag is the
 * pair's concurrency token.
 *
 * Tables written by the old layout (one partition per mapping, both rows whole, tombstones) are migrated on the
 * first use of each mapping, see `coupling-migration.ts`.
 */

/**
 * The identity a coupling belongs to: BC tenant/environment/company and the Dataverse organization. A copied
 * environment (sandbox from production) keeps the couplings table but not this identity.
 */
export function environmentIdentity(env: { bcTenantId: string; bcEnvironment: string; bcCompanyId: string; dataverseUrl: string }): string {
  const org = new URL(env.dataverseUrl).host;
  return `bc:${env.bcTenantId}/${env.bcEnvironment}/${env.bcCompanyId}|dv:${org}`.toLowerCase();
}

export interface TableCouplingStoreOptions {
  clock?: Clock;
  /**
   * When set, every coupling read is checked against this environment identity and a mismatch throws
   * `COUPLE.ENVIRONMENT_MISMATCH` instead of letting a copied environment write into the wrong records.
   * Default: no check.
   */
  expectedEnvironment?: string;
}

export class TableCouplingStore implements CouplingStore {
  readonly clock: Clock;
  private readonly expectedEnvironment: string | undefined;
  private readonly migrations = new Map<string, Promise<void>>();

  constructor(
    readonly client: TableClient,
    options: TableCouplingStoreOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.expectedEnvironment = options.expectedEnvironment;
  }

  async getByBcId(mapping: string, bcId: string): Promise<Coupling | undefined> {
    return this.readBc(mapping, normalizeId(bcId));
  }

  async getByDataverseId(mapping: string, dataverseId: string): Promise<Coupling | undefined> {
    await this.ready(mapping);
    const key = dvKey({ mapping, dataverseId: normalizeId(dataverseId) });
    const bc = await resolveDvRow(this, await readCouplingRow(this.client, key.partitionKey, key.rowKey));
    return bc ? this.checked(toCoupling(bc, 'bc')) : undefined;
  }

  async couple(input: NewCoupling): Promise<Coupling> {
    const coupling = prepareCoupling(input, this.clock);
    if (coupling instanceof SyncError) throw coupling;
    await this.ready(coupling.mapping);
    return coupleOne(this, coupling);
  }

  /**
   * Couples many pairs with each protocol step done in entity-group transactions per partition (100 rows each); a
   * transaction that meets an existing row (409) is redone one pair at a time, so each conflict is reported for its
   * own pair. Results in input order.
   */
  async coupleMany(inputs: NewCoupling[]): Promise<Array<Coupling | Error>> {
    for (const m of new Set(inputs.map((i) => i.mapping))) if (typeof m === 'string') await this.ready(m);
    return coupleMany({ client: this.client, clock: this.clock, couple: (input) => this.couple(input) }, inputs);
  }

  /**
   * The couplings of these ids (one side, one mapping) from range queries over their row keys, a few requests per
   * partition for a full-sync wave; marked incomplete after `maxRows` rows in all (default 200 per id). See {@link couplingsIn}.
   */
  async couplingsIn(
    mapping: string,
    side: 'bc' | 'dataverse',
    ids: string[],
    maxRows = ids.length * 200,
  ): Promise<{ found: Map<string, Pick<Coupling, 'lastSyncedAt' | 'lastResult'>>; complete: boolean }> {
    await this.ready(mapping);
    return couplingsIn(this.client, mapping, side, ids, maxRows);
  }

  /** The BC row holds the coupling, so the update is one conditional write; the Dataverse row never changes. */
  async update(
    coupling: Coupling,
    patch: Partial<Omit<Coupling, 'mapping' | 'bcId' | 'dataverseId' | 'etag' | 'createdAt'>>,
  ): Promise<Coupling> {
    const { side, etag } = parseToken(coupling.etag);
    const next: Coupling = { ...coupling, ...patch };
    await this.ready(coupling.mapping);
    try {
      // A Dataverse-row token is from the old layout and cannot guard the BC row: it is stale by definition.
      if (side !== 'bc') throw Object.assign(new Error('stale token'), { statusCode: 412 });
      const res = await storeCall('updating a coupling', () =>
        this.client.updateEntity({ ...bcKey(next), ...couplingColumns(next) }, 'Replace', { etag }),
      );
      return { ...next, etag: res.etag ? token('bc', res.etag) : await freshToken(this.client, next) };
    } catch (err) {
      if (!hasStatus(err, 412, 404)) throw err;
      const current = await this.readBc(coupling.mapping, coupling.bcId, false);
      throw new CouplingConflictError(
        current
          ? `The coupling of ${coupling.mapping} BC record ${coupling.bcId} changed meanwhile; re-read it and retry.`
          : `The coupling of ${coupling.mapping} BC record ${coupling.bcId} was removed meanwhile.`,
        current,
      );
    }
  }

  async uncouple(mapping: string, bcId: string): Promise<void> {
    await this.ready(mapping);
    await uncoupleBc(this, mapping, normalizeId(bcId));
  }

  /** Removes the coupling of a Dataverse row (e.g. after the row was deleted); no coupling is not an error. */
  async uncoupleByDataverseId(mapping: string, dataverseId: string): Promise<void> {
    await this.ready(mapping);
    const key = dvKey({ mapping, dataverseId: normalizeId(dataverseId) });
    const bc = await resolveDvRow(this, await readCouplingRow(this.client, key.partitionKey, key.rowKey));
    if (bc) await uncoupleBc(this, mapping, String(bc.bcId), String(bc.dataverseId));
  }

  async list(
    mapping: string,
    options: { pageSize?: number; continuation?: string; filter?: { skipped?: boolean; failed?: boolean } } = {},
  ): Promise<Page<Coupling>> {
    await this.ready(mapping);
    const pageSize = Math.min(Math.max(options.pageSize ?? 1000, 1), 1000);
    let filter = liveBcRows(mapping);
    if (options.filter?.skipped !== undefined) filter += odata` and skipped eq ${options.filter.skipped}`;
    if (options.filter?.failed !== undefined) filter += odata` and failed eq ${options.filter.failed}`;
    return storeCall('listing couplings', async () => {
      const pages = this.client
        .listEntities<Record<string, unknown>>({ queryOptions: { filter } })
        .byPage({ maxPageSize: pageSize, continuationToken: options.continuation });
      // Filtered queries may return empty pages that still carry a continuation; skip those.
      for await (const page of pages) {
        if (page.length > 0 || !page.continuationToken) {
          return { items: page.map((e) => toCoupling(e, 'bc')), continuation: page.continuationToken };
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
    await this.ready(mapping);
    const filter = liveBcRows(mapping);
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
    // Old-layout rows (see migrateLegacyCouplings) have no `pending` column, so live rows are told apart in code.
    let filter = odata`RowKey ge ${BC} and RowKey lt ${prefixEnd(BC)} and environment ne ${expected}`;
    if (options.mapping !== undefined) filter = odata`mapping eq ${options.mapping} and ` + filter;
    const found = await storeCall('checking the coupling environment', async () => {
      for await (const row of this.client.listEntities<Record<string, unknown>>({
        queryOptions: { filter, select: ['mapping', 'bcId', 'environment', 'tombstone', 'pending'] },
      })) {
        if (row.tombstone !== true && row.pending !== true) return row;
      }
      return undefined;
    });
    if (found) {
      throw environmentMismatch(String(found.mapping), String(found.bcId), String(found.environment), expected);
    }
  }

  /** Moves a mapping's old single-partition rows to the bucketed layout once per store (see {@link migrateLegacyCouplings}). */
  private ready(mapping: string): Promise<void> {
    let done = this.migrations.get(mapping);
    if (!done) {
      done = migrateLegacyCouplings(this, mapping).catch((err: unknown) => {
        this.migrations.delete(mapping);
        throw err;
      });
      this.migrations.set(mapping, done);
    }
    return done;
  }

  private async readBc(mapping: string, bcId: string, check = true): Promise<Coupling | undefined> {
    await this.ready(mapping);
    const key = bcKey({ mapping, bcId });
    const state = await judgeBcRow(this, await readCouplingRow(this.client, key.partitionKey, key.rowKey));
    if (state.kind === 'garbage') await deleteIf(this.client, key.partitionKey, key.rowKey, String(state.row.etag));
    if (state.kind !== 'coupled') return undefined;
    const coupling = toCoupling(state.row, 'bc');
    return check ? this.checked(coupling) : coupling;
  }

  private checked(coupling: Coupling): Coupling {
    if (this.expectedEnvironment !== undefined && coupling.environment !== this.expectedEnvironment) {
      throw environmentMismatch(coupling.mapping, coupling.bcId, coupling.environment, this.expectedEnvironment);
    }
    return coupling;
  }
}

/** Live BC rows of one mapping across its bucket partitions. */
function liveBcRows(mapping: string): string {
  const { from, to } = partitionRange(mapping, BC);
  return odata`PartitionKey ge ${from} and PartitionKey lt ${to} and mapping eq ${mapping} and pending eq false`;
}

function environmentMismatch(mapping: string, bcId: string, found: string, expected: string): SyncError {
  return new SyncError(
    'COUPLE.ENVIRONMENT_MISMATCH',
    `The ${mapping} coupling of BC record ${bcId} belongs to environment "${found}", but this service runs for "${expected}". ` +
      'The couplings table was probably copied with an environment: clear or re-couple it before syncing.',
    { details: { mapping, bcId, found, expected } },
  );
}
