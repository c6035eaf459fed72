import { describe, expect, it } from 'vitest';
import type { SyncDeps } from '../../shared/domain/sync/types';
import { SyncError } from '../../shared/errors';
import { priceListNamed } from '../../shared/lead-to-cash/prices';

/**
 * Two workers creating the same price list: the second create answers 412 (the derived id exists). A full sync's
 * batched ports answer a repeated read of another table from the first answer ("not there"), so the 412 itself
 * must say "done" — the run used to fail here (seen in `npm start`'s first full synchronization).
 */
describe('price list created by another worker at the same time', () => {
  const deps = (createError: unknown) =>
    ({
      dataverse: {
        listPage: async () => ({ items: [] }),
        get: async () => undefined,
        create: async () => {
          throw createError;
        },
      },
    }) as unknown as SyncDeps;

  it('takes a 412 on the derived id as the row being there', async () => {
    const exists = new SyncError('DV.CONCURRENCY', 'answered 412 0x80040237', { details: { status: 412 } });
    await expect(priceListNamed(deps(exists), 'Business Central Default Price List', undefined)).resolves.toMatch(/^[0-9a-f-]{36}$/);
  });

  it('still fails on any other error', async () => {
    const invalid = new SyncError('DV.VALIDATION', 'answered 400', { details: { status: 400 } });
    await expect(priceListNamed(deps(invalid), 'Business Central Default Price List', undefined)).rejects.toThrow('answered 400');
  });
});
