import { expect, it } from 'vitest';
import type { Direction } from '../../../shared/domain/mappings/schema';
import { type FieldState, planPass } from '../../../shared/domain/sync/plan';

/**
 * A field that changed on neither side since the last sync is never written — BC → Dataverse wrote a blank for an
 * option that was not coupled yet, and the next Dataverse → BC pass must not write that blank back over BC's value.
 */
function field(
  label: string,
  s0: unknown,
  s: unknown,
  d0: unknown,
  d: unknown,
  mapped: unknown,
  direction: Direction = 'Bidirectional',
): FieldState {
  return { label, writeKey: label, direction, source: s, sourceBefore: s0, dest: d, destBefore: d0, mapped, payload: mapped };
}

const ZERO = '00000000-0000-0000-0000-000000000000';
const PAYMENT_TERMS = '8a6b0a3e-2f5b-4c8e-9a1d-3b2c1d0e9f8a';

it.each(['None', 'SendUpdateToIntegration', 'GetUpdateFromIntegration', 'FieldMerge'] as const)(
  'policy %s: a Dataverse edit does not write back the blank of an option nobody changed',
  (policy) => {
    // Dataverse → BC: the account's payment terms are null (written blank when PAYMENT TERMS was not coupled), BC
    // holds its id; the user changed only the phone.
    const fields = [
      field('paymentTermsId', null, null, PAYMENT_TERMS, PAYMENT_TERMS, ZERO),
      field('shippingAgentCode', null, null, 'DHL', 'DHL', ''),
      field('phoneNumber', '111', '222', '111', '111', '222'),
    ];
    const out = planPass({ pass: 'FromIntegrationTable', tableDirection: 'Bidirectional', policy, force: false, fields });
    expect(out.kind).toBe('write');
    expect((out as { write: FieldState[] }).write.map((f) => f.label)).toEqual(['phoneNumber']);
  },
);

it('fills in a value the destination holds blank because its option was not coupled at the last sync', () => {
  // BC → Dataverse after PAYMENT TERMS got coupled: BC unchanged, the account still holds the blank we wrote.
  const fields = [field('paymenttermscode', PAYMENT_TERMS, PAYMENT_TERMS, null, null, 3)];
  const out = planPass({ pass: 'ToIntegrationTable', tableDirection: 'Bidirectional', policy: 'None', force: false, fields });
  expect(out.kind).toBe('write');
});

it('never replaces a value nobody changed with another value', () => {
  const fields = [field('city', 'Paris', 'Paris', 'Lyon', 'Lyon', 'Paris', 'ToIntegrationTable')];
  expect(planPass({ pass: 'ToIntegrationTable', tableDirection: 'Bidirectional', policy: 'None', force: false, fields })).toEqual({
    kind: 'unchanged',
  });
});
