import type { TableMapping } from './schema';

/**
 * Service Bus queue of a mapping: `sync-` + the mapping name in lower case with every run of
 * non-alphanumerics replaced by one '-' (`PAYMENT TERMS` → `sync-payment-terms`).
 */
export function queueNameFor(mappingName: string): string {
  const slug = mappingName
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (slug === '') throw new Error(`Mapping name '${mappingName}' has no letters or digits to build a queue name from.`);
  return `sync-${slug}`;
}

/** Line mappings travel on their header's queue so a document and its lines are processed in order. */
export function queueNameForMapping(mapping: Pick<TableMapping, 'name' | 'parent'>): string {
  return queueNameFor(mapping.parent ?? mapping.name);
}
