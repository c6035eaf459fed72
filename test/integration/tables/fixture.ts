import type { TableClient } from '@azure/data-tables';
import { ensureTable } from '../../../shared/adapters/tables/common';
import { createTableClient, type TableClientOptions } from '../../../shared/adapters/tables/table-client';

let n = 0;

/** A fresh, created table with a unique name, so tests in one file never see each other's rows. */
export async function freshTable(connectionString: string, base: string, options?: TableClientOptions): Promise<TableClient> {
  n++;
  const client = createTableClient({ TABLES_CONNECTION: connectionString }, `t${process.pid}x${n}${base}`, options);
  await ensureTable(client);
  return client;
}

export function guid(i: number, salt = 0): string {
  const hex = (i + salt * 1_000_000).toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${hex}`;
}

export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
