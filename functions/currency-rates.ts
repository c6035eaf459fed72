import { app, type InvocationContext, type Timer } from '@azure/functions';
import { refreshCurrencyRates } from '../shared/lead-to-cash/currency-rates';
import { getRuntime } from '../shared/runtime';

/** Currency exchange rates from BC to Dataverse (transactioncurrency.exchangerate), checked every 30 minutes. */
export async function currencyRatesJob(_timer: Timer, context: InvocationContext): Promise<void> {
  const runtime = await getRuntime();
  const { coupled, changed } = await refreshCurrencyRates(runtime.syncDeps);
  context.log(`currency rates: ${changed} of ${coupled} coupled currencies queued for a new exchange rate`);
}

app.timer('currency-rates', { schedule: '0 */30 * * * *', handler: currencyRatesJob });
