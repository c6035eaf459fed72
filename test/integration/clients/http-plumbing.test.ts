import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BcClient } from '../../../shared/adapters/bc/client';
import { CachedTokenSource, StaticTokenSource } from '../../../shared/adapters/credentials';
import { buildBatchBody, parseBatchResponse } from '../../../shared/adapters/dataverse/batch';
import { bindRef, dvKeySegment, idFromEntityId } from '../../../shared/adapters/dataverse/client';
import { HttpClient } from '../../../shared/adapters/http/client';
import { RequestCounter } from '../../../shared/adapters/http/counters';
import { ConcurrencyLimiter } from '../../../shared/adapters/http/limiter';
import { parseRetryAfter } from '../../../shared/adapters/http/retry';
import { SyncError } from '../../../shared/errors';
import { until } from '../../support/until';

/**
 * The shared HTTP plumbing against a scripted loopback server: each test queues the answers it wants, so the
 * retry, classification and limiter rules are pinned independently of either simulator.
 */
type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

let server: Server;
let origin: string;
let script: Handler[] = [];
let fallback: Handler = (_req, res) => json(res, 200, { ok: true });
const seen: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }> = [];

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; odata.metadata=minimal', ...headers });
  res.end(JSON.stringify(body));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      (script.shift() ?? fallback)(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

function client(opts: Partial<ConstructorParameters<typeof HttpClient>[0]> = {}) {
  script = [];
  seen.length = 0;
  fallback = (_req, res) => json(res, 200, { ok: true });
  const counter = new RequestCounter();
  const http = new HttpClient({
    side: 'dataverse',
    origin,
    tokens: new StaticTokenSource('secret-token-value'),
    maxConcurrency: 4,
    retry: { baseDelayMs: 1, maxDelayMs: 5 },
    hooks: counter,
    ...opts,
  });
  return { http, counter };
}

const dvError = (code: string, message: string) => ({ error: { code, message } });

describe('HttpClient retries', () => {
  it('retries a 429 after Retry-After and then succeeds', async () => {
    const { http, counter } = client();
    script = [
      (_q, r) =>
        json(r, 429, dvError('0x80072322', 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.'), {
          'Retry-After': '0',
        }),
      (_q, r) => json(r, 429, dvError('0x80072322', 'again'), { 'Retry-After': '0' }),
    ];
    const res = await http.send({ method: 'POST', url: `${origin}/x`, body: { a: 1 } });
    expect(res.status).toBe(200);
    expect(counter.status(429)).toBe(2);
    expect(counter.requests).toBe(3);
    expect(seen[0]?.headers.authorization).toBe('Bearer secret-token-value');
  });

  it('gives up when Retry-After exceeds the budget, with retryAfterMs for rescheduling and no token in the message', async () => {
    const { http, counter } = client({ retry: { budgetMs: 1_000 } });
    script = [(_q, r) => json(r, 429, dvError('0x80072322', 'slow down'), { 'Retry-After': '120' })];
    const err = await http.send({ method: 'GET', url: `${origin}/accounts` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SyncError);
    expect((err as SyncError).code).toBe('DV.THROTTLED');
    expect((err as SyncError).retryAfterMs).toBe(120_000);
    expect((err as SyncError).message).toContain('0x80072322');
    expect((err as SyncError).message).not.toContain('secret-token-value');
    expect(counter.requests).toBe(1);
  });

  it("holds every request of the client until a 429's Retry-After has passed (Dataverse refuses them all meanwhile)", async () => {
    const { http, counter } = client();
    const arrivals: Array<{ url: string; at: number }> = [];
    script = [
      (q, r) => {
        arrivals.push({ url: q.url ?? '', at: Date.now() });
        json(r, 429, dvError('0x80072321', 'Combined execution time of incoming requests exceeded limit'), { 'Retry-After': '1' });
      },
    ];
    fallback = (q, r) => {
      arrivals.push({ url: q.url ?? '', at: Date.now() });
      json(r, 200, { ok: true });
    };
    const first = http.send({ method: 'GET', url: `${origin}/a` });
    await until('the first request to be refused', async () => arrivals.length === 1);
    const second = await http.send({ method: 'GET', url: `${origin}/b` });
    expect(second.status).toBe(200);
    expect((await first).status).toBe(200);
    const refusedAt = arrivals[0]?.at as number;
    for (const later of arrivals.slice(1)) expect(later.at - refusedAt).toBeGreaterThanOrEqual(950);
    expect(counter.status(429)).toBe(1);
    expect(http.hold.remainingMs()).toBe(0);
  });

  it('fails a held request at once with retryAfterMs when the hold outlasts its budget, without sending it', async () => {
    const { http, counter } = client({ retry: { budgetMs: 1_000 } });
    script = [(_q, r) => json(r, 429, dvError('0x80072322', 'Number of requests exceeded the limit'), { 'Retry-After': '120' })];
    await http.send({ method: 'GET', url: `${origin}/a` }).catch(() => undefined);
    const err = (await http.send({ method: 'GET', url: `${origin}/b` }).catch((e: unknown) => e)) as SyncError;
    expect(err).toBeInstanceOf(SyncError);
    expect(err.code).toBe('DV.THROTTLED');
    expect(err.retryAfterMs).toBeGreaterThan(110_000);
    expect(counter.requests).toBe(1);
  });

  it('retries 5xx on idempotent requests but not on POST', async () => {
    const { http, counter } = client();
    script = [(_q, r) => json(r, 503, dvError('', 'busy')), (_q, r) => json(r, 502, dvError('', 'gateway'))];
    expect((await http.send({ method: 'GET', url: `${origin}/a` })).status).toBe(200);
    expect(counter.requests).toBe(3);

    counter.reset();
    script = [(_q, r) => json(r, 500, dvError('0x80040216', 'An unexpected error occurred.'))];
    const err = (await http.send({ method: 'POST', url: `${origin}/a`, body: {} }).catch((e: unknown) => e)) as SyncError;
    expect(err.code).toBe('DV.UNAVAILABLE');
    expect(err.transient).toBe(true);
    expect(counter.requests).toBe(1);
  });

  it('stops after maxAttempts', async () => {
    const { http, counter } = client({ retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
    fallback = (_q, r) => json(r, 503, dvError('', 'down'));
    const err = (await http.send({ method: 'GET', url: `${origin}/a` }).catch((e: unknown) => e)) as SyncError;
    expect(err.code).toBe('DV.UNAVAILABLE');
    expect(err.retryAfterMs).toBeGreaterThan(0);
    expect(counter.requests).toBe(3);
  });

  it('classifies network errors and timeouts as UNAVAILABLE', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const deadOrigin = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise<void>((r) => probe.close(() => r()));
    const dead = new HttpClient({
      side: 'bc',
      origin: deadOrigin,
      tokens: new StaticTokenSource('t'),
      maxConcurrency: 1,
      retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1 },
    });
    const err = (await dead.send({ method: 'GET', url: `${deadOrigin}/x` }).catch((e: unknown) => e)) as SyncError;
    expect(err.code).toBe('BC.UNAVAILABLE');
    expect(err.message).toContain('ECONNREFUSED');

    const { http } = client({ timeoutMs: 50, retry: { maxAttempts: 1 } });
    script = [() => undefined]; // never answers
    const timeout = (await http.send({ method: 'GET', url: `${origin}/slow` }).catch((e: unknown) => e)) as SyncError;
    expect(timeout.code).toBe('DV.UNAVAILABLE');
    expect(timeout.message).toContain('timed out');
  });

  it('maps statuses to stable codes with the server code and message', async () => {
    const { http } = client({ side: 'bc' });
    const cases: Array<[number, string, string]> = [
      [400, 'Application_FieldValidationException', 'BC.VALIDATION'],
      [401, 'Authentication_InvalidCredentials', 'BC.AUTH'],
      [403, 'Authorization_InsufficientPermissions', 'BC.AUTH'],
      [404, 'Internal_RecordNotFound', 'BC.NOT_FOUND'],
      [409, 'Request_EntityChanged', 'BC.CONCURRENCY'],
      [409, 'Internal_EntityWithSameKeyExists', 'BC.VALIDATION'],
      [412, 'Request_EntityChanged', 'BC.CONCURRENCY'],
    ];
    for (const [status, code, expected] of cases) {
      script = [(_q, r) => json(r, status, { error: { code, message: `msg ${status}  CorrelationId:  x.` } })];
      const err = (await http.send({ method: 'PATCH', url: `${origin}/c`, body: {} }).catch((e: unknown) => e)) as SyncError;
      expect([status, err.code]).toEqual([status, expected]);
      expect(err.message).toContain(code);
      expect(err.details.status).toBe(status);
    }
  });

  it('refuses to send the token to another origin (a tampered nextLink)', async () => {
    const { http, counter } = client();
    const err = (await http.send({ method: 'GET', url: 'http://127.0.0.2:9/x' }).catch((e: unknown) => e)) as SyncError;
    expect(err.code).toBe('CONFIG.INVALID');
    expect(counter.requests).toBe(0);
  });

  it('refreshes the token once on 401', async () => {
    let n = 0;
    const tokens = new CachedTokenSource(
      { getToken: async () => ({ token: `tok${++n}`, expiresOnTimestamp: Date.now() + 3_600_000 }) },
      'https://example/.default',
    );
    const { http } = client({ tokens });
    script = [(_q, r) => json(r, 401, { error: { code: 'ExpiredAuthTicket', message: 'expired' } })];
    expect((await http.send({ method: 'GET', url: `${origin}/a` })).status).toBe(200);
    expect(seen.map((s) => s.headers.authorization)).toEqual(['Bearer tok1', 'Bearer tok2']);
  });
});

describe('concurrency limit', () => {
  it('never exceeds maxConcurrency and follows x-ms-dop-hint downwards', async () => {
    const { http, counter } = client({ maxConcurrency: 6, adaptToDopHint: true });
    let active = 0;
    let peak = 0;
    const pending: Array<() => void> = [];
    fallback = (_q, r) => {
      active++;
      peak = Math.max(peak, active);
      pending.push(() => {
        active--;
        json(r, 200, {}, { 'x-ms-dop-hint': '2' });
      });
    };
    const all = Promise.all(Array.from({ length: 20 }, (_, i) => http.send({ method: 'GET', url: `${origin}/p${i}` })));
    // Release answers as they arrive, polling with a deadline rather than sleeping a fixed time.
    const deadline = Date.now() + 10_000;
    let done = 0;
    while (done < 20 && Date.now() < deadline) {
      const next = pending.shift();
      if (next) {
        next();
        done++;
      } else await new Promise((r) => setImmediate(r));
    }
    await all;
    expect(peak).toBeLessThanOrEqual(6);
    expect(counter.peakInFlight).toBeLessThanOrEqual(6);
    expect(http.dopHint).toBe(2);
    expect(http.limiter.limit).toBe(2);
  });

  it('limiter hands slots over in order', async () => {
    const l = new ConcurrencyLimiter(1);
    const order: number[] = [];
    const r1 = await l.acquire();
    const p2 = l.acquire().then((r) => {
      order.push(2);
      return r;
    });
    const p3 = l.acquire().then((r) => {
      order.push(3);
      return r;
    });
    expect(l.queued).toBe(2);
    r1();
    (await p2)();
    (await p3)();
    expect(order).toEqual([2, 3]);
    expect(l.peakInFlight).toBe(1);
  });
});

describe('helpers', () => {
  it('parses Retry-After as seconds or HTTP date', () => {
    expect(parseRetryAfter('5')).toBe(5000);
    expect(parseRetryAfter(new Date(1_000_000 + 30_000).toUTCString(), 1_000_000)).toBe(30_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });

  it('caches tokens until shortly before expiry and coalesces concurrent requests', async () => {
    let now = 0;
    let calls = 0;
    const source = new CachedTokenSource(
      {
        getToken: async () => {
          calls++;
          return { token: `t${calls}`, expiresOnTimestamp: now + 3_600_000 };
        },
      },
      'scope',
      { now: () => now },
    );
    expect(await Promise.all([source.getToken(), source.getToken(), source.getToken()])).toEqual(['t1', 't1', 't1']);
    now += 3_600_000 - 6 * 60_000;
    expect(await source.getToken()).toBe('t1');
    now += 2 * 60_000;
    expect(await source.getToken()).toBe('t2');
    expect(calls).toBe(2);
  });

  it('formats Dataverse keys and binds', () => {
    expect(dvKeySegment('7eb682f1-ca75-e511-80d4-00155d2a68d1')).toBe('(7eb682f1-ca75-e511-80d4-00155d2a68d1)');
    expect(dvKeySegment({ firstname: "O'Neil", emailaddress1: 'a@b.c' })).toBe("(firstname='O''Neil',emailaddress1='a%40b.c')");
    expect(bindRef('accounts', { accountnumber: 'ABC123' })).toBe("/accounts(accountnumber='ABC123')");
    expect(idFromEntityId('https://x/api/data/v9.2/accounts(7eb682f1-ca75-e511-80d4-00155d2a68d1)')).toBe(
      '7eb682f1-ca75-e511-80d4-00155d2a68d1',
    );
    expect(() => dvKeySegment('not-a-guid')).toThrow(SyncError);
  });

  it('builds and parses multipart batches', () => {
    const { boundary, body } = buildBatchBody(
      [{ method: 'GET', url: 'accounts(1)' }, { changeSet: [{ method: 'POST', url: 'accounts', body: { name: 'a' } }] }],
      'http://h/api/data/v9.2/',
    );
    expect(body).toContain(`--${boundary}\r\nContent-Type: application/http`);
    expect(body).toContain('POST http://h/api/data/v9.2/accounts HTTP/1.1');
    expect(body).toContain('Content-ID: 1');
    expect(body.endsWith(`--${boundary}--\r\n`)).toBe(true);

    const response = [
      '--batchresponse_1',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      '',
      'HTTP/1.1 200 OK',
      'Content-Type: application/json; odata.metadata=minimal',
      '',
      '{"name":"x"}',
      '--batchresponse_1',
      'Content-Type: multipart/mixed; boundary=changesetresponse_2',
      '',
      '--changesetresponse_2',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      'Content-ID: 1',
      '',
      'HTTP/1.1 204 No Content',
      'OData-EntityId: http://h/api/data/v9.2/accounts(7eb682f1-ca75-e511-80d4-00155d2a68d1)',
      '',
      '',
      '--changesetresponse_2--',
      '--batchresponse_1--',
      '',
    ].join('\r\n');
    const parts = parseBatchResponse(response, 'batchresponse_1');
    expect(parts).toHaveLength(2);
    expect(parts[0]).toMatchObject({ status: 200, body: { name: 'x' } });
    expect(parts[1]).toMatchObject({ status: 204, contentId: '1' });
    expect(parts[1]?.headers['odata-entityid']).toContain('accounts(');
  });
});

describe('BC OData v4 pages (the BC simulator serves none, so a scripted server pins the URLs)', () => {
  it('addresses pages by company name, quotes code keys and filters on SystemModifiedAt', async () => {
    client();
    const bc = new BcClient({
      apiUrl: origin,
      tenantId: 'tenant',
      environment: 'Production',
      companyId: '0b0e3d1c-1111-4222-8333-944444444444',
      tokens: new StaticTokenSource('t'),
    });
    script = [
      (_q, r) => json(r, 200, { value: [{ id: '0b0e3d1c-1111-4222-8333-944444444444', name: "CRONUS O'Hara, Inc." }] }),
      (_q, r) => json(r, 200, { value: [{ No: 'SA-1', SystemModifiedAt: '2024-01-01T00:00:00Z', '@odata.etag': 'W/"x"' }] }),
      (_q, r) => json(r, 200, { No: "O'1", '@odata.etag': 'W/"y"' }),
    ];
    const target = { side: 'bc' as const, kind: 'odataPage' as const, entitySet: 'ShippingAgents', key: 'No' };
    const page = await bc.listPage(target, { modifiedSince: '2024-01-01T00:00:00Z', select: ['Name'] });
    expect(page.value).toHaveLength(1);
    await bc.getRecord(target, "O'1");
    expect(seen.map((s) => decodeURIComponent(s.url))).toEqual([
      '/v2.0/tenant/Production/api/v2.0/companies',
      "/v2.0/tenant/Production/ODataV4/Company('CRONUS O''Hara, Inc.')/ShippingAgents?$filter=SystemModifiedAt gt 2024-01-01T00:00:00.000Z&$select=Name,No",
      "/v2.0/tenant/Production/ODataV4/Company('CRONUS O''Hara, Inc.')/ShippingAgents('O''1')",
    ]);
    expect(seen[1]?.headers.prefer).toBe('odata.maxpagesize=20000');
  });
});
