import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureDeps } from '../../shared/capture/context';
import { subscriptionHealth } from '../../shared/capture/health';
import { pollBc } from '../../shared/capture/poll-bc';
import { clientStateFor } from '../../shared/capture/secrets';
import { changeEventSchema } from '../../shared/domain/change-event';
import { runSetup } from '../../shared/operations/setup';
import { getRuntime } from '../../shared/runtime';
import { until } from '../support/until';
import { BC_SECRET, fn, receiveAll, type Stack, startStack } from './harness';

/** The subscription manager and the poller against the BC simulator, driven through the local host's timers. */
describe('BC subscriptions are kept alive; tables without webhooks are polled', () => {
  let s: Stack;
  const url = () => `${process.env.PUBLIC_BASE_URL}/api/webhooks/bc`;
  const ours = () => s.bc?.webhooks.list().filter((sub) => sub.notificationUrl === url()) ?? [];
  const byEntitySet = (entitySet: string) => ours().find((sub) => sub.resource.endsWith(`/${entitySet}`));
  const health = () => subscriptionHealth();

  beforeAll(async () => {
    s = await startStack({ functions: [fn('bc-webhook'), fn('bc-subscriptions'), fn('poll-bc')], dv: false, serviceBusTriggers: false });
    await until('the start-up run of the subscription manager', () =>
      s.host.invocations('bcSubscriptions').length > 0 ? true : undefined,
    );
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('subscribes each mapped resource that supports webhooks once, with a clientState derived per resource', async () => {
    const run = s.host.invocations('bcSubscriptions')[0];
    expect(run?.succeeded).toBe(true);
    const customers = byEntitySet('customers');
    expect(customers).toBeDefined();
    expect(customers?.clientState).toBe(clientStateFor(BC_SECRET, `v2.0/companies(${s.bc?.companyId})/customers`));
    expect(byEntitySet('vendors')).toBeDefined();
    // contacts and salespeoplePurchasers have no webhooks (api-contracts.md D.3): polled instead.
    expect(byEntitySet('contacts')).toBeUndefined();
    const resources = ours().map((sub) => sub.resource);
    expect(new Set(resources).size).toBe(resources.length);
    const h = await health();
    expect(h.status).toBe('ok');
    expect(h.active).toBe(ours().length);
    expect(h.resources.find((r) => r.resource === 'v2.0/customers')?.status).toBe('active');
    // CONTACT is captured by polling in BC: no subscription and no subscription state.
    expect(h.resources.find((r) => r.resource === 'v2.0/contacts')).toBeUndefined();
  });

  it('renews before expiry when the clock nears it, keeping the subscription', async () => {
    const before = byEntitySet('customers');
    if (!before) throw new Error('no customers subscription');
    const expiry = before.expiresAt;
    // 2.5 days later: half a day left, inside the 24 h renewal window.
    s.bc?.clock.advance(2.5 * 24 * 3600_000);
    await s.host.runTimer('bcSubscriptions');
    const after = byEntitySet('customers');
    expect(after?.subscriptionId).toBe(before.subscriptionId);
    expect(after?.expiresAt).toBeGreaterThan(expiry);
    const h = await health();
    expect(h.status).toBe('ok');
    expect(h.resources.find((r) => r.resource === 'v2.0/customers')?.expiresInHours).toBeGreaterThan(70);
  });

  it('re-creates a subscription that was deleted in BC, and all of them after they expired', async () => {
    const gone = byEntitySet('vendors');
    if (!gone) throw new Error('no vendors subscription');
    const del = await fetch(`${s.bc?.apiRoot()}/subscriptions('${gone.subscriptionId}')`, {
      method: 'DELETE',
      headers: { Authorization: 'Bearer t', 'If-Match': '*' },
    });
    expect(del.status).toBe(204);
    await s.host.runTimer('bcSubscriptions');
    const again = byEntitySet('vendors');
    expect(again).toBeDefined();
    expect(again?.subscriptionId).not.toBe(gone.subscriptionId);

    const count = ours().length;
    s.bc?.clock.advance(4 * 24 * 3600_000);
    expect(ours()).toHaveLength(0);
    expect((await health()).status).toBe('degraded');
    await s.host.runTimer('bcSubscriptions');
    expect(ours()).toHaveLength(count);
    expect((await health()).status).toBe('ok');
  });

  it('adopts a subscription of ours left on an old notification URL (PUBLIC_BASE_URL changed) instead of orphaning it', async () => {
    const bc = s.bc;
    if (!bc) throw new Error('no BC simulator');
    const old = await fetch(`${bc.apiRoot()}/subscriptions`, {
      method: 'POST',
      headers: { Authorization: 'Bearer t', 'Content-Type': 'application/json' },
      body: JSON.stringify({
        notificationUrl: `${url()}?moved=1`,
        resource: `/api/v2.0/companies(${bc.companyId})/items`,
        clientState: clientStateFor(BC_SECRET, `v2.0/companies(${bc.companyId})/items`),
      }),
    });
    expect(old.status).toBe(201);
    await s.host.runTimer('bcSubscriptions');
    const items = bc.webhooks.list().filter((sub) => sub.resource.endsWith('/items'));
    expect(items).toHaveLength(1);
    expect(items[0]?.notificationUrl).toBe(url());
  });

  it('polls contacts (no webhook support) by lastModifiedDateTime: one event per change, none when nothing changed', async () => {
    const bc = s.bc;
    if (!bc) throw new Error('no BC simulator');
    // First run sets the watermark to the newest contact without enqueuing the past.
    await s.host.runTimer('pollBc');
    expect(await receiveAll(s.sbClient, 'sync-contact', 10, 300)).toHaveLength(0);
    const res = await fetch(`${bc.apiBase()}/contacts?$top=1&$select=id`, { headers: { Authorization: 'Bearer t' } });
    const id = ((await res.json()) as { value: Array<{ id: string }> }).value[0]?.id ?? '';
    bc.clock.advance(1000);
    bc.store.modify(bc.companyId, 'contact', id, { displayName: 'Polled change' }, 'user');
    await s.host.runTimer('pollBc');
    const messages = await receiveAll(s.sbClient, 'sync-contact', 10, 1_000);
    expect(messages).toHaveLength(1);
    expect(changeEventSchema.parse(messages[0]?.body)).toMatchObject({ mapping: 'CONTACT', recordId: id.toLowerCase(), origin: 'poll' });
    // The overlap re-reads the change, but it was enqueued already.
    await s.host.runTimer('pollBc');
    expect(await receiveAll(s.sbClient, 'sync-contact', 10, 300)).toHaveLength(0);
  });
});

/** The same, against a BC that does not have the service's BC extension (or has an older one). */
describe('BC without the extension: each resource on its own, clear state, standard resources still subscribed', () => {
  let s: Stack;
  const url = () => `${process.env.PUBLIC_BASE_URL}/api/webhooks/bc`;
  const ours = () => s.bc?.webhooks.list().filter((sub) => sub.notificationUrl === url()) ?? [];
  const extension = (body: Record<string, unknown>) =>
    fetch(`${s.bc?.url}/_sim/extension`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

  beforeAll(async () => {
    s = await startStack({
      functions: [fn('bc-webhook'), fn('bc-subscriptions'), fn('poll-bc')],
      dv: false,
      serviceBusTriggers: false,
      bc: { extensionInstalled: false },
    });
    await until('the start-up run of the subscription manager', () =>
      s.host.invocations('bcSubscriptions').length > 0 ? true : undefined,
    );
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('subscribes the standard API v2.0 resources and records each custom one as "BC extension page missing"', async () => {
    expect(s.host.invocations('bcSubscriptions')[0]?.succeeded).toBe(true);
    const resources = ours().map((sub) => sub.resource);
    expect(resources.some((r) => r.endsWith('/v2.0/companies(' + s.bc?.companyId + ')/customers'))).toBe(true);
    expect(resources.some((r) => r.endsWith('/currencies'))).toBe(true);
    expect(resources.some((r) => r.includes('/bcsync/'))).toBe(false);
    const h = await subscriptionHealth();
    expect(h.status).toBe('degraded');
    const agents = h.resources.find((r) => r.resource === 'bcsync/integration/v1.0/shippingAgents');
    expect(agents).toMatchObject({ status: 'missing', mappings: ['SHIPPING AGENT'] });
    expect(agents?.lastError).toMatch(
      /^BC extension page missing: bcsync\/integration\/v1\.0\/shippingAgents .*SHIPPING AGENT.*BCS INTEGRATION.*docs\/bc-extension\.md/,
    );
    expect(h.resources.find((r) => r.resource === 'v2.0/customers')?.status).toBe('active');
  });

  it('the setup step reports each missing page as not ok, with what to do', async () => {
    const setup = await runSetup(await getRuntime(), { steps: ['bc-subscriptions'] });
    const step = setup.steps.find((st) => st.step === 'bc-subscriptions');
    expect(setup.ok).toBe(false);
    expect(step?.ok).toBe(false);
    expect(step?.detail).toMatch(
      /BC extension page missing: .*bcsync\/integration\/v1\.0\/salespeoplePurchasers \(SALESPEOPLE\).*bcsync\/integration\/v1\.0\/shippingAgents \(SHIPPING AGENT\).*BCS INTEGRATION.*docs\/bc-extension\.md/,
    );
  });

  it('pollBc isolates each mapping: a missing page is neither polled nor blocks the polls of the others', async () => {
    const results = await pollBc(await captureDeps());
    // SHIPPING AGENT's and SALESPEOPLE's pages are missing: neither polled (their subscription states say why).
    expect(results.find((r) => r.mapping === 'SHIPPING AGENT')).toBeUndefined();
    expect(results.find((r) => r.mapping === 'SALESPEOPLE')).toBeUndefined();
    expect((await subscriptionHealth()).resources.find((r) => r.resource.endsWith('/salespeoplePurchasers'))?.status).toBe('missing');
    // CONTACT (v2.0 contacts, polled) still runs.
    expect(results.find((r) => r.mapping === 'CONTACT')).toMatchObject({ initialized: true });
    expect(results.find((r) => r.mapping === 'CONTACT')?.error).toBeUndefined();
  });

  it('an older extension without one page: only that resource is missing; installing it subscribes it on the next run', async () => {
    expect((await extension({ installed: true, version: '0.9.0.0', missingEntitySets: ['shippingAgents'] })).status).toBe(200);
    await s.host.runTimer('bcSubscriptions');
    let h = await subscriptionHealth();
    expect(h.resources.find((r) => r.resource === 'bcsync/integration/v1.0/shippingAgents')?.status).toBe('missing');
    const others = h.resources.filter((r) => r.resource.startsWith('bcsync/') && !r.resource.endsWith('/shippingAgents'));
    for (const r of others) expect(r.status, r.resource).toBe('active');

    expect((await extension({ missingEntitySets: [] })).status).toBe(200);
    await s.host.runTimer('bcSubscriptions');
    h = await subscriptionHealth();
    expect(h.resources.find((r) => r.resource === 'bcsync/integration/v1.0/shippingAgents')?.status).toBe('active');
    expect(h.status).toBe('ok');
  });
});
