import { describe, expect, it } from 'vitest';
import { defaultMappings } from '../../../shared/domain/mappings/defaults';
import { type TableMapping, TableMappingSchema } from '../../../shared/domain/mappings/schema';
import { syncRecord } from '../../../shared/domain/sync/sync-record';
import { eventBuilder } from '../../support/events';
import { fakeDeps } from '../../support/fakes';
import { BC, widgetMapping } from './world';

/**
 * A record whose parent (a lookup into another mapping) is not coupled and cannot be synchronized first. A change
 * seen on its own may have raced its parent's, so it waits (deferred, re-published later); a full sync has already
 * synchronized every parent mapping before this one, so waiting cannot help: it fails at once, naming the parent.
 */

const ev = eventBuilder('deps');

function withCurrency(): TableMapping[] {
  // Uncoupled records of WIDGET are created on the other side by every change, not only by a full sync.
  const widget = { ...widgetMapping(), synchOnlyCoupledRecords: false };
  widget.fields.push(
    TableMappingSchema.shape.fields.element.parse({
      bcField: 'currencyCode',
      alField: 'Currency Code',
      dataverseColumn: 'transactioncurrencyid',
      direction: 'Bidirectional',
      transformation: { kind: 'lookup', mapping: 'CURRENCY', entitySet: 'transactioncurrencies' },
    }),
  );
  // BC's own CURRENCY mapping is the parent; EUR is nowhere.
  const currency = defaultMappings({
    ownershipModel: 'Person',
    salesIntegration: false,
    unitGroupMapping: false,
    extendedPricing: false,
    salesOrderIntegration: 'none',
  }).find((m) => m.name === 'CURRENCY');
  if (!currency) throw new Error('set-up: no CURRENCY default mapping');
  return [widget, currency];
}

describe('a BC record whose parent is not coupled and not found', () => {
  const setUp = () => {
    const w = fakeDeps(withCurrency());
    // EUR exists nowhere: the engine cannot synchronize the parent first.
    const record = w.bc.seed(BC, { displayName: 'Widget Co', city: 'Oslo', currencyCode: 'EUR' });
    return { w, record };
  };

  it.each(['webhook', 'reconcile'] as const)('seen by %s: waits (deferred and re-published with a delay)', async (origin) => {
    const { w, record } = setUp();
    const out = await syncRecord(ev({ mapping: 'WIDGET', source: 'bc', recordId: record.id, origin }), w.deps);
    expect(out.result, out.message).toBe('deferred');
    expect(w.publisher.sent).toEqual([
      expect.objectContaining({ event: expect.objectContaining({ recordId: record.id, deferrals: 1 }), scheduledAt: expect.any(Date) }),
    ]);
    expect(w.errors.open()).toEqual([]);
  });

  it('in a full sync: fails at once with DEP.PARENT_NOT_COUPLED naming the parent, and nothing is re-published', async () => {
    const { w, record } = setUp();
    const out = await syncRecord(ev({ mapping: 'WIDGET', source: 'bc', recordId: record.id, origin: 'full-sync' }), w.deps);
    expect(out).toMatchObject({ result: 'failed', code: 'DEP.PARENT_NOT_COUPLED' });
    expect(out.message).toContain("CURRENCY 'EUR'");
    expect(w.publisher.sent).toEqual([]);
    expect(w.errors.open()).toEqual([expect.objectContaining({ code: 'DEP.PARENT_NOT_COUPLED', bcId: record.id })]);
    expect(w.dataverse.writes).toEqual([]);
  });
});
