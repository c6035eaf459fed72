import { describe, expect, it } from 'vitest';
import type { RecordGateway } from '../../../shared/domain/ports';
import { LCY_CURRENCY_TTL_MS, lcyCurrencyId } from '../../../shared/domain/sync/lcy-currency';

describe('lcyCurrencyId', () => {
  it('reads the LCY row once per gateway while it is fresh, and again after the TTL or while none is found', async () => {
    const gateway = {} as RecordGateway;
    let now = Date.parse('2026-12-06T12:00:00Z');
    const clock = { now: () => new Date(now) };
    let reads = 0;
    let row: string | undefined;
    const read = async () => {
      reads++;
      return row;
    };
    // None yet: not remembered, so the currency created next is found by the next record.
    expect(await lcyCurrencyId(gateway, 'USD', clock, read)).toBeUndefined();
    row = 'a1';
    expect(await lcyCurrencyId(gateway, 'USD', clock, read)).toBe('a1');
    expect(reads).toBe(2);
    row = 'b2';
    now += LCY_CURRENCY_TTL_MS - 1;
    expect(await lcyCurrencyId(gateway, 'USD', clock, read)).toBe('a1');
    expect(reads).toBe(2);
    // Another runtime (gateway) or another code reads its own.
    expect(await lcyCurrencyId({} as RecordGateway, 'USD', clock, read)).toBe('b2');
    expect(await lcyCurrencyId(gateway, 'EUR', clock, read)).toBe('b2');
    expect(reads).toBe(4);
    now += 1;
    expect(await lcyCurrencyId(gateway, 'USD', clock, read)).toBe('b2');
    expect(reads).toBe(5);
  });
});
