import type { HttpHooks, RequestInfo, ResponseInfo } from './client';

/**
 * Counts what a client sent: attempts, responses by status, retries, and the highest concurrency observed.
 * Used by the bench (requests per record) and by tests that assert the client throttled itself.
 */
export class RequestCounter implements HttpHooks {
  requests = 0;
  retries = 0;
  networkErrors = 0;
  peakInFlight = 0;
  readonly byStatus = new Map<number, number>();
  readonly byMethod = new Map<string, number>();

  onRequest(info: RequestInfo): void {
    this.requests++;
    this.byMethod.set(info.method, (this.byMethod.get(info.method) ?? 0) + 1);
    if (info.inFlight > this.peakInFlight) this.peakInFlight = info.inFlight;
  }

  onResponse(info: ResponseInfo): void {
    if (info.status === undefined) this.networkErrors++;
    else this.byStatus.set(info.status, (this.byStatus.get(info.status) ?? 0) + 1);
    if (info.retryInMs !== undefined) this.retries++;
  }

  status(code: number): number {
    return this.byStatus.get(code) ?? 0;
  }

  reset(): void {
    this.requests = 0;
    this.retries = 0;
    this.networkErrors = 0;
    this.peakInFlight = 0;
    this.byStatus.clear();
    this.byMethod.clear();
  }
}

/** Fans hook calls out to several observers. */
export function combineHooks(...hooks: Array<HttpHooks | undefined>): HttpHooks {
  const list = hooks.filter((h): h is HttpHooks => h !== undefined);
  return {
    onRequest: (info) => {
      for (const h of list) h.onRequest?.(info);
    },
    onResponse: (info) => {
      for (const h of list) h.onResponse?.(info);
    },
  };
}
