import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientStateFor } from '../../shared/capture/secrets';
import { changeEventSchema } from '../../shared/domain/change-event';
import { emulatorQueueDeclarations } from '../../shared/queues';
import { BC_SECRET, DV_KEY, fn, receiveAll, type Stack, startStack } from './harness';

/**
 * Thousands of malformed, oversized and forged requests against both webhook endpoints, through the local host
 * over loopback HTTP: every one must get a 4xx with a message, nothing may be enqueued, and the process must keep
 * answering.
 */
const COMPANY = '11111111-2222-3333-4444-555555555555';
const CUSTOMER_ID = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';

describe('webhook endpoints under fuzzing', () => {
  let s: Stack;
  const queues = emulatorQueueDeclarations().map((q) => q.name);
  const totalActive = () => queues.reduce((n, q) => n + s.sb.stats(q).active, 0);

  beforeAll(async () => {
    s = await startStack({ functions: [fn('bc-webhook'), fn('dataverse-webhook')], bc: false, dv: false });
  });
  afterAll(async () => {
    await s?.stop();
  });

  const post = async (route: string, body: string | Buffer, headers: Record<string, string> = {}, query = '') => {
    const res = await fetch(`${s.host.apiUrl(route)}${query}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : new Uint8Array(body),
    });
    const text = await res.text();
    return { status: res.status, text };
  };
  const statuses = new Map<string, Set<number>>();
  const expectClear4xx = (r: { status: number; text: string }, endpoint = 'other') => {
    statuses.set(endpoint, (statuses.get(endpoint) ?? new Set()).add(r.status));
    expect(r.status, r.text).toBeGreaterThanOrEqual(400);
    expect(r.status, r.text).toBeLessThan(500);
    const body = JSON.parse(r.text) as { message?: unknown };
    expect(typeof body.message).toBe('string');
    expect((body.message as string).length).toBeGreaterThan(5);
  };

  const resource = `/api/v2.0/companies(${COMPANY})/customers`;
  const validItem = {
    subscriptionId: 'c670ea73cacb459bb51dc1740da2f1db',
    clientState: clientStateFor(BC_SECRET, `v2.0/companies(${COMPANY})/customers`),
    expirationDateTime: '2030-10-29T07:52:31Z',
    resource: `${resource}(${CUSTOMER_ID})`,
    changeType: 'updated',
    lastModifiedDateTime: '2030-10-26T12:54:20.467Z',
  };

  /** A notification item broken in one way that must be refused (wrong type, forged secret, bad resource…). */
  const brokenItem = fc.oneof(
    fc
      .record({
        field: fc.constantFrom(...Object.keys(validItem)),
        value: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.object()),
      })
      .map(({ field, value }) => ({ ...validItem, [field]: value })),
    fc.string({ maxLength: 80 }).map((forged) => ({ ...validItem, clientState: forged })),
    // A real clientState, but of another resource: replaying one subscription's secret against another table.
    fc.constant({ ...validItem, clientState: clientStateFor(BC_SECRET, `v2.0/companies(${COMPANY})/vendors`) }),
    fc.constant({ ...validItem, clientState: clientStateFor('another-secret-of-16+chars', `v2.0/companies(${COMPANY})/customers`) }),
    fc.string({ maxLength: 200 }).map((r) => ({ ...validItem, resource: r })),
    fc.constantFrom('created', 'updated', 'deleted').map((changeType) => ({ ...validItem, resource, changeType })),
    fc.constant({ ...validItem, changeType: 'collection' }),
    fc
      .string({ maxLength: 20 })
      .filter((t) => !['created', 'updated', 'deleted', 'collection'].includes(t))
      .map((changeType) => ({ ...validItem, changeType })),
  );
  const bcBody = fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .array(brokenItem, { minLength: 1, maxLength: 3 })
        .chain((broken) =>
          fc.array(fc.constant(validItem), { maxLength: 2 }).map((valid) => JSON.stringify({ value: [...valid, ...broken] })),
        ),
    },
    { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
    { weight: 1, arbitrary: fc.string({ maxLength: 300 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')) },
    { weight: 1, arbitrary: fc.constant(JSON.stringify({ value: [] })) },
  );

  it('answers every malformed or forged BC notification with a clear 4xx and enqueues nothing', async () => {
    await fc.assert(
      fc.asyncProperty(bcBody, async (body) => {
        expectClear4xx(await post('webhooks/bc', body, { 'x-ms-correlation-id': 'fuzz' }), 'bc');
      }),
      { numRuns: 1_000 },
    );
    // Both refusals were exercised: malformed (400) and forged (401).
    expect([...(statuses.get('bc') ?? [])].sort()).toEqual([400, 401]);
    expect(totalActive()).toBe(0);
  });

  const validContext = {
    BusinessUnitId: 'e2b9dd85-e89e-e711-8122-000d3aa2331c',
    CorrelationId: 'b374239d-4233-41a9-8b17-a86cb4f737b5',
    Depth: 1,
    InitiatingUserId: '75c2dd85-e89e-e711-8122-000d3aa2331c',
    InputParameters: [],
    MessageName: 'Update',
    Mode: 1,
    OperationCreatedOn: '/Date(1506409448000-0700)/',
    PostEntityImages: [],
    PreEntityImages: [],
    PrimaryEntityId: '6d81597f-0f9f-e711-8122-000d3aa2331c',
    PrimaryEntityName: 'account',
    Stage: 40,
    UserId: '75c2dd85-e89e-e711-8122-000d3aa2331c',
  };
  const required = ['MessageName', 'PrimaryEntityName', 'PrimaryEntityId', 'InitiatingUserId', 'UserId'] as const;
  const brokenContext = fc.oneof(
    fc
      .record({
        field: fc.constantFrom(...required),
        value: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.constant('not-a-guid!')),
      })
      .map(({ field, value }) => ({ ...validContext, [field]: value })),
    fc.constantFrom(...required).map((field) => {
      const { [field]: _gone, ...rest } = validContext;
      return rest;
    }),
    fc
      .string({ minLength: 1, maxLength: 30 })
      .filter((m) => !['Create', 'Update', 'Delete'].includes(m))
      .map((MessageName) => ({ ...validContext, MessageName })),
    fc.constant({ ...validContext, PostEntityImages: [{ key: 'x', value: { Attributes: 'nope', LogicalName: 'account' } }] }),
  );
  const dvRequest = fc.oneof(
    // No key, or a wrong one in each of the three places Dataverse can put it.
    fc.record({ body: fc.constant(JSON.stringify(validContext)), query: fc.constant(''), headers: fc.constant({}) }),
    fc
      .string({ maxLength: 60 })
      .filter((k) => k !== DV_KEY)
      .chain((k) =>
        fc.constantFrom(
          { body: JSON.stringify(validContext), query: `?code=${encodeURIComponent(k)}`, headers: {} },
          { body: JSON.stringify(validContext), query: '', headers: { 'x-dataverse-webhook-key': k.replace(/[^\x20-\x7e]/g, '') || 'x' } },
          { body: JSON.stringify(validContext), query: `?webhookkey=${encodeURIComponent(k)}`, headers: {} },
        ),
      ),
    // The right key with a body that is not a change we capture.
    fc
      .oneof(
        brokenContext.map((c) => JSON.stringify(c)),
        fc.json({ maxDepth: 3 }),
        fc.string({ maxLength: 200 }),
      )
      .map((body) => ({
        body,
        query: `?code=${encodeURIComponent(DV_KEY)}`,
        headers: {},
      })),
    fc.constant({
      body: JSON.stringify(validContext),
      query: `?code=${encodeURIComponent(DV_KEY)}`,
      headers: { 'x-ms-dynamics-entity-name': 'contact' },
    }),
  );

  it('answers every malformed or unauthenticated Dataverse request with a clear 4xx and enqueues nothing', async () => {
    await fc.assert(
      fc.asyncProperty(dvRequest, async (r) => {
        expectClear4xx(await post('webhooks/dataverse', r.body, r.headers as Record<string, string>, r.query), 'dv');
      }),
      { numRuns: 1_000 },
    );
    expect([...(statuses.get('dv') ?? [])].sort()).toEqual([400, 401]);
    expect(totalActive()).toBe(0);
  });

  it('refuses oversized bodies with 413 on both endpoints', async () => {
    const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
    expectClear4xx(await post('webhooks/bc', big));
    const dvBig = Buffer.alloc(512 * 1024 + 1, 0x20);
    const r = await post('webhooks/dataverse', dvBig, {}, `?code=${encodeURIComponent(DV_KEY)}`);
    expect(r.status).toBe(413);
    expectClear4xx(r);
    expect(totalActive()).toBe(0);
  });

  it('is still up: the handshake answers and a genuine trimmed (over 256 KB) Dataverse context is enqueued for both account mappings', async () => {
    const hs = await fetch(`${s.host.apiUrl('webhooks/bc')}?validationToken=abc123`, { method: 'POST' });
    expect(hs.status).toBe(200);
    expect(await hs.text()).toBe('abc123');
    const r = await post(
      'webhooks/dataverse',
      JSON.stringify(validContext),
      { 'x-ms-dynamics-msg-size-exceeded': 'true' },
      `?code=${encodeURIComponent(DV_KEY)}`,
    );
    expect(r.status).toBe(202);
    expect(JSON.parse(r.text)).toMatchObject({ accepted: 2, sizeExceeded: true });
    for (const q of ['sync-customer', 'sync-vendor']) {
      const [m] = await receiveAll(s.sbClient, q, 1);
      expect(changeEventSchema.parse(m?.body)).toMatchObject({
        source: 'dataverse',
        recordId: validContext.PrimaryEntityId,
        changeType: 'updated',
      });
    }
  });
});
