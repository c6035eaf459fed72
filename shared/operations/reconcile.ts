import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { DEFAULT_POLL_OVERLAP_MS } from '../capture/poll-bc';
import { type ChangeEvent, newChangeEvent } from '../domain/change-event';
import type { TableMapping } from '../domain/mappings/schema';
import { bcTarget, dataverseTarget } from '../domain/mappings/targets';
import type { DataverseEntityTarget, VersionedRecord } from '../domain/ports';
import type { SyncDeps } from '../domain/sync/types';
import { toSyncError } from '../errors';
import { isStateConflict, type StatePort } from './ports';

/**
 * Reconciliation, the safety net for dropped notifications, `collection` notifications, expired subscriptions
 * and tables without webhooks: per mapping, what changed since its watermark is published as change events
 * (origin `reconcile`) for the mapping's queue. The engine reads current state and drops what is already in
 * sync, so re-publishing a change a webhook already brought costs one comparison.
 *
 * - BC: `lastModifiedDateTime gt <watermark - overlap>`; the watermark advances to the newest modification seen,
 *   but never past the run's start, so changes made during the run are read again next time (BC's rule, 4.2).
 *   The overlap (as `pollBc`'s) re-reads a row committed late with an earlier timestamp, and a Dataverse row
 *   modified later within the watermark's own second (`modifiedon` has whole seconds).
 * - Dataverse: change tracking (delta link) when the gateway offers it, including deletions; `modifiedon`
 *   otherwise, with the same overlap.
 * - Each event carries the row's ETag as its version, so its message id differs from every other state of the
 *   row (a new edit is never dropped as a duplicate) while a row re-read inside the overlap, unchanged, is the
 *   same message and Service Bus drops the repeat within its window; past the window the engine finds it in
 *   sync. A row read without an ETag gets a nonce instead.
 * - A mapping's first run only records the watermark: the initial state is the full sync's job.
 */

/**
 * `since`: the watermark. `floor`: when the mapping's reconciliation began; the overlap never reads before it,
 * because what was there then is the initial state, which is the full sync's job (absent in older watermarks).
 */
const bcWatermarkSchema = z.object({ since: z.string(), floor: z.string().optional() });
const dvWatermarkSchema = z.object({ since: z.string().optional(), floor: z.string().optional(), deltaLink: z.string().optional() });

/** Dataverse change tracking, as `DataverseGateway.changes` offers it. */
interface ChangeTracking {
  changes(
    target: DataverseEntityTarget,
    options?: { deltaLink?: string; select?: string[] },
  ): AsyncIterable<{ changed: VersionedRecord[]; deleted: string[]; deltaLink?: string }>;
}

function hasChangeTracking(g: unknown): g is ChangeTracking {
  return typeof (g as { changes?: unknown }).changes === 'function';
}

export interface ReconcileResult {
  mapping: string;
  bcPublished: number;
  dataversePublished: number;
  initialized: boolean;
  error?: string;
}

export interface ReconcileOptions {
  /** Only these mappings. Default every enabled top-level record mapping. */
  mappings?: string[];
  /** Events per publish call. Default 500. */
  batchSize?: number;
  /** How far before the watermark each `modifiedSince` read starts, in ms. Default `DEFAULT_POLL_OVERLAP_MS` (5 s, as `pollBc`). */
  overlapMs?: number;
}

export async function reconcile(deps: { sync: SyncDeps; state: StatePort }, options: ReconcileOptions = {}): Promise<ReconcileResult[]> {
  const all = await deps.sync.mappings.all();
  const chosen = all.filter(
    (m) => m.enabled && m.parent === undefined && !m.dataverse.optionSetColumn && (!options.mappings || options.mappings.includes(m.name)),
  );
  const out: ReconcileResult[] = [];
  for (const m of chosen) {
    try {
      out.push(await reconcileMapping(deps, m, options));
    } catch (err) {
      // One mapping's outage must not stop the others; the next run retries from the same watermark.
      out.push({ mapping: m.name, bcPublished: 0, dataversePublished: 0, initialized: false, error: toSyncError(err).message });
    }
  }
  return out;
}

async function reconcileMapping(
  deps: { sync: SyncDeps; state: StatePort },
  m: TableMapping,
  options: ReconcileOptions,
): Promise<ReconcileResult> {
  const runStart = deps.sync.clock.now();
  const result: ReconcileResult = { mapping: m.name, bcPublished: 0, dataversePublished: 0, initialized: false };
  const batch = options.batchSize ?? 500;
  const publish = async (events: ChangeEvent[]) => {
    for (let i = 0; i < events.length; i += batch) await deps.sync.publisher.publish(events.slice(i, i + batch));
  };
  const overlapMs = options.overlapMs ?? DEFAULT_POLL_OVERLAP_MS;
  const readFrom = (since: string, floor: string | undefined) => {
    const from = Date.parse(since) - overlapMs;
    return new Date(floor === undefined ? from : Math.max(from, Date.parse(floor))).toISOString();
  };
  const start = runStart.toISOString();
  const event = (
    source: 'bc' | 'dataverse',
    r: { id: string; modifiedOn?: string; etag?: string },
    changeType: ChangeEvent['changeType'],
  ): ChangeEvent =>
    newChangeEvent({
      mapping: m.name,
      source,
      recordId: r.id,
      changeType,
      ...(r.modifiedOn && !Number.isNaN(Date.parse(r.modifiedOn)) ? { modifiedOn: new Date(r.modifiedOn).toISOString() } : {}),
      ...(r.etag ? { rowVersion: r.etag } : { nonce: randomUUID() }),
      origin: 'reconcile',
      correlationId: `reconcile-${m.name}-${runStart.getTime().toString(36)}`,
      observedAt: runStart,
    });

  if (m.direction !== 'FromIntegrationTable') {
    const key = `reconcile/${m.name}/bc`;
    const wm = await deps.state.get(key, bcWatermarkSchema);
    if (!wm) {
      await putIfUnchanged(deps.state, key, { since: start, floor: start }, undefined);
      result.initialized = true;
    } else {
      let newest = wm.value.since;
      for await (const page of deps.sync.bc.list(bcTarget(m), {
        modifiedSince: readFrom(wm.value.since, wm.value.floor),
        select: ['id', 'lastModifiedDateTime'],
      })) {
        await publish(page.map((r) => event('bc', r, 'updated')));
        result.bcPublished += page.length;
        for (const r of page) if (r.modifiedOn && Date.parse(r.modifiedOn) > Date.parse(newest)) newest = r.modifiedOn;
      }
      const capped = earliest(newest, runStart.toISOString());
      await putIfUnchanged(deps.state, key, { since: capped, ...(wm.value.floor ? { floor: wm.value.floor } : {}) }, wm.etag);
    }
  }

  if (m.direction !== 'ToIntegrationTable') {
    const key = `reconcile/${m.name}/dataverse`;
    const wm = await deps.state.get(key, dvWatermarkSchema);
    const target = dataverseTarget(m);
    const gw = deps.sync.dataverse;
    if (hasChangeTracking(gw) && (!wm || wm.value.deltaLink)) {
      let deltaLink: string | undefined;
      try {
        for await (const page of gw.changes(target, {
          ...(wm?.value.deltaLink ? { deltaLink: wm.value.deltaLink } : {}),
          select: [target.primaryKey],
        })) {
          if (wm) {
            await publish([
              ...page.changed.map((r) => event('dataverse', r, 'updated')),
              ...page.deleted.map((id) => event('dataverse', { id }, 'deleted')),
            ]);
            result.dataversePublished += page.changed.length + page.deleted.length;
          }
          if (page.deltaLink) deltaLink = page.deltaLink;
        }
      } catch (err) {
        const e = toSyncError(err);
        if (e.transient) throw e;
        // Change tracking is not enabled for this table (or the link expired): fall back to modifiedon.
        deltaLink = undefined;
      }
      if (deltaLink) {
        await putIfUnchanged(deps.state, key, { deltaLink }, wm?.etag);
        if (!wm) result.initialized = true;
        return result;
      }
    }
    if (!wm?.value.since) {
      await putIfUnchanged(deps.state, key, { since: start, floor: start }, wm?.etag);
      result.initialized = true;
    } else {
      let newest = wm.value.since;
      for await (const page of gw.list(target, { modifiedSince: readFrom(wm.value.since, wm.value.floor), select: [target.primaryKey] })) {
        await publish(page.map((r) => event('dataverse', r, 'updated')));
        result.dataversePublished += page.length;
        for (const r of page) if (r.modifiedOn && Date.parse(r.modifiedOn) > Date.parse(newest)) newest = r.modifiedOn;
      }
      const capped = earliest(newest, runStart.toISOString());
      await putIfUnchanged(deps.state, key, { since: capped, ...(wm.value.floor ? { floor: wm.value.floor } : {}) }, wm.etag);
    }
  }
  return result;
}

/** A second reconciler running at the same time (two instances) loses quietly; the winner's watermark stands. */
async function putIfUnchanged(state: StatePort, key: string, value: unknown, etag: string | undefined): Promise<void> {
  try {
    await state.put(key, value, etag ? { etag } : { ifNotExists: true });
  } catch (err) {
    if (!isStateConflict(err)) throw err;
  }
}

/** The earlier of two instants; compared as times, since BC and Dataverse format them differently. */
function earliest(a: string, b: string): string {
  return Date.parse(a) <= Date.parse(b) ? a : b;
}
