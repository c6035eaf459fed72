import { SyncError } from '../../errors';
import { type HttpSide, heldError, httpError, networkError, responseShapeError } from './errors';
import { ConcurrencyLimiter } from './limiter';
import { backoffDelay, DEFAULT_RETRY, parseRetryAfter, RetryAfterHold, type RetryPolicy, sleep } from './retry';

/** Where bearer tokens come from; `invalidate` lets a 401 force a fresh token once. */
export interface AccessTokenSource {
  getToken(signal?: AbortSignal): Promise<string>;
  invalidate?(): void;
}

export interface RequestInfo {
  side: HttpSide;
  method: string;
  url: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Requests of this client holding a concurrency slot, this one included. */
  inFlight: number;
}

export interface ResponseInfo extends RequestInfo {
  /** Undefined when no response arrived (network error, timeout). */
  status?: number;
  durationMs: number;
  /** Set when the client will try again after this many ms. */
  retryInMs?: number;
}

/** Observers for counting and tracing; they must not throw and should be cheap (called on every attempt). */
export interface HttpHooks {
  onRequest?(info: RequestInfo): void;
  onResponse?(info: ResponseInfo): void;
}

export interface HttpClientOptions {
  side: HttpSide;
  /**
   * Origin (scheme + host + port) the client may send its token to. Absolute URLs elsewhere (a `@odata.nextLink`
   * pointing at another host) are refused, so a tampered response cannot exfiltrate the token.
   */
  origin: string;
  tokens: AccessTokenSource;
  /** Concurrent requests at most (BC: 5 per user; Dataverse: 52). */
  maxConcurrency: number;
  /**
   * Follow Dataverse's `x-ms-dop-hint` response header: the limit becomes min(hint, maxConcurrency).
   * Default false.
   */
  adaptToDopHint?: boolean;
  /** Timeout of one attempt, in ms. Default 100,000 (Dataverse and BC gateways give up after minutes; we should not wait that long). */
  timeoutMs?: number;
  retry?: RetryPolicy;
  hooks?: HttpHooks;
  /** Headers sent on every request (OData-Version and the like). */
  defaultHeaders?: Record<string, string>;
  /** For tests and benches; default the global fetch. */
  fetch?: typeof fetch;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** JSON-serialised unless a string (sent as is, with the Content-Type from `headers`). */
  body?: unknown;
  /** Statuses besides 2xx that the caller handles itself (e.g. 404 on a GET by id). */
  accept?: number[];
  /**
   * Safe to send twice. GET/PUT/PATCH/DELETE are; POST is not (a 5xx after the server committed would create a
   * duplicate), so a POST is only retried on 429, when the server said it did not process it.
   */
  idempotent?: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON when the response is JSON, the text otherwise, undefined when empty. */
  body: unknown;
  text: string;
}

const IDEMPOTENT = new Set(['GET', 'PUT', 'PATCH', 'DELETE']);

/**
 * The HTTP plumbing shared by the BC and Dataverse clients: bearer token, per-target concurrency limit, per-attempt
 * timeout, retries (429 honouring Retry-After; 5xx/408/network with exponential back-off and jitter) inside a
 * total budget, and error classification into stable `SyncError` codes.
 */
export class HttpClient {
  readonly side: HttpSide;
  readonly limiter: ConcurrencyLimiter;
  private readonly options: HttpClientOptions;
  private readonly retry: Required<RetryPolicy>;
  private readonly fetchImpl: typeof fetch;
  private readonly origin: string;
  /** The last `x-ms-dop-hint` the server sent. */
  dopHint: number | undefined;
  /** The last 429's Retry-After, which holds every new attempt of this client until it has passed. */
  readonly hold = new RetryAfterHold();

  constructor(options: HttpClientOptions) {
    this.options = options;
    this.side = options.side;
    this.limiter = new ConcurrencyLimiter(options.maxConcurrency);
    this.retry = { ...DEFAULT_RETRY, ...stripUndefined(options.retry ?? {}) };
    this.fetchImpl = options.fetch ?? fetch;
    this.origin = new URL(options.origin).origin;
  }

  async send(req: HttpRequest): Promise<HttpResponse> {
    const url = new URL(req.url);
    if (url.origin !== this.origin) {
      throw new SyncError(
        'CONFIG.INVALID',
        `refusing to send a ${this.side} request to ${url.origin}: the client is configured for ${this.origin}`,
      );
    }
    const idempotent = req.idempotent ?? IDEMPOTENT.has(req.method);
    const started = Date.now();
    let refreshedToken = false;
    for (let attempt = 1; ; attempt++) {
      // Another request's 429 holds this one too; past the budget the caller reschedules instead of waiting.
      for (let held = this.hold.remainingMs(); held > 0; held = this.hold.remainingMs()) {
        if (Date.now() - started + held > this.retry.budgetMs) throw heldError(this.side, req, held);
        await sleep(held, req.signal);
      }
      const outcome = await this.attempt(req, attempt);
      if ('response' in outcome) {
        const res = outcome.response;
        if ((res.status >= 200 && res.status < 300) || res.status === 304 || req.accept?.includes(res.status)) return res;
        if (res.status === 401 && !refreshedToken && this.options.tokens.invalidate) {
          // A cached token can be revoked or rotated before its expiry: try once with a fresh one.
          refreshedToken = true;
          this.options.tokens.invalidate();
          this.report(req, attempt, outcome, 0);
          continue;
        }
        const serverDelay = parseRetryAfter(res.headers.get('retry-after'));
        const retryable = res.status === 429 || ((res.status >= 500 || res.status === 408) && idempotent);
        const delay = serverDelay ?? backoffDelay(attempt, this.retry);
        if (res.status === 429 && serverDelay !== undefined) this.hold.extend(serverDelay);
        if (!retryable) {
          this.report(req, attempt, outcome);
          throw httpError(this.side, req, res, res.status === 429 || res.status >= 500 ? delay : undefined);
        }
        if (!this.canWait(attempt, started, delay)) {
          this.report(req, attempt, outcome);
          throw httpError(this.side, req, res, delay);
        }
        this.report(req, attempt, outcome, delay);
        await sleep(delay, req.signal);
      } else {
        if (req.signal?.aborted) throw req.signal.reason;
        const delay = backoffDelay(attempt, this.retry);
        if (outcome.error instanceof SyncError) {
          this.report(req, attempt, outcome);
          throw outcome.error;
        }
        if (!idempotent || !this.canWait(attempt, started, delay)) {
          this.report(req, attempt, outcome);
          throw networkError(this.side, req, outcome.error, delay);
        }
        this.report(req, attempt, outcome, delay);
        await sleep(delay, req.signal);
      }
    }
  }

  /** Sends and parses the JSON body with a zod-like schema; a mismatch is a classified error, not a TypeError later. */
  async json<T>(
    req: HttpRequest,
    schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { message: string } } },
  ): Promise<{ data: T; response: HttpResponse }> {
    const response = await this.send(req);
    const parsed = schema.safeParse(response.body);
    if (!parsed.success) throw responseShapeError(this.side, req, parsed.error.message.slice(0, 500));
    return { data: parsed.data, response };
  }

  private canWait(attempt: number, started: number, delay: number): boolean {
    return attempt < this.retry.maxAttempts && Date.now() - started + delay <= this.retry.budgetMs;
  }

  private report(req: HttpRequest, attempt: number, outcome: Outcome, retryInMs?: number): void {
    this.options.hooks?.onResponse?.({
      side: this.side,
      method: req.method,
      url: req.url,
      attempt,
      inFlight: outcome.inFlight,
      status: 'response' in outcome ? outcome.response.status : undefined,
      durationMs: outcome.durationMs,
      retryInMs,
    });
  }

  private async attempt(req: HttpRequest, attempt: number): Promise<Outcome> {
    const release = await this.limiter.acquire(req.signal);
    const inFlight = this.limiter.inFlight;
    const t0 = performance.now();
    try {
      let token: string;
      try {
        token = await this.options.tokens.getToken(req.signal);
      } catch (err) {
        return {
          error: new SyncError(
            this.side === 'bc' ? 'BC.AUTH' : 'DV.AUTH',
            `could not obtain a ${this.side} access token: ${errorMessage(err)}`,
            {
              cause: err,
            },
          ),
          inFlight,
          durationMs: performance.now() - t0,
        };
      }
      this.options.hooks?.onRequest?.({ side: this.side, method: req.method, url: req.url, attempt, inFlight });
      const headers: Record<string, string> = { ...this.options.defaultHeaders, ...req.headers, Authorization: `Bearer ${token}` };
      let body: string | undefined;
      if (req.body !== undefined) {
        if (typeof req.body === 'string') body = req.body;
        else {
          body = JSON.stringify(req.body);
          headers['Content-Type'] ??= 'application/json';
        }
      }
      const timeout = AbortSignal.timeout(req.timeoutMs ?? this.options.timeoutMs ?? 100_000);
      const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
      try {
        const res = await this.fetchImpl(req.url, { method: req.method, headers, body, signal });
        // Read the body inside the slot and the timeout: a slow body is as much load as a slow header.
        const text = await res.text();
        this.applyDopHint(res.headers);
        return {
          response: { status: res.status, headers: res.headers, text, body: parseBody(res.headers, text) },
          inFlight,
          durationMs: performance.now() - t0,
        };
      } catch (err) {
        return { error: err, inFlight, durationMs: performance.now() - t0 };
      }
    } finally {
      release();
    }
  }

  private applyDopHint(headers: Headers): void {
    if (!this.options.adaptToDopHint) return;
    const raw = headers.get('x-ms-dop-hint');
    if (raw === null) return;
    const hint = Number.parseInt(raw, 10);
    if (!Number.isInteger(hint) || hint < 1) return;
    this.dopHint = hint;
    const next = Math.min(hint, this.options.maxConcurrency);
    if (next !== this.limiter.limit) this.limiter.setLimit(next);
  }
}

type Outcome = { response: HttpResponse; inFlight: number; durationMs: number } | { error: unknown; inFlight: number; durationMs: number };

function parseBody(headers: Headers, text: string): unknown {
  if (text === '') return undefined;
  const type = headers.get('content-type') ?? '';
  if (type.includes('json')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * A URL built with `searchParams` as text, with spaces as `%20`: URLSearchParams writes `+`, which OData servers
 * are not all required to read as a space (a literal `+` is already `%2B`, so every remaining `+` is a space).
 */
export function odataUrl(u: URL): string {
  return `${u.origin}${u.pathname}${u.search.replace(/\+/g, '%20')}`;
}
