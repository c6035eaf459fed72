import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { settings } from '../shared/config';
import { authenticate, CLIENT_HEADER } from '../shared/operations/admin-access';
import { handleAdmin } from '../shared/operations/admin-router';
import { getRuntime } from '../shared/runtime';

/**
 * The admin API under `/api/admin/...`. The host lets every request through (`anonymous`): who the caller is and
 * what they may do is decided here from the Entra principal App Service passes, or locally from the role key in
 * the `x-sync-key` header (shared/operations/admin-access.ts). A key in the URL is never read.
 */
export async function adminApi(request: HttpRequest): Promise<HttpResponseInit> {
  const headers = { 'Cache-Control': 'no-store' };
  const access = authenticate((h) => request.headers.get(h), settings(), process.env);
  if (!access.ok)
    return {
      status: access.status,
      jsonBody: { error: access.error },
      headers: { ...headers, ...(access.status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {}) },
    };
  if (access.caller.via === 'entra' && request.method !== 'GET' && !request.headers.get(CLIENT_HEADER))
    return { status: 403, jsonBody: { error: `A change must carry the ${CLIENT_HEADER} header (the page and the CLI send it).` }, headers };
  const text = await request.text();
  let body: unknown;
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      return { status: 400, jsonBody: { error: 'body: not valid JSON', field: 'body' }, headers };
    }
  }
  const url = new URL(request.url);
  const runtime = await getRuntime();
  const res = await handleAdmin(runtime, {
    method: request.method,
    path: request.params.path ?? '',
    query: new URLSearchParams(url.searchParams),
    body,
    caller: access.caller,
  });
  return { status: res.status, jsonBody: res.body, headers };
}

app.http('admin-api', {
  route: 'admin/{*path}',
  methods: ['GET', 'POST', 'PUT', 'DELETE'],
  authLevel: 'anonymous',
  handler: adminApi,
});
