/** The admin API over HTTP, for the CLI. Errors carry the API's message (and the field for a 400). */
export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

export class AdminApi {
  constructor(
    readonly baseUrl: string,
    private readonly key: string,
  ) {}

  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl.replace(/\/+$/, '')}/api/admin/${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { 'x-functions-key': this.key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      throw new AdminApiError(0, `cannot reach ${this.baseUrl} (${(err as Error).message}); is the function app running (npm start)?`);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON (e.g. the host's own 401 page): keep the text.
    }
    if (!res.ok) {
      const b = parsed as { error?: string; field?: string } | undefined;
      const msg = typeof b === 'object' && b?.error ? b.error : String(text || res.statusText);
      throw new AdminApiError(res.status, res.status === 401 ? `401 Unauthorized: check --key (${msg})` : msg, b?.field);
    }
    return parsed as T;
  }
}
