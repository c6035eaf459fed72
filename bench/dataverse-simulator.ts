/**
 * Dataverse simulator throughput (unthrottled, no added latency): what the simulator itself costs per request, so
 * other benchmarks can tell simulator overhead from client overhead. Not a claim about Dataverse online.
 */
import { startDataverseSimulator } from '../dev/dataverse-simulator';

type Figure = { name: string; value: number; unit: string };

/** Concurrent requests in flight; Dataverse admits 52 per user. */
const CONCURRENCY = 16;

async function pool(total: number, run: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < total) await run(next++);
    }),
  );
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function expectOk(res: Response, what: string): Promise<string> {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return text;
}

export async function benchDataverseSimulator(opts: { quick: boolean }): Promise<Array<{ name: string; value: number; unit: string }>> {
  const accounts = opts.quick ? 20_000 : 100_000;
  const gets = opts.quick ? 2_000 : 10_000;
  const patches = opts.quick ? 1_000 : 5_000;
  const sim = await startDataverseSimulator({ port: 0, seed: 'empty', webhookDelayMs: 3_600_000 });
  const figures: Figure[] = [];
  try {
    const headers = {
      Authorization: `Bearer ${sim.integrationUserToken}`,
      Accept: 'application/json',
      'OData-Version': '4.0',
      'OData-MaxVersion': '4.0',
    };
    const seedStarted = process.hrtime.bigint();
    await expectOk(await fetch(`${sim.url}/_sim/seed?accounts=${accounts}`, { method: 'POST' }), 'seed');
    const seedSeconds = Number(process.hrtime.bigint() - seedStarted) / 1e9;
    figures.push({ name: `dataverse-sim seed ${accounts} accounts`, value: Math.round(accounts / seedSeconds), unit: 'rows/s' });

    // Ids to hit: read them through the API (the first page) rather than from the store.
    const first = JSON.parse(
      await expectOk(
        await fetch(`${sim.apiBase}/accounts?$select=accountid`, { headers: { ...headers, Prefer: 'odata.maxpagesize=5000' } }),
        'list',
      ),
    ) as { value: Array<{ accountid: string }> };
    const ids = first.value.map((r) => r.accountid);

    const getSeconds = await pool(gets, async (i) => {
      const id = ids[i % ids.length] as string;
      await expectOk(await fetch(`${sim.apiBase}/accounts(${id})?$select=name,accountnumber`, { headers }), 'retrieve');
    });
    figures.push({ name: 'dataverse-sim retrieve by id', value: Math.round(gets / getSeconds), unit: 'req/s' });

    const patchSeconds = await pool(patches, async (i) => {
      const id = ids[i % ids.length] as string;
      await expectOk(
        await fetch(`${sim.apiBase}/accounts(${id})`, {
          method: 'PATCH',
          headers: { ...headers, 'Content-Type': 'application/json', 'If-Match': '*' },
          body: JSON.stringify({ telephone1: `555-${i}` }),
        }),
        'patch',
      );
    });
    figures.push({ name: 'dataverse-sim PATCH', value: Math.round(patches / patchSeconds), unit: 'req/s' });

    // Page every account at 5,000 with change tracking, then read the delta after the PATCHes above were made.
    let link: string | undefined = `${sim.apiBase}/accounts?$select=name,accountnumber`;
    let rows = 0;
    let deltaLink: string | undefined;
    const pageStarted = process.hrtime.bigint();
    while (link) {
      const page = JSON.parse(
        await expectOk(await fetch(link, { headers: { ...headers, Prefer: 'odata.track-changes, odata.maxpagesize=5000' } }), 'page'),
      ) as { value: unknown[]; '@odata.nextLink'?: string; '@odata.deltaLink'?: string };
      rows += page.value.length;
      link = page['@odata.nextLink'];
      deltaLink = page['@odata.deltaLink'] ?? deltaLink;
    }
    const pageSeconds = Number(process.hrtime.bigint() - pageStarted) / 1e9;
    if (rows !== accounts) throw new Error(`paged ${rows} rows, expected ${accounts}`);
    figures.push({ name: `dataverse-sim page ${accounts} accounts at 5000`, value: Math.round(rows / pageSeconds), unit: 'rows/s' });
    figures.push({ name: `dataverse-sim page ${accounts} accounts at 5000 (total)`, value: Math.round(pageSeconds * 1000), unit: 'ms' });

    const changed = Math.min(patches, ids.length);
    await Promise.all(
      ids.slice(0, 100).map(async (id) =>
        expectOk(
          await fetch(`${sim.apiBase}/accounts(${id})`, {
            method: 'PATCH',
            headers: { ...headers, 'Content-Type': 'application/json' },
            body: '{"fax":"delta"}',
          }),
          'delta patch',
        ),
      ),
    );
    const deltaStarted = process.hrtime.bigint();
    const delta = JSON.parse(await expectOk(await fetch(deltaLink as string, { headers }), 'delta')) as { value: unknown[] };
    const deltaMs = Number(process.hrtime.bigint() - deltaStarted) / 1e6;
    if (delta.value.length !== 100)
      throw new Error(`delta returned ${delta.value.length} rows, expected 100 (of ${changed} patched before)`);
    figures.push({ name: `dataverse-sim delta (100 changes in ${accounts})`, value: Math.round(deltaMs), unit: 'ms' });
  } finally {
    await sim.stop();
  }
  return figures;
}
