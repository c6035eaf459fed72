import type { BcEntityTarget, ListOptions, Page, RecordGateway, VersionedRecord } from '../../domain/ports';
import { SyncError } from '../../errors';
import type { ODataEntity } from '../http/schemas';
import type { BcClient } from './client';

/** Turns a BC entity into the engine's record: key, ETag, modification time and the plain values. */
export function bcRecord(target: BcEntityTarget, entity: ODataEntity, modifiedField = 'lastModifiedDateTime'): VersionedRecord {
  const key = target.key ?? 'id';
  const id = entity[key];
  const etag = entity['@odata.etag'];
  if (typeof id !== 'string' && typeof id !== 'number') {
    throw new SyncError('BC.UNAVAILABLE', `Business Central ${target.entitySet} returned a record without its key '${key}'`);
  }
  if (typeof etag !== 'string')
    throw new SyncError('BC.UNAVAILABLE', `Business Central ${target.entitySet}(${id}) returned no @odata.etag`);
  const modified = entity[modifiedField] ?? entity.lastModifiedDateTime ?? entity.systemModifiedAt;
  const values: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(entity)) if (!k.startsWith('@odata.')) values[k] = v;
  return { id: String(id), etag, modifiedOn: typeof modified === 'string' ? modified : '', values };
}

/** `RecordGateway` over Business Central (API v2.0, custom API pages, OData v4 pages). */
export class BcGateway implements RecordGateway<BcEntityTarget> {
  readonly side = 'bc' as const;

  constructor(readonly client: BcClient) {}

  async get(target: BcEntityTarget, id: string, select?: string[]): Promise<VersionedRecord | undefined> {
    const entity = await this.client.getRecord(target, id, { select });
    return entity && this.record(target, entity);
  }

  async listPage(target: BcEntityTarget, options: ListOptions = {}): Promise<Page<VersionedRecord>> {
    const page = await this.client.listPage(target, options);
    return { items: page.value.map((e) => this.record(target, e)), continuation: page.nextLink };
  }

  async *list(target: BcEntityTarget, options: ListOptions = {}): AsyncIterable<VersionedRecord[]> {
    for await (const page of this.client.listAll(target, options)) yield page.map((e) => this.record(target, e));
  }

  /** A requested `id` is sent as the `id` field, which only pages with an editable `id` accept (see RecordGateway.create). */
  async create(target: BcEntityTarget, values: Record<string, unknown>, options: { id?: string } = {}): Promise<VersionedRecord> {
    const body = options.id ? { ...values, [target.key ?? 'id']: options.id } : values;
    return this.record(target, await this.client.create(target, body));
  }

  /**
   * Creates records with JSON `$batch` (100 operations per request, api-contracts.md C.4), each on its own: the
   * result per record is the created record or its own error, in request order. OData v4 pages are not batched.
   */
  async createMany(target: BcEntityTarget, rows: Array<Record<string, unknown>>): Promise<Array<VersionedRecord | SyncError>> {
    if (target.kind === 'odataPage') throw new SyncError('CONFIG.INVALID', 'OData v4 pages are written one record at a time');
    const results = await this.client.batch(
      rows.map((body) => ({ method: 'POST' as const, url: target.entitySet, body })),
      { kind: target.kind },
    );
    return results.map((r) => {
      if (r.error) return r.error;
      return this.record(target, r.body as ODataEntity);
    });
  }

  async update(target: BcEntityTarget, id: string, values: Record<string, unknown>, etag: string): Promise<VersionedRecord> {
    return this.record(target, await this.client.update(target, id, values, etag));
  }

  async delete(target: BcEntityTarget, id: string, etag?: string): Promise<void> {
    await this.client.delete(target, id, etag);
  }

  private record(target: BcEntityTarget, entity: ODataEntity): VersionedRecord {
    return bcRecord(target, entity, this.client.modifiedField(target));
  }
}
