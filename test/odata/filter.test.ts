import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { compileFilter, filterProperties, hasOrOnDistinctFields, ODataQueryError, type Row } from '../../dev/odata';

const account: Row = {
  '@odata.etag': 'W/"915244"',
  accountid: '60c4e274-0d87-e711-80e5-00155db19e6d',
  name: 'Contoso Ltd',
  accountnumber: null,
  revenue: 1500.5,
  numberofemployees: 42,
  versionnumber: '915244',
  donotemail: false,
  modifiedon: '2024-03-10T12:30:00Z',
  createdon: '2023-01-01T00:00:00Z',
  _parentaccountid_value: 'A1B2C3D4-0000-1111-2222-333344445555',
  primarycontactid: { fullname: "Pat O'Brien", emailaddress1: null },
  lastModifiedDateTime: '2020-08-21T07:38:44.293Z',
  postingDate: '2024-01-31',
};

describe('compileFilter: matching', () => {
  const cases: Array<[string, boolean]> = [
    // string equality is case-insensitive like the services' SQL collation
    ["name eq 'Contoso Ltd'", true],
    ["name eq 'contoso ltd'", true],
    ["name eq 'CONTOSO LTD'", true],
    ["name eq 'Contoso'", false],
    ["name ne 'contoso ltd'", false],
    ["name ne 'Fabrikam'", true],
    ["name gt 'b'", true],
    ["name lt 'B'", false],
    ["name ge 'CONTOSO LTD'", true],
    // string functions
    ["contains(name,'toso')", true],
    ["contains(name,'TOSO')", true],
    ["contains(name,'xyz')", false],
    ["startswith(name,'con')", true],
    ["startswith(name,'ltd')", false],
    ["endswith(name,'LTD')", true],
    ["endswith(name,'Contoso')", false],
    ["tolower(name) eq 'contoso ltd'", true],
    ["toupper(name) eq 'CONTOSO LTD'", true],
    ["startswith(tolower(name),'contoso')", true],
    ['length(name) eq 11', true],
    ["indexof(name,'ltd') eq 8", true],
    ["trim('  x ') eq 'x'", true],
    ["concat(name,'!') eq 'contoso ltd!'", true],
    ["substring(name,8) eq 'Ltd'", true],
    ["substring(name,0,7) eq 'contoso'", true],
    // '' escaping in literals
    ["primarycontactid/fullname eq 'Pat O''Brien'", true],
    ["contains(primarycontactid/fullname,'o''b')", true],
    ["primarycontactid/fullname eq 'Pat OBrien'", false],
    // numbers
    ['revenue gt 1500', true],
    ['revenue gt 1500.5', false],
    ['revenue ge 1500.5', true],
    ['revenue lt 1e4', true],
    ['revenue le -1', false],
    ['numberofemployees eq 42', true],
    ['numberofemployees eq 42.0', true],
    ['numberofemployees ne 42', false],
    ['numberofemployees in (1, 42, 7)', true],
    ['numberofemployees in (1,2)', false],
    ['revenue eq 1500.5M', true],
    // numeric strings (Dataverse BigInt versionnumber) compare numerically
    ['versionnumber gt 915243', true],
    ['versionnumber gt 1000000', false],
    ['versionnumber eq 915244', true],
    // booleans
    ['donotemail eq false', true],
    ['donotemail eq true', false],
    ['donotemail ne true', true],
    ['not donotemail', true],
    ['donotemail', false],
    ['true', true],
    ['false', false],
    // null semantics
    ['accountnumber eq null', true],
    ['accountnumber ne null', false],
    ['null eq accountnumber', true],
    ['missingproperty eq null', true],
    ['name eq null', false],
    ['name ne null', true],
    ['accountnumber gt 5', false],
    ['accountnumber lt 5', false],
    ["contains(accountnumber,'x')", false],
    ["not contains(accountnumber,'x')", true],
    ['tolower(accountnumber) eq null', true],
    ['primarycontactid/emailaddress1 eq null', true],
    ['primarycontactid/nonexistent/deeper eq null', true],
    // GUIDs: unquoted literals, case-insensitive, also quoted
    ['accountid eq 60C4E274-0D87-E711-80E5-00155DB19E6D', true],
    ['accountid eq 60c4e274-0d87-e711-80e5-00155db19e6d', true],
    ['accountid ne 60c4e274-0d87-e711-80e5-00155db19e6d', false],
    ["accountid eq '60C4E274-0D87-E711-80E5-00155DB19E6D'", true],
    ['_parentaccountid_value eq a1b2c3d4-0000-1111-2222-333344445555', true],
    ['_parentaccountid_value eq 00000000-0000-0000-0000-000000000000', false],
    ['accountid in (00000000-0000-0000-0000-000000000000, 60c4e274-0d87-e711-80e5-00155db19e6d)', true],
    // DateTimeOffset literals compare chronologically with ISO strings
    ['modifiedon gt 2024-01-01T00:00:00Z', true],
    ['modifiedon gt 2024-03-10T12:30:00Z', false],
    ['modifiedon ge 2024-03-10T12:30:00Z', true],
    ['modifiedon eq 2024-03-10T12:30:00.000Z', true],
    ['modifiedon eq 2024-03-10T14:30:00+02:00', true],
    ['modifiedon lt 2024-03-10T12:30:00.001Z', true],
    ['modifiedon gt 2024-03-10T13:00:00+01:00', true],
    ['modifiedon gt 2024-03-10T12:30Z', false],
    ['lastModifiedDateTime gt 2019-08-18T20:05:51.603Z', true],
    ['lastModifiedDateTime gt 2020-08-21T07:38:44.293Z', false],
    ['lastModifiedDateTime lt 2020-08-21T07:38:44.2931Z', true],
    ['modifiedon gt createdon', true],
    ['modifiedon lt createdon', false],
    // date-only literals (BC Edm.Date)
    ['postingDate eq 2024-01-31', true],
    ['postingDate gt 2024-02-29', false],
    ['postingDate gt 0001-01-01', true],
    ['modifiedon lt 2024-03-10T23:59:59.9999999Z', true],
    ['postingDate gt 2024-01-30', true],
    ['postingDate lt 2024-01-31', false],
    ['modifiedon gt 2024-03-10', true],
    ['year(modifiedon) eq 2024 and month(modifiedon) eq 3 and day(modifiedon) eq 10', true],
    ['hour(modifiedon) eq 12 and minute(modifiedon) eq 30 and second(modifiedon) eq 0', true],
    // logic and precedence: and binds tighter than or
    ["name eq 'x' or numberofemployees eq 42 and donotemail eq false", true],
    ["(name eq 'x' or numberofemployees eq 42) and donotemail eq true", false],
    ["name eq 'x' or (numberofemployees eq 42 and donotemail eq true)", false],
    ["not (name eq 'x') and not(revenue lt 0)", true],
    ["not not (name eq 'contoso ltd')", true],
    ["((((name eq 'contoso ltd'))))", true],
    ["name eq 'x' or name eq 'y' or name eq 'CONTOSO LTD'", true],
    ["name in ('a','contoso LTD')", true],
    ["name in ('a')", false],
    ['accountnumber in (null, 1)', true],
    // whitespace tolerance
    ["  name   eq\t'contoso ltd'  ", true],
  ];
  test.each(cases)('%s -> %s', (expr, expected) => {
    expect(compileFilter(expr)(account)).toBe(expected);
  });
});

describe('compileFilter: errors are ODataQueryError with a useful message', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /empty/],
    ['   ', /empty/],
    ['name eq', /position 7: expected a property, literal or function call but found end of expression/],
    ["name eq 'x' garbage", /position 12: expected 'and', 'or' or end of expression but found 'garbage'/],
    ["name eq 'unterminated", /Unterminated string literal starting at position 8/],
    ["bogus(name,'x')", /Unknown function 'bogus'/],
    ["Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['a'])", /Unknown function 'Microsoft\.Dynamics\.CRM\.In'/],
    ['contains(name)', /'contains' expects 2 argument\(s\) but got 1/],
    ['substring(name)', /'substring' expects 2 to 3 argument\(s\) but got 1/],
    ['contains(name,5)', /Argument 2 of 'contains' must be of type string but is of type number/],
    ["(name eq 'x'", /expected '\)' but found end of expression/],
    ["name eq 'x')", /expected 'and', 'or' or end of expression but found '\)'/],
    ["name eq 'x' and", /expected a property, literal or function call but found end of expression/],
    ["name eq 'x' and or name eq 'y'", /found 'or'/],
    ['revenue add 1 gt 5', /'add' operator is not supported/],
    ["NAME EQ 'x'", /found 'EQ'/],
    ['name eq 1 eq 2', /found 'eq'/],
    ['name eq #', /Unexpected character '#' at position 8/],
    ["accountid eq guid'60c4e274-0d87-e711-80e5-00155db19e6d'", /Typed literal guid'…' .* not supported/],
    ["contacts/any(c: c/fullname eq 'x')", /Lambda operator 'any' is not supported/],
    ["'abc'", /The \$filter expression must be a boolean expression, but is of type string/],
    ['5', /must be a boolean expression, but is of type number/],
    ['tolower(name)', /must be a boolean expression, but is of type string/],
    ["name eq 'x' and 5", /Right operand of 'and' must be a boolean/],
    ["not 'x'", /Operand of 'not' must be a boolean/],
    ['name in 1', /expected '\(' after 'in'/],
    ['name in (a)', /may only contain literal values/],
    ["name in ('a' 'b')", /expected ',' or '\)' in the 'in' list/],
    ['modifiedon gt 2024-13-45T00:00:00Z', /Invalid date\/time literal '2024-13-45T00:00:00Z'/],
    ['postingDate eq 2024-02-30', /Invalid date\/time literal '2024-02-30'/],
    ['modifiedon gt 2023-02-29T00:00:00Z', /Invalid date\/time literal/],
    ['modifiedon gt 2024-01-01T24:00:00Z', /Invalid date\/time literal/],
    ['Some.Qualified eq 1', /unsupported qualified name 'Some\.Qualified'/],
  ];
  test.each(cases)('%s', (expr, message) => {
    let caught: unknown;
    try {
      compileFilter(expr);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ODataQueryError);
    expect((caught as Error).message).toMatch(message);
    expect((caught as Error).name).toBe('ODataQueryError');
  });

  // Type mismatches depend on row data, so they surface when the predicate runs (the services answer 400 too).
  const runtimeCases: Array<[string, RegExp]> = [
    ['name gt 5', /Cannot compare string 'Contoso Ltd' with number 5: incompatible types/],
    ['name eq true', /incompatible types/],
    ['name gt 2024-01-01T00:00:00Z', /Cannot compare string 'Contoso Ltd' with date\/time 2024-01-01T00:00:00Z/],
    ['revenue eq true', /incompatible types/],
    ["contains(revenue,'1')", /Function 'contains' expects a string argument but got number 1500.5/],
    ['year(name) eq 2024', /Function 'year' expects a date\/time argument/],
  ];
  test.each(runtimeCases)('at evaluation: %s', (expr, message) => {
    const predicate = compileFilter(expr);
    expect(() => predicate(account)).toThrow(ODataQueryError);
    expect(() => predicate(account)).toThrow(message);
  });
});

test('Date objects in rows compare chronologically with date literals', () => {
  const row = { at: new Date('2024-05-01T10:00:00Z') };
  expect(compileFilter('at gt 2024-05-01T09:59:59Z')(row)).toBe(true);
  expect(compileFilter('at eq 2024-05-01T12:00:00+02:00')(row)).toBe(true);
  expect(compileFilter('at lt 2024-05-01')(row)).toBe(false);
});

describe('filterProperties', () => {
  const cases: Array<[string, string[]]> = [
    ["name eq 'x'", ['name']],
    ["contains(name,'x') or startswith(tolower(accountnumber),'y')", ['name', 'accountnumber']],
    ['_parentcustomerid_value eq null and modifiedon gt 2024-01-01T00:00:00Z', ['_parentcustomerid_value', 'modifiedon']],
    ["primarycontactid/fullname eq 'x' and name eq 'y' and name ne 'z'", ['primarycontactid/fullname', 'name']],
    ['not (a eq 1) and b in (1,2) and c', ['a', 'b', 'c']],
    ['modifiedon gt createdon', ['modifiedon', 'createdon']],
    ['true', []],
  ];
  test.each(cases)('%s', (expr, props) => {
    expect(filterProperties(expr)).toEqual(props);
  });
  test('rejects bad syntax like compileFilter', () => {
    expect(() => filterProperties('name eq')).toThrow(ODataQueryError);
  });
});

describe('hasOrOnDistinctFields (BC limitation)', () => {
  const cases: Array<[string, boolean]> = [
    ["displayName eq 'a' or displayName eq 'b'", false],
    ["displayName eq 'a' or number eq '1'", true],
    ["number eq '1' and (displayName eq 'a' or displayName eq 'b')", false],
    ["number eq '1' and (displayName eq 'a' or number eq 'b')", true],
    ["not (displayName eq 'a' or email eq 'b')", true],
    ["displayName eq 'a' and number eq '1'", false],
  ];
  test.each(cases)('%s -> %s', (expr, expected) => {
    expect(hasOrOnDistinctFields(expr)).toBe(expected);
  });
});

describe('compileFilter: properties', () => {
  // Rows with type-consistent columns so every generated comparison is well-typed.
  const rowArb = fc.record({
    name: fc.option(fc.string({ maxLength: 6 }), { nil: null }),
    n: fc.option(fc.integer({ min: -5, max: 5 }), { nil: null }),
    flag: fc.option(fc.boolean(), { nil: null }),
    at: fc.option(
      fc.integer({ min: 0, max: 4 }).map((d) => `2024-01-0${d + 1}T00:00:00Z`),
      { nil: null },
    ),
  });
  const quote = (s: string): string => `'${s.replaceAll("'", "''")}'`;
  const atomArb: fc.Arbitrary<string> = fc.oneof(
    fc.tuple(fc.constantFrom('eq', 'ne', 'gt', 'ge', 'lt', 'le'), fc.string({ maxLength: 6 })).map(([op, s]) => `name ${op} ${quote(s)}`),
    fc.tuple(fc.constantFrom('eq', 'ne', 'gt', 'ge', 'lt', 'le'), fc.integer({ min: -6, max: 6 })).map(([op, v]) => `n ${op} ${v}`),
    fc.tuple(fc.constantFrom('eq', 'ne'), fc.constantFrom('true', 'false', 'null')).map(([op, v]) => `flag ${op} ${v}`),
    fc.tuple(fc.constantFrom('gt', 'lt', 'eq'), fc.integer({ min: 0, max: 4 })).map(([op, d]) => `at ${op} 2024-01-0${d + 1}T00:00:00Z`),
    fc
      .tuple(fc.constantFrom('contains', 'startswith', 'endswith'), fc.string({ maxLength: 3 }))
      .map(([fn, s]) => `${fn}(name,${quote(s)})`),
    fc.constantFrom('name eq null', 'n ne null', 'at eq null'),
  );
  const exprArb = fc.letrec<{ expr: string }>((tie) => ({
    expr: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      atomArb,
      tie('expr').map((e) => `not (${e})`),
      fc.tuple(tie('expr'), fc.constantFrom('and', 'or'), tie('expr')).map(([a, op, b]) => `(${a}) ${op} (${b})`),
    ),
  })).expr;

  test('not(e) is the complement of e', () => {
    fc.assert(
      fc.property(exprArb, rowArb, (expr, row) => {
        expect(compileFilter(`not (${expr})`)(row)).toBe(!compileFilter(expr)(row));
      }),
      { numRuns: 500 },
    );
  });

  test('and/or agree with boolean logic on the parts', () => {
    fc.assert(
      fc.property(exprArb, exprArb, rowArb, (a, b, row) => {
        const pa = compileFilter(a)(row);
        const pb = compileFilter(b)(row);
        expect(compileFilter(`(${a}) and (${b})`)(row)).toBe(pa && pb);
        expect(compileFilter(`(${a}) or (${b})`)(row)).toBe(pa || pb);
      }),
      { numRuns: 300 },
    );
  });

  test("any string round-trips through a quoted literal ('' escaping)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), (s) => {
        expect(compileFilter(`name eq ${quote(s)}`)({ name: s })).toBe(true);
        expect(compileFilter(`contains(name,${quote(s)})`)({ name: `x${s}y` })).toBe(true);
      }),
    );
  });

  test('string eq is case-insensitive', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 10 }), (s) => {
        expect(compileFilter(`name eq ${quote(s.toUpperCase())}`)({ name: s.toLowerCase() })).toBe(
          s.toUpperCase().toLowerCase() === s.toLowerCase(),
        );
      }),
    );
  });

  test('garbage input either parses or throws ODataQueryError, never anything else', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (s) => {
        try {
          compileFilter(s);
        } catch (e) {
          expect(e).toBeInstanceOf(ODataQueryError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
