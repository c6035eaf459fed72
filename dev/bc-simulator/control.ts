import { z } from 'zod';
import type { ApiResponse, ApiSettings } from './api';
import { seedGenerated } from './demo';
import { BcError, errorBody } from './errors';
import type { BcSimulator } from './index';
import { type ApiGroup, CUSTOM_API, findPage } from './schema';
import { coerce } from './store';
import type { WebhookSettings } from './webhooks';

const JSON_HEADERS = { 'Content-Type': 'application/json' };

const ok = (body: unknown, status = 200): ApiResponse => ({ status, headers: JSON_HEADERS, body });
const bad = (message: string, status = 400): ApiResponse => ({ status, headers: JSON_HEADERS, body: errorBody('BadRequest', message) });

const rate = z.number().min(0).max(1);
const faultsSchema = z
  .object({
    errorRate: rate,
    errorStatus: z.number().int().min(400).max(599),
    timeoutRate: rate,
    timeoutMs: z.number().int().min(0),
    dropWebhookRate: rate,
    duplicateWebhookRate: rate,
  })
  .partial()
  .strict();
const limitsSchema = z
  .object({
    enforce: z.boolean(),
    requestsPerWindow: z.number().int().positive(),
    windowMs: z.number().int().positive(),
    maxConcurrent: z.number().int().positive(),
    maxQueue: z.number().int().min(0),
    queueTimeoutMs: z.number().int().positive(),
    latencyMs: z.number().int().min(0),
  })
  .partial()
  .strict();
const settingsSchema = z
  .object({
    webhookDelayMs: z.number().int().min(0),
    collectionThreshold: z.number().int().min(0),
    handshakeTimeoutMs: z.number().int().positive(),
    notificationTimeoutMs: z.number().int().positive(),
    retrySchedule: z.array(z.number().int().min(0)).min(1),
    maxAttempts: z.number().int().positive(),
    maxSubscriptions: z.number().int().positive(),
    webhookContactsAndSalespeople: z.boolean(),
    staleEtagStatus: z.union([z.literal(412), z.literal(409)]),
    pageSizeOverLimit: z.enum(['413', 'clamp']),
  })
  .partial()
  .strict();
const clockSchema = z.union([
  z.object({ set: z.string() }).strict(),
  z.object({ advanceMs: z.number() }).strict(),
  z.object({ reset: z.literal(true) }).strict(),
]);
const asUserSchema = z
  .object({
    method: z.enum(['POST', 'PATCH', 'DELETE']),
    entitySet: z.string(),
    group: z.enum(['v2.0', 'bcsync/integration/v1.0']).optional(),
    id: z.string().optional(),
    companyId: z.string().optional(),
    body: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();
const extensionSchema = z
  .object({
    installed: z.boolean(),
    version: z.string().regex(/^\d+\.\d+\.\d+\.\d+$/, 'must be major.minor.build.revision'),
    missingEntitySets: z.array(z.string()),
  })
  .partial()
  .strict();
const flowFieldSchema = z
  .object({
    entitySet: z.enum(['items', 'resources', 'customers', 'vendors']),
    id: z.string(),
    value: z.number(),
    companyId: z.string().optional(),
  })
  .strict();

function parse<T>(schema: z.ZodType<T>, raw: Buffer): T {
  let json: unknown = {};
  if (raw.length > 0) {
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new BcError(400, 'BadRequest', 'The request body is not valid JSON.');
    }
  }
  const r = schema.safeParse(json);
  if (!r.success) throw new BcError(400, 'BadRequest', r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
  return r.data;
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null) return undefined;
  if (!/^\d+$/.test(v)) throw new BcError(400, 'BadRequest', `${name} must be a non-negative integer.`);
  return Number(v);
}

/**
 * Control API under `/_sim/` (no auth): seed, reset, clock, faults, limits, settings, counters, user edits,
 * FlowField changes and webhook inspection. See README.md for the full list.
 */
export async function handleControl(
  sim: BcSimulator,
  cfg: { whSettings: WebhookSettings; apiSettings: ApiSettings },
  method: string,
  path: string,
  query: URLSearchParams,
  raw: Buffer,
): Promise<ApiResponse> {
  try {
    const route = `${method} ${path.replace(/\/$/, '')}`;
    const wh = cfg.whSettings;
    switch (route) {
      case 'GET /_sim/info':
        return ok({
          url: sim.url,
          tenantId: sim.tenantId,
          environmentName: sim.environmentName,
          companyId: sim.companyId,
          companyName: sim.companyName,
          apiRoot: sim.apiRoot(),
          apiBase: sim.apiBase(),
          customApiBase: sim.customApiBase(),
        });
      case 'POST /_sim/reset': {
        const seed = query.get('seed') ?? 'demo';
        if (seed !== 'demo' && seed !== 'empty') return bad("seed must be 'demo' or 'empty'.");
        sim.reset(seed);
        return ok({ reset: true, seed });
      }
      case 'POST /_sim/seed': {
        const started = performance.now();
        const counts = {
          customers: intParam(query, 'customers'),
          items: intParam(query, 'items'),
          contacts: intParam(query, 'contacts'),
        };
        if (!counts.customers && !counts.items && !counts.contacts) return bad('Give customers=, items= and/or contacts=.');
        const created = seedGenerated(sim.store, query.get('companyId') ?? sim.companyId, counts);
        return ok({ created, ms: Math.round(performance.now() - started) });
      }
      case 'GET /_sim/clock':
        return ok({ now: sim.clock.nowIso() });
      case 'POST /_sim/clock': {
        const b = parse(clockSchema, raw);
        if ('set' in b) {
          if (Number.isNaN(Date.parse(b.set))) return bad(`'${b.set}' is not a date-time.`);
          sim.clock.set(b.set);
        } else if ('advanceMs' in b) sim.clock.advance(b.advanceMs);
        else sim.clock.reset();
        return ok({ now: sim.clock.nowIso() });
      }
      case 'GET /_sim/faults':
        return ok({ ...sim.faults, dropWebhookRate: wh.dropRate, duplicateWebhookRate: wh.duplicateRate });
      case 'POST /_sim/faults': {
        const b = parse(faultsSchema, raw);
        const { dropWebhookRate, duplicateWebhookRate, ...api } = b;
        Object.assign(sim.faults, api);
        if (dropWebhookRate !== undefined) wh.dropRate = dropWebhookRate;
        if (duplicateWebhookRate !== undefined) wh.duplicateRate = duplicateWebhookRate;
        return ok({ ...sim.faults, dropWebhookRate: wh.dropRate, duplicateWebhookRate: wh.duplicateRate });
      }
      case 'GET /_sim/limits':
        return ok(sim.limiter.settings);
      case 'POST /_sim/limits':
        Object.assign(sim.limiter.settings, parse(limitsSchema, raw));
        sim.limiter.reset();
        return ok(sim.limiter.settings);
      case 'GET /_sim/settings':
        return ok(settingsView(sim, cfg));
      case 'POST /_sim/settings': {
        const b = parse(settingsSchema, raw);
        const { staleEtagStatus, pageSizeOverLimit, ...rest } = b;
        Object.assign(wh, rest);
        if (staleEtagStatus) sim.store.settings.staleEtagStatus = staleEtagStatus;
        if (pageSizeOverLimit) cfg.apiSettings.pageSizeOverLimit = pageSizeOverLimit;
        return ok(settingsView(sim, cfg));
      }
      case 'GET /_sim/extension':
        return ok(sim.store.settings.extension);
      case 'POST /_sim/extension': {
        const b = parse(extensionSchema, raw);
        const unknown = (b.missingEntitySets ?? []).filter((s) => !findPage(CUSTOM_API, s));
        if (unknown.length) return bad(`Not entity sets of the extension: ${unknown.join(', ')}.`);
        Object.assign(sim.store.settings.extension, b);
        return ok(sim.store.settings.extension);
      }
      case 'GET /_sim/counters':
        return ok(sim.counters());
      case 'DELETE /_sim/counters':
        sim.resetCounters();
        return { status: 204 };
      case 'POST /_sim/as-user':
        return asUser(sim, parse(asUserSchema, raw));
      case 'POST /_sim/flowfield':
        return flowField(sim, parse(flowFieldSchema, raw));
      case 'POST /_sim/webhooks/flush':
        await sim.webhooks.flush();
        return ok({ flushed: true, pending: sim.webhooks.pendingCount() });
      case 'GET /_sim/webhooks/deliveries':
        return ok({ value: sim.webhooks.deliveries });
      case 'DELETE /_sim/webhooks/deliveries':
        sim.webhooks.deliveries.length = 0;
        return { status: 204 };
      case 'GET /_sim/webhooks/pending':
        return ok({ pending: sim.webhooks.pendingCount() });
      default:
        return bad(`Unknown control route '${route}'. See dev/bc-simulator/README.md.`, 404);
    }
  } catch (err) {
    if (err instanceof BcError) return { status: err.status, headers: JSON_HEADERS, body: errorBody(err.code, err.message) };
    throw err;
  }
}

function settingsView(sim: BcSimulator, cfg: { whSettings: WebhookSettings; apiSettings: ApiSettings }): unknown {
  const { dropRate: _d, duplicateRate: _u, ...wh } = cfg.whSettings;
  return { ...wh, staleEtagStatus: sim.store.settings.staleEtagStatus, pageSizeOverLimit: cfg.apiSettings.pageSizeOverLimit };
}

/**
 * A change made by a BC user in the client: no If-Match, same business rules, and (like every change in BC)
 * it counts for webhooks. The actor is recorded as `user` for in-process observers only.
 */
function asUser(sim: BcSimulator, b: z.infer<typeof asUserSchema>): ApiResponse {
  const group = (b.group ?? 'v2.0') as ApiGroup;
  const page = findPage(group, b.entitySet) ?? findPage(CUSTOM_API, b.entitySet);
  if (!page) return bad(`Unknown entity set '${b.entitySet}'.`);
  const companyId = b.companyId ?? sim.companyId;
  const changes: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(b.body ?? {})) {
    const f = page.fieldMap.get(k);
    if (!f) return bad(`The property '${k}' does not exist on '${page.entitySet}'.`);
    changes[k] = coerce(f, v);
  }
  if (b.method === 'POST') {
    const rec = sim.store.insert(companyId, page.table, changes, 'user');
    return ok(rec.data, 201);
  }
  if (!b.id) return bad('id is required for PATCH and DELETE.');
  if (b.method === 'PATCH') return ok(sim.store.modify(companyId, page.table, b.id, changes, 'user').data);
  sim.store.delete(companyId, page.table, b.id, 'user');
  return { status: 204 };
}

/** Posting changes FlowFields (inventory, capacity, balance) without modifying the record: no ETag change, no webhook. */
function flowField(sim: BcSimulator, b: z.infer<typeof flowFieldSchema>): ApiResponse {
  const map = {
    items: ['item', 'inventory'],
    resources: ['resource', 'capacity'],
    customers: ['customer', 'balanceDue'],
    vendors: ['vendor', 'balance'],
  } as const;
  const [t, field] = map[b.entitySet];
  const rec = sim.store.setFlowField(b.companyId ?? sim.companyId, t, b.id, field, b.value);
  return ok(rec.data);
}
