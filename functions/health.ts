import { app, type HttpRequest, type HttpResponseInit, type InvocationContext, type Timer } from '@azure/functions';
import { cachedHealth, type HealthReport, refreshHealth } from '../shared/capture/health';
import { settings } from '../shared/config';

/**
 * Health of the service and its dependencies (shared/capture/health.ts):
 * - `GET /api/health` (anonymous, for load balancers and `npm start` users): the cached state. Table Storage and
 *   Service Bus are core: without them nothing can be recorded or queued, so the answer is 503. BC or Dataverse
 *   down (as last checked) degrades the service, changes wait in the queues, so the answer is 200 `degraded`.
 *   It never calls BC or Dataverse, so anonymous traffic cannot be amplified into upstream load.
 * - `GET /api/health/deep` (function or admin key): checks BC and Dataverse now and refreshes the cache.
 * - The `health-refresh` timer (every 5 minutes, and once at start-up) does the same, so the anonymous answer
 *   reflects BC and Dataverse without anyone asking for a deep check.
 */

export type { ComponentHealth, ComponentStatus, HealthReport } from '../shared/capture/health';

function answer(report: HealthReport, context: InvocationContext): HttpResponseInit {
  if (report.status !== 'ok') context.warn(`health: ${report.status}`, JSON.stringify(report.components));
  return {
    status: report.status === 'unavailable' ? 503 : 200,
    headers: { 'cache-control': 'no-store' },
    jsonBody: report,
  };
}

export async function health(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answer(await cachedHealth(settings()), context);
}

export async function deepHealth(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return answer(await refreshHealth(settings()), context);
}

export async function healthRefresh(_timer: Timer, context: InvocationContext): Promise<void> {
  const report = await refreshHealth(settings());
  if (report.status !== 'ok') context.warn(`health: ${report.status}`, JSON.stringify(report.components));
}

// Read the settings at load time so a bad configuration stops start-up instead of the first request.
settings();

app.http('health', { route: 'health', methods: ['GET'], authLevel: 'anonymous', handler: health });
app.http('healthDeep', { route: 'health/deep', methods: ['GET'], authLevel: 'function', handler: deepHealth });
// Start-up run: an instance knows BC's and Dataverse's state from its first minute (two GETs per start).
app.timer('health-refresh', { schedule: '0 */5 * * * *', runOnStartup: true, handler: healthRefresh });
