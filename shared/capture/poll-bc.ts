import { z } from 'zod';
import { odataDateTime } from '../adapters/odata';
import { CheckpointConflictError } from '../adapters/tables/checkpoint-store';
import { type ChangeEvent, newChangeEvent } from '../domain/change-event';
import { idKey, toRecordId } from '../domain/ids';
import type { TableMapping } from '../domain/mappings/schema';
import type { BcEntityTarget } from '../domain/ports';
import { toSyncError } from '../errors';
import { bcGroupOf } from './bc-resource';
import type { CaptureDeps } from './deps';
import { customApiGroup } from './mapping-lookup';
import { extensionPageMissing, subscriptionStates } from './subscriptions';

/**
 * Polling for BC tables without a webhook (api-contracts.md D.3: `contacts` and `salespeoplePurchasers` are not
 * in the documented list), and for webhook tables whose subscription is not active (unsupported, failed, limit
 * reached), so a missing subscription delays changes instead of losing them.
 *
 * Each mapping keeps a watermark (`bc-poll/<mapping>`): the newest `lastModifiedDateTime` seen. The next poll
 * reads from `watermark - overlap`, so a transaction committed late with an earlier timestamp is still seen, and
 * skips the (id, lastModifiedDateTime) pairs it already enqueued inside that overlap. Deletions are not visible
 * to a `lastModifiedDateTime` query; the reconciliation sweep finds them.
 */

export const POLL_KEY_PREFIX = 'bc-poll/';
/** How far before the watermark each poll re-reads. Default 5 s. */
export const DEFAULT_POLL_OVERLAP_MS = 5_000;

const pollStateSchema = z.object({
  watermark: z.string(),
  /** id → lastModifiedDateTime of records enqueued within the overlap before the watermark. */
  recent: z.record(z.string(), z.string()).default({}),
});
type PollState = z.infer<typeof pollStateSchema>;

export interface PollResult {
  mapping: string;
  enqueued: number;
  /** First run: the watermark was set to the newest record, nothing enqueued (full sync covers the past). */
  initialized?: boolean;
  reason: 'polling' | 'no active subscription';
  /** This mapping's poll failed (the others still ran); its watermark did not move, so the next poll repeats it. */
  error?: string;
}

/** Mappings the poller reads: BC capture by polling, or by webhook without an active subscription. */
export async function mappingsToPoll(deps: CaptureDeps): Promise<Array<{ mapping: TableMapping; reason: PollResult['reason'] }>> {
  const states = await subscriptionStates(deps.checkpoints);
  const customGroup = customApiGroup(deps.bc);
  const out: Array<{ mapping: TableMapping; reason: PollResult['reason'] }> = [];
  for (const m of await deps.mappings()) {
    if (!m.enabled || m.bc.kind === 'odataPage') continue;
    const state = states.get(`${bcGroupOf(m.bc.kind, customGroup)}/${m.bc.entitySet}`.toLowerCase());
    // A page the environment does not publish (BC extension missing) is reported by its subscription state; polling
    // it would only repeat the 404.
    if (state?.status === 'missing') continue;
    if (m.changeCapture.bc === 'polling') out.push({ mapping: m, reason: 'polling' });
    else if (state && state.status !== 'active') out.push({ mapping: m, reason: 'no active subscription' });
  }
  return out;
}

export async function pollBc(deps: CaptureDeps, options: { overlapMs?: number } = {}): Promise<PollResult[]> {
  const overlapMs = options.overlapMs ?? DEFAULT_POLL_OVERLAP_MS;
  const results: PollResult[] = [];
  for (const { mapping, reason } of await mappingsToPoll(deps)) {
    // One mapping's failure (a 404 page, a timeout) must not stop the others' polls.
    try {
      results.push(await pollOne(deps, mapping, reason, overlapMs));
    } catch (err) {
      const e = toSyncError(err);
      const error =
        e.code === 'BC.NOT_FOUND' && mapping.bc.kind === 'customApi'
          ? extensionPageMissing(customApiGroup(deps.bc), mapping.bc.entitySet, [mapping.name])
          : e.message;
      deps.log('error', `poll ${mapping.name}: ${error}`);
      results.push({ mapping: mapping.name, enqueued: 0, reason, error: error.slice(0, 500) });
    }
  }
  return results;
}

async function pollOne(deps: CaptureDeps, mapping: TableMapping, reason: PollResult['reason'], overlapMs: number): Promise<PollResult> {
  const target: BcEntityTarget = { side: 'bc', kind: mapping.bc.kind, entitySet: mapping.bc.entitySet };
  const key = `${POLL_KEY_PREFIX}${mapping.name}`;
  const saved = await deps.checkpoints.get(key, pollStateSchema);
  if (!saved) {
    const newest = await deps.bc.listPage(target, {
      orderby: 'lastModifiedDateTime desc',
      pageSize: 1,
      select: ['id', 'lastModifiedDateTime'],
    });
    const t = newest.value[0]?.lastModifiedDateTime;
    const watermark = typeof t === 'string' ? t : new Date(0).toISOString();
    // What the next poll's overlap will re-read is the past too: remember it as already seen.
    const recent: Record<string, string> = {};
    if (typeof t === 'string')
      for await (const page of deps.bc.listAll(target, {
        filter: `lastModifiedDateTime ge ${odataDateTime(new Date(Date.parse(t) - overlapMs).toISOString())}`,
        select: ['id', 'lastModifiedDateTime'],
      }))
        for (const rec of page)
          if (typeof rec.id === 'string' && typeof rec.lastModifiedDateTime === 'string') recent[idKey(rec.id)] = rec.lastModifiedDateTime;
    await put(deps, key, { watermark, recent }, undefined);
    return { mapping: mapping.name, enqueued: 0, initialized: true, reason };
  }
  const state = saved.value;
  const from = new Date(Date.parse(state.watermark) - overlapMs).toISOString();
  const events: ChangeEvent[] = [];
  let watermark = Date.parse(state.watermark);
  const seen: Record<string, string> = { ...state.recent };
  const observedAt = deps.clock.now().toISOString();
  for await (const page of deps.bc.listAll(target, {
    filter: `lastModifiedDateTime ge ${odataDateTime(from)}`,
    select: ['id', 'lastModifiedDateTime'],
  })) {
    for (const rec of page) {
      const id = toRecordId(rec.id);
      const modified = typeof rec.lastModifiedDateTime === 'string' ? rec.lastModifiedDateTime : '';
      if (!id || Number.isNaN(Date.parse(modified))) continue;
      if (seen[id] !== undefined && Date.parse(seen[id]) === Date.parse(modified)) continue;
      seen[id] = modified;
      watermark = Math.max(watermark, Date.parse(modified));
      events.push(
        newChangeEvent({
          mapping: mapping.name,
          source: 'bc',
          recordId: id,
          changeType: 'unknown',
          modifiedOn: new Date(Date.parse(modified)).toISOString(),
          origin: 'poll',
          correlationId: `poll-${mapping.name.replace(/[^A-Za-z0-9]+/g, '-')}-${observedAt}`,
          observedAt,
        }),
      );
    }
  }
  // Publish before moving the watermark: a failure here repeats the poll, never skips it.
  for (let i = 0; i < events.length; i += 500) await deps.publish(events.slice(i, i + 500));
  const recent = Object.fromEntries(Object.entries(seen).filter(([, t]) => Date.parse(t) > watermark - overlapMs));
  await put(deps, key, { watermark: new Date(watermark).toISOString(), recent }, saved.etag);
  return { mapping: mapping.name, enqueued: events.length, reason };
}

async function put(deps: CaptureDeps, key: string, value: PollState, etag: string | undefined): Promise<void> {
  try {
    await deps.checkpoints.put(key, value, etag ? { etag } : { ifNotExists: true });
  } catch (err) {
    // Another instance polled at the same time and moved the watermark; its result stands.
    if (err instanceof CheckpointConflictError) deps.log('info', `poll ${key}: watermark moved by another run`);
    else throw err;
  }
}
