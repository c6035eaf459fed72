import { z } from 'zod';
import type { BcSubscription } from '../adapters/bc/client';
import type { TableMapping } from '../domain/mappings/schema';
import type { Clock } from '../domain/ports';
import { toSyncError } from '../errors';
import type { StatePort } from '../operations/ports';
import { bcGroupOf, canonicalResource, parseBcResource, subscriptionResource } from './bc-resource';
import type { CaptureDeps } from './deps';
import { customApiGroup } from './mapping-lookup';
import { clientStateFor } from './secrets';

/**
 * Keeps one BC webhook subscription per mapped resource alive (api-contracts.md D.1, peers-style-perf.md 1.9 #3):
 * creates missing ones, renews (PATCH with If-Match) well before the 3-day expiry, re-creates deleted or expired
 * ones, removes ours that no mapping needs, and never goes past the environment's limit. The state of every
 * resource is kept in the checkpoint store (`bc-subscription/<group>/<entitySet>`), which `subscriptionHealth`
 * reports and `poll-bc` reads: a resource without an active subscription is polled instead.
 */

export const SUBSCRIPTION_KEY_PREFIX = 'bc-subscription/';
/** BC online's limit of webhook subscriptions per environment (D.1). */
export const BC_MAX_SUBSCRIPTIONS = 200;
/** Renew when less than this remains of the 3-day lifetime. Default 24 h (with an hourly timer: 23 chances). */
export const DEFAULT_RENEW_BEFORE_MS = 24 * 3600_000;

export const subscriptionStateSchema = z.object({
  group: z.string(),
  entitySet: z.string(),
  resource: z.string(),
  mappings: z.array(z.string()),
  /**
   * active: subscribed; unsupported: BC has no webhooks for it (polled); failed: could not subscribe (polled);
   * missing: the page is not published (the BC extension is not installed, or is older than the service) — neither
   * subscribed nor polled, `lastError` says what to do.
   */
  status: z.enum(['active', 'unsupported', 'failed', 'missing']),
  subscriptionId: z.string().optional(),
  expirationDateTime: z.string().optional(),
  lastCheckedAt: z.string(),
  lastChange: z.enum(['created', 'renewed', 'recreated', 'unchanged', 'none']).default('none'),
  lastError: z.string().optional(),
});
export type SubscriptionState = z.infer<typeof subscriptionStateSchema>;

export interface EnsureSubscriptionsOptions {
  /** Renew when less than this remains before `expirationDateTime`. Default {@link DEFAULT_RENEW_BEFORE_MS}. */
  renewBeforeMs?: number;
  /** Subscriptions allowed in the environment (all subscribers together). Default {@link BC_MAX_SUBSCRIPTIONS}. */
  maxSubscriptions?: number;
}

export interface EnsureSubscriptionsReport {
  notificationUrl: string;
  resources: SubscriptionState[];
  created: number;
  renewed: number;
  deleted: number;
  failed: number;
  /** Resources whose BC extension page is missing. */
  missing: number;
}

/** What an admin reads when a custom page is absent: the page, the mappings it stops, and the fix. */
export function extensionPageMissing(group: string, entitySet: string, mappings: readonly string[]): string {
  return `BC extension page missing: ${group}/${entitySet} is not published in this environment, so ${mappings.join(', ')} cannot sync. ${INSTALL_EXTENSION}`;
}

/** What to do about any missing extension page. */
export const INSTALL_EXTENSION =
  'Install (or upgrade to) the bc-dataverse-sync BC extension from bc-extension/ and assign its permission ' +
  'set BCS INTEGRATION to the app registration (docs/bc-extension.md), then run setup or wait for the next renewal.';

/** `${PUBLIC_BASE_URL}/api/webhooks/bc`. */
export function bcNotificationUrl(publicBaseUrl: string): string {
  return `${publicBaseUrl.replace(/\/+$/, '')}/api/webhooks/bc`;
}

interface Wanted {
  group: string;
  entitySet: string;
  kind: 'apiV2' | 'customApi';
  canonical: string;
  resource: string;
  mappings: string[];
}

/** Enabled mappings captured by BC webhook, grouped by resource. */
export function wantedResources(mappings: TableMapping[], companyId: string, customGroup: string): Wanted[] {
  const byKey = new Map<string, Wanted>();
  for (const m of mappings) {
    if (!m.enabled || m.changeCapture.bc !== 'webhook' || m.bc.kind === 'odataPage') continue;
    const group = bcGroupOf(m.bc.kind, customGroup) ?? '';
    const canonical = canonicalResource(group, companyId, m.bc.entitySet);
    const w = byKey.get(canonical) ?? {
      group,
      entitySet: m.bc.entitySet,
      kind: m.bc.kind,
      canonical,
      resource: subscriptionResource(group, companyId, m.bc.entitySet),
      mappings: [],
    };
    w.mappings.push(m.name);
    byKey.set(canonical, w);
  }
  return [...byKey.values()];
}

const stateKey = (group: string, entitySet: string) => `${SUBSCRIPTION_KEY_PREFIX}${group}/${entitySet}`;

export async function ensureSubscriptions(deps: CaptureDeps, options: EnsureSubscriptionsOptions = {}): Promise<EnsureSubscriptionsReport> {
  const renewBeforeMs = options.renewBeforeMs ?? DEFAULT_RENEW_BEFORE_MS;
  const max = options.maxSubscriptions ?? BC_MAX_SUBSCRIPTIONS;
  const notificationUrl = bcNotificationUrl(deps.settings.PUBLIC_BASE_URL);
  const companyId = deps.settings.BC_COMPANY_ID.toLowerCase();
  const customGroup = customApiGroup(deps.bc);
  const wanted = wantedResources(await deps.mappings(), companyId, customGroup);
  const supported = new Set((await deps.bc.webhookSupportedResources()).map((r) => r.replace(/^\/+/, '').toLowerCase()));

  // Every subscription in the environment counts against the limit; ours are those with our notification URL.
  const kinds = new Set<'apiV2' | 'customApi'>(['apiV2', ...wanted.map((w) => w.kind)]);
  const all: Array<BcSubscription & { kind: 'apiV2' | 'customApi' }> = [];
  // A server may list every subscription at each API root: count each once, under the route its resource names.
  const seen = new Set<string>();
  // Without the BC extension its route answers 404: that stops the custom resources, never the standard ones.
  let customRouteMissing = false;
  for (const listKind of kinds) {
    let listed: BcSubscription[];
    try {
      listed = await deps.bc.listSubscriptions(listKind);
    } catch (err) {
      if (listKind !== 'customApi') throw err;
      if (toSyncError(err).code === 'BC.NOT_FOUND') customRouteMissing = true;
      else deps.log('warn', `listing BC subscriptions at ${customGroup} failed: ${toSyncError(err).message}`);
      continue;
    }
    for (const s of listed) {
      if (seen.has(s.subscriptionId)) continue;
      seen.add(s.subscriptionId);
      const group = parseBcResource(s.resource)?.group;
      all.push({ ...s, kind: group === undefined ? listKind : group === 'v2.0' ? 'apiV2' : 'customApi' });
    }
  }
  // Whether a custom page is published: one cheap read, only when something suggests it is not.
  const pageMissing = async (w: Wanted): Promise<boolean> => {
    if (w.kind !== 'customApi') return false;
    if (customRouteMissing) return true;
    try {
      await deps.bc.listPage({ side: 'bc', kind: 'customApi', entitySet: w.entitySet }, { pageSize: 1, select: ['id'] });
      return false;
    } catch (err) {
      return toSyncError(err).code === 'BC.NOT_FOUND';
    }
  };
  let total = all.length;
  // Ours: sent to our URL, or carrying the clientState only we can derive (PUBLIC_BASE_URL changed since: the
  // renewal below moves it to the new URL instead of leaving it to notify the old one).
  const ours = all.filter((s) => {
    if (s.notificationUrl.toLowerCase() === notificationUrl.toLowerCase()) return true;
    const r = parseBcResource(s.resource);
    return (
      r !== undefined && typeof s.clientState === 'string' && s.clientState === clientStateFor(deps.settings.BC_WEBHOOK_SECRET, r.canonical)
    );
  });

  const report: EnsureSubscriptionsReport = { notificationUrl, resources: [], created: 0, renewed: 0, deleted: 0, failed: 0, missing: 0 };
  const now = () => deps.clock.now();
  const remove = async (s: (typeof all)[number]) => {
    await deps.bc.deleteSubscription(s.subscriptionId, s['@odata.etag'] ?? '*', s.kind);
    total--;
    report.deleted++;
  };

  const handled = new Set<string>();
  for (const w of wanted) {
    const mine = ours
      .filter((s) => parseBcResource(s.resource)?.canonical.toLowerCase() === w.canonical.toLowerCase())
      .sort((a, b) => Date.parse(b.expirationDateTime) - Date.parse(a.expirationDateTime));
    for (const s of mine) handled.add(s.subscriptionId);
    const state: SubscriptionState = {
      group: w.group,
      entitySet: w.entitySet,
      resource: w.resource,
      mappings: w.mappings,
      status: 'active',
      lastCheckedAt: now().toISOString(),
      lastChange: 'unchanged',
    };
    const markMissing = () => {
      Object.assign(state, { status: 'missing', lastError: extensionPageMissing(w.group, w.entitySet, w.mappings), lastChange: 'none' });
      report.missing++;
      deps.log('error', state.lastError ?? '');
    };
    try {
      if (
        (customRouteMissing && w.kind === 'customApi') ||
        (!supported.has(`${w.group}/${w.entitySet}`.toLowerCase()) && (await pageMissing(w)))
      ) {
        // Its old subscriptions (if BC still lists them) cannot notify for a page that is gone.
        for (const s of mine) await remove(s).catch(() => undefined);
        markMissing();
        report.resources.push(state);
        continue;
      }
      if (!supported.has(`${w.group}/${w.entitySet}`.toLowerCase())) {
        for (const s of mine) await remove(s);
        Object.assign(state, { status: 'unsupported', lastChange: 'none' });
        report.resources.push(state);
        continue;
      }
      // Keep the longest-lived one; duplicates would notify twice.
      const [keep, ...extra] = mine;
      for (const s of extra) await remove(s);
      const clientState = clientStateFor(deps.settings.BC_WEBHOOK_SECRET, w.canonical);
      const input = { notificationUrl, resource: w.resource, clientState };
      let current: BcSubscription | undefined;
      if (keep) {
        const remaining = Date.parse(keep.expirationDateTime) - now().getTime();
        if (remaining > renewBeforeMs && keep.clientState === clientState && keep.notificationUrl === notificationUrl) current = keep;
        else {
          try {
            current = await deps.bc.renewSubscription(keep.subscriptionId, keep['@odata.etag'] ?? '*', input, w.kind);
            state.lastChange = 'renewed';
            report.renewed++;
          } catch (err) {
            // Expired or deleted between the list and the PATCH: subscribe again below.
            if (toSyncError(err).code !== 'BC.NOT_FOUND') throw err;
            total--;
          }
        }
      }
      if (!current) {
        if (total >= max)
          throw new Error(`the environment already has ${total} webhook subscriptions (limit ${max}); ${w.entitySet} is polled instead`);
        current = await deps.bc.createSubscription(input, w.kind);
        total++;
        state.lastChange = keep ? 'recreated' : 'created';
        report.created++;
      }
      state.subscriptionId = current.subscriptionId;
      state.expirationDateTime = current.expirationDateTime;
    } catch (err) {
      if (await pageMissing(w)) markMissing();
      else {
        const message = toSyncError(err).message;
        Object.assign(state, { status: 'failed', lastError: message.slice(0, 500), lastChange: 'none' });
        report.failed++;
        deps.log('error', `BC subscription for ${w.group}/${w.entitySet} failed: ${message}`);
      }
    }
    report.resources.push(state);
  }
  // Ours that no mapping needs any more (mapping disabled, switched to polling, removed).
  for (const s of ours) if (!handled.has(s.subscriptionId)) await remove(s);

  const keys = new Set(report.resources.map((r) => stateKey(r.group, r.entitySet)));
  for (const r of report.resources) await deps.checkpoints.put(stateKey(r.group, r.entitySet), r);
  for (const old of await deps.checkpoints.list(SUBSCRIPTION_KEY_PREFIX)) if (!keys.has(old.key)) await deps.checkpoints.delete(old.key);
  return report;
}

export interface SubscriptionHealth {
  /**
   * ok: every webhook resource subscribed and not expired; degraded otherwise (those resources are polled, or — for
   * a missing BC extension page — stopped until the extension is installed).
   */
  status: 'ok' | 'degraded';
  /** Our subscriptions, against BC's limit of {@link BC_MAX_SUBSCRIPTIONS} per environment. */
  active: number;
  limit: number;
  resources: Array<{
    resource: string;
    mappings: string[];
    status: SubscriptionState['status'] | 'expired';
    expirationDateTime?: string;
    /** Hours until expiry (negative when expired). */
    expiresInHours?: number;
    lastCheckedAt: string;
    lastError?: string;
  }>;
}

/** The subscription state as last recorded by `ensureSubscriptions` (no BC call: cheap enough for a health probe). */
export async function subscriptionHealthFrom(checkpoints: StatePort, clock: Clock): Promise<SubscriptionHealth> {
  const now = clock.now().getTime();
  const rows = await checkpoints.list(SUBSCRIPTION_KEY_PREFIX, subscriptionStateSchema);
  const resources = rows.map(({ value: s }) => {
    const expiresInMs = s.expirationDateTime ? Date.parse(s.expirationDateTime) - now : undefined;
    const expired = s.status === 'active' && expiresInMs !== undefined && expiresInMs <= 0;
    return {
      resource: `${s.group}/${s.entitySet}`,
      mappings: s.mappings,
      status: expired ? ('expired' as const) : s.status,
      ...(s.expirationDateTime ? { expirationDateTime: s.expirationDateTime } : {}),
      ...(expiresInMs !== undefined ? { expiresInHours: Math.round((expiresInMs / 3600_000) * 10) / 10 } : {}),
      lastCheckedAt: s.lastCheckedAt,
      ...(s.lastError ? { lastError: s.lastError } : {}),
    };
  });
  const bad = resources.some((r) => r.status === 'failed' || r.status === 'expired' || r.status === 'missing');
  return {
    status: bad ? 'degraded' : 'ok',
    active: resources.filter((r) => r.status === 'active').length,
    limit: BC_MAX_SUBSCRIPTIONS,
    resources,
  };
}

/** Resource states by `group/entitySet` (lower case), for the poller. */
export async function subscriptionStates(checkpoints: StatePort): Promise<Map<string, SubscriptionState>> {
  const rows = await checkpoints.list(SUBSCRIPTION_KEY_PREFIX, subscriptionStateSchema);
  return new Map(rows.map((r) => [`${r.value.group}/${r.value.entitySet}`.toLowerCase(), r.value]));
}
