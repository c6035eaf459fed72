import path from 'node:path';
import { ServiceBusClient } from '@azure/service-bus';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LOCAL_MASTER_KEY, LocalFunctionsHost } from '../../dev/local-host/host';
import type { DeadLetter } from '../../shared/adapters/servicebus/dead-letters';
import { recordId as parseRecordId } from '../../shared/domain/ids';
import { fullSyncDeps } from '../../shared/operations/context';
import { retryDeadLetters } from '../../shared/operations/dead-letters';
import { reconcile as reconcileMapping } from '../../shared/operations/reconcile';
import { OPERATIONAL_QUEUE } from '../../shared/queues';
import { getRuntime } from '../../shared/runtime';
import { changeMapping } from '../support/mappings';
import { type Stack, startStack, TEST_LOCAL_KEY } from '../support/stack';
import { until } from '../support/until';
import { adminClient, customerByName } from './helpers';

/**
 * What Service Bus duplicate detection (on in our queues, as in Azure) must not swallow, end to end through the
 * local host: two Dataverse edits within one Dataverse second, error retries inside the detection window, and
 * dead letters of the operational (ops-*) queues.
 */
let stack: Stack;
let sb: ServiceBusClient;
let admin: ReturnType<typeof adminClient>;

const ACCOUNTS = { side: 'dataverse' as const, entitySet: 'accounts', logicalName: 'account', primaryKey: 'accountid' };
const CUSTOMERS = { side: 'bc' as const, kind: 'apiV2' as const, entitySet: 'customers' };

beforeAll(async () => {
  stack = await startStack({
    functions: ['admin-api', 'sync', 'dataverse-webhook'],
    bc: { seed: 'empty' },
    dataverse: { seed: 'empty' },
  });
  sb = new ServiceBusClient(stack.serviceBus.connectionString);
  admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
  // A Dataverse account creates its BC customer; matching by name.
  const rt = await getRuntime();
  // The demo's LCY currency is not coupled in an empty company (customerByName leaves the currency out).
  await changeMapping(rt, 'CUSTOMER', (m) => ({ ...customerByName(m), synchOnlyCoupledRecords: false }));
  const reg = await fetch(stack.host.apiUrl('admin/dataverse-webhooks'), {
    method: 'POST',
    headers: { 'x-functions-key': DEFAULT_LOCAL_MASTER_KEY },
  });
  if (reg.status !== 200) throw new Error(`Dataverse webhook registration answered ${reg.status}: ${await reg.text()}`);
});

afterAll(async () => {
  await sb?.close();
  await stack?.stop();
});

/** A Dataverse user's request (not the integration user's, whose writes are our own echo). */
async function dvUser(method: string, url: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${stack.dataverse.apiBase}/${url}`, {
    method,
    headers: {
      Authorization: `Bearer ${stack.dataverse.adminUserToken}`,
      'Content-Type': 'application/json',
      Accept: 'application/json',
      Prefer: 'return=representation',
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? {} : ((await res.json()) as Record<string, unknown>);
}

/** A Dataverse account synchronized to its new BC customer; returns both ids. */
async function coupledAccount(name: string): Promise<{ dvId: string; bcId: string }> {
  const created = await dvUser('POST', 'accounts', { name, customertypecode: 3, telephone1: '000' });
  const dvId = String(created.accountid);
  const rt = await getRuntime();
  const bcId = await until(
    `${name} to be created in BC and coupled`,
    async () => (await rt.stores.couplings.getByDataverseId('CUSTOMER', dvId))?.bcId,
  );
  await until(
    `${name}'s BC customer to carry the phone number`,
    async () => (await rt.bcGateway.get(CUSTOMERS, bcId))?.values.phoneNumber === '000',
  );
  return { dvId, bcId };
}

describe('two Dataverse edits within one second', () => {
  it('both reach BC, although Dataverse gives them the same modifiedon', async () => {
    const { dvId, bcId } = await coupledAccount('Same Second Ltd');
    const rt = await getRuntime();
    // Pin Dataverse's clock: both edits get the same modifiedon, as two edits inside one second do.
    await fetch(`${stack.dataverse.url}/_sim/clock`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ set: new Date().toISOString() }),
    });
    try {
      await dvUser('PATCH', `accounts(${dvId})`, { telephone1: '111-first' });
      // The first edit is synchronized before the second is made, so only the second event can bring the second.
      await until('the first edit in BC', async () => (await rt.bcGateway.get(CUSTOMERS, bcId))?.values.phoneNumber === '111-first');
      const first = await rt.dataverseGateway.get(ACCOUNTS, dvId);
      await dvUser('PATCH', `accounts(${dvId})`, { address1_city: 'Second City' });
      const second = await rt.dataverseGateway.get(ACCOUNTS, dvId);
      expect(second?.modifiedOn).toBe(first?.modifiedOn);
      await until(
        'the second edit (same modifiedon) in BC',
        async () => (await rt.bcGateway.get(CUSTOMERS, bcId))?.values.city === 'Second City',
        15_000,
      );
      const bc = await rt.bcGateway.get(CUSTOMERS, bcId);
      expect(bc?.values).toMatchObject({ phoneNumber: '111-first', city: 'Second City' });
    } finally {
      await fetch(`${stack.dataverse.url}/_sim/clock`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ unfreeze: true }),
      });
    }
  });

  it('still sends the same webhook delivered twice only once to the queue', async () => {
    const { dvId } = await coupledAccount('Twice Delivered Ltd');
    const before = stack.serviceBus.queueProperties('sync-customer').duplicatesDropped;
    await fetch(`${stack.dataverse.url}/_sim/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ webhookDuplicateRate: 1 }),
    });
    try {
      await dvUser('PATCH', `accounts(${dvId})`, { telephone1: '222-twice' });
      // The second delivery carries the same system job (OperationId): same message id, dropped by the broker.
      await until(
        'the redelivered webhook to be dropped as a duplicate',
        async () => stack.serviceBus.queueProperties('sync-customer').duplicatesDropped > before,
      );
    } finally {
      await fetch(`${stack.dataverse.url}/_sim/faults`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ webhookDuplicateRate: 0 }),
      });
    }
  });
});

describe('error Retry and Retry all inside the duplicate-detection window', () => {
  it('re-run the change every time', async () => {
    const { bcId } = await coupledAccount('Retry Window Ltd');
    const rt = await getRuntime();
    // BC refuses every request: the BC-side event below fails with a data error and is recorded.
    stack.bc.faults.errorRate = 1;
    stack.bc.faults.errorStatus = 400;
    type ErrorRow = { id: string; attempts: number; bcId?: string; status: string };
    const row = async () => (await admin.ok<{ items: ErrorRow[] }>('GET', 'errors?mapping=CUSTOMER')).items.find((e) => e.bcId === bcId);
    try {
      await rt.publisher.publish([
        {
          v: 1,
          mapping: 'CUSTOMER',
          source: 'bc',
          recordId: parseRecordId(bcId),
          changeType: 'updated',
          modifiedOn: new Date().toISOString(),
          origin: 'webhook',
          correlationId: 'retry-window',
          observedAt: new Date().toISOString(),
          deferrals: 0,
        },
      ]);
      const recorded = await until('the sync error row', async () => row());
      expect(recorded.attempts).toBe(1);
      // Each retry, seconds apart and well inside the 10-minute window, must run again (attempts + 1).
      const retry = await admin.ok<{ republished: boolean }>('POST', `errors/${encodeURIComponent(recorded.id)}/retry`);
      expect(retry.republished).toBe(true);
      await until('the first retry to run', async () => ((await row())?.attempts ?? 0) >= 2 || undefined);
      await admin.ok('POST', `errors/${encodeURIComponent(recorded.id)}/retry`);
      await until('the second retry to run', async () => ((await row())?.attempts ?? 0) >= 3 || undefined);
      const all = await admin.ok<{ republished: number }>('POST', 'errors/retry-all', { mapping: 'CUSTOMER' });
      expect(all.republished).toBeGreaterThanOrEqual(1);
      await until('Retry all to run', async () => ((await row())?.attempts ?? 0) >= 4 || undefined);
    } finally {
      stack.bc.faults.errorRate = 0;
    }
    // With BC back, one more retry inside the window resolves the row.
    const open = await row();
    if (open) await admin.ok('POST', `errors/${encodeURIComponent(open.id)}/retry`);
    await until('the row to be resolved by a retry', async () => (await row()) === undefined || undefined);
  });
});

describe('reconciliation watermark', () => {
  it('re-reads an overlap before the watermark: a change committed late with an earlier time stamp is found', async () => {
    const a = await coupledAccount('Reconcile Overlap A Ltd');
    const b = await coupledAccount('Reconcile Overlap B Ltd');
    const rt = await getRuntime();
    const reconcile = async () =>
      (await admin.ok<Array<{ mapping: string; bcPublished: number; error?: string }>>('POST', 'reconcile', { mappings: ['CUSTOMER'] }))[0];
    // The first pass records the watermarks; it ran 10 s ago, so the overlap below lies after it.
    const rt0 = await getRuntime();
    const tenSecondsAgo = { now: () => new Date(Date.now() - 10_000) };
    await reconcileMapping({ sync: { ...rt0.syncDeps, clock: tenSecondsAgo }, state: fullSyncDeps(rt0).state }, { mappings: ['CUSTOMER'] });
    const bc = stack.bc;
    bc.store.modify(bc.companyId, 'customer', a.bcId, { city: 'Watermark City' }, 'user');
    const second = await reconcile();
    expect(second?.bcPublished).toBeGreaterThanOrEqual(1); // A: the watermark is now A's time stamp
    // B's change carries a time stamp 4 s before A's, as a transaction that committed after A but started first.
    bc.clock.advance(-4_000);
    try {
      bc.store.modify(bc.companyId, 'customer', b.bcId, { city: 'Late Commit City' }, 'user');
    } finally {
      bc.clock.advance(4_000);
    }
    const third = await reconcile();
    expect(third?.error).toBeUndefined();
    expect(third?.bcPublished).toBeGreaterThanOrEqual(1);
    await until(
      "B's late-committed change in Dataverse",
      async () => (await rt.dataverseGateway.get(ACCOUNTS, b.dvId))?.values.address1_city === 'Late Commit City',
      15_000,
    );
  });
});

describe('dead letters of the operational queues', () => {
  /** Receives one message of a queue and dead-letters it as the broker does after the last failed delivery. */
  async function deadLetterNext(queue: string): Promise<void> {
    const receiver = sb.createReceiver(queue);
    try {
      const [m] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 5000 });
      if (!m) throw new Error(`nothing arrived on ${queue}`);
      await receiver.deadLetterMessage(m, {
        deadLetterReason: 'MaxDeliveryCountExceeded',
        deadLetterErrorDescription: 'Message could not be consumed after 10 delivery attempts.',
      });
    } finally {
      await receiver.close();
    }
  }

  it('lists a dead-lettered full-sync item, and its replay lets the run finish', async () => {
    await coupledAccount('Full Sync Item Ltd');
    // No full-sync worker runs yet: the run's first item waits on ops-full-sync.
    const run = await admin.ok<{ runId: string; status: string }>('POST', 'full-sync', { mappings: ['CUSTOMER'] });
    expect(run.status).toBe('running');
    await deadLetterNext(OPERATIONAL_QUEUE.fullSync);

    const listed = await admin.ok<DeadLetter[]>('GET', 'dead-letters');
    const item = listed.find((d) => d.queue === OPERATIONAL_QUEUE.fullSync);
    expect(item).toMatchObject({ kind: 'full-sync-item', mapping: 'CUSTOMER', reason: 'MaxDeliveryCountExceeded' });
    expect(item?.subject).toContain(run.runId);
    const page = await fetch(stack.host.apiUrl('admin/dead-letters?queue=ops-full-sync'), {
      headers: { 'x-sync-key': TEST_LOCAL_KEY },
    });
    expect(((await page.json()) as DeadLetter[]).map((d) => d.sequenceNumber)).toEqual([item?.sequenceNumber]);

    const replayed = await admin.ok<{ replayed: number }>('POST', 'dead-letters/replay', {
      queue: OPERATIONAL_QUEUE.fullSync,
      sequenceNumbers: [item?.sequenceNumber],
    });
    expect(replayed.replayed).toBe(1);
    expect(stack.serviceBus.stats(OPERATIONAL_QUEUE.fullSync)).toMatchObject({ active: 1, deadLettered: 0 });

    // A worker comes up (a second instance of the app serving only the full-sync trigger) and finishes the run.
    const worker = await new LocalFunctionsHost({
      modules: [path.join(__dirname, '..', '..', 'functions', 'full-sync.ts')],
      functions: ['full-sync'],
      port: 0,
      log: () => undefined,
    }).start();
    try {
      const done = await until(
        'the full sync run to finish',
        async () => {
          const r = await admin.ok<{ runId: string; status: string }>('GET', 'full-sync');
          return r.runId === run.runId && r.status !== 'running' ? r : undefined;
        },
        30_000,
      );
      expect(done.status).toBe('completed');
    } finally {
      await worker.stop();
    }
  });

  it('the retry timer re-drives a dead-lettered collection expansion', async () => {
    const sender = sb.createSender(OPERATIONAL_QUEUE.bcCollection);
    // A collection work item as the BC webhook queues it (a body the worker could not read would be left for a person).
    const work = {
      v: 1,
      mappings: ['CUSTOMER'],
      group: 'v2.0',
      entitySet: 'customers',
      lastModifiedDateTime: '2026-01-01T00:00:00.000Z',
      subscriptionId: 'collection-dl-test',
      resource: `/api/v2.0/companies(${stack.bc.companyId})/customers`,
      correlationId: 'collection-dl-test',
      observedAt: '2026-01-01T00:00:01.000Z',
    };
    await sender.sendMessages({ body: work, messageId: 'collection-dl-test' });
    await sender.close();
    await deadLetterNext(OPERATIONAL_QUEUE.bcCollection);
    expect(stack.serviceBus.stats(OPERATIONAL_QUEUE.bcCollection)).toMatchObject({ active: 0, deadLettered: 1 });
    const r = await retryDeadLetters(sb, {
      policies: { MaxDeliveryCountExceeded: { maxReplays: 5, baseDelayMs: 0, maxDelayMs: 0 } },
    });
    expect(r.replayed).toBe(1);
    // Back on its queue (no worker for it runs here), marked as a replay, under a new message id.
    expect(stack.serviceBus.stats(OPERATIONAL_QUEUE.bcCollection)).toMatchObject({ active: 1, deadLettered: 0 });
    const receiver = sb.createReceiver(OPERATIONAL_QUEUE.bcCollection);
    const [m] = await receiver.peekMessages(1);
    await receiver.close();
    expect(m?.applicationProperties?.replayCount).toBe(1);
    expect(m?.messageId).not.toBe('collection-dl-test');
  });
});
