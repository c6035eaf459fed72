import { newChangeEvent } from '../domain/change-event';
import { currentExchangeRate } from '../domain/sync/dataverse-rules';
import type { SyncDeps } from '../domain/sync/types';
import { BC, DV, M, num, str } from './targets';

/**
 * Exchange rates follow BC (issue 17): a new Currency Exchange Rate in BC changes no currency record, so no webhook
 * or reconciliation brings the currency again. This job compares each coupled currency's Dataverse `exchangerate`
 * with BC's current rate (API v2.0 currencyExchangeRates, the same rule the CURRENCY sync writes) and publishes a
 * CURRENCY change event for each that differs; the sync then writes the rate.
 */
export async function refreshCurrencyRates(deps: SyncDeps): Promise<{ coupled: number; changed: number }> {
  const mapping = await deps.mappings.get(M.currency);
  if (!mapping?.enabled) return { coupled: 0, changed: 0 };
  const today = deps.clock.now().toISOString().slice(0, 10);
  let coupled = 0;
  const stale: string[] = [];
  let continuation: string | undefined;
  do {
    const page = await deps.couplings.list(M.currency, { pageSize: 50, continuation });
    continuation = page.continuation;
    for (const c of page.items) {
      coupled++;
      const currency = await deps.bc.get(BC.currencies, c.bcId, ['id', 'code']);
      const row = await deps.dataverse.get(DV.transactioncurrencies, c.dataverseId, ['transactioncurrencyid', 'exchangerate']);
      if (!currency || !row) continue;
      const rate = await currentExchangeRate({ bc: deps.bc }, str(currency.values.code), today);
      if (rate !== undefined && rate !== num(row.values.exchangerate)) stale.push(c.bcId);
    }
  } while (continuation);
  if (stale.length > 0) {
    const now = deps.clock.now();
    await deps.publisher.publish(
      stale.map((bcId) =>
        newChangeEvent({
          mapping: M.currency,
          source: 'bc',
          recordId: bcId,
          changeType: 'updated',
          origin: 'reconcile',
          correlationId: `currency-rate-${bcId}`,
          observedAt: now,
        }),
      ),
    );
  }
  return { coupled, changed: stale.length };
}
