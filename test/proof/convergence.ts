import { ServiceBusClient } from '@azure/service-bus';
import type { DeadLetter } from '../../shared/adapters/servicebus/dead-letters';
import { recordId as parseRecordId } from '../../shared/domain/ids';
import type { SyncErrorRecord } from '../../shared/domain/ports';
import { syncRecord } from '../../shared/domain/sync/sync-record';
import { SYNC_KEY_HEADER } from '../../shared/operations/admin-access';
import { fullSyncDeps } from '../../shared/operations/context';
import { reconcile } from '../../shared/operations/reconcile';
import { allQueueNames, OPERATIONAL_QUEUE } from '../../shared/queues';
import { getRuntime, type Runtime } from '../../shared/runtime';
import { matchCustomersByName } from '../support/mappings';
import { until } from '../support/until';
import { PROOF_SECRETS, type ProofStack, prng, startProofStack } from './harness';

/**
 * Convergence under faults, shared by `test/proof/convergence.test.ts` (bounded) and `bench/convergence.ts`
 * (larger): random concurrent creates, edits and deletes of customers in BC and accounts in Dataverse through the
 * real path (simulator webhooks → our webhook functions → Service Bus → sync functions on two host instances →
 * the other simulator), while both simulators inject 429s, 5xx, timeouts, dropped and duplicated webhooks and
 * one instance is restarted mid-flight. Then the faults stop, the queues drain, one reconciliation pass runs, and
 * the final state of both sides is checked against the mapping and its conflict policies.
 *
 * Integrity scenarios on top (issue 19): customers carry payment terms and shipment methods whose option mappings
 * are coupled only half-way through (after their parents, as a full sync in dependency order does); the responses
 * of the first BC creates are lost after BC committed them; and our BC → Dataverse write lands on rows whose
 * user edit is still on its way to us. Besides lost changes and duplicates the run counts fields wiped: a field
 * no user changed that no longer holds the value a user gave it.
 *
 * With Service Bus duplicate detection on in every queue (as in Azure), three more phases check what it must not
 * swallow, each before any reconciliation pass could hide a dropped message: two edits of different columns within
 * one Dataverse second, Retry / Retry all of error rows inside the detection window, and a dead-lettered
 * ops-bc-collection item that the admin lists (all queues) and replays.
 */

export interface ConvergenceOptions {
  /** PRNG seed of the operations (printed; the simulators' fault dice are not seeded). */
  seed: number;
  /** User operations in total. */
  operations: number;
  /** Operations in flight at once. Default 4. */
  concurrency?: number;
  /** Sync function instances. Default 2. */
  instances?: number;
  /** Restart instance 0 when this share of the operations is done. Default 0.5. */
  restartAt?: number;
  /** Fault rates; default {@link DEFAULT_FAULTS}. */
  faults?: Partial<FaultRates>;
  /** Called with progress lines (the bench prints them). */
  log?: (line: string) => void;
  /** Longest wait for the queues to drain, each time. Default 60 s. */
  drainTimeoutMs?: number;
  /** BC creates by the sync whose response is lost after BC committed them (lost-create phase). Default 2. */
  lostCreateResponses?: number;
}

export interface FaultRates {
  /** Share of API requests answered 503. */
  errorRate: number;
  /** Share of API requests held and then dropped (BC answers 504, Dataverse closes the socket). */
  timeoutRate: number;
  timeoutMs: number;
  /** Share of webhook notifications never sent / sent twice. */
  dropWebhookRate: number;
  duplicateWebhookRate: number;
  /** API requests per second the integration may make on each side before 429s (tiny on purpose). */
  requestsPerSecond: number;
}

export const DEFAULT_FAULTS: FaultRates = {
  errorRate: 0.04,
  timeoutRate: 0.01,
  timeoutMs: 800,
  dropWebhookRate: 0.15,
  duplicateWebhookRate: 0.15,
  requestsPerSecond: 12,
};

/** The mapped fields the operations edit (CUSTOMER ↔ account). */
export const FIELDS = [
  { bc: 'displayName', dv: 'name' },
  { bc: 'phoneNumber', dv: 'telephone1' },
  { bc: 'addressLine1', dv: 'address1_line1' },
  { bc: 'city', dv: 'address1_city' },
  { bc: 'email', dv: 'emailaddress1' },
] as const;

export interface ConvergenceReport {
  seed: number;
  operations: number;
  /** User changes that reached a simulator (made), by kind. */
  made: number;
  madeByKind: Record<string, number>;
  /** Changes on records whose pair agrees at the end (or are deleted on both sides). */
  applied: number;
  /** Changes on records that disagree but have an open sync error or a dead letter naming them. */
  failedVisible: number;
  /** Changes on records that disagree with nothing visible. Must be 0. */
  lost: number;
  /** Records (logical customers) at the end, and how many disagree. */
  records: number;
  problems: string[];
  /** Two rows on one side for one logical record, or a coupling that is not one-to-one. Must be empty. */
  duplicates: string[];
  /** Fields no user changed whose value is no longer the one a user gave (text fields both sides, BC options). Must be 0. */
  wiped: number;
  wipedFields: string[];
  /** BC options of BC-created customers whose option got coupled, yet the account does not show it. Must be 0. */
  optionsUnfilled: number;
  /**
   * Error rows ever recorded because a BC create waited on a claim whose attempt lost its response (the retry must
   * adopt what that attempt made, not wait for the claim to go stale and dead-letter meanwhile). Must be 0.
   */
  createsStarved: number;
  /**
   * Integrity scenarios run: BC creates whose response was lost, our writes racing a user's edit, option couplings,
   * pairs of edits within one Dataverse second, error retries inside the duplicate-detection window (and those that
   * never ran: must be 0), ops-* dead letters listed and replayed.
   */
  scenarios: {
    lostCreateResponses: number;
    racedWrites: number;
    optionsCoupledLate: number;
    sameSecondEdits: number;
    retriesInWindow: number;
    retriesNotRun: number;
    opsDeadLettersListed: number;
    opsDeadLettersReplayed: number;
  };
  /** Every sync error row recorded (open or resolved): mapping, code, status, ids, message tail. Printed on failure. */
  errorRows: string[];
  /** Sync invocations that failed because of a concurrent write (412 / coupling race) — the engine retries those itself. */
  concurrencyFailures: number;
  /** What those invocations failed with (printed). */
  concurrencyFailureErrors: string[];
  /** Error rows ever recorded (open or resolved) with a concurrency code. */
  concurrencyErrorRows: number;
  /** 412 answers the integration received (its If-Match lost to a user's edit). */
  concurrency412: number;
  /**
   * After convergence, a reconciliation-style event for every account whose last write was ours: those are echoes
   * and must cost nothing on the BC side. `bcRequests` must be 0.
   */
  echoSweep: { events: number; bcRequests: number };
  /** Sweep events dropped without a BC request. */
  echoesDropped: number;
  /** Writes the integration made to BC / Dataverse during the whole run (simulator counters). */
  integrationWrites: { bc: number; dataverse: number };
  /** Writes of the second reconciliation pass: a converged system writes nothing. */
  writesAfterQuiet: { bc: number; dataverse: number };
  faultsSeen: { bc429: number; dv429: number; deadLettered: number; openErrors: number };
  restarts: number;
  seconds: number;
  reconcile: string;
}

interface LogicalRecord {
  key: string;
  createdOn: 'bc' | 'dataverse';
  bcId?: string;
  dvId?: string;
  ops: number;
  deleted: boolean;
  /** What the creating user entered, by BC field (mapped text fields, and the BC options of a BC create). */
  initial: Record<string, string>;
  /** BC fields a user changed after the create. */
  edited: Set<string>;
}

/** BC option fields of a customer and the account columns they map to (through PAYMENT TERMS / SHIPMENT METHOD). */
const OPTION_FIELDS = [
  { bc: 'paymentTermsId', dv: 'paymenttermscode', mapping: 'PAYMENT TERMS', entitySet: 'paymentTerms' },
  { bc: 'shipmentMethodId', dv: 'address1_freighttermscode', mapping: 'SHIPMENT METHOD', entitySet: 'shipmentMethods' },
] as const;

const bcHeaders = { Authorization: 'Bearer proof-user', 'Content-Type': 'application/json' };
const dvHeaders = (token: string) => ({
  Authorization: `Bearer ${token}`,
  'Content-Type': 'application/json',
  Accept: 'application/json',
  'OData-Version': '4.0',
  Prefer: 'return=representation',
});

/** The admin API's `Sync.Admin` key in this run (a test value): Retry, Retry all and dead-letter replay go through it. */
const ADMIN_KEY = 'proof-convergence-admin-key-61c2';

const norm = (v: unknown) => (v === null || v === undefined ? '' : String(v));

export async function runConvergence(options: ConvergenceOptions): Promise<ConvergenceReport> {
  const started = Date.now();
  const log = options.log ?? (() => undefined);
  const faults = { ...DEFAULT_FAULTS, ...options.faults };
  const rand = prng(options.seed);
  // BC creates of the sync (customers made from new accounts) whose response is lost after BC committed them: armed
  // by the lost-create phase.
  const lost = { left: 0, done: 0 };
  const stack = await startProofStack({
    functions: ['sync', 'bc-webhook', 'dataverse-webhook', 'bc-subscriptions', 'bc-collection', 'admin-api'],
    instances: options.instances ?? 2,
    env: { SYNC_ADMIN_KEY: ADMIN_KEY },
    bc: { seed: 'demo' },
    dataverse: { seed: 'demo' },
    loseResponse: ({ side, method, url }) => {
      if (side !== 'bc' || method !== 'POST' || !/\/customers(\?|$)/.test(url) || lost.left <= 0) return false;
      lost.left--;
      lost.done++;
      return true;
    },
  });
  try {
    return await scenario(stack, options, faults, rand, log, started, lost);
  } finally {
    await stack.stop();
  }
}

async function scenario(
  stack: ProofStack,
  options: ConvergenceOptions,
  faults: FaultRates,
  rand: () => number,
  log: (line: string) => void,
  started: number,
  lost: { left: number; done: number },
): Promise<ConvergenceReport> {
  const { bc, dataverse: dv } = stack;
  const rt = await getRuntime();
  const prefix = `Cv${options.seed}-`;
  const drainTimeoutMs = options.drainTimeoutMs ?? 60_000;

  // Creates on either side couple by name or create the other side; BC wins update conflicts; deletes propagate.
  await matchCustomersByName(rt, {
    synchOnlyCoupledRecords: false,
    updateConflictResolution: 'SendUpdateToIntegration',
    deletionConflictResolution: 'PropagateDelete',
  });

  // Change capture set up as in production: BC subscriptions (the timer ran on start-up), Dataverse steps.
  await until(
    'the BC customers subscription',
    async () => {
      const res = await fetch(`${bc.apiRoot()}/subscriptions`, { headers: bcHeaders });
      const body = (await res.json()) as { value?: Array<{ resource: string }> };
      return body.value?.some((s) => s.resource.toLowerCase().includes('/customers')) || undefined;
    },
    20_000,
  );
  const reg = await fetch(stack.hosts[0]?.apiUrl('admin/dataverse-webhooks') ?? '', {
    method: 'POST',
    headers: { 'x-functions-key': PROOF_SECRETS.masterKey },
  });
  if (reg.status !== 200) throw new Error(`Dataverse webhook registration answered ${reg.status}: ${await reg.text()}`);
  const reconcileDeps = { sync: rt.syncDeps, state: fullSyncDeps(rt).state };
  await reconcile(reconcileDeps, { mappings: ['CUSTOMER'] }); // first run records the watermarks
  await fetch(`${bc.url}/_sim/counters`, { method: 'DELETE' });
  await fetch(`${dv.url}/_sim/counters`, { method: 'DELETE' });

  // BC's payment terms and shipment methods: customers created in BC carry them; their option mappings are not
  // coupled yet (they are half-way through the run). Read before the faults are on: this is the test's
  // own set-up, not a user's request to retry.
  const optionIds: Record<string, string[]> = {};
  for (const o of OPTION_FIELDS) {
    const res = await fetch(`${bc.apiBase()}/${o.entitySet}?$select=id`, { headers: bcHeaders });
    optionIds[o.bc] = ((await res.json()) as { value: Array<{ id: string }> }).value.map((r) => r.id.toLowerCase());
  }

  // Faults on.
  await postJson(`${bc.url}/_sim/faults`, {
    errorRate: faults.errorRate,
    errorStatus: 503,
    timeoutRate: faults.timeoutRate,
    timeoutMs: faults.timeoutMs,
    dropWebhookRate: faults.dropWebhookRate,
    duplicateWebhookRate: faults.duplicateWebhookRate,
  });
  await postJson(`${bc.url}/_sim/limits`, { enforce: true, requestsPerWindow: faults.requestsPerSecond, windowMs: 1000 });
  await postJson(`${dv.url}/_sim/faults`, {
    errorRate: faults.errorRate,
    errorStatus: 503,
    timeoutRate: faults.timeoutRate,
    timeoutMs: faults.timeoutMs,
    webhookDropRate: faults.dropWebhookRate,
    webhookDuplicateRate: faults.duplicateWebhookRate,
  });
  await postJson(`${dv.url}/_sim/limits`, { enabled: true, requests: faults.requestsPerSecond, windowMs: 1000 });

  // The users.
  const records: LogicalRecord[] = [];
  const madeByKind: Record<string, number> = {};
  let made = 0;
  let serial = 0;
  let restarts = 0;
  const restartAfter = Math.floor(options.operations * (options.restartAt ?? 0.5));
  const dvUser = dv.adminUserToken;
  const value = (field: string) => {
    const n = Math.floor(rand() * 1e6);
    return field === 'email' || field === 'emailaddress1' ? `u${n}@example.com` : `${field.slice(0, 4)}-${n}`;
  };
  const ops = Array.from({ length: options.operations }, (_, i) => {
    const r = rand();
    const kind = r < 0.3 ? 'create' : r < 0.85 ? 'edit' : 'delete';
    return { i, kind, side: rand() < 0.5 ? ('bc' as const) : ('dataverse' as const), pick: rand(), fields: rand(), v: rand() };
  });

  const partnerOf = async (rec: LogicalRecord) => {
    // What the users on the other side see: the partner appears once the sync has created or coupled it.
    if (rec.bcId && !rec.dvId) rec.dvId = (await rt.stores.couplings.getByBcId('CUSTOMER', rec.bcId))?.dataverseId;
    if (rec.dvId && !rec.bcId) rec.bcId = (await rt.stores.couplings.getByDataverseId('CUSTOMER', rec.dvId))?.bcId;
  };

  const runOp = async (op: (typeof ops)[number]) => {
    const alive = records.filter((r) => !r.deleted);
    if (op.kind === 'create' || alive.length === 0) {
      const key = `${prefix}${String(++serial).padStart(4, '0')}`;
      const rec: LogicalRecord = { key, createdOn: op.side, ops: 1, deleted: false, initial: {}, edited: new Set() };
      if (op.side === 'bc') {
        const body: Record<string, string> = {
          displayName: key,
          phoneNumber: value('phone'),
          addressLine1: value('addr'),
          city: value('city'),
          email: value('email'),
        };
        for (const o of OPTION_FIELDS) {
          const ids = optionIds[o.bc] ?? [];
          if (ids.length > 0) body[o.bc] = ids[serial % ids.length] as string;
        }
        rec.initial = { ...body };
        const res = await postJson(`${bc.url}/_sim/as-user`, { method: 'POST', entitySet: 'customers', body });
        rec.bcId = String(((await res.json()) as { id: string }).id).toLowerCase();
      } else {
        const body = {
          name: key,
          telephone1: value('phone'),
          address1_line1: value('addr'),
          address1_city: value('city'),
          emailaddress1: value('email'),
          customertypecode: 3,
        };
        rec.initial = Object.fromEntries(FIELDS.map((f) => [f.bc, String(body[f.dv])]));
        const res = await dvCall('POST', `${dv.apiBase}/accounts`, dvUser, body);
        rec.dvId = String(((await res.json()) as { accountid: string }).accountid).toLowerCase();
      }
      // Visible to the other workers only once it exists.
      records.push(rec);
      count(`create-${op.side}`);
      return;
    }
    const rec = alive[Math.floor(op.pick * alive.length)] as LogicalRecord;
    await partnerOf(rec);
    const side = op.side === 'bc' ? (rec.bcId ? 'bc' : 'dataverse') : rec.dvId ? 'dataverse' : 'bc';
    rec.ops++;
    if (op.kind === 'delete') {
      rec.deleted = true;
      if (side === 'bc') await postJson(`${bc.url}/_sim/as-user`, { method: 'DELETE', entitySet: 'customers', id: rec.bcId }, [204, 404]);
      else await dvCall('DELETE', `${dv.apiBase}/accounts(${rec.dvId})`, dvUser, undefined, [204, 404]);
      count(`delete-${side}`);
      return;
    }
    // Edit one or two mapped fields; a renamed record keeps a unique name.
    const chosen = FIELDS.filter(
      (_, j) =>
        j === Math.floor(op.fields * FIELDS.length) || (op.v < 0.3 && j === (Math.floor(op.fields * FIELDS.length) + 1) % FIELDS.length),
    );
    const body: Record<string, string> = {};
    for (const f of chosen) {
      const name = side === 'bc' ? f.bc : f.dv;
      body[name] = f.bc === 'displayName' ? `${rec.key}~${Math.floor(op.v * 1e6)}` : value(name);
      rec.edited.add(f.bc);
    }
    if (side === 'bc') {
      const res = await postJson(`${bc.url}/_sim/as-user`, { method: 'PATCH', entitySet: 'customers', id: rec.bcId, body }, [200, 404]);
      if (res.status === 404) rec.deleted = true; // deleted by the sync meanwhile (a delete on the other side)
    } else {
      const res = await dvCall('PATCH', `${dv.apiBase}/accounts(${rec.dvId})`, dvUser, body, [200, 204, 404]);
      if (res.status === 404) rec.deleted = true;
    }
    count(`edit-${side}`);
  };
  const count = (k: string) => {
    made++;
    madeByKind[k] = (madeByKind[k] ?? 0) + 1;
  };

  let next = 0;
  let restartDone: Promise<void> | undefined;
  const worker = async () => {
    while (next < ops.length) {
      const op = ops[next++] as (typeof ops)[number];
      if (op.i === restartAfter && !restartDone) {
        log(`restarting host instance 0 after ${op.i} operations`);
        restartDone = stack.restartHost(0).then(() => {
          restarts++;
        });
      }
      await runOp(op);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
  await restartDone;
  log(`${made} changes made; faults off, draining`);

  // Faults off; let everything in flight finish.
  await fetch(`${bc.url}/_sim/faults`, {
    method: 'POST',
    headers: bcHeaders,
    body: JSON.stringify({ errorRate: 0, timeoutRate: 0, dropWebhookRate: 0, duplicateWebhookRate: 0 }),
  });
  await postJson(`${bc.url}/_sim/limits`, { enforce: false });
  await fetch(`${dv.url}/_sim/faults`, { method: 'DELETE' });
  await postJson(`${dv.url}/_sim/limits`, { enabled: false });
  await drain(stack, drainTimeoutMs);
  log(`${made} changes made; hot records (412s) while the sync runs`);
  const contention = await contend(stack, rt, records);
  made += contention;
  madeByKind['hot-records'] = contention;
  await drain(stack, drainTimeoutMs);
  log("our writes racing users' edits");
  const raced = await raceOwnWrites(stack, rt, records);
  made += raced.edits;
  madeByKind['raced-writes'] = raced.edits;
  await drain(stack, drainTimeoutMs);
  log('BC create responses lost');
  const lostCreates = await lostCreateResponses(stack, rt, records, lost, options.lostCreateResponses ?? 2);
  made += lostCreates;
  madeByKind['lost-create'] = lostCreates;
  await drain(stack, drainTimeoutMs);
  log('payment terms and shipment methods coupled after their customers');
  const late = await optionsAfterCustomers(stack, rt, records, optionIds, drainTimeoutMs);
  made += late.edits;
  madeByKind['options-late'] = late.edits;
  // Duplicate detection is on (10-minute window, as in Azure): what it must not swallow. Each phase checks its
  // changes arrived before any reconciliation pass, which would otherwise hide a dropped message.
  const unapplied: Array<{ key: string; text: string }> = [];
  log('two edits of different columns within one Dataverse second');
  const sameSecond = await sameSecondEdits(stack, rt, records, drainTimeoutMs);
  made += sameSecond.edits;
  madeByKind['same-second'] = sameSecond.edits;
  unapplied.push(...sameSecond.unapplied);
  log('error Retry and Retry all inside the duplicate-detection window');
  const retried = await retriesInWindow(stack, rt, records, drainTimeoutMs);
  made += retried.edits;
  madeByKind['retry-window'] = retried.edits;
  unapplied.push(...retried.unapplied);
  log('a dead-lettered ops-bc-collection item, listed and replayed');
  const opsDead = await opsDeadLetter(stack, rt, records, drainTimeoutMs);
  made += opsDead.edits;
  madeByKind['ops-dead-letter'] = opsDead.edits;
  unapplied.push(...opsDead.unapplied);

  const reconciled = await reconcile(reconcileDeps, { mappings: ['CUSTOMER'] });
  const reconcileText = reconciled
    .map((r) => `${r.mapping}: ${r.bcPublished} BC + ${r.dataversePublished} Dataverse events${r.error ? ` (${r.error})` : ''}`)
    .join('; ');
  log(`reconciliation: ${reconcileText}`);
  await drain(stack, drainTimeoutMs);

  const countersBefore = await writeCounters(stack);
  // A converged system is quiet: a second pass over everything changed writes nothing.
  await reconcile(reconcileDeps, { mappings: ['CUSTOMER'] });
  await drain(stack, drainTimeoutMs);
  const countersAfter = await writeCounters(stack);

  const echoSweep = await sweepOwnWrites(stack, rt, prefix, drainTimeoutMs);
  const report = await verify(stack, rt, records, prefix);
  const hostInvocations = stack.hosts.flatMap((h) => h.invocations());
  // The error codes and "answered 412", not a bare 412 or any "concurrency": an invocation's error carries its stack,
  // whose line numbers and names hold those too (the ops-bc-collection phase's deliberate 400s matched that way).
  const concurrent = (e: string) =>
    /\b(BC|DV)\.CONCURRENCY\b|answered 412\b|CouplingConflict/.test(e) || /coupling .*(changed|conflict)/i.test(e);
  const concurrencyFailed = hostInvocations.filter((i) => !i.succeeded && concurrent(i.error ?? ''));
  const concurrencyFailures = concurrencyFailed.length;
  const echoesDropped = echoSweep.events - echoSweep.bcRequests;
  const droppedEarly = unapplied.filter((u) => !report.failedKeys.includes(u.key));
  const bc429 = stack.integrationStatuses.bc.get(429) ?? 0;
  const dv429 = stack.integrationStatuses.dataverse.get(429) ?? 0;
  return {
    seed: options.seed,
    operations: options.operations,
    made,
    madeByKind,
    ...report,
    concurrencyFailures,
    concurrencyFailureErrors: concurrencyFailed.map((i) => `${i.functionName}: ${(i.error ?? '').slice(0, 300)}`),
    concurrency412: (stack.integrationStatuses.bc.get(412) ?? 0) + (stack.integrationStatuses.dataverse.get(412) ?? 0),
    echoesDropped,
    echoSweep,
    integrationWrites: countersBefore,
    writesAfterQuiet: { bc: countersAfter.bc - countersBefore.bc, dataverse: countersAfter.dataverse - countersBefore.dataverse },
    faultsSeen: { bc429, dv429, deadLettered: report.deadLettered, openErrors: report.openErrors },
    restarts,
    seconds: Math.round((Date.now() - started) / 1000),
    reconcile: reconcileText,
    optionsUnfilled: report.optionsUnfilled + late.unfilled,
    // A change a scenario found missing before reconciliation was dropped, whatever the final pass repaired (one
    // the final state still misses is counted by the verification already).
    applied: report.applied - droppedEarly.length,
    lost: report.lost + droppedEarly.length,
    problems: [...unapplied.map((u) => `LOST before reconciliation: ${u.text}`), ...report.problems],
    scenarios: {
      lostCreateResponses: lost.done,
      racedWrites: raced.records,
      optionsCoupledLate: late.coupled,
      sameSecondEdits: sameSecond.pairs,
      retriesInWindow: retried.retries,
      retriesNotRun: retried.notRun,
      opsDeadLettersListed: opsDead.listed,
      opsDeadLettersReplayed: opsDead.replayed,
    },
  };
}

/**
 * The option mappings coupled after their parents (as a full sync in dependency order reaches them): every BC
 * payment term and shipment method goes through the engine as a full sync would, retried through the injected
 * faults. Returns how many were coupled.
 */
async function coupleOptionsLate(rt: Runtime, optionIds: Record<string, string[]>): Promise<number> {
  let coupled = 0;
  for (const o of OPTION_FIELDS) {
    for (const id of optionIds[o.bc] ?? []) {
      for (let attempt = 0; ; attempt++) {
        try {
          const out = await syncRecord(
            {
              v: 1,
              mapping: o.mapping,
              source: 'bc',
              recordId: parseRecordId(id),
              changeType: 'unknown',
              origin: 'full-sync',
              correlationId: `convergence-options-${id}`,
              observedAt: new Date().toISOString(),
              deferrals: 0,
            },
            rt.syncDeps,
          );
          if (out.result === 'inserted' || out.result === 'coupled') coupled++;
          break;
        } catch (err) {
          if (attempt > 20) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    }
  }
  return coupled;
}

/**
 * A lost create response: a Dataverse user creates accounts; the sync's BC create succeeds but its response is
 * lost, so the event comes back. Coupling by name is off for this phase (as in an installation without match
 * criteria), so only the lost attempt's own trace can find the customer it made: the retry must adopt it rather
 * than wait for the claim to go stale or create a second one. Returns the users' changes.
 */
async function lostCreateResponses(
  stack: ProofStack,
  rt: Runtime,
  records: LogicalRecord[],
  lost: { left: number },
  count: number,
): Promise<number> {
  const byName = await rt.stores.mappings.get('CUSTOMER');
  if (!byName) throw new Error('CUSTOMER mapping missing');
  await rt.stores.mappings.put({ ...byName, couplingRules: { ...byName.couplingRules, matchFields: [] } });
  lost.left = count;
  try {
    for (let r = 0; r < count; r++) {
      const key = `${records[0]?.key.split('-')[0] ?? 'Cv'}-L${r}`;
      const body = {
        name: key,
        telephone1: `lost-${r}`,
        address1_line1: `lost-${r}`,
        address1_city: `lost-${r}`,
        emailaddress1: `lost${r}@example.com`,
        customertypecode: 3,
      };
      const res = await dvCall('POST', `${stack.dataverse.apiBase}/accounts`, stack.dataverse.adminUserToken, body);
      const rec: LogicalRecord = {
        key,
        createdOn: 'dataverse',
        dvId: String(((await res.json()) as { accountid: string }).accountid).toLowerCase(),
        ops: 1,
        deleted: false,
        initial: Object.fromEntries(FIELDS.map((f) => [f.bc, String(body[f.dv])])),
        edited: new Set(),
      };
      records.push(rec);
      rec.bcId = await until(
        `${key} to be coupled`,
        async () => (await rt.stores.couplings.getByDataverseId('CUSTOMER', rec.dvId ?? ''))?.bcId,
        60_000,
      );
    }
  } finally {
    lost.left = 0;
    await rt.stores.mappings.put(byName);
  }
  return count;
}

/**
 * Options coupled after their customers (the audit's proof): customers created in BC with payment terms and a
 * shipment method reach Dataverse with those blank (not coupled yet); a Dataverse user edits their phone, and the
 * Dataverse → BC pass must not write the blanks back over BC's values; then the options are coupled and the
 * accounts must show them (before any reconciliation pass). Every BC-created customer of the run carries options,
 * so the random operations went through the same. Returns the users' edits and the accounts not filled in.
 */
async function optionsAfterCustomers(
  stack: ProofStack,
  rt: Runtime,
  records: LogicalRecord[],
  optionIds: Record<string, string[]>,
  drainTimeoutMs: number,
): Promise<{ edits: number; coupled: number; unfilled: number }> {
  const late: LogicalRecord[] = [];
  for (let r = 0; r < 2; r++) {
    const key = `${records[0]?.key.split('-')[0] ?? 'Cv'}-O${r}`;
    const body: Record<string, string> = {
      displayName: key,
      phoneNumber: `opt-${r}`,
      addressLine1: `opt-${r}`,
      city: `opt-${r}`,
      email: `opt${r}@example.com`,
    };
    for (const o of OPTION_FIELDS) body[o.bc] = optionIds[o.bc]?.[r] ?? '';
    const rec = await createBcCustomer(stack, key, body, ['phoneNumber']);
    await whenCoupled(rt, rec, `${key} to be coupled`, 30_000);
    records.push(rec);
    late.push(rec);
  }
  let edits = late.length;
  for (const [r, rec] of late.entries()) {
    await dvCall('PATCH', `${stack.dataverse.apiBase}/accounts(${rec.dvId})`, stack.dataverse.adminUserToken, {
      telephone1: `opt-dv-${r}`,
    });
    rec.ops++;
    edits++;
    await until(
      `the phone of ${rec.key} in BC`,
      async () => {
        const row = await fetch(`${stack.bc.apiBase()}/customers(${rec.bcId})`, { headers: bcHeaders });
        return ((await row.json()) as { phoneNumber?: string }).phoneNumber === `opt-dv-${r}` || undefined;
      },
      30_000,
    );
  }
  const coupled = await coupleOptionsLate(rt, optionIds);
  await drain(stack, drainTimeoutMs);
  // Filled in by the re-synchronization the couplings queued (no reconciliation has run since).
  let unfilled = 0;
  for (const rec of records.filter((x) => x.createdOn === 'bc' && !x.deleted && x.dvId)) {
    const res = await fetch(`${stack.dataverse.apiBase}/accounts(${rec.dvId})?$select=${OPTION_FIELDS.map((o) => o.dv).join(',')}`, {
      headers: dvHeaders(stack.dataverse.adminUserToken),
    });
    if (res.status !== 200) continue;
    const row = (await res.json()) as Record<string, unknown>;
    for (const o of OPTION_FIELDS) {
      const given = rec.initial[o.bc];
      if (!given) continue;
      const option = (await rt.stores.couplings.getByBcId(o.mapping, given))?.dataverseId;
      if (option !== undefined && row[o.dv] !== Number(option)) unfilled++;
    }
  }
  return { edits, coupled, unfilled };
}

/**
 * Our write racing a user's edit: Dataverse holds back its notifications; a user edits the city of an account,
 * then a BC user edits the phone of its customer, and our BC → Dataverse write lands on the row after the user's
 * edit. The user's change reaches us only afterwards (reconciliation), on a row whose last modifier is us.
 */
async function raceOwnWrites(stack: ProofStack, rt: Runtime, records: LogicalRecord[]): Promise<{ records: number; edits: number }> {
  const raced: LogicalRecord[] = [];
  for (let r = 0; r < 3; r++) {
    const key = `${records[0]?.key.split('-')[0] ?? 'Cv'}-R${r}`;
    const body = {
      displayName: key,
      phoneNumber: `race-${r}`,
      addressLine1: `race-${r}`,
      city: `race-${r}`,
      email: `race${r}@example.com`,
    };
    const rec = await createBcCustomer(stack, key, body, []);
    await whenCoupled(rt, rec, `race record ${key} to be coupled`, 30_000);
    records.push(rec);
    raced.push(rec);
  }
  let edits = raced.length;
  await postJson(`${stack.dataverse.url}/_sim/faults`, { webhookDropRate: 1 });
  try {
    for (const [r, rec] of raced.entries()) {
      await dvCall('PATCH', `${stack.dataverse.apiBase}/accounts(${rec.dvId})`, stack.dataverse.adminUserToken, {
        address1_city: `race-dv-${r}`,
      });
      await postJson(`${stack.bc.url}/_sim/as-user`, {
        method: 'PATCH',
        entitySet: 'customers',
        id: rec.bcId,
        body: { phoneNumber: `race-bc-${r}` },
      });
      rec.edited.add('city').add('phoneNumber');
      rec.ops += 2;
      edits += 2;
      await until(
        `our write of race record ${rec.key} to land after the user's edit`,
        async () => {
          const row = await dvCall(
            'GET',
            `${stack.dataverse.apiBase}/accounts(${rec.dvId})?$select=telephone1`,
            stack.dataverse.adminUserToken,
            undefined,
            [200],
          );
          return ((await row.json()) as { telephone1?: string }).telephone1 === `race-bc-${r}` || undefined;
        },
        30_000,
      );
    }
  } finally {
    await fetch(`${stack.dataverse.url}/_sim/faults`, { method: 'DELETE' });
  }
  return { records: raced.length, edits };
}

/** A customer a BC user creates (its record in the log, not yet coupled). */
async function createBcCustomer(stack: ProofStack, key: string, body: Record<string, string>, edited: string[]): Promise<LogicalRecord> {
  const res = await postJson(`${stack.bc.url}/_sim/as-user`, { method: 'POST', entitySet: 'customers', body });
  return {
    key,
    createdOn: 'bc',
    bcId: String(((await res.json()) as { id: string }).id).toLowerCase(),
    ops: 1,
    deleted: false,
    initial: { ...body },
    edited: new Set(edited),
  };
}

/** Waits until the sync has coupled a BC-created record to its new account, and notes the account. */
async function whenCoupled(rt: Runtime, rec: LogicalRecord, what: string, timeoutMs: number): Promise<void> {
  rec.dvId = await until(what, async () => (await rt.stores.couplings.getByBcId('CUSTOMER', rec.bcId ?? ''))?.dataverseId, timeoutMs);
}

/** A customer a BC user creates, once the sync has coupled it to its new account. */
async function bcCustomer(stack: ProofStack, rt: Runtime, records: LogicalRecord[], tag: string, edited: string[]): Promise<LogicalRecord> {
  const key = `${records[0]?.key.split('-')[0] ?? 'Cv'}-${tag}`;
  const body = { displayName: key, phoneNumber: tag, addressLine1: tag, city: tag, email: `${tag.toLowerCase()}@example.com` };
  const rec = await createBcCustomer(stack, key, body, edited);
  await whenCoupled(rt, rec, `${key} to be coupled`, 60_000);
  records.push(rec);
  return rec;
}

/** The admin API as the admin page calls it (Sync.Admin key). */
async function admin<T>(stack: ProofStack, method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(stack.hosts[0]?.apiUrl(`admin/${route}`) ?? '', {
    method,
    headers: { [SYNC_KEY_HEADER]: ADMIN_KEY, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status !== 200) throw new Error(`admin ${method} ${route} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

/** `until`, answering undefined when the deadline passes: for outcomes the report counts rather than throws on. */
async function within<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T | undefined> {
  try {
    return await until(what, check, timeoutMs);
  } catch {
    return undefined;
  }
}

const bcCustomerRow = async (stack: ProofStack, id: string | undefined) =>
  (await (await fetch(`${stack.bc.apiBase()}/customers(${id})`, { headers: bcHeaders })).json()) as Record<string, unknown>;
const accountRow = async (stack: ProofStack, id: string | undefined, select: string) =>
  (await (
    await dvCall('GET', `${stack.dataverse.apiBase}/accounts(${id})?$select=${select}`, stack.dataverse.adminUserToken, undefined, [200])
  ).json()) as Record<string, unknown>;

/**
 * Two edits of different columns of one account within one Dataverse second (`modifiedon` has whole seconds; the
 * simulator's clock stands still, so both get the same one). The first is in BC before the second is made, so
 * only the second's own message can bring it: a message id built from `modifiedon` makes it a duplicate the
 * broker drops. Returns the users' changes and the second edits missing in BC once the system is quiet.
 */
async function sameSecondEdits(
  stack: ProofStack,
  rt: Runtime,
  records: LogicalRecord[],
  drainTimeoutMs: number,
): Promise<{ pairs: number; edits: number; unapplied: Array<{ key: string; text: string }> }> {
  const recs: LogicalRecord[] = [];
  for (let r = 0; r < 2; r++) recs.push(await bcCustomer(stack, rt, records, `S${r}`, ['phoneNumber', 'city']));
  let edits = recs.length;
  const token = stack.dataverse.adminUserToken;
  for (const [r, rec] of recs.entries()) {
    await postJson(`${stack.dataverse.url}/_sim/clock`, { set: new Date().toISOString() });
    try {
      await dvCall('PATCH', `${stack.dataverse.apiBase}/accounts(${rec.dvId})`, token, { telephone1: `same-${r}-phone` });
      const first = (await accountRow(stack, rec.dvId, 'modifiedon')).modifiedon;
      await until(
        `the first same-second edit of ${rec.key} in BC`,
        async () => (await bcCustomerRow(stack, rec.bcId)).phoneNumber === `same-${r}-phone` || undefined,
        60_000,
      );
      await dvCall('PATCH', `${stack.dataverse.apiBase}/accounts(${rec.dvId})`, token, { address1_city: `same-${r}-city` });
      const second = (await accountRow(stack, rec.dvId, 'modifiedon')).modifiedon;
      if (first !== second) throw new Error(`same-second edits of ${rec.key} got different modifiedon (${first}, ${second})`);
      rec.ops += 2;
      edits += 2;
    } finally {
      await postJson(`${stack.dataverse.url}/_sim/clock`, { unfreeze: true });
    }
  }
  await drain(stack, drainTimeoutMs);
  const unapplied: Array<{ key: string; text: string }> = [];
  for (const [r, rec] of recs.entries()) {
    const city = (await bcCustomerRow(stack, rec.bcId)).city;
    if (city !== `same-${r}-city`)
      unapplied.push({ key: rec.key, text: `${rec.key}: the second edit within one Dataverse second is not in BC (city '${city}')` });
  }
  return { pairs: recs.length, edits, unapplied };
}

/**
 * Error Retry and Retry all inside the duplicate-detection window: BC refuses every request (400) while Dataverse
 * users edit two accounts, so each change is recorded as an error; the admin retries each row twice and then
 * retries all, seconds apart. Every retry must run (its row's attempts go up); once BC is back one more retry
 * applies the change. Returns the retries made, those that never ran, and the changes missing in BC.
 */
async function retriesInWindow(
  stack: ProofStack,
  rt: Runtime,
  records: LogicalRecord[],
  drainTimeoutMs: number,
): Promise<{ edits: number; retries: number; notRun: number; unapplied: Array<{ key: string; text: string }> }> {
  const recs: LogicalRecord[] = [];
  for (let r = 0; r < 2; r++) recs.push(await bcCustomer(stack, rt, records, `E${r}`, ['phoneNumber']));
  let edits = recs.length;
  const row = async (rec: LogicalRecord) =>
    (await rt.stores.syncErrors.list({ mapping: 'CUSTOMER', status: 'open', pageSize: 1000 })).items.find(
      (e) => e.bcId?.toLowerCase() === rec.bcId || e.dataverseId?.toLowerCase() === rec.dvId,
    );
  let retries = 0;
  let notRun = 0;
  await postJson(`${stack.bc.url}/_sim/faults`, { errorRate: 1, errorStatus: 400 });
  try {
    for (const [r, rec] of recs.entries()) {
      await dvCall('PATCH', `${stack.dataverse.apiBase}/accounts(${rec.dvId})`, stack.dataverse.adminUserToken, {
        telephone1: `retry-${r}`,
      });
      rec.ops++;
      edits++;
    }
    const rows = await Promise.all(recs.map((rec) => until(`the sync error row of ${rec.key}`, () => row(rec), 60_000)));
    for (const round of ['retry', 'retry', 'retry-all'] as const) {
      const before = await Promise.all(recs.map(async (rec) => (await row(rec))?.attempts ?? 0));
      if (round === 'retry-all') {
        const all = await admin<{ republished: number }>(stack, 'POST', 'errors/retry-all', { mapping: 'CUSTOMER' });
        if (all.republished < recs.length) throw new Error(`Retry all republished ${all.republished} of ${recs.length} rows`);
        retries += recs.length;
      } else {
        for (const e of rows) {
          const one = await admin<{ republished: boolean }>(stack, 'POST', `errors/${encodeURIComponent(e.id)}/retry`);
          if (one.republished !== true) throw new Error(`Retry of ${e.id} answered republished ${String(one.republished)}`);
          retries++;
        }
      }
      for (const [i, rec] of recs.entries()) {
        const want = (before[i] ?? 0) + 1;
        const ran = await within(`${round} of ${rec.key} to run`, async () => ((await row(rec))?.attempts ?? 0) >= want, 30_000);
        if (!ran) notRun++;
      }
    }
  } finally {
    await postJson(`${stack.bc.url}/_sim/faults`, { errorRate: 0 });
  }
  // BC is back: one more Retry, still inside the window, applies each change.
  for (const rec of recs) {
    const e = await row(rec);
    if (!e) continue;
    await admin(stack, 'POST', `errors/${encodeURIComponent(e.id)}/retry`);
    retries++;
  }
  await drain(stack, drainTimeoutMs);
  const unapplied: Array<{ key: string; text: string }> = [];
  for (const [r, rec] of recs.entries()) {
    const phone = (await bcCustomerRow(stack, rec.bcId)).phoneNumber;
    if (phone !== `retry-${r}`) unapplied.push({ key: rec.key, text: `${rec.key}: the retried change is not in BC (phone '${phone}')` });
  }
  return { edits, retries, notRun, unapplied };
}

/**
 * A dead letter on an operational queue: BC sends one `collection` notification for a burst of changes (threshold
 * 0 here, 1,000 in BC) and refuses every request (400) while our worker expands it, so the work item fails all its
 * deliveries and the broker dead-letters it. The admin lists dead letters (all queues, as the page does) and
 * replays the collection item; its expansion then brings the changes. Returns what was listed and replayed, and
 * the changes missing in Dataverse.
 */
async function opsDeadLetter(
  stack: ProofStack,
  rt: Runtime,
  records: LogicalRecord[],
  drainTimeoutMs: number,
): Promise<{ edits: number; listed: number; replayed: number; unapplied: Array<{ key: string; text: string }> }> {
  const recs: LogicalRecord[] = [];
  for (let r = 0; r < 3; r++) recs.push(await bcCustomer(stack, rt, records, `D${r}`, ['phoneNumber']));
  let edits = recs.length;
  const queue = OPERATIONAL_QUEUE.bcCollection;
  const before = stack.serviceBus.stats(queue).deadLettered;
  await postJson(`${stack.bc.url}/_sim/settings`, { collectionThreshold: 0 });
  await postJson(`${stack.bc.url}/_sim/faults`, { errorRate: 1, errorStatus: 400 });
  try {
    for (const [r, rec] of recs.entries()) {
      await postJson(`${stack.bc.url}/_sim/as-user`, {
        method: 'PATCH',
        entitySet: 'customers',
        id: rec.bcId,
        body: { phoneNumber: `ops-${r}` },
      });
      rec.ops++;
      edits++;
    }
    await until(
      'the collection work item to be dead-lettered',
      () => stack.serviceBus.stats(queue).deadLettered > before || undefined,
      60_000,
    );
    await drain(stack, drainTimeoutMs);
  } finally {
    await postJson(`${stack.bc.url}/_sim/faults`, { errorRate: 0 });
    await postJson(`${stack.bc.url}/_sim/settings`, { collectionThreshold: 1000 });
  }
  const listed = (await admin<DeadLetter[]>(stack, 'GET', 'dead-letters?max=1000')).filter((d) => d.queue === queue);
  const replayed = listed.length
    ? (
        await admin<{ replayed: number }>(stack, 'POST', 'dead-letters/replay', {
          queue,
          sequenceNumbers: listed.map((d) => d.sequenceNumber),
        })
      ).replayed
    : 0;
  await drain(stack, drainTimeoutMs);
  const unapplied: Array<{ key: string; text: string }> = [];
  for (const [r, rec] of recs.entries()) {
    const phone = (await accountRow(stack, rec.dvId, 'telephone1')).telephone1;
    if (phone !== `ops-${r}`)
      unapplied.push({
        key: rec.key,
        text: `${rec.key}: a change of a dead-lettered ${queue} item is not in Dataverse (telephone1 '${String(phone)}')`,
      });
  }
  return { edits, listed: listed.length, replayed, unapplied };
}

async function postJson(url: string, body: unknown, ok: number[] = [200, 201]): Promise<Response> {
  const res = await fetch(url, { method: 'POST', headers: bcHeaders, body: JSON.stringify(body) });
  if (!ok.includes(res.status)) throw new Error(`POST ${url} answered ${res.status}: ${await res.text()}`);
  return res;
}

/**
 * A Dataverse user's request, retried through the injected faults as a browser would: faults are injected before
 * the request is processed, so a failed attempt changed nothing.
 */
async function dvCall(method: string, url: string, token: string, body: unknown, ok: number[] = [200, 201, 204]): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    let res: Response | undefined;
    try {
      res = await fetch(url, {
        method,
        headers: { ...dvHeaders(token), ...(method === 'PATCH' || method === 'DELETE' ? { 'If-Match': '*' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(5_000),
      });
    } catch {
      res = undefined; // injected timeout: the socket was closed
    }
    if (res && ok.includes(res.status)) return res;
    if (res && res.status < 429 && res.status !== 408) throw new Error(`${method} ${url} answered ${res.status}: ${await res.text()}`);
    if (attempt > 30) throw new Error(`${method} ${url} kept failing (${res?.status ?? 'no answer'})`);
    const retryAfter = Number(res?.headers.get('retry-after') ?? 0);
    await new Promise((r) => setTimeout(r, Math.min(2_000, Math.max(50, retryAfter * 1000))));
  }
}

/** Waits until nothing is pending anywhere: simulator webhooks, queues (active, scheduled, locked), invocations. */
async function drain(stack: ProofStack, timeoutMs: number): Promise<void> {
  let quietSince: number | undefined;
  await until(
    'the system to become quiet',
    async () => {
      await fetch(`${stack.bc.url}/_sim/webhooks/flush`, { method: 'POST' });
      const bcPending = ((await (await fetch(`${stack.bc.url}/_sim/webhooks/pending`)).json()) as { pending: number }).pending;
      const dvLog = (await (await fetch(`${stack.dataverse.url}/_sim/webhooks`)).json()) as { deliveries: Array<{ state: string }> };
      const dvPending = dvLog.deliveries.filter((d) => d.state === 'pending').length;
      let queued = 0;
      for (const q of allQueueNames()) {
        const s = stack.serviceBus.stats(q);
        queued += s.active + s.scheduled + s.locked + s.deferred;
      }
      if (bcPending + dvPending + queued > 0) {
        quietSince = undefined;
        return undefined;
      }
      quietSince ??= Date.now();
      // Quiet for a second: a webhook answered a moment ago may still be publishing.
      return Date.now() - quietSince > 1_000 || undefined;
    },
    timeoutMs,
  );
}

/** Writes the integration made: every BC API write (BC users edit through `/_sim/as-user`), Dataverse writes by the integration user. */
async function writeCounters(stack: ProofStack): Promise<{ bc: number; dataverse: number }> {
  const isWrite = (m: string) => m === 'POST' || m === 'PATCH' || m === 'DELETE';
  const bc = (await (await fetch(`${stack.bc.url}/_sim/counters`)).json()) as { byMethod: Record<string, number> };
  const dv = (await (await fetch(`${stack.dataverse.url}/_sim/counters`)).json()) as {
    rows: Array<{ userId: string; method: string; entitySet: string; count: number }>;
  };
  const integration = stack.dataverse.integrationUserId.toLowerCase();
  return {
    bc: Object.entries(bc.byMethod).reduce((n, [m, c]) => n + (isWrite(m) ? c : 0), 0),
    dataverse: dv.rows.filter((r) => r.userId.toLowerCase() === integration && isWrite(r.method)).reduce((n, r) => n + r.count, 0),
  };
}

/**
 * Hot records: users edit the same customers on both sides while their syncs run, with server time added so
 * our read-then-write windows are wide. Our If-Match writes lose to the users' edits now and then (412), which
 * the engine must absorb by starting the record over. Returns the edits made.
 */
async function contend(stack: ProofStack, rt: Runtime, records: LogicalRecord[]): Promise<number> {
  // Four new customers, created in BC and coupled by the sync, are the hot records.
  const hot: LogicalRecord[] = [];
  for (let h = 0; h < 4; h++) {
    const key = `${records[0]?.key.split('-')[0] ?? 'Cv'}-H${h}`;
    const body = { displayName: key, phoneNumber: 'hot', addressLine1: 'hot', city: 'hot', email: `hot${h}@example.com` };
    // The users edit the phone in BC and the city in Dataverse.
    const rec = await createBcCustomer(stack, key, body, ['phoneNumber', 'city']);
    records.push(rec);
    hot.push(rec);
  }
  for (const rec of hot) {
    await whenCoupled(rt, rec, `hot record ${rec.key} to be coupled`, 30_000);
  }
  // Dataverse server time opens a window between our read of the account and our If-Match write to it.
  await postJson(`${stack.dataverse.url}/_sim/limits`, { latencyMs: 100 });
  let edits = hot.length; // the creates
  await Promise.all(
    hot.map(async (rec, h) => {
      for (let round = 0; round < 4; round++) {
        const bcRes = await fetch(`${stack.bc.url}/_sim/as-user`, {
          method: 'POST',
          headers: bcHeaders,
          body: JSON.stringify({ method: 'PATCH', entitySet: 'customers', id: rec.bcId, body: { phoneNumber: `hot-${h}-${round}` } }),
        });
        if (bcRes.status === 404) return;
        edits++;
        rec.ops++;
        // Pacing the users: Dataverse edits land while the BC change is being written to Dataverse.
        for (const offset of [100, 50]) {
          await new Promise((r) => setTimeout(r, offset));
          await dvCall(
            'PATCH',
            `${stack.dataverse.apiBase}/accounts(${rec.dvId})`,
            stack.dataverse.adminUserToken,
            { address1_city: `hot-${h}-${round}-${offset}` },
            [200, 204, 404],
          );
          edits++;
          rec.ops++;
        }
        await new Promise((r) => setTimeout(r, 400));
      }
    }),
  );
  await postJson(`${stack.dataverse.url}/_sim/limits`, { latencyMs: 0 });
  return edits;
}

/**
 * Publishes a reconciliation event for every account of this run whose last modifier is the integration user
 * (a sweep or a poll finds them all, since they changed) and counts the BC requests they caused: echoes are
 * dropped at the first read, so the answer must be 0.
 */
async function sweepOwnWrites(
  stack: ProofStack,
  rt: Runtime,
  prefix: string,
  drainTimeoutMs: number,
): Promise<{ events: number; bcRequests: number }> {
  const integration = stack.dataverse.integrationUserId.toLowerCase();
  const res = await fetch(`${stack.dataverse.apiBase}/accounts?$select=accountid,name,_modifiedby_value`, {
    headers: dvHeaders(stack.dataverse.adminUserToken),
  });
  const rows = ((await res.json()) as { value: Array<{ accountid: string; name?: string; _modifiedby_value?: string }> }).value;
  const ours = rows.filter((r) => String(r.name ?? '').startsWith(prefix) && r._modifiedby_value?.toLowerCase() === integration);
  const before = stack.integrationStatuses.bc.size ? [...stack.integrationStatuses.bc.values()].reduce((a, b) => a + b, 0) : 0;
  const now = new Date().toISOString();
  await rt.publisher.publish(
    ours.map((r) => ({
      v: 1 as const,
      mapping: 'CUSTOMER',
      source: 'dataverse' as const,
      recordId: parseRecordId(r.accountid.toLowerCase()),
      changeType: 'updated' as const,
      origin: 'reconcile' as const,
      correlationId: `echo-sweep-${r.accountid}`,
      observedAt: now,
      deferrals: 0,
    })),
  );
  await drain(stack, drainTimeoutMs);
  const after = [...stack.integrationStatuses.bc.values()].reduce((a, b) => a + b, 0);
  return { events: ours.length, bcRequests: after - before };
}

async function verify(
  stack: ProofStack,
  rt: Runtime,
  records: LogicalRecord[],
  prefix: string,
): Promise<{
  wiped: number;
  wipedFields: string[];
  optionsUnfilled: number;
  createsStarved: number;
  errorRows: string[];
  /** Records whose pair disagrees at the end (lost or failed-visible). */
  failedKeys: string[];
  applied: number;
  failedVisible: number;
  lost: number;
  records: number;
  problems: string[];
  duplicates: string[];
  concurrencyErrorRows: number;
  deadLettered: number;
  openErrors: number;
}> {
  const { bc, dataverse: dv } = stack;
  const bcRows = (
    ((await (await fetch(`${bc.apiBase()}/customers`, { headers: bcHeaders })).json()) as { value: Array<Record<string, unknown>> })
      .value ?? []
  ).filter((r) => String(r.displayName ?? '').startsWith(prefix));
  const select = ['accountid', ...FIELDS.map((f) => f.dv), ...OPTION_FIELDS.map((o) => o.dv)].join(',');
  const dvRows = (
    (
      (await (await fetch(`${dv.apiBase}/accounts?$select=${select}`, { headers: dvHeaders(dv.adminUserToken) })).json()) as {
        value: Array<Record<string, unknown>>;
      }
    ).value ?? []
  ).filter((r) => String(r.name ?? '').startsWith(prefix));
  const bcById = new Map(bcRows.map((r) => [String(r.id).toLowerCase(), r]));
  const dvById = new Map(dvRows.map((r) => [String(r.accountid).toLowerCase(), r]));

  const couplings: Array<{ bcId: string; dataverseId: string }> = [];
  let continuation: string | undefined;
  do {
    const page = await rt.stores.couplings.list('CUSTOMER', { pageSize: 1000, continuation });
    couplings.push(...page.items);
    continuation = page.continuation;
  } while (continuation);

  const duplicates: string[] = [];
  const byBc = new Map<string, string>();
  const byDv = new Map<string, string>();
  for (const c of couplings) {
    if (byBc.has(c.bcId)) duplicates.push(`BC customer ${c.bcId} coupled twice`);
    if (byDv.has(c.dataverseId)) duplicates.push(`account ${c.dataverseId} coupled twice`);
    byBc.set(c.bcId, c.dataverseId);
    byDv.set(c.dataverseId, c.bcId);
  }
  // Each logical record's key starts its name; a second row carrying the same key on one side is a duplicate.
  const keyOf = (name: unknown) => String(name ?? '').split('~')[0] ?? '';
  for (const [side, rows, nameField] of [
    ['BC', bcRows, 'displayName'],
    ['Dataverse', dvRows, 'name'],
  ] as const) {
    const seen = new Map<string, number>();
    for (const r of rows) seen.set(keyOf(r[nameField]), (seen.get(keyOf(r[nameField])) ?? 0) + 1);
    for (const [k, n] of seen) if (n > 1) duplicates.push(`${n} ${side} rows for ${k}`);
  }

  // What is visible: open error rows and dead letters, by record id.
  const errors: SyncErrorRecord[] = [];
  continuation = undefined;
  do {
    const page = await rt.stores.syncErrors.list({ pageSize: 1000, continuation });
    errors.push(...page.items);
    continuation = page.continuation;
  } while (continuation);
  const open = errors.filter((e) => e.status === 'open');
  const visible = new Map<string, string>();
  for (const e of open)
    for (const id of [e.bcId, e.dataverseId]) if (id) visible.set(id.toLowerCase(), `${e.code}: ${e.message.slice(-260)}`);
  let deadLettered = 0;
  const sb = new ServiceBusClient(stack.serviceBus.connectionString);
  try {
    for (const q of allQueueNames()) {
      if (stack.serviceBus.stats(q).deadLettered === 0) continue;
      const receiver = sb.createReceiver(q, { subQueueType: 'deadLetter' });
      const msgs = await receiver.peekMessages(1000);
      await receiver.close();
      deadLettered += msgs.length;
      for (const m of msgs) {
        const text = JSON.stringify(m.body ?? '');
        for (const id of text.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi) ?? [])
          visible.set(id.toLowerCase(), `dead letter on ${q}: ${String(m.deadLetterReason ?? '')}`);
      }
    }
  } finally {
    await sb.close();
  }

  // Pair up every logical record and judge it.
  const problems: string[] = [];
  const failedKeys: string[] = [];
  let applied = 0;
  let failedVisible = 0;
  let lost = 0;
  const seenBc = new Set<string>();
  const seenDv = new Set<string>();
  const pairs: Array<{ key: string; bcId?: string; dvId?: string; ops: number; rec: LogicalRecord }> = [];
  for (const rec of records) {
    const bcId = rec.bcId ?? (rec.dvId ? byDv.get(rec.dvId) : undefined);
    const dvId = rec.dvId ?? (rec.bcId ? byBc.get(rec.bcId) : undefined);
    pairs.push({ key: rec.key, bcId, dvId, ops: rec.ops, rec });
    if (bcId) seenBc.add(bcId);
    if (dvId) seenDv.add(dvId);
  }
  for (const pair of pairs) {
    const b = pair.bcId ? bcById.get(pair.bcId) : undefined;
    const d = pair.dvId ? dvById.get(pair.dvId) : undefined;
    let problem: string | undefined;
    if (b && !d) problem = `${pair.key}: BC customer ${pair.bcId} has no account`;
    else if (d && !b) problem = `${pair.key}: account ${pair.dvId} has no BC customer`;
    else if (b && d) {
      if (byBc.get(pair.bcId ?? '') !== pair.dvId)
        problem = `${pair.key}: BC ${pair.bcId} and account ${pair.dvId} are not coupled to each other`;
      else {
        const diff = FIELDS.filter((f) => norm(b[f.bc]) !== norm(d[f.dv])).map(
          (f) => `${f.bc}='${norm(b[f.bc])}' vs ${f.dv}='${norm(d[f.dv])}'`,
        );
        if (diff.length) problem = `${pair.key}: ${diff.join(', ')}`;
      }
    }
    if (!problem) {
      applied += pair.ops;
      continue;
    }
    const why = [pair.bcId, pair.dvId].map((id) => (id ? visible.get(id) : undefined)).find(Boolean);
    const isVisible = why !== undefined;
    problems.push(`${isVisible ? 'visible' : 'LOST'} ${problem}${why ? ` [${why}]` : ''}`);
    failedKeys.push(pair.key);
    if (isVisible) failedVisible += pair.ops;
    else lost += pair.ops;
  }
  // Fields wiped: a field no user changed after the create must still hold what the creating user entered, on
  // both sides (text) or in BC (options); an option coupled by now must show on the account (filled in).
  const optionValue = new Map<string, number>();
  for (const o of OPTION_FIELDS) {
    let cont: string | undefined;
    do {
      const page = await rt.stores.couplings.list(o.mapping, { pageSize: 1000, continuation: cont });
      for (const c of page.items) optionValue.set(`${o.mapping}|${c.bcId}`, Number(c.dataverseId));
      cont = page.continuation;
    } while (cont);
  }
  const wipedFields: string[] = [];
  let optionsUnfilled = 0;
  for (const pair of pairs) {
    const b = pair.bcId ? bcById.get(pair.bcId) : undefined;
    const d = pair.dvId ? dvById.get(pair.dvId) : undefined;
    if (!b || !d) continue;
    for (const f of FIELDS) {
      const given = pair.rec.initial[f.bc];
      if (given === undefined || pair.rec.edited.has(f.bc)) continue;
      for (const [side, v] of [
        ['BC', b[f.bc]],
        ['Dataverse', d[f.dv]],
      ] as const)
        if (norm(v) !== given) wipedFields.push(`${pair.key}: ${side} ${f.bc} '${norm(v)}', given '${given}'`);
    }
    for (const o of OPTION_FIELDS) {
      const given = pair.rec.initial[o.bc];
      if (given === undefined) continue;
      if (norm(b[o.bc]).toLowerCase() !== given) wipedFields.push(`${pair.key}: BC ${o.bc} '${norm(b[o.bc])}', given '${given}'`);
      const option = optionValue.get(`${o.mapping}|${given}`);
      if (option !== undefined && d[o.dv] !== option) {
        optionsUnfilled++;
        problems.push(`${pair.key}: account ${o.dv} '${norm(d[o.dv])}', expected option ${option} of ${o.mapping}`);
      }
    }
  }

  // Rows of this run that no logical record explains (e.g. a second row created for one record).
  for (const [id, r] of bcById) if (!seenBc.has(id)) duplicates.push(`BC customer ${id} '${String(r.displayName)}' belongs to no record`);
  for (const [id, r] of dvById) if (!seenDv.has(id)) duplicates.push(`account ${id} '${String(r.name)}' belongs to no record`);

  const errorRows = errors.map(
    (e) => `${e.status} ${e.mapping} ${e.code} x${e.attempts} bc ${e.bcId ?? '-'} dv ${e.dataverseId ?? '-'}: ${e.message.slice(0, 200)}`,
  );
  const concurrencyErrorRows = errors.filter((e) => /CONCURRENCY/.test(e.code) || /coupling/i.test(e.message)).length;
  const createsStarved = errors.filter((e) => /Another worker is creating/.test(e.message)).length;
  return {
    createsStarved,
    errorRows,
    failedKeys,
    wiped: wipedFields.length,
    wipedFields,
    optionsUnfilled,
    applied,
    failedVisible,
    lost,
    records: pairs.length,
    problems,
    duplicates,
    concurrencyErrorRows,
    deadLettered,
    openErrors: open.length,
  };
}

/** One line per figure, for the test output and the bench. */
export function describeReport(r: ConvergenceReport): string {
  return [
    `seed ${r.seed}: ${r.operations} operations, ${r.made} changes made (${Object.entries(r.madeByKind)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')})`,
    `applied ${r.applied}, failed-visible ${r.failedVisible}, lost ${r.lost}; ${r.records} records; duplicates ${r.duplicates.length}; fields wiped ${r.wiped}; options not filled in ${r.optionsUnfilled}`,
    `integrity scenarios: ${r.scenarios.lostCreateResponses} BC create responses lost (${r.createsStarved} creates starved on their claim), ${r.scenarios.racedWrites} writes racing a user's edit, ${r.scenarios.optionsCoupledLate} options coupled after their customers`,
    `duplicate detection on: ${r.scenarios.sameSecondEdits} pairs of edits within one Dataverse second, ${r.scenarios.retriesInWindow} retries inside the window (${r.scenarios.retriesNotRun} never ran), ops-bc-collection dead letters ${r.scenarios.opsDeadLettersListed} listed / ${r.scenarios.opsDeadLettersReplayed} replayed`,
    `429s received: BC ${r.faultsSeen.bc429}, Dataverse ${r.faultsSeen.dv429}; dead letters ${r.faultsSeen.deadLettered}; open errors ${r.faultsSeen.openErrors}`,
    `412s received ${r.concurrency412}; concurrency failures ${r.concurrencyFailures} (invocations), ${r.concurrencyErrorRows} (error rows); echo sweep ${r.echoSweep.events} events, ${r.echoSweep.bcRequests} BC requests`,
    `integration writes BC ${r.integrationWrites.bc}, Dataverse ${r.integrationWrites.dataverse}; after quiet BC ${r.writesAfterQuiet.bc}, Dataverse ${r.writesAfterQuiet.dataverse}`,
    `restarts ${r.restarts}; ${r.seconds} s; reconciliation ${r.reconcile}`,
    ...r.problems.slice(0, 20),
    ...r.duplicates.slice(0, 20),
    ...r.wipedFields.slice(0, 20).map((w) => `WIPED ${w}`),
    ...r.concurrencyFailureErrors.slice(0, 10).map((e) => `CONCURRENCY FAILURE ${e}`),
    ...(r.errorRows.length ? [`sync error rows (${r.errorRows.length}):`, ...r.errorRows.slice(0, 30).map((e) => `  ${e}`)] : []),
  ].join('\n');
}
