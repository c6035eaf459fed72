import { z } from 'zod';
import { checkConnections, extensionEntitySetsOf } from '../adapters/connection-check';
import { MappingChangedSinceError, MappingValidationError } from '../adapters/tables';
import { captureDepsFrom } from '../capture/context';
import { subscriptionHealthFrom } from '../capture/subscriptions';
import { SyncDirectionSchema } from '../domain/direction';
import { guidSchema } from '../domain/ids';
import { draftMapping, MappingDraftSchema } from '../domain/mappings';
import { CouplingConflictError, type SyncErrorRecord } from '../domain/ports';
import { SyncError, toSyncError } from '../errors';
import type { Runtime } from '../runtime';
import { allowed, type Caller, type SyncRole } from './admin-access';
import { fullSyncDeps } from './context';
import { cancelCouplingJob, getCouplingJob, listCouplingJobs, runCouplingJobPage, startCouplingJob } from './coupling-jobs';
import { bulkCouple, coupleRecord, findCouplings, synchronizeNow, uncoupleRecord } from './couplings';
import { listDeadLetters, purgeDeadLetters, replayDeadLetters } from './dead-letters';
import { dismissSyncError, listSyncErrors, NotFoundError, retryAllSyncErrors, retrySyncError } from './errors';
import { findRecords } from './find-record';
import {
  cancelFullSync,
  FullSyncConflictError,
  fullSyncProgress,
  fullSyncStatus,
  listFullSyncRuns,
  resumeFullSync,
  startFullSync,
} from './full-sync';
import { mappingChanges, previewMapping, saveMapping, summarize } from './mappings';
import { reconcile } from './reconcile';
import { purgeExpired, retentionStatus } from './retention';
import { runSetup } from './setup';
import { mappingStats } from './stats';

/**
 * The admin HTTP API (`/api/admin/...`), independent of the Functions binding so the CLI, the page and tests
 * share one contract. Inputs are zod-validated; a bad input answers 400 naming the field.
 */

export interface AdminRequest {
  method: string;
  /** Path below `admin/`, e.g. `errors/abc/retry`. */
  path: string;
  query: URLSearchParams;
  body: unknown;
  /** The authenticated caller (admin-access.ts); the route's role is checked against it. */
  caller: Caller;
}

export interface AdminResponse {
  status: number;
  body: unknown;
}

const mappingName = z.string().min(1).max(64);
const direction = SyncDirectionSchema;
const pageSize = z.coerce.number().int().min(1).max(1000).optional();
const bool = z.enum(['true', 'false']).transform((v) => v === 'true');

const schemas = {
  couplingsQuery: z.object({
    mapping: mappingName,
    id: guidSchema.optional(),
    pageSize,
    continuation: z.string().optional(),
    skipped: bool.optional(),
    failed: bool.optional(),
  }),
  couple: z
    .object({ mapping: mappingName, bcId: guidSchema.optional(), dataverseId: guidSchema.optional(), synchronize: direction.optional() })
    .refine((b) => b.bcId || b.dataverseId, { message: 'give bcId and/or dataverseId', path: ['bcId'] }),
  bulkCouple: z.object({
    mapping: mappingName,
    bcIds: z.array(guidSchema).max(10_000).optional(),
    createNew: z.boolean().default(false),
    /** Default true: each pair's initial direction is applied right away (BC's "synchronize after coupling"). */
    synchronizeAfter: z.boolean().default(true),
    max: z.number().int().min(1).max(100_000).optional(),
  }),
  uncouple: z
    .object({ mapping: mappingName, bcId: guidSchema.optional(), dataverseId: guidSchema.optional() })
    .refine((b) => b.bcId || b.dataverseId, { message: 'give bcId or dataverseId', path: ['bcId'] }),
  syncNow: z
    .object({ mapping: mappingName, bcId: guidSchema.optional(), dataverseId: guidSchema.optional(), direction: direction.optional() })
    .refine((b) => b.bcId || b.dataverseId, { message: 'give bcId or dataverseId', path: ['bcId'] }),
  fullSyncStart: z.object({ mappings: z.array(mappingName).optional() }).default({}),
  runQuery: z.object({ runId: z.string().min(1).optional() }),
  runBody: z.object({ runId: z.string().min(1).optional() }).default({}),
  errorsQuery: z.object({
    mapping: mappingName.optional(),
    status: z.enum(['open', 'resolved', 'dismissed']).optional(),
    code: z.string().min(1).optional(),
    pageSize,
    continuation: z.string().optional(),
  }),
  retryAll: z.object({ mapping: mappingName }),
  deadLettersQuery: z.object({
    queue: z.string().min(1).optional(),
    mapping: mappingName.optional(),
    reason: z.string().min(1).optional(),
    max: z.coerce.number().int().min(1).max(1000).optional(),
  }),
  deadLetterSelector: z
    .object({
      queue: z.string().min(1).optional(),
      sequenceNumbers: z.array(z.string().regex(/^\d+$/, 'must be a sequence number')).optional(),
      messageId: z.string().min(1).optional(),
      reason: z.string().min(1).optional(),
      mapping: mappingName.optional(),
      all: z.boolean().optional(),
      max: z.number().int().min(1).max(10_000).optional(),
    })
    .refine((s) => s.all || s.sequenceNumbers || s.messageId || s.reason || s.mapping, {
      message: 'give sequenceNumbers, messageId, reason, mapping, or all: true',
      path: ['sequenceNumbers'],
    }),
  historyQuery: z
    .object({
      mapping: mappingName,
      bcId: guidSchema.optional(),
      dataverseId: guidSchema.optional(),
      limit: z.coerce.number().int().min(1).max(500).optional(),
    })
    .refine((b) => b.bcId || b.dataverseId, { message: 'give bcId or dataverseId', path: ['bcId'] }),
  importQuery: z.object({ mode: z.enum(['replace', 'merge']).optional() }),
  reconcileBody: z.object({ mappings: z.array(mappingName).optional() }).default({}),
  couplingJob: z.object({
    kind: z.enum(['uncouple', 'match-couple']),
    mapping: mappingName,
    createNew: z.boolean().optional(),
    synchronizeAfter: z.boolean().optional(),
  }),
  findQuery: z.object({ mapping: mappingName, q: z.string().trim().min(1).max(200) }),
  changesQuery: z.object({ limit: z.coerce.number().int().min(1).max(200).optional() }),
  runsQuery: z.object({
    mapping: mappingName.optional(),
    limit: z.coerce.number().int().min(1).max(500).optional(),
    hours: z.coerce.number().int().min(1).max(8784).optional(),
  }),
};

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

function parse<T extends z.ZodType>(schema: T, input: unknown): z.infer<T> {
  const r = schema.safeParse(input);
  if (!r.success) {
    const first = r.error.issues[0];
    const field = first?.path.join('.') || undefined;
    throw new HttpProblem(400, r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; '), field);
  }
  return r.data;
}

const queryObject = (q: URLSearchParams) => Object.fromEntries(q.entries());

type Handler = (rt: Runtime, req: AdminRequest, params: Record<string, string>) => Promise<unknown>;

/** Reading needs Sync.Reader; every other method changes something and needs Sync.Admin. */
const roleFor = (method: string): SyncRole => (method === 'GET' ? 'Sync.Reader' : 'Sync.Admin');

const routes: Array<{ method: string; pattern: string; handler: Handler }> = [];
const route = (method: string, pattern: string, handler: Handler) => routes.push({ method, pattern, handler });

// --- who am I ---------------------------------------------------------------------------------------------
route('GET', 'whoami', async (rt, req) => ({
  name: req.caller.name,
  roles: req.caller.roles,
  via: req.caller.via,
  canChange: allowed(req.caller, 'Sync.Admin'),
  retentionDays: rt.settings.RETENTION_DAYS,
}));

// --- connection -------------------------------------------------------------------------------------------
route('GET', 'connection', async (rt) => {
  const enabled = await rt.mappings.all();
  const mappings = enabled.filter((m) => m.enabled && !m.dataverse.optionSetColumn);
  const dvTables = [...new Set(mappings.map((m) => m.dataverse.entityLogicalName))].slice(0, 6).map((logicalName) => ({ logicalName }));
  return checkConnections(rt.settings, {
    dataverseTables: dvTables,
    timeoutMs: 10_000,
    // The BC extension's pages the mappings use, and the subscription state (e.g. "BC extension page missing").
    bcExtension: { entitySets: extensionEntitySetsOf(enabled) },
    subscriptions: () => subscriptionHealthFrom(captureDepsFrom(rt, { log: () => undefined }).checkpoints, rt.clock),
  });
});

// --- mappings ---------------------------------------------------------------------------------------------
route('GET', 'mappings', async (rt) => rt.stores.mappings.list({ fresh: true }));
route('GET', 'mappings/export', async (rt) => ({ mappings: await rt.stores.mappings.export() }));
route('POST', 'mappings/import', async (rt, req) => {
  const { mode } = parse(schemas.importQuery, queryObject(req.query));
  return rt.stores.mappings.import(req.body, { mode: mode ?? 'replace', by: req.caller.name });
});
route('POST', 'mappings/reset-all', async (rt, req) => ({ reset: await rt.stores.mappings.reset(undefined, { by: req.caller.name }) }));
route('GET', 'mappings/{name}', async (rt, _req, p) => {
  const m = await rt.stores.mappings.get(p.name ?? '', { fresh: true });
  if (!m) throw new NotFoundError(`There is no table mapping named '${p.name}'.`);
  return m;
});
route('GET', 'mappings/{name}/default', async (rt, _req, p) => {
  const m = rt.stores.mappings.defaultOf(p.name ?? '');
  if (!m) throw new NotFoundError(`'${p.name}' is not one of BC's default mappings.`);
  return m;
});
route('GET', 'mappings/{name}/changes', async (rt, req, p) =>
  mappingChanges(rt, p.name ?? '', parse(schemas.changesQuery, queryObject(req.query)).limit),
);
// A new mapping's full definition from the few things an admin types; preview and PUT it like any edit.
route('POST', 'mappings/draft', async (rt, req) => {
  const draft = parse(MappingDraftSchema, req.body);
  // "New" must not silently replace a mapping: editing an existing one goes through its own preview and PUT.
  if (await rt.stores.mappings.get(draft.name, { fresh: true }))
    throw new HttpProblem(409, `name: a mapping named '${draft.name}' already exists`, 'name');
  return draftMapping(draft);
});
route('PUT', 'mappings/{name}', async (rt, req, p) => saveMapping(rt, p.name ?? '', mappingBody(req.body, p.name ?? ''), req.caller.name));
route('POST', 'mappings/{name}/preview', async (rt, req, p) => previewMapping(rt, p.name ?? '', mappingBody(req.body, p.name ?? '')));
route('POST', 'mappings/{name}/undo', async (rt, req, p) => {
  const undone = await rt.stores.mappings.undo(p.name ?? '', { by: req.caller.name });
  return { undone: summarize(undone), mapping: (await rt.stores.mappings.get(p.name ?? '', { fresh: true })) ?? null };
});
route('POST', 'mappings/{name}/reset', async (rt, req, p) => ({
  reset: await rt.stores.mappings.reset(p.name ?? '', { by: req.caller.name }),
  mapping: await rt.stores.mappings.get(p.name ?? '', { fresh: true }),
}));
route('POST', 'mappings/{name}/disable', async (rt, req, p) => rt.stores.mappings.disable(p.name ?? '', { by: req.caller.name }));
route('POST', 'mappings/{name}/enable', async (rt, req, p) => rt.stores.mappings.enable(p.name ?? '', { by: req.caller.name }));
route('DELETE', 'mappings/{name}', async (rt, req, p) => {
  const m = await rt.stores.mappings.get(p.name ?? '', { fresh: true });
  if (!m) throw new NotFoundError(`There is no table mapping named '${p.name}'.`);
  if (!m.userDefined) throw new HttpProblem(400, `${m.name} is one of BC's default mappings: disable it or reset it instead.`, 'name');
  return { deleted: await rt.stores.mappings.delete(m.name, { by: req.caller.name }) };
});

function mappingBody(body: unknown, name: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new HttpProblem(400, 'body: expected a table mapping object', 'body');
  const b = body as { name?: unknown };
  if (b.name !== undefined && b.name !== name)
    throw new HttpProblem(400, `name: '${String(b.name)}' does not match the URL '${name}'`, 'name');
  return body as Record<string, unknown>;
}

// --- couplings --------------------------------------------------------------------------------------------
route('GET', 'couplings', async (rt, req) => findCouplings(rt.syncDeps, parse(schemas.couplingsQuery, queryObject(req.query))));
route('GET', 'couplings/find', async (rt, req) => {
  const q = parse(schemas.findQuery, queryObject(req.query));
  const m = await rt.stores.mappings.get(q.mapping, { fresh: true });
  if (!m) throw new NotFoundError(`There is no table mapping named '${q.mapping}'.`);
  return { items: await findRecords(rt.syncDeps, m, q.q) };
});
// Background coupling jobs; the first page runs at once, the `admin-jobs` timer does the rest.
const jobDeps = (rt: Runtime) => ({ sync: rt.syncDeps, state: fullSyncDeps(rt).state });
route('GET', 'couplings/jobs', async (rt) => listCouplingJobs(jobDeps(rt)));
route('POST', 'couplings/jobs', async (rt, req) => {
  const body = parse(schemas.couplingJob, req.body);
  const job = await startCouplingJob(jobDeps(rt), { ...body, by: req.caller.name });
  return (await runCouplingJobPage(jobDeps(rt), job.id)) ?? job;
});
route('GET', 'couplings/jobs/{id}', async (rt, _req, p) => {
  const job = await getCouplingJob(jobDeps(rt), p.id ?? '');
  if (!job) throw new NotFoundError(`There is no coupling job '${p.id}'.`);
  return job;
});
route('POST', 'couplings/jobs/{id}/cancel', async (rt, _req, p) => {
  const job = await cancelCouplingJob(jobDeps(rt), p.id ?? '');
  if (!job) throw new NotFoundError(`There is no coupling job '${p.id}'.`);
  return job;
});
route('POST', 'couplings', async (rt, req) => coupleRecord(rt.syncDeps, parse(schemas.couple, req.body)));
route('POST', 'couplings/bulk', async (rt, req) =>
  bulkCouple(rt.syncDeps, { ...parse(schemas.bulkCouple, req.body), companyId: rt.syncDeps.options.dataverseCompanyId }),
);
route('POST', 'couplings/uncouple', async (rt, req) => uncoupleRecord(rt.syncDeps, parse(schemas.uncouple, req.body)));

// --- synchronize now, history -----------------------------------------------------------------------------
route('POST', 'sync-now', async (rt, req) => synchronizeNow(rt.syncDeps, parse(schemas.syncNow, req.body)));
route('GET', 'history', async (rt, req) => {
  const q = parse(schemas.historyQuery, queryObject(req.query));
  return rt.stores.history.forRecord(q.mapping, { bcId: q.bcId, dataverseId: q.dataverseId }, { limit: q.limit ?? 50 });
});

// --- full sync ----------------------------------------------------------------------------------------------
route('POST', 'full-sync', async (rt, req) => {
  const run = await startFullSync(fullSyncDeps(rt), parse(schemas.fullSyncStart, req.body ?? {}));
  return fullSyncProgress(run, rt.clock.now());
});
route('GET', 'full-sync', async (rt, req) => {
  const { runId } = parse(schemas.runQuery, queryObject(req.query));
  const run = await fullSyncStatus(fullSyncDeps(rt), runId);
  if (!run) throw new NotFoundError(runId ? `There is no full synchronization '${runId}'.` : 'No full synchronization has run yet.');
  return fullSyncProgress(run, rt.clock.now());
});
route('GET', 'full-sync/runs', async (rt) => (await listFullSyncRuns(fullSyncDeps(rt))).map((r) => fullSyncProgress(r, rt.clock.now())));
route('POST', 'full-sync/cancel', async (rt, req) => {
  const { runId } = parse(schemas.runBody, req.body ?? {});
  return fullSyncProgress(await cancelFullSync(fullSyncDeps(rt), runId), rt.clock.now());
});
route('POST', 'full-sync/resume', async (rt, req) => {
  const { runId } = parse(schemas.runBody, req.body ?? {});
  return fullSyncProgress(await resumeFullSync(fullSyncDeps(rt), runId), rt.clock.now());
});

// --- reconciliation -----------------------------------------------------------------------------------------
route('POST', 'reconcile', async (rt, req) => {
  const { mappings } = parse(schemas.reconcileBody, req.body ?? {});
  return reconcile({ sync: rt.syncDeps, state: fullSyncDeps(rt).state }, mappings ? { mappings } : {});
});

// --- errors ---------------------------------------------------------------------------------------------------
const errorDeps = (rt: Runtime) => ({ errors: rt.stores.syncErrors, publisher: rt.publisher, now: () => rt.clock.now() });
route('GET', 'errors', async (rt, req) => {
  const q = parse(schemas.errorsQuery, queryObject(req.query));
  const page = await listSyncErrors(rt.stores.syncErrors, q);
  return { items: page.items.map(summarizeError), continuation: page.continuation };
});
route('GET', 'errors/{id}', async (rt, _req, p) => {
  const e = await rt.stores.syncErrors.get(p.id ?? '');
  if (!e) throw new NotFoundError(`There is no sync error '${p.id}'.`);
  return e;
});
route('POST', 'errors/retry-all', async (rt, req) => retryAllSyncErrors(errorDeps(rt), parse(schemas.retryAll, req.body).mapping));
route('POST', 'errors/{id}/retry', async (rt, _req, p) => retrySyncError(errorDeps(rt), p.id ?? ''));
route('POST', 'errors/{id}/dismiss', async (rt, _req, p) => dismissSyncError(rt.stores.syncErrors, p.id ?? ''));

// --- dead letters ---------------------------------------------------------------------------------------------
route('GET', 'dead-letters', async (rt, req) => {
  const q = parse(schemas.deadLettersQuery, queryObject(req.query));
  return listDeadLetters(rt.serviceBus, {
    ...(q.queue ? { queue: q.queue } : {}),
    max: q.max ?? 100,
    ...(q.mapping || q.reason
      ? { selector: { ...(q.mapping ? { mapping: q.mapping } : {}), ...(q.reason ? { reason: q.reason } : {}) } }
      : {}),
  });
});
route('POST', 'dead-letters/replay', async (rt, req) => {
  const { all: _all, max, ...selector } = parse(schemas.deadLetterSelector, req.body);
  return replayDeadLetters(rt.serviceBus, selector, { ...(max ? { max } : {}), now: () => rt.clock.now() });
});
route('POST', 'dead-letters/purge', async (rt, req) => {
  const { all: _all, max, ...selector } = parse(schemas.deadLetterSelector, req.body);
  return purgeDeadLetters(rt.serviceBus, selector, max ? { max } : {});
});

// --- assisted setup ---------------------------------------------------------------------------------------------
route('POST', 'setup', async (rt, req) => {
  const { steps } = parse(
    z
      .object({ steps: z.array(z.enum(['mappings', 'connection', 'columns', 'dataverse-webhooks', 'bc-subscriptions'])).optional() })
      .default({}),
    req.body ?? {},
  );
  return runSetup(rt, steps ? { steps } : {});
});

// --- synchronization log and retention ---------------------------------------------------------------------------
route('GET', 'runs', async (rt, req) => {
  const q = parse(schemas.runsQuery, queryObject(req.query));
  return rt.stores.counters.runs({
    ...(q.mapping ? { mapping: q.mapping } : {}),
    ...(q.limit ? { limit: q.limit } : {}),
    ...(q.hours ? { hours: q.hours } : {}),
  });
});
route('GET', 'retention', async (rt) =>
  retentionStatus({ state: fullSyncDeps(rt).state }, rt.settings.RETENTION_DAYS, rt.settings.RETENTION_SCHEDULE),
);
route('POST', 'retention/run', async (rt) =>
  purgeExpired({ stores: rt.stores, state: fullSyncDeps(rt).state }, { days: rt.settings.RETENTION_DAYS, now: () => rt.clock.now() }),
);

// --- counters and lag -------------------------------------------------------------------------------------------
route('GET', 'stats', async (rt) =>
  mappingStats({ counters: rt.stores.counters, serviceBus: rt.serviceBus, now: () => rt.clock.now() }, await rt.mappings.all()),
);

function summarizeError(e: SyncErrorRecord) {
  const { event: _event, values: _values, ...rest } = e;
  return { ...rest, replayable: Boolean(e.event) };
}

function match(pattern: string, path: string): Record<string, string> | undefined {
  const a = pattern.split('/');
  const b = path.split('/').filter((s) => s !== '');
  if (a.length !== b.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    const seg = a[i] ?? '';
    const val = b[i] ?? '';
    if (seg.startsWith('{')) params[seg.slice(1, -1)] = decodeURIComponent(val);
    else if (seg.toLowerCase() !== val.toLowerCase()) return undefined;
  }
  return params;
}

/** Routes a request; every failure becomes a JSON problem with a status that says whose fault it is. */
export async function handleAdmin(rt: Runtime, req: AdminRequest): Promise<AdminResponse> {
  const path = req.path.replace(/^\/+|\/+$/g, '');
  // Literal routes win over parameter routes (`errors/retry-all` before `errors/{id}`), as the host orders them.
  const candidates = routes
    .map((r) => ({ r, params: match(r.pattern, path) }))
    .filter((c): c is { r: (typeof routes)[number]; params: Record<string, string> } => c.params !== undefined)
    .sort((x, y) => Object.keys(x.params).length - Object.keys(y.params).length);
  if (candidates.length === 0)
    return { status: 404, body: { error: `No admin route '${path}'.`, routes: routes.map((r) => `${r.method} /api/admin/${r.pattern}`) } };
  const hit = candidates.find((c) => c.r.method === req.method.toUpperCase());
  if (!hit)
    return {
      status: 405,
      body: { error: `Method ${req.method} is not allowed on admin/${path}.`, allow: candidates.map((c) => c.r.method) },
    };
  const need = roleFor(hit.r.method);
  if (!allowed(req.caller, need))
    return {
      status: 403,
      body: {
        error: `${req.method.toUpperCase()} admin/${path} needs the ${need} role; ${req.caller.name} has ${req.caller.roles.join(', ') || 'no Sync role'}.`,
      },
    };
  try {
    return { status: 200, body: await hit.r.handler(rt, req, hit.params) };
  } catch (err) {
    return problem(err);
  }
}

export function problem(err: unknown): AdminResponse {
  if (err instanceof HttpProblem) return { status: err.status, body: { error: err.message, ...(err.field ? { field: err.field } : {}) } };
  if (err instanceof NotFoundError) return { status: 404, body: { error: err.message } };
  if (err instanceof MappingValidationError) {
    const problems = err.problems;
    return { status: 400, body: { error: err.message, code: err.code, field: problems[0]?.field, problems } };
  }
  if (err instanceof CouplingConflictError || err instanceof FullSyncConflictError || err instanceof MappingChangedSinceError)
    return { status: 409, body: { error: err.message } };
  if (err instanceof SyncError || err instanceof Error) {
    const e = toSyncError(err);
    if (e.code === 'INTERNAL') return { status: 500, body: { error: e.message, code: e.code } };
    const status = e.transient ? 503 : e.category === 'configuration' ? 400 : 422;
    return { status: e.code === 'EVENT.INVALID' || e.code === 'MAP.INVALID' ? 400 : status, body: { error: e.message, code: e.code } };
  }
  return { status: 500, body: { error: String(err) } };
}

export const ADMIN_ROUTES = () => routes.map((r) => `${r.method} /api/admin/${r.pattern}`);
