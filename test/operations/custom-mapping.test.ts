import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram } from '../../cli/main';
import { recordId as parseRecordId } from '../../shared/domain/ids';
import { CUSTOM_MAPPING_QUEUE, type FieldMapping, type TableMapping } from '../../shared/domain/mappings';
import { allQueueNames } from '../../shared/queues';
import { getRuntime } from '../../shared/runtime';
import { type Stack, startStack, TEST_LOCAL_KEY } from '../support/stack';
import { until } from '../support/until';
import { adminClient } from './helpers';

/**
 * A mapping an admin adds over the admin API (BC's "new integration table mapping") syncs without a redeployment:
 * it travels on the one declared queue of user-defined mappings, `sync-custom`, whose trigger routes by the mapping
 * name in each event. End to end: admin API → publisher → Service Bus queue → the host's `sync` trigger → Dataverse.
 */
describe('a user-defined mapping gets a queue and a trigger without a redeploy', () => {
  let stack: Stack;
  let admin: ReturnType<typeof adminClient>;

  beforeAll(async () => {
    stack = await startStack({ functions: ['admin-api', 'sync'], dataverse: { seed: 'empty' } });
    admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('sync-custom is declared with the other queues (Bicep and the local endpoint read the same list)', () => {
    expect(allQueueNames()).toContain(CUSTOM_MAPPING_QUEUE);
  });

  it('adds a mapping of BC customers to Dataverse contacts over the admin API and syncs a record through sync-custom', async () => {
    const contact = await admin.ok<TableMapping>('GET', 'mappings/CONTACT');
    const surname = contact.fields.find((f) => f.dataverseColumn === 'lastname') as FieldMapping;
    const custom: TableMapping = {
      ...contact,
      name: 'CUSTOMER-PERSON',
      bc: { kind: 'apiV2', entitySet: 'customers', table: 'Customer', tableId: 18 },
      direction: 'ToIntegrationTable',
      tableFilter: '',
      integrationTableFilter: '',
      synchOnlyCoupledRecords: false,
      dependencies: [],
      changeCapture: { bc: 'polling', dataverse: 'polling' },
      // Whatever queue the request names: a mapping that is not a default travels on sync-custom.
      queueName: 'sync-customer-person',
      userDefined: false,
      fields: [{ ...surname, bcField: 'displayName', direction: 'ToIntegrationTable', bcExtension: false }],
    };
    const preview = await admin.ok<{ ok: boolean; problems: unknown[] }>('POST', 'mappings/CUSTOMER-PERSON/preview', custom);
    expect(preview.problems).toEqual([]);
    const saved = await admin.ok<TableMapping>('PUT', 'mappings/CUSTOMER-PERSON', custom);
    expect(saved).toMatchObject({ userDefined: true, queueName: CUSTOM_MAPPING_QUEUE });

    const rt = await getRuntime();
    const customer = await rt.bcGateway.create({ side: 'bc', kind: 'apiV2', entitySet: 'customers' }, { displayName: 'Queued Person' });
    // The way every captured change travels: the publisher picks the mapping's queue.
    await rt.publisher.publish([
      {
        v: 1,
        mapping: 'CUSTOMER-PERSON',
        source: 'bc',
        recordId: parseRecordId(customer.id),
        changeType: 'created',
        origin: 'webhook',
        correlationId: 'custom-mapping',
        observedAt: new Date().toISOString(),
        deferrals: 0,
      },
    ]);
    const coupling = await until('the sync-custom trigger to couple the customer', () =>
      rt.stores.couplings.getByBcId('CUSTOMER-PERSON', customer.id),
    );
    const res = await fetch(`${stack.dataverse.apiBase}/contacts(${coupling.dataverseId})?$select=lastname`, {
      headers: { Authorization: `Bearer ${stack.dataverse.adminUserToken}` },
    });
    expect(((await res.json()) as { lastname: string }).lastname).toBe('Queued Person');
    const stats = await admin.ok<Array<{ mapping: string; queue: string; counters: Record<string, number> }>>('GET', 'stats');
    expect(stats.find((s) => s.mapping === 'CUSTOMER-PERSON')).toMatchObject({ queue: CUSTOM_MAPPING_QUEUE, counters: { inserted: 1 } });
    // A user-defined mapping can be deleted again.
    expect(await admin.ok('DELETE', 'mappings/CUSTOMER-PERSON')).toMatchObject({ deleted: expect.anything() });
  });
  it('creates a mapping from the CLI with `mappings new`: a bad column is refused at its field, nothing saved; fixed, it is saved', async () => {
    const base = stack.host.apiUrl('').replace(/\/api\/?$/, '');
    const cli = async (...args: string[]) => {
      const lines: string[] = [];
      await buildProgram((l) => lines.push(l)).parseAsync(['node', 'cli', '--url', base, '--key', TEST_LOCAL_KEY, ...args]);
      return lines.join('\n');
    };
    const args = (field: string) => [
      'mappings',
      'new',
      'VENDOR-PERSON',
      '--bc-entity-set',
      'vendors',
      '--bc-table',
      'Vendor',
      '--bc-table-id',
      '23',
      '--dataverse-table',
      'contact',
      '--dataverse-entity-set',
      'contacts',
      '--direction',
      'ToIntegrationTable',
      '--field',
      field,
    ];
    await expect(cli(...args('displayName=nosuchcolumn'))).rejects.toMatchObject({ status: 400, field: 'displayName -> nosuchcolumn' });
    expect((await admin.call('GET', 'mappings/VENDOR-PERSON')).status).toBe(404);
    expect(await cli(...args('displayName=lastname:ToIntegrationTable'))).toContain(
      'VENDOR-PERSON created (1 field mapping(s), queue sync-custom)',
    );
    expect(await admin.ok<TableMapping>('GET', 'mappings/VENDOR-PERSON')).toMatchObject({
      userDefined: true,
      bc: { kind: 'apiV2', entitySet: 'vendors' },
      dataverse: { entityLogicalName: 'contact', entitySet: 'contacts', primaryKey: 'contactid' },
      fields: [{ bcField: 'displayName', dataverseColumn: 'lastname', direction: 'ToIntegrationTable' }],
    });
    expect(await cli('mappings', 'list')).toContain('VENDOR-PERSON');
    await admin.ok('DELETE', 'mappings/VENDOR-PERSON');
  });
});
