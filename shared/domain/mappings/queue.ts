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

/**
 * The queue of every user-defined mapping (a custom table's, say): one queue and one trigger, declared with the
 * others, that route by the mapping name each change event carries, so a mapping added over the admin API syncs
 * without a redeployment.
 */
export const CUSTOM_MAPPING_QUEUE = 'sync-custom';

/**
 * The queue a mapping's events travel on: user-defined mappings on `sync-custom`; line mappings on their header's
 * queue so a document and its lines are processed in order; every other default mapping on its own.
 */
export function queueNameForMapping(mapping: Pick<TableMapping, 'name' | 'parent'> & { userDefined?: boolean }): string {
  if (mapping.userDefined) return CUSTOM_MAPPING_QUEUE;
  return queueNameFor(mapping.parent ?? mapping.name);
}
