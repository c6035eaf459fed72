import { z } from 'zod';
import { type ChangeEvent, newChangeEvent } from '../domain/change-event';
import { idKey, toRecordId } from '../domain/ids';
import type { BcEntityTarget } from '../domain/ports';
import type { CaptureDeps } from './deps';

/**
 * BC `collection` notifications (more than 1,000 changes in one 30 s window, api-contracts.md D.4) arrive at
 * the webhook as one item; the webhook only queues this work item on `ops-bc-collection`, and the
 * `bc-collection` function expands it here into one change event per changed record, so the webhook still
 * answers BC in milliseconds however large the burst.
 *
 * - With `$filter=lastModifiedDateTime gt <t>`: the records modified after `t`.
 * - Without a filter (BC drops it when a delete was among the changes): the whole collection is re-read; a
 *   record whose coupling already holds its current `lastModifiedDateTime` is unchanged and skipped, and
 *   every coupled BC id that is no longer listed becomes a `deleted` event. Deletions of uncoupled records
 *   need nothing: there is nothing on the Dataverse side to delete.
 */

const iso = z.iso.datetime({ offset: true });

export const collectionWorkSchema = z.object({
  v: z.literal(1),
  /** Table mappings reading this BC resource. */
  mappings: z.array(z.string().min(1).max(64)).min(1).max(20),
  group: z.string().min(1).max(200),
  entitySet: z.string().min(1).max(128),
  /** The instant of the notification's `lastModifiedDateTime gt` filter; absent = re-read everything. */
  modifiedSince: iso.optional(),
  lastModifiedDateTime: iso,
  subscriptionId: z.string().min(1).max(128),
  resource: z.string().min(1).max(4096),
  correlationId: z.string().min(1).max(128),
  observedAt: iso,
});
export type CollectionWork = z.infer<typeof collectionWorkSchema>;

export interface CollectionResult {
  mapping: string;
  /** Changed (or possibly changed) records enqueued. */
  changed: number;
  /** Coupled records gone from BC, enqueued as deletions. */
  deleted: number;
  /** Listed records whose coupling shows they were already synced in this state. */
  unchanged: number;
}

/** Events are published in slices so a failure part-way redoes little (a redo is harmless: same message ids). */
const PUBLISH_SLICE = 500;

export async function expandCollection(deps: CaptureDeps, work: CollectionWork): Promise<CollectionResult[]> {
  const mappings = await deps.mappings();
  const results: CollectionResult[] = [];
  for (const name of work.mappings) {
    const mapping = mappings.find((m) => m.name === name && m.enabled);
    if (!mapping) {
      deps.log('warn', `BC collection ${work.entitySet}: mapping ${name} no longer exists or is disabled; nothing enqueued for it`);
      continue;
    }
    if (mapping.bc.kind === 'odataPage') continue;
    const target: BcEntityTarget = { side: 'bc', kind: mapping.bc.kind, entitySet: mapping.bc.entitySet };
    const result: CollectionResult = { mapping: name, changed: 0, deleted: 0, unchanged: 0 };
    const full = work.modifiedSince === undefined;
    // For a full re-read: what each coupled BC record looked like at its last sync.
    const coupled = full ? await coupledModifiedOn(deps, name) : new Map<string, number | undefined>();
    const seen = new Set<string>();
    let pending: ChangeEvent[] = [];
    const flush = async () => {
      if (pending.length === 0) return;
      await deps.publish(pending);
      pending = [];
    };
    const event = (recordId: string, changeType: 'unknown' | 'deleted', modifiedOn?: string) =>
      newChangeEvent({
        mapping: name,
        source: 'bc',
        recordId,
        changeType,
        ...(modifiedOn ? { modifiedOn } : {}),
        origin: 'collection',
        correlationId: work.correlationId,
        observedAt: work.observedAt,
      });
    for await (const page of deps.bc.listAll(target, {
      select: ['id', 'lastModifiedDateTime'],
      ...(work.modifiedSince ? { modifiedSince: work.modifiedSince } : {}),
    })) {
      for (const rec of page) {
        const id = toRecordId(rec.id);
        if (!id) continue;
        const modified = typeof rec.lastModifiedDateTime === 'string' ? rec.lastModifiedDateTime : undefined;
        if (full) {
          seen.add(id);
          const last = coupled.get(id);
          if (last !== undefined && modified !== undefined && Date.parse(modified) === last) {
            result.unchanged++;
            continue;
          }
        }
        // Created or updated: BC's collection does not say which, and the handler reads both sides anyway.
        pending.push(event(id, 'unknown', modified && iso.safeParse(modified).success ? modified : undefined));
        result.changed++;
        if (pending.length >= PUBLISH_SLICE) await flush();
      }
    }
    if (full) {
      for (const id of coupled.keys()) {
        if (seen.has(id)) continue;
        pending.push(event(id, 'deleted'));
        result.deleted++;
        if (pending.length >= PUBLISH_SLICE) await flush();
      }
    }
    await flush();
    deps.log(
      'info',
      `BC collection ${work.entitySet} → ${name}: ${result.changed} changed, ${result.deleted} deleted, ${result.unchanged} unchanged${full ? ' (full re-read)' : ` since ${work.modifiedSince}`}`,
    );
    results.push(result);
  }
  return results;
}

/** Coupled BC ids of a mapping with the BC modified-on of their last sync (undefined when unknown). */
async function coupledModifiedOn(deps: CaptureDeps, mapping: string): Promise<Map<string, number | undefined>> {
  const out = new Map<string, number | undefined>();
  let continuation: string | undefined;
  do {
    const page = await deps.couplings.list(mapping, { pageSize: 1000, ...(continuation ? { continuation } : {}) });
    for (const c of page.items) {
      const t = c.bcModifiedOn ? Date.parse(c.bcModifiedOn) : Number.NaN;
      out.set(idKey(c.bcId), Number.isNaN(t) ? undefined : t);
    }
    continuation = page.continuation;
  } while (continuation);
  return out;
}
