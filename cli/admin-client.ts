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

/** A local role key (`x-sync-key`) or, in Azure, an Entra ID bearer token that App Service authentication validates. */
export type AdminCredential = { key: string } | { token: string };

export class AdminApi {
  constructor(
    readonly baseUrl: string,
    private readonly credential: AdminCredential,
  ) {}

  private authHeaders(): Record<string, string> {
    // x-sync-client: the API refuses an Entra-authenticated change without it (cross-site request forgery guard).
    const client = { 'x-sync-client': 'cli' };
    return 'token' in this.credential
      ? { ...client, authorization: `Bearer ${this.credential.token}` }
      : { ...client, 'x-sync-key': this.credential.key };
  }

  async call<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.baseUrl.replace(/\/+$/, '')}/api/admin/${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { ...this.authHeaders(), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
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
      throw new AdminApiError(
        res.status,
        res.status === 401 ? `401 Unauthorized: check --key or --token (${msg})` : res.status === 403 ? `403 Forbidden: ${msg}` : msg,
        b?.field,
      );
    }
    return parsed as T;
  }
}
