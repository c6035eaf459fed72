/**
 * The Dataverse transactioncurrency row of BC's local currency (LCY). Every record with a currency field needs it in
 * both directions (blank BC currency code ⇄ this row), and it changes about never, so one read serves every record
 * of a runtime for a while instead of one read per change.
 */
import type { Clock, RecordGateway } from '../ports';

/** How long a found row id is reused before it is read again (a currency row deleted and re-created is seen then). */
export const LCY_CURRENCY_TTL_MS = 10 * 60_000;

const known = new WeakMap<RecordGateway, Map<string, { id: string; at: number }>>();

/**
 * The LCY's transactioncurrencyid: remembered per gateway (so per runtime) when `read` found one, else read again. Only
 * a found row is remembered: a currency created later is found by the next record.
 */
export async function lcyCurrencyId(
  dataverse: RecordGateway,
  lcyCode: string,
  clock: Clock,
  read: () => Promise<string | undefined>,
): Promise<string | undefined> {
  let byCode = known.get(dataverse);
  if (!byCode) {
    byCode = new Map();
    known.set(dataverse, byCode);
  }
  const now = clock.now().getTime();
  const hit = byCode.get(lcyCode);
  if (hit && now - hit.at < LCY_CURRENCY_TTL_MS) return hit.id;
  const id = await read();
  if (id) byCode.set(lcyCode, { id, at: now });
  else byCode.delete(lcyCode);
  return id;
}
