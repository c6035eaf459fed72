import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  applySelect,
  compileOrderBy,
  hasPreference,
  ODataQueryError,
  orderByProperties,
  parseExpand,
  parseMaxPageSize,
  parseSelect,
  parseTop,
  type Row,
} from '../../dev/odata';

function expectQueryError(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ODataQueryError);
  expect((caught as Error).message).toMatch(message);
}

describe('compileOrderBy', () => {
  const rows: Row[] = [
    { id: 1, name: 'beta', createdon: '2024-01-02T00:00:00Z', n: 10 },
    { id: 2, name: 'Alpha', createdon: '2024-01-01T00:00:00Z', n: 2 },
    { id: 3, name: null, createdon: '2024-01-03T00:00:00Z', n: 2 },
    { id: 4, name: 'alpha', createdon: '2024-01-01T01:00:00+02:00', n: -1 },
    { id: 5, createdon: '2023-12-31T23:30:00.5Z', n: 10 },
    { id: 6, name: 'Gamma', createdon: '2024-01-01T00:00:00.000Z', n: 2.5 },
  ];
  const ids = (expr: string): unknown[] => [...rows].sort(compileOrderBy(expr)).map((r) => r.id);

  const cases: Array<[string, number[]]> = [
    // nulls (and missing) first ascending, case-insensitive, ties keep stored order (stable)
    ['name', [3, 5, 2, 4, 1, 6]],
    ['name asc', [3, 5, 2, 4, 1, 6]],
    // descending puts nulls last and keeps ties in stored order
    ['name desc', [6, 1, 2, 4, 3, 5]],
    ['n', [4, 2, 3, 6, 1, 5]],
    ['n desc, name asc', [5, 1, 6, 3, 2, 4]],
    ['n desc,name desc', [1, 5, 6, 2, 3, 4]],
    // ISO strings order chronologically: +02:00 is 23:00Z the day before
    ['createdon', [4, 5, 2, 6, 1, 3]],
    ['createdon desc', [3, 1, 2, 6, 5, 4]],
    ['  name   asc ,  id desc ', [5, 3, 4, 2, 1, 6]],
  ];
  test.each(cases)('%s', (expr, expected) => {
    expect(ids(expr)).toEqual(expected);
  });

  test('Date objects order chronologically among ISO strings; invalid dates do not break the order', () => {
    const input: Row[] = [
      { id: 1, at: new Date('2024-01-03T00:00:00Z') },
      { id: 2, at: '2024-01-02T00:00:00Z' },
      { id: 3, at: new Date(Number.NaN) },
      { id: 4, at: new Date('2024-01-01T00:00:00Z') },
    ];
    expect(input.sort(compileOrderBy('at')).map((r) => r.id)).toEqual([4, 2, 1, 3]);
  });

  test('navigation paths', () => {
    const sorted = [{ c: { v: 2 } }, { c: { v: 1 } }, { c: null }].sort(compileOrderBy('c/v'));
    expect(sorted).toEqual([{ c: null }, { c: { v: 1 } }, { c: { v: 2 } }]);
  });

  const errors: Array<[string, RegExp]> = [
    ['', /empty/],
    ['name,', /empty item/],
    ['name sideways', /Invalid \$orderby item 'name sideways'/],
    ['name asc desc', /Invalid \$orderby item/],
    ['name ASC', /Invalid \$orderby item/],
    ['tolower(name)', /'tolower\(name\)' in \$orderby is not a property name/],
    ['1abc', /not a property name/],
  ];
  test.each(errors)('rejects %j', (expr, message) => {
    expectQueryError(() => compileOrderBy(expr), message);
    expectQueryError(() => orderByProperties(expr), message);
  });

  test('orderByProperties', () => {
    expect(orderByProperties('name asc, createdon desc,name desc, c/v')).toEqual(['name', 'createdon', 'c/v']);
  });

  const valueArb = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -3, max: 3 }),
    fc.double({ noNaN: true, noDefaultInfinity: true, min: -3, max: 3 }),
    fc.string({ maxLength: 3 }),
    fc.constantFrom('A', 'a', 'b', 'B'),
    fc.constantFrom('2024-01-01T00:00:00Z', '2024-01-01T01:00:00+02:00', '2023-12-31', '2024-01-01T00:00:00.000Z'),
  );
  const rowArb = fc.record({ v: valueArb, w: valueArb });

  test('is a total preorder: reflexive, antisymmetric sign, transitive', () => {
    const cmp = compileOrderBy('v, w desc');
    fc.assert(
      fc.property(rowArb, rowArb, rowArb, (a, b, c) => {
        expect(cmp(a, a)).toBe(0);
        expect(Math.sign(cmp(a, b))).toBe(-Math.sign(cmp(b, a)) || 0);
        if (cmp(a, b) <= 0 && cmp(b, c) <= 0) expect(cmp(a, c)).toBeLessThanOrEqual(0);
      }),
      { numRuns: 2000 },
    );
  });

  test('sorting yields a sequence that is ordered pairwise and is a permutation', () => {
    const cmp = compileOrderBy('v desc, w');
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 30 }), (arr) => {
        const sorted = [...arr].sort(cmp);
        for (let i = 1; i < sorted.length; i++) {
          expect(cmp(sorted[i - 1] as Row, sorted[i] as Row)).toBeLessThanOrEqual(0);
        }
        expect(sorted).toHaveLength(arr.length);
        for (const r of arr) expect(sorted).toContain(r);
      }),
    );
  });

  test('desc is the exact reverse of asc on rows with distinct keys', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer(), { maxLength: 20 }), (keys) => {
        const rowsOf = keys.map((k) => ({ k }));
        const asc = [...rowsOf].sort(compileOrderBy('k asc'));
        const desc = [...rowsOf].sort(compileOrderBy('k desc'));
        expect(desc).toEqual([...asc].reverse());
      }),
    );
  });
});

describe('parseSelect / applySelect', () => {
  const selectCases: Array<[string | undefined, string[] | undefined]> = [
    [undefined, undefined],
    ['name', ['name']],
    [' name , accountnumber,telephone1 ', ['name', 'accountnumber', 'telephone1']],
    ['name,name', ['name']],
    ['_parentcustomerid_value', ['_parentcustomerid_value']],
    ['*', ['*']],
  ];
  test.each(selectCases)('parseSelect(%j)', (input, expected) => {
    expect(parseSelect(input)).toEqual(expected);
  });

  const selectErrors: Array<[string, RegExp]> = [
    ['', /empty item/],
    ['name,', /empty item/],
    ['name,,fax', /empty item/],
    [' , ', /empty item/],
    ['name fax', /'name fax' in \$select is not a property name/],
    ["name'", /not a property name/],
  ];
  test.each(selectErrors)('parseSelect rejects %j', (input, message) => {
    expectQueryError(() => parseSelect(input), message);
  });

  const row: Row = {
    '@odata.etag': 'W/"915244"',
    '@odata.context': 'ctx',
    accountid: 'id-1',
    name: 'Monte Orton',
    'name@OData.Community.Display.V1.FormattedValue': 'Monte Orton',
    telephone1: '555000',
    fax: '10101',
    _ownerid_value: 'owner',
    '_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'systemuser',
  };

  test('keeps selected keys, @odata.* annotations, annotations of selected properties and alwaysKeep', () => {
    expect(applySelect(row, ['name', '_ownerid_value'], ['accountid'])).toEqual({
      '@odata.etag': 'W/"915244"',
      '@odata.context': 'ctx',
      accountid: 'id-1',
      name: 'Monte Orton',
      'name@OData.Community.Display.V1.FormattedValue': 'Monte Orton',
      _ownerid_value: 'owner',
      '_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'systemuser',
    });
  });

  test('drops unselected keys and their annotations', () => {
    const out = applySelect(row, ['fax']);
    expect(Object.keys(out).sort()).toEqual(['@odata.context', '@odata.etag', 'fax']);
  });

  test('selected property missing from the row comes back as null (Dataverse shape)', () => {
    expect(applySelect({ accountid: 'x' }, ['accountnumber'], ['accountid'])).toEqual({
      accountid: 'x',
      accountnumber: null,
    });
  });

  test('undefined or * select returns a copy, not the stored object', () => {
    const all = applySelect(row, undefined);
    expect(all).toEqual(row);
    expect(all).not.toBe(row);
    expect(applySelect(row, ['*'])).toEqual(row);
  });
});

describe('parseTop', () => {
  const ok: Array<[string | undefined, number | undefined]> = [
    [undefined, undefined],
    ['0', 0],
    ['5', 5],
    [' 20000 ', 20000],
    ['007', 7],
  ];
  test.each(ok)('parseTop(%j)', (v, expected) => {
    expect(parseTop(v)).toBe(expected);
  });
  test.each(['', '-1', '1.5', 'abc', '1e3', '5 5', '99999999999999999999'])('parseTop rejects %j', (v) => {
    expectQueryError(() => parseTop(v), /Invalid value .* for \$top: expected a non-negative integer/);
  });
});

describe('parseExpand', () => {
  const cases: Array<[string | undefined, ReturnType<typeof parseExpand>]> = [
    [undefined, []],
    ['primarycontactid', [{ property: 'primarycontactid' }]],
    [
      'primarycontactid($select=fullname,emailaddress1),parentaccountid',
      [{ property: 'primarycontactid', select: ['fullname', 'emailaddress1'] }, { property: 'parentaccountid' }],
    ],
    [
      "order_details($select=quantity;$filter=quantity gt 1 and contains(productdescription,'a,b;c)');$orderby=quantity desc;$top=5)",
      [
        {
          property: 'order_details',
          select: ['quantity'],
          filter: "quantity gt 1 and contains(productdescription,'a,b;c)')",
          orderby: 'quantity desc',
          top: 5,
        },
      ],
    ],
    [
      ' a ( $top = 2 ) , b($filter=(x eq 1))',
      [
        { property: 'a', top: 2 },
        { property: 'b', filter: '(x eq 1)' },
      ],
    ],
  ];
  test.each(cases)('parseExpand(%j)', (input, expected) => {
    expect(parseExpand(input)).toEqual(expected);
  });

  const errors: Array<[string, RegExp]> = [
    ['', /empty/],
    ['a,', /empty item/],
    ['a(', /Missing '\)' in \$expand/],
    ['a)', /Unbalanced '\)'/],
    ['a()', /Empty option list/],
    ['a($select=)', /empty item/],
    ['a($top=-1)', /\$top/],
    ['a($filter=name eq)', /Syntax error in \$filter/],
    ['a($orderby=name up)', /Invalid \$orderby item/],
    ['a($expand=b)', /Query option '\$expand' is not supported inside \$expand item 'a'/],
    ['a($skip=1)', /'\$skip' is not supported/],
    ['a($top=1;$top=2)', /Duplicate \$top/],
    ['a(top)', /expected \$name=value/],
    ['a($top=1)x', /Unexpected text after '\)'/],
    ['*', /not a navigation property name/],
    ['a/b', /not a navigation property name/],
    ["a($filter=name eq 'x)", /Unterminated string/],
  ];
  test.each(errors)('rejects %j', (input, message) => {
    expectQueryError(() => parseExpand(input), message);
  });
});

describe('Prefer header', () => {
  const pageCases: Array<[string | undefined, number | undefined]> = [
    [undefined, undefined],
    ['', undefined],
    ['odata.maxpagesize=300', 300],
    ['odata.include-annotations="*",odata.maxpagesize=50', 50],
    ['odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.*", odata.maxpagesize=7', 7],
    ['return=representation, odata.maxpagesize="25"', 25],
    ['ODATA.MaxPageSize=10', 10],
    ['maxpagesize=12', 12],
    ['odata.maxpagesize=10; foo=bar', 10],
    ['odata.maxpagesize=10, odata.maxpagesize=20', 20],
    ['odata.track-changes', undefined],
  ];
  test.each(pageCases)('parseMaxPageSize(%j)', (header, expected) => {
    expect(parseMaxPageSize(header)).toBe(expected);
  });
  test.each(['odata.maxpagesize=0', 'odata.maxpagesize=abc', 'odata.maxpagesize', 'odata.maxpagesize=-5', 'odata.maxpagesize=1.5'])(
    'parseMaxPageSize rejects %j',
    (header) => {
      expectQueryError(() => parseMaxPageSize(header), /odata\.maxpagesize preference: expected a positive integer/);
    },
  );

  const prefCases: Array<[string | undefined, string, boolean]> = [
    [undefined, 'return=representation', false],
    ['return=representation', 'return=representation', true],
    ['return=minimal', 'return=representation', false],
    ['odata.maxpagesize=5,Return=Representation', 'return=representation', true],
    ['odata.track-changes', 'odata.track-changes', true],
    ['odata.maxpagesize=5, odata.track-changes', 'odata.track-changes', true],
    ['odata.maxpagesize=5', 'odata.track-changes', false],
    ['odata.include-annotations="*"', 'odata.include-annotations', true],
    ['odata.include-annotations="*"', 'odata.include-annotations="*"', true],
    ['odata.include-annotations="a,odata.track-changes"', 'odata.track-changes', false],
    ['respond-async; wait=10', 'respond-async', true],
  ];
  test.each(prefCases)('hasPreference(%j, %j) -> %s', (header, name, expected) => {
    expect(hasPreference(header, name)).toBe(expected);
  });
});
