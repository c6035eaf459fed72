import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { handleAdmin } from '../shared/operations/admin-router';
import { getRuntime } from '../shared/runtime';

/**
 * The admin API under `/api/admin/...` (function key: `x-functions-key` header or `?code=`). In Azure, put it
 * behind Entra ID (App Service authentication with an app role such as `Sync.Admin`) — see docs/operations.md.
 */
export async function adminApi(request: HttpRequest): Promise<HttpResponseInit> {
  const text = await request.text();
  let body: unknown;
  if (text.trim() !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      return { status: 400, jsonBody: { error: 'body: not valid JSON', field: 'body' } };
    }
  }
  const url = new URL(request.url);
  const query = new URLSearchParams(url.searchParams);
  query.delete('code');
  const runtime = await getRuntime();
  const res = await handleAdmin(runtime, { method: request.method, path: request.params.path ?? '', query, body });
  return { status: res.status, jsonBody: res.body, headers: { 'Cache-Control': 'no-store' } };
}

app.http('admin-api', {
  route: 'admin/{*path}',
  methods: ['GET', 'POST', 'PUT', 'DELETE'],
  authLevel: 'function',
  handler: adminApi,
});
