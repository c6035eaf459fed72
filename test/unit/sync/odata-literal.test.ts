import { expect, it } from 'vitest';
import { odataGuid, odataLiteral } from '../../../shared/domain/odata/literal';

it('quotes text, GUID-shaped text too, and doubles quotes', () => {
  expect(odataLiteral("O'Brien")).toBe("'O''Brien'");
  // A customer named like a GUID is text: unquoted it would compare a text column with an Edm.Guid (a 400).
  expect(odataLiteral('5c1b7a3e-0000-4000-8000-000000000001')).toBe("'5c1b7a3e-0000-4000-8000-000000000001'");
  expect(odataLiteral(42)).toBe('42');
  expect(odataLiteral(false)).toBe('false');
});

it('refuses a number that is not finite as a data error instead of emitting NaN', () => {
  for (const n of [Number.NaN, Number.POSITIVE_INFINITY]) {
    expect(() => odataLiteral(n)).toThrow(expect.objectContaining({ code: 'MAP.TRANSFORM_FAILED', category: 'data' }));
  }
});

it('writes GUID literals bare, only for GUIDs', () => {
  expect(odataGuid('5C1B7A3E-0000-4000-8000-000000000001')).toBe('5c1b7a3e-0000-4000-8000-000000000001');
  expect(() => odataGuid("x' or 1 eq 1")).toThrow(expect.objectContaining({ code: 'MAP.TRANSFORM_FAILED' }));
});
