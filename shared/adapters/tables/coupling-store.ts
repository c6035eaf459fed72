import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
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
import { encodeKey, hasStatus, normalizeId, prefixEnd, storeCall } from './common';
import { coupleMany, couplingsIn } from './coupling-bulk';
import { BC, couplingColumns, DV, freshToken, parseToken, prepareCoupling, readCouplingRow, toCoupling, token } from './coupling-rows';

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
    const coupling = prepareCoupling(input, this.clock);
    if (coupling instanceof SyncError) throw coupling;
    const pk = encodeKey(coupling.mapping);
    const columns = couplingColumns(coupling);
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
        return { ...coupling, etag: etag ? token('bc', etag) : await freshToken(this.client, coupling) };
      } catch (err) {
        if (!hasStatus(err, 409)) throw err;
        const rawBc = await readCouplingRow(this.client, pk, BC + encodeKey(coupling.bcId));
        if (rawBc && rawBc.tombstone !== true) {
          const byBc = toCoupling(rawBc, 'bc');
          throw new CouplingConflictError(
            `Cannot couple ${coupling.mapping} BC record ${coupling.bcId} to Dataverse row ${coupling.dataverseId}, because the BC record is already coupled to ${byBc.dataverseId}.`,
            byBc,
          );
        }
        const rawDv = await readCouplingRow(this.client, pk, DV + encodeKey(coupling.dataverseId));
        if (rawDv && rawDv.tombstone !== true) {
          const byDv = toCoupling(rawDv, 'dataverse');
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
    return coupleMany({ client: this.client, clock: this.clock, couple: (input) => this.couple(input) }, inputs);
  }

  /**
   * The couplings of these ids (one side, one mapping) from range queries over their row keys, a few requests for a
   * full-sync wave; marked incomplete after `maxRows` rows in all (default 200 per id). See {@link couplingsIn}.
   */
  async couplingsIn(
    mapping: string,
    side: 'bc' | 'dataverse',
    ids: string[],
    maxRows = ids.length * 200,
  ): Promise<{ found: Map<string, Pick<Coupling, 'lastSyncedAt' | 'lastResult'>>; complete: boolean }> {
    return couplingsIn(this.client, mapping, side, ids, maxRows);
  }

  async update(
    coupling: Coupling,
    patch: Partial<Omit<Coupling, 'mapping' | 'bcId' | 'dataverseId' | 'etag' | 'createdAt'>>,
  ): Promise<Coupling> {
    const { side, etag } = parseToken(coupling.etag);
    const next: Coupling = { ...coupling, ...patch };
    const pk = encodeKey(coupling.mapping);
    const columns = couplingColumns(next);
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
      return { ...next, etag: newEtag ? token('bc', newEtag) : await freshToken(this.client, next) };
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
      const row = await readCouplingRow(this.client, pk, prefix + encodeKey(id));
      if (!row) return;
      if (row.tombstone === true) {
        await this.deleteTombstone(pk, String(row.rowKey), String(row.etag));
        return;
      }
      const coupling = toCoupling(row, prefix === BC ? 'bc' : 'dataverse');
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

  private async read(mapping: string, prefix: typeof BC | typeof DV, id: string, check = true): Promise<Coupling | undefined> {
    const row = await readCouplingRow(this.client, encodeKey(mapping), prefix + encodeKey(id));
    if (!row || row.tombstone === true) return undefined;
    const coupling = toCoupling(row, prefix === BC ? 'bc' : 'dataverse');
    if (check && this.expectedEnvironment !== undefined && coupling.environment !== this.expectedEnvironment) {
      throw environmentMismatch(coupling.mapping, coupling.bcId, coupling.environment, this.expectedEnvironment);
    }
    return coupling;
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
