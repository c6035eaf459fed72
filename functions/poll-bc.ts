import { app, type InvocationContext, type Timer } from '@azure/functions';
import { captureDeps } from '../shared/capture/context';
import { pollBc } from '../shared/capture/poll-bc';

/**
 * Every minute: polls the BC tables that have no active webhook subscription by `lastModifiedDateTime`
 * (see shared/capture/poll-bc.ts). A minute keeps those tables close to webhook latency while costing one
 * small request per table; a table with nothing new costs one empty page.
 */
const SCHEDULE = '0 * * * * *';

export async function pollBcTables(_timer: Timer, context: InvocationContext): Promise<void> {
  const results = await pollBc(await captureDeps());
  const enqueued = results.reduce((n, r) => n + r.enqueued, 0);
  if (enqueued > 0 || results.some((r) => r.initialized))
    context.log(`BC polling: ${results.map((r) => `${r.mapping} ${r.initialized ? 'initialized' : r.enqueued}`).join(', ')}`);
  for (const r of results) if (r.error) context.warn(`BC polling ${r.mapping} failed: ${r.error}`);
}

app.timer('pollBc', { schedule: SCHEDULE, handler: pollBcTables });
