/**
 * Business Central simulator throughput (unthrottled, no added latency), measured with plain fetch:
 * what the local stand-in can serve, not a claim about BC online (5 concurrent / 6,000 per 5 min per user).
 */
import { startBcSimulator } from '../dev/bc-simulator';

type Figure = { name: string; value: number; unit: string };

const AUTH = { Authorization: 'Bearer bench' };

async function pool(total: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < total) await fn(next++);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function seconds(fn: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await fn();
  return (performance.now() - started) / 1000;
}

async function ok(res: Response): Promise<unknown> {
  const text = await res.text();
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
  return text === '' ? undefined : JSON.parse(text);
}

export async function benchBcSimulator(opts: { quick: boolean }): Promise<Array<{ name: string; value: number; unit: string }>> {
  const requests = opts.quick ? 1_000 : 10_000;
  const concurrency = 8;
  const customers = 100_000;
  const sim = await startBcSimulator({ port: 0, seed: 'empty', webhookDelayMs: 3_600_000 });
  const figures: Figure[] = [];
  try {
    const seed = await seconds(async () => {
      await ok(await fetch(`${sim.url}/_sim/seed?customers=${customers}`, { method: 'POST' }));
    });
    figures.push({ name: `bc-sim seed ${customers} customers`, value: Number(seed.toFixed(2)), unit: 's' });

    const ids: string[] = [];
    const paging = await seconds(async () => {
      let next: string | undefined = `${sim.apiBase()}/customers`;
      while (next) {
        const page = (await ok(await fetch(next, { headers: { ...AUTH, Prefer: 'odata.maxpagesize=20000' } }))) as {
          value: Array<{ id: string }>;
          '@odata.nextLink'?: string;
        };
        for (const c of page.value) ids.push(c.id);
        next = page['@odata.nextLink'];
      }
    });
    if (ids.length !== customers) throw new Error(`paged ${ids.length} customers, expected ${customers}`);
    figures.push({ name: `bc-sim page ${customers} customers at 20000/page`, value: Number(paging.toFixed(2)), unit: 's' });

    const gets = await seconds(() =>
      pool(requests, concurrency, async (i) => {
        await ok(await fetch(`${sim.apiBase()}/customers(${ids[(i * 7919) % ids.length]})`, { headers: AUTH }));
      }),
    );
    figures.push({ name: 'bc-sim GET customer by id', value: Math.round(requests / gets), unit: 'req/s' });

    const patches = await seconds(() =>
      pool(requests, concurrency, async (i) => {
        await ok(
          await fetch(`${sim.apiBase()}/customers(${ids[(i * 104729) % ids.length]})`, {
            method: 'PATCH',
            headers: { ...AUTH, 'Content-Type': 'application/json', 'If-Match': '*' },
            body: JSON.stringify({ phoneNumber: `+1 555 ${String(i).padStart(6, '0')}` }),
          }),
        );
      }),
    );
    figures.push({ name: 'bc-sim PATCH customer (If-Match)', value: Math.round(requests / patches), unit: 'req/s' });
  } finally {
    await sim.stop();
  }
  return figures;
}
