import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { BcError, dialog } from './errors';
import { type ApiGroup, findPage, type PageDef, pageServed } from './schema';
import type { ChangeEvent, Store } from './store';

/** Webhook behaviour knobs (api-contracts.md D). Defaults are BC online's. */
export interface WebhookSettings {
  /** Wait after the first change before sending (BC: 30 s, `ApiSubscriptionDelayTime`). */
  webhookDelayMs: number;
  /** More changes than this in one window become a single `collection` notification (BC: 1,000). */
  collectionThreshold: number;
  /** Time the subscriber has to echo the validation token (BC: 5 s). */
  handshakeTimeoutMs: number;
  /** Time the subscriber has to answer a notification POST (BC: 30 s). */
  notificationTimeoutMs: number;
  /** Delay before retry n (BC code: 1, 1, 1, 10, 100 min); after `maxAttempts` failures the subscription is deleted. */
  retrySchedule: number[];
  /** Sends per notification before giving up (BC: attempts 0..5). */
  maxAttempts: number;
  /** Subscription lifetime (BC: 3 days). */
  expirationMs: number;
  /** Per environment (BC online: 200). */
  maxSubscriptions: number;
  /** Whether contacts and salespeoplePurchasers support webhooks (not in the documented list; open point F.2). */
  webhookContactsAndSalespeople: boolean;
  /** Fault injection: share of notification POSTs silently not sent, and sent twice. */
  dropRate: number;
  duplicateRate: number;
}

export const DEFAULT_RETRY_SCHEDULE = [60_000, 60_000, 60_000, 600_000, 6_000_000];

export interface Subscription {
  subscriptionId: string;
  notificationUrl: string;
  resource: string;
  clientState: string;
  expiresAt: number;
  userId: string;
  createdAt: number;
  modifiedAt: number;
  version: number;
  target: { group: ApiGroup; companyId: string; page: PageDef };
}

interface Pending {
  id: string;
  changeType: 'created' | 'updated' | 'deleted';
  at: number;
}

export interface NotificationItem {
  subscriptionId: string;
  clientState: string;
  expirationDateTime: string;
  resource: string;
  changeType: 'created' | 'updated' | 'deleted' | 'collection';
  lastModifiedDateTime: string;
}

export interface DeliveryRecord {
  notificationUrl: string;
  attempt: number;
  /** HTTP status, or undefined when there was no answer (timeout, refused). */
  status?: number;
  error?: string;
  dropped?: boolean;
  body: { value: NotificationItem[] };
  at: string;
}

/** Second-precision UTC, the format of `expirationDateTime` in the documented payloads. */
export function isoSeconds(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** Parses a subscription `resource` ("Supports relative and absolute URL") into API group, company and page. */
export function parseResource(resource: string): { group: ApiGroup; companyId: string; entitySet: string } | undefined {
  let path = resource.trim();
  try {
    if (/^https?:\/\//i.test(path)) path = new URL(path).pathname;
  } catch {
    return undefined;
  }
  const at = path.indexOf('api/');
  if (at < 0) return undefined;
  const m = /^api\/(v2\.0|bcsync\/integration\/v1\.0)\/companies\(([0-9a-fA-F-]{36})\)\/([A-Za-z]+)$/.exec(path.slice(at));
  if (!m) return undefined;
  return { group: m[1] as ApiGroup, companyId: (m[2] as string).toLowerCase(), entitySet: m[3] as string };
}

function isLoopback(url: URL): boolean {
  return ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(url.hostname);
}

export function userIdFor(token: string): string {
  const h = createHash('sha256').update(token).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export class WebhookManager {
  readonly subscriptions = new Map<string, Subscription>();
  private readonly pending = new Map<string, Pending[]>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Attempt number per notificationUrl while a delivery keeps failing. */
  private readonly attempts = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  readonly deliveries: DeliveryRecord[] = [];
  private stopped = false;
  private versionCounter = 0;

  constructor(
    private readonly store: Store,
    readonly settings: WebhookSettings,
  ) {
    store.onChange((e) => this.onChange(e));
    store.clock.onChange(() => this.expire());
  }

  supports(page: PageDef): boolean {
    return page.webhooks === true || (page.webhooks === 'optional' && this.settings.webhookContactsAndSalespeople);
  }

  etag(s: Subscription): string {
    const h = createHash('sha256').update(`${s.subscriptionId}:${s.version}`).digest('base64');
    return `W/"${Buffer.from(`'44;${h}1;00;'`).toString('base64')}"`;
  }

  toJson(s: Subscription): Record<string, unknown> {
    return {
      '@odata.etag': this.etag(s),
      subscriptionId: s.subscriptionId,
      notificationUrl: s.notificationUrl,
      resource: s.resource,
      timestamp: s.version,
      userId: s.userId,
      lastModifiedDateTime: isoSeconds(s.modifiedAt),
      clientState: s.clientState,
      expirationDateTime: isoSeconds(s.expiresAt),
      systemCreatedAt: new Date(s.createdAt).toISOString(),
      systemCreatedBy: s.userId,
      systemModifiedAt: new Date(s.modifiedAt).toISOString(),
      systemModifiedBy: s.userId,
    };
  }

  private resolveTarget(resource: string): Subscription['target'] {
    const r = parseResource(resource);
    if (!r) throw new BcError(400, 'BadRequest_ResourceNotFound', `The resource '${resource}' is not a valid API resource URL.`);
    const page = findPage(r.group, r.entitySet);
    if (!page || !pageServed(this.store.settings.extension, page))
      throw new BcError(400, 'BadRequest_ResourceNotFound', `Resource not found for the segment '${r.entitySet}'.`);
    if (!this.supports(page)) throw dialog(`The resource '${r.group}/${r.entitySet}' does not support webhook subscriptions.`);
    this.store.company(r.companyId);
    return { group: r.group, companyId: r.companyId, page };
  }

  private checkUrl(notificationUrl: string): void {
    let url: URL;
    try {
      url = new URL(notificationUrl);
    } catch {
      throw dialog(`The notificationUrl '${notificationUrl}' is not a valid URL.`);
    }
    // Project rule: the simulator never talks to anything beyond the loopback interface.
    if (!isLoopback(url)) throw dialog('The local Business Central simulator only calls loopback notification URLs.');
  }

  /**
   * The validation handshake: POST `notificationUrl?validationToken=…` with `ClientState`, and require 200 with
   * the token as the body within the deadline. A JSON-quoted token is accepted too (known to work on BC).
   */
  async handshake(notificationUrl: string, clientState: string): Promise<void> {
    const token = randomBytes(16).toString('hex');
    const sep = notificationUrl.includes('?') ? '&' : '?';
    const url = `${notificationUrl}${sep}validationToken=${encodeURIComponent(token)}`;
    const headers: Record<string, string> = { 'Content-Length': '0' };
    if (clientState) headers.ClientState = clientState;
    let ok = false;
    let detail = '';
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers,
        signal: AbortSignal.timeout(this.settings.handshakeTimeoutMs),
      });
      const text = (await res.text()).trim();
      ok = res.status === 200 && (text === token || text === JSON.stringify(token));
      detail = `status ${res.status}`;
    } catch (err) {
      detail = (err as Error).name === 'TimeoutError' ? 'no answer within the time limit' : (err as Error).message;
    }
    if (!ok)
      throw dialog(`The subscription cannot be created because the notification URL did not return the validation token (${detail}).`);
  }

  async create(body: { notificationUrl: string; resource: string; clientState?: string }, token: string): Promise<Subscription> {
    this.expire();
    this.checkUrl(body.notificationUrl);
    const target = this.resolveTarget(body.resource);
    if (this.subscriptions.size >= this.settings.maxSubscriptions)
      throw dialog(`The maximum number of webhook subscriptions (${this.settings.maxSubscriptions}) has been reached.`);
    await this.handshake(body.notificationUrl, body.clientState ?? '');
    const now = this.store.clock.now();
    const s: Subscription = {
      subscriptionId: randomUUID().replace(/-/g, ''),
      notificationUrl: body.notificationUrl,
      resource: body.resource,
      clientState: body.clientState ?? '',
      expiresAt: now + this.settings.expirationMs,
      userId: userIdFor(token),
      createdAt: now,
      modifiedAt: now,
      version: ++this.versionCounter,
      target,
    };
    this.subscriptions.set(s.subscriptionId, s);
    return s;
  }

  get(id: string): Subscription {
    this.expire();
    const s = this.subscriptions.get(id);
    if (!s)
      throw new BcError(
        404,
        'Internal_RecordNotFound',
        `The API Webhook Subscription does not exist. Identification fields and values: Subscription Id='${id}'`,
      );
    return s;
  }

  list(): Subscription[] {
    this.expire();
    return [...this.subscriptions.values()];
  }

  /** Renewal: repeats the handshake, then extends the expiry by the full lifetime. */
  async renew(s: Subscription, body: { notificationUrl?: string; resource?: string; clientState?: string }): Promise<Subscription> {
    const notificationUrl = body.notificationUrl ?? s.notificationUrl;
    const clientState = body.clientState ?? s.clientState;
    this.checkUrl(notificationUrl);
    const target = body.resource !== undefined ? this.resolveTarget(body.resource) : s.target;
    await this.handshake(notificationUrl, clientState);
    const now = this.store.clock.now();
    Object.assign(s, {
      notificationUrl,
      clientState,
      resource: body.resource ?? s.resource,
      target,
      expiresAt: now + this.settings.expirationMs,
      modifiedAt: now,
      version: ++this.versionCounter,
    });
    return s;
  }

  delete(id: string): void {
    this.subscriptions.delete(id);
    this.pending.delete(id);
  }

  /** Expired subscriptions are deleted by the sender job, never notified again. */
  expire(): void {
    const now = this.store.clock.now();
    for (const s of [...this.subscriptions.values()]) if (s.expiresAt <= now) this.delete(s.subscriptionId);
  }

  private onChange(e: ChangeEvent): void {
    if (this.stopped) return;
    for (const s of this.subscriptions.values()) {
      if (s.target.companyId !== e.companyId || s.target.page.table !== e.table) continue;
      const view = s.target.page.view;
      if (view && e.changeType !== 'deleted') {
        const rec = this.store.companies.get(e.companyId)?.get(e.table, e.id);
        if (!rec || !view(rec.data)) continue;
      }
      let list = this.pending.get(s.subscriptionId);
      if (!list) {
        list = [];
        this.pending.set(s.subscriptionId, list);
      }
      // Repeated updates of one record merge into one notification carrying the latest time.
      const prev = e.changeType === 'updated' ? list.find((p) => p.id === e.id && p.changeType === 'updated') : undefined;
      if (prev) prev.at = e.at;
      else list.push({ id: e.id, changeType: e.changeType, at: e.at });
      this.schedule(s.notificationUrl, this.settings.webhookDelayMs);
    }
  }

  private schedule(url: string, delay: number): void {
    if (this.timers.has(url) || this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(url);
      this.track(this.send(url));
    }, delay);
    t.unref?.();
    this.timers.set(url, t);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /** Sends everything pending now, ignoring the batching delay (control API and tests). Resolves after delivery. */
  async flush(): Promise<void> {
    const urls = new Set<string>();
    for (const [id, list] of this.pending) {
      const s = this.subscriptions.get(id);
      if (s && list.length > 0) urls.add(s.notificationUrl);
    }
    for (const url of urls) {
      const t = this.timers.get(url);
      if (t) clearTimeout(t);
      this.timers.delete(url);
    }
    await Promise.all([...urls].map((u) => this.send(u)));
  }

  pendingCount(): number {
    let n = 0;
    for (const l of this.pending.values()) n += l.length;
    return n;
  }

  private buildItems(s: Subscription, list: Pending[]): NotificationItem[] {
    const base = {
      subscriptionId: s.subscriptionId,
      clientState: s.clientState,
      expirationDateTime: isoSeconds(s.expiresAt),
    };
    if (list.length > this.settings.collectionThreshold) {
      const first = Math.min(...list.map((p) => p.at));
      const last = Math.max(...list.map((p) => p.at));
      const hasDelete = list.some((p) => p.changeType === 'deleted');
      // BC drops the filter when a delete is among the changes: the receiver must re-read the whole collection.
      const resource = hasDelete ? s.resource : `${s.resource}?$filter=lastModifiedDateTime%20gt%20${new Date(first - 50).toISOString()}`;
      return [{ ...base, resource, changeType: 'collection', lastModifiedDateTime: new Date(last).toISOString() }];
    }
    return list.map((p) => ({
      ...base,
      resource: `${s.resource}(${p.id})`,
      changeType: p.changeType,
      lastModifiedDateTime: new Date(p.at).toISOString(),
    }));
  }

  /** One POST per notificationUrl aggregating every subscription that shares it (BC codeunit 6154). */
  private async send(url: string): Promise<void> {
    this.expire();
    const subs = [...this.subscriptions.values()].filter((s) => s.notificationUrl === url);
    const taken: Array<[Subscription, Pending[]]> = [];
    const items: NotificationItem[] = [];
    for (const s of subs) {
      const list = this.pending.get(s.subscriptionId);
      if (!list || list.length === 0) continue;
      this.pending.delete(s.subscriptionId);
      taken.push([s, list]);
      items.push(...this.buildItems(s, list));
    }
    if (items.length === 0) return;
    const attempt = this.attempts.get(url) ?? 0;
    const body = { value: items };
    const record: DeliveryRecord = { notificationUrl: url, attempt, body, at: this.store.clock.nowIso() };
    this.deliveries.push(record);
    if (this.deliveries.length > 10_000) this.deliveries.splice(0, this.deliveries.length - 10_000);
    if (Math.random() < this.settings.dropRate) {
      record.dropped = true;
      this.attempts.delete(url);
      return;
    }
    const times = Math.random() < this.settings.duplicateRate ? 2 : 1;
    let status: number | undefined;
    for (let i = 0; i < times; i++) {
      const correlationId = randomUUID();
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', clientRequestId: correlationId, 'x-ms-correlation-id': correlationId },
          body: Buffer.from(JSON.stringify(body), 'utf8'),
          signal: AbortSignal.timeout(this.settings.notificationTimeoutMs),
        });
        await res.arrayBuffer().catch(() => undefined);
        status = res.status;
      } catch (err) {
        status = undefined;
        record.error = (err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message;
      }
    }
    record.status = status;
    if (this.stopped) return;
    if (status !== undefined && status >= 200 && status < 300) {
      this.attempts.delete(url);
      if (subs.some((s) => (this.pending.get(s.subscriptionId)?.length ?? 0) > 0)) this.schedule(url, this.settings.webhookDelayMs);
      return;
    }
    const retryable = status === undefined || status === 408 || status === 429 || (status >= 500 && status <= 599);
    if (!retryable || attempt + 1 >= this.settings.maxAttempts) {
      // Any other status (or too many failures) deletes the pending notifications and the subscription.
      for (const [s] of taken) this.delete(s.subscriptionId);
      this.attempts.delete(url);
      return;
    }
    // Put the failed changes back in front of anything that arrived meanwhile, and retry later.
    for (const [s, list] of taken) {
      if (!this.subscriptions.has(s.subscriptionId)) continue;
      const newer = this.pending.get(s.subscriptionId) ?? [];
      this.pending.set(s.subscriptionId, [...list, ...newer]);
    }
    this.attempts.set(url, attempt + 1);
    const schedule = this.settings.retrySchedule;
    const delay = schedule[Math.min(attempt, schedule.length - 1)] ?? 60_000;
    this.schedule(url, delay);
  }

  reset(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.subscriptions.clear();
    this.pending.clear();
    this.attempts.clear();
    this.deliveries.length = 0;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
  }
}
