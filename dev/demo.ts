/**
 * What `npm start` does after `ready` when it runs its own simulators: the steps an admin takes in a new
 * installation, through the same admin API the CLI and the admin page use — couple customers, vendors and
 * contacts by name and keep new records flowing (BC's "keep Synch. Only Coupled Records cleared" after the
 * first full sync), register the Dataverse webhook steps and BC subscriptions, and start the first full sync.
 */

export interface DemoOptions {
  /** e.g. `http://127.0.0.1:7071/api/` */
  apiBase: string;
  /** SYNC_ADMIN_KEY: the demo changes mappings and starts a full sync, which needs Sync.Admin. */
  adminKey: string;
  log: (line: string) => void;
}

/** Mappings that couple by name (or number) in the demo, and create what does not match. */
const COUPLE_BY_NAME: Record<string, { bcField: string; dataverseColumn: string }> = {
  CUSTOMER: { bcField: 'displayName', dataverseColumn: 'name' },
  VENDOR: { bcField: 'displayName', dataverseColumn: 'name' },
  CONTACT: { bcField: 'email', dataverseColumn: 'emailaddress1' },
  'ITEM-PRODUCT': { bcField: 'number', dataverseColumn: 'productnumber' },
  'RESOURCE-PRODUCT': { bcField: 'number', dataverseColumn: 'productnumber' },
};

export async function bootstrapDemo(o: DemoOptions): Promise<void> {
  const call = async (method: string, route: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(new URL(`admin/${route}`, o.apiBase), {
      method,
      headers: { 'x-sync-key': o.adminKey, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} /api/admin/${route}: ${res.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : undefined;
  };

  for (const [name, match] of Object.entries(COUPLE_BY_NAME)) {
    const mapping = (await call('GET', `mappings/${encodeURIComponent(name)}`)) as Record<string, unknown> & {
      couplingRules: Record<string, unknown>;
    };
    await call('PUT', `mappings/${encodeURIComponent(name)}`, {
      ...mapping,
      synchOnlyCoupledRecords: false,
      couplingRules: { ...mapping.couplingRules, matchFields: [{ ...match, priority: 0, caseSensitive: false }], createNewIfNoMatch: true },
    });
  }
  o.log(`demo: ${Object.keys(COUPLE_BY_NAME).join(', ')} couple by name/number and create what does not match`);

  const setup = (await call('POST', 'setup', { steps: ['dataverse-webhooks', 'bc-subscriptions'] })) as {
    steps: Array<{ step: string; ok: boolean; detail: string }>;
  };
  for (const s of setup.steps) o.log(`demo: ${s.step}: ${s.ok ? 'ok' : 'FAILED'} — ${s.detail}`);

  const run = (await call('POST', 'full-sync', {})) as { runId?: string; id?: string };
  o.log(`demo: first full synchronization started (${run.runId ?? run.id ?? 'all mappings, in dependency order'})`);
}
