import type { BcClient } from '../adapters/bc/client';
import type { TableMapping } from '../domain/mappings/schema';
import { bcGroupOf } from './bc-resource';

/** The custom API route (`bcsync/integration/v1.0`) as it appears in resource URLs, read from the client. */
export function customApiGroup(bc: Pick<BcClient, 'apiRoot' | 'environmentRoot'>): string {
  const root = bc.apiRoot('customApi');
  const prefix = `${bc.environmentRoot}/api/`;
  return root.startsWith(prefix) ? root.slice(prefix.length) : root.replace(/^.*\/api\//, '');
}

/** Enabled mappings whose BC side is `group`/`entitySet`. */
export function mappingsForBcResource(mappings: TableMapping[], group: string, entitySet: string, customGroup: string): TableMapping[] {
  return mappings.filter(
    (m) => m.enabled && m.bc.entitySet === entitySet && bcGroupOf(m.bc.kind, customGroup)?.toLowerCase() === group.toLowerCase(),
  );
}

/** Enabled mappings whose Dataverse side is the table `logicalName` (option-set mappings excluded: they have no rows). */
export function mappingsForDataverseTable(mappings: TableMapping[], logicalName: string): TableMapping[] {
  return mappings.filter((m) => m.enabled && !m.optionMapping && m.dataverse.entityLogicalName === logicalName.toLowerCase());
}
