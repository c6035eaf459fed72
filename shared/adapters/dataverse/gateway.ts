import type { DataverseEntityTarget, ListOptions, Page, RecordGateway, VersionedRecord } from '../../domain/ports';
import { SyncError } from '../../errors';
import type { ODataEntity } from '../http/schemas';
import { odataDateTime } from '../odata';
import type { DataverseClient } from './client';

const MODIFIED_BY = '_modifiedby_value';

/** Turns a Dataverse row into the engine's record (`modifiedBy` from `_modifiedby_value`). */
export function dataverseRecord(target: DataverseEntityTarget, row: ODataEntity): VersionedRecord {
  const id = row[target.primaryKey];
  const etag = row['@odata.etag'];
  if (typeof id !== 'string')
    throw new SyncError('DV.UNAVAILABLE', `Dataverse ${target.entitySet} returned a row without '${target.primaryKey}'`);
  if (typeof etag !== 'string') throw new SyncError('DV.UNAVAILABLE', `Dataverse ${target.entitySet}(${id}) returned no @odata.etag`);
  const values: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) if (!k.startsWith('@odata.')) values[k] = v;
  const modifiedBy = row[MODIFIED_BY];
  return {
    id,
    etag,
    modifiedOn: typeof row.modifiedon === 'string' ? row.modifiedon : '',
    ...(typeof modifiedBy === 'string' ? { modifiedBy } : {}),
    values,
  };
}

export interface DataverseChanges {
  changed: VersionedRecord[];
  deleted: string[];
  deltaLink?: string;
}

/** `RecordGateway` over the Dataverse Web API, plus change tracking. */
export class DataverseGateway implements RecordGateway<DataverseEntityTarget> {
  readonly side = 'dataverse' as const;

  constructor(readonly client: DataverseClient) {}

  async get(target: DataverseEntityTarget, id: string, select?: string[]): Promise<VersionedRecord | undefined> {
    const row = await this.client.retrieve(target.entitySet, id, { select: this.select(target, select) });
    return row && dataverseRecord(target, row);
  }

  async listPage(target: DataverseEntityTarget, options: ListOptions = {}): Promise<Page<VersionedRecord>> {
    const page = await this.client.listPage(target.entitySet, this.query(target, options));
    return { items: page.value.map((r) => dataverseRecord(target, r)), continuation: page.nextLink };
  }

  async *list(target: DataverseEntityTarget, options: ListOptions = {}): AsyncIterable<VersionedRecord[]> {
    for await (const page of this.client.listAll(target.entitySet, this.query(target, options)))
      yield page.map((r) => dataverseRecord(target, r));
  }

  /**
   * With `id`: a create-only upsert (`PATCH <set>(<id>)` + `If-None-Match: *`), so a retried create can never
   * produce a second row — an existing row answers 412 (`DV.CONCURRENCY`, details.status 412).
   */
  async create(target: DataverseEntityTarget, values: Record<string, unknown>, options: { id?: string } = {}): Promise<VersionedRecord> {
    if (options.id) {
      const { entity } = await this.client.upsert(target.entitySet, options.id, values, 'createOnly');
      return dataverseRecord(target, entity);
    }
    return dataverseRecord(target, await this.client.create(target.entitySet, values));
  }

  /**
   * Creates rows under client-chosen ids with one `CreateMultiple` (all or nothing on a standard table: a bad row
   * fails the request with its own error and writes nothing). The response names ids only, so the records returned
   * carry the values sent, no ETag, and `modifiedOn` taken just before the request — never later than the
   * `modifiedon` Dataverse stamps while processing it, so a later change is never mistaken for this write.
   */
  async createMany(
    target: DataverseEntityTarget,
    rows: Array<{ id: string; values: Record<string, unknown> }>,
  ): Promise<VersionedRecord[]> {
    const before = new Date(Math.floor(Date.now() / 1000) * 1000 - 1000).toISOString();
    const { ids } = await this.client.bulk(
      'CreateMultiple',
      target.entitySet,
      target.logicalName,
      rows.map((r) => ({ ...r.values, [target.primaryKey]: r.id })),
    );
    return rows.map((r, i) => ({
      id: String(ids[i] ?? r.id).toLowerCase(),
      etag: '',
      modifiedOn: before,
      values: { ...r.values, [target.primaryKey]: r.id },
    }));
  }

  async update(target: DataverseEntityTarget, id: string, values: Record<string, unknown>, etag: string): Promise<VersionedRecord> {
    return dataverseRecord(target, await this.client.update(target.entitySet, id, values, etag));
  }

  async delete(target: DataverseEntityTarget, id: string, etag?: string): Promise<void> {
    await this.client.delete(target.entitySet, id, etag);
  }

  async action(name: string, body: Record<string, unknown>): Promise<void> {
    await this.client.action(name, body);
  }

  /** Changes since `deltaLink` (all rows when absent), page by page; keep the last page's `deltaLink`. */
  async *changes(target: DataverseEntityTarget, options: { deltaLink?: string; select?: string[] } = {}): AsyncIterable<DataverseChanges> {
    for await (const page of this.client.changes(target.entitySet, {
      deltaLink: options.deltaLink,
      select: this.select(target, options.select),
      primaryKey: target.primaryKey,
    })) {
      yield {
        changed: page.changed.map((r) => dataverseRecord(target, r)),
        deleted: page.deleted,
        ...(page.deltaLink ? { deltaLink: page.deltaLink } : {}),
      };
    }
  }

  private select(target: DataverseEntityTarget, select?: string[]): string[] | undefined {
    if (!select?.length) return undefined;
    return [...new Set([...select, target.primaryKey, 'modifiedon', MODIFIED_BY])];
  }

  private query(target: DataverseEntityTarget, options: ListOptions) {
    const filters: string[] = [];
    if (options.filter) filters.push(`(${options.filter})`);
    if (options.modifiedSince) filters.push(`modifiedon gt ${odataDateTime(options.modifiedSince)}`);
    return {
      select: this.select(target, options.select),
      ...(filters.length ? { filter: filters.join(' and ') } : {}),
      ...(options.pageSize ? { pageSize: options.pageSize } : {}),
      ...(options.continuation ? { continuation: options.continuation } : {}),
    };
  }
}
