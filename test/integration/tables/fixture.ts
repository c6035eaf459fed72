import type { TableClient } from '@azure/data-tables';
import { ensureTable } from '../../../shared/adapters/tables/common';
import { environmentIdentity } from '../../../shared/adapters/tables/coupling-store';
import { createTableClient, type TableClientOptions } from '../../../shared/adapters/tables/table-client';
import type { NewCoupling } from '../../../shared/domain/ports';

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

/** The BC environment + Dataverse org the coupling-store tests stamp on their couplings. */
export const COUPLING_ENV = environmentIdentity({
  bcTenantId: 'contoso.onmicrosoft.com',
  bcEnvironment: 'Production',
  bcCompanyId: '11111111-1111-4111-8111-111111111111',
  dataverseUrl: 'https://contoso.crm.dynamics.com',
});

/** CUSTOMER coupling number `i`: BC id `guid(i, 1)`, Dataverse id `guid(i, 2)`. */
export function newCoupling(i: number, overrides: Partial<NewCoupling> = {}): NewCoupling {
  return { mapping: 'CUSTOMER', bcId: guid(i, 1), dataverseId: guid(i, 2), environment: COUPLING_ENV, ...overrides };
}
