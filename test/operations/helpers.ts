import type { TableMapping } from '../../shared/domain/mappings/schema';
import { getRuntime } from '../../shared/runtime';
import { CUSTOMERS_BY_NAME } from '../support/mappings';
import type { Stack } from '../support/stack';

/** Generated BC customers (`Generated Customer <i>`) through the simulator's bulk seed. */
export async function seedCustomers(stack: Stack, n: number): Promise<void> {
  const res = await fetch(`${stack.bc.url}/_sim/seed?customers=${n}`, { method: 'POST' });
  if (!res.ok) throw new Error(`seeding customers: ${res.status} ${await res.text()}`);
}

/** Dataverse accounts named like generated customers `Generated Customer <i>` for the given numbers ($batch). */
export async function seedMatchingAccounts(numbers: number[]): Promise<void> {
  const rt = await getRuntime();
  const items = numbers.map((i) => ({
    method: 'POST' as const,
    url: 'accounts',
    body: { name: `Generated Customer ${i}`, customertypecode: 3, address1_city: 'Old City' },
  }));
  const results = await rt.dataverse.batch(items, { continueOnError: true });
  const bad = results.filter((r) => r.status >= 300);
  if (bad.length) throw new Error(`seeding accounts: ${bad.length} failed, first ${JSON.stringify(bad[0]?.body)}`);
}

/**
 * The demo's CUSTOMER set-up for tests: couple by name (displayName → name), and leave out the currency field —
 * the generated customers carry the LCY code, which no Dataverse currency is coupled to in an empty company.
 */
export function customerByName(m: TableMapping): TableMapping {
  return {
    ...m,
    couplingRules: {
      ...m.couplingRules,
      matchFields: [CUSTOMERS_BY_NAME],
    },
    fields: m.fields.map((f) => (f.bcField === 'currencyCode' ? { ...f, status: 'Disabled' as const } : f)),
  };
}

export async function count(url: string): Promise<number> {
  const res = await fetch(url);
  const body = (await res.json()) as { value?: unknown[]; '@odata.count'?: number };
  return body['@odata.count'] ?? body.value?.length ?? 0;
}

export interface AdminClient {
  call<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  ok<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
}

/** The admin API of a running host, with the function key. */
export function adminClient(apiUrl: (route: string) => string, key: string): AdminClient {
  const call = async <T>(method: string, path: string, body?: unknown) => {
    const res = await fetch(apiUrl(`admin/${path}`), {
      method,
      headers: { 'x-sync-key': key, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  return {
    call,
    ok: async <T>(method: string, path: string, body?: unknown) => {
      const r = await call<T>(method, path, body);
      if (r.status !== 200) throw new Error(`${method} admin/${path}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    },
  };
}

/** Every value of one column of a side, page by page. */
export async function columnValues(side: 'bc' | 'dataverse', column: string): Promise<string[]> {
  const rt = await getRuntime();
  const out: string[] = [];
  if (side === 'bc') {
    for await (const page of rt.bcGateway.list({ side: 'bc', kind: 'apiV2', entitySet: 'customers' }, { select: ['id', column] }))
      for (const r of page) out.push(String(r.values[column]));
  } else {
    for await (const page of rt.dataverseGateway.list(
      { side: 'dataverse', entitySet: 'accounts', logicalName: 'account', primaryKey: 'accountid' },
      { select: [column] },
    ))
      for (const r of page) out.push(String(r.values[column]));
  }
  return out.sort();
}
