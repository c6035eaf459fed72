import { describe, expect, it } from 'vitest';
import { defaultMappings, type TableMapping } from '../../../shared/domain/mappings';
import { discriminatingColumns, numericClauses } from '../../../shared/domain/mappings/discriminators';
import { matchQueries } from '../../../shared/domain/sync/match';

const mappings = defaultMappings({
  ownershipModel: 'Person',
  salesIntegration: true,
  unitGroupMapping: false,
  extendedPricing: false,
  salesOrderIntegration: 'legacy',
});
const named = (name: string): TableMapping => {
  const m = mappings.find((x) => x.name === name);
  if (!m) throw new Error(`no ${name}`);
  return m;
};
/** CUSTOMER matched by name first, then by phone and city together. */
const customer: TableMapping = {
  ...named('CUSTOMER'),
  couplingRules: {
    ...named('CUSTOMER').couplingRules,
    matchFields: [
      { bcField: 'phoneNumber', dataverseColumn: 'telephone1', priority: 2, caseSensitive: false },
      { bcField: 'displayName', dataverseColumn: 'name', priority: 1, caseSensitive: false },
      { bcField: 'city', dataverseColumn: 'address1_city', priority: 2, caseSensitive: false },
    ],
  },
};

describe('matchQueries: the one match-based coupling rule', () => {
  it('gives one query per priority group, in priority order, within the destination filter', () => {
    const queries = matchQueries(
      customer,
      'bc',
      { displayName: "O'Hare Ltd", phoneNumber: '555', city: 'Oslo' },
      'c0ffee00-0000-0000-0000-000000000001',
    );
    expect(queries.map((q) => q.priority)).toEqual([1, 2]);
    expect(queries[0]).toMatchObject({
      conditions: "name eq 'O''Hare Ltd'",
      values: [['name', "O'Hare Ltd"]],
    });
    expect(queries[1]?.conditions).toBe("telephone1 eq '555' and address1_city eq 'Oslo'");
    const scope =
      'statecode eq 0 and customertypecode eq 3 and (_bcbi_companyid_value eq c0ffee00-0000-0000-0000-000000000001 or _bcbi_companyid_value eq null)';
    expect(queries[0]?.scope).toBe(scope);
    expect(queries[0]?.filter).toBe(`name eq 'O''Hare Ltd' and (${scope})`);
  });

  it('leaves blank values out of their group, and a group with none left out', () => {
    const queries = matchQueries(customer, 'bc', { displayName: '', phoneNumber: '555', city: null }, undefined);
    expect(queries).toHaveLength(1);
    expect(queries[0]).toMatchObject({ priority: 2, conditions: "telephone1 eq '555'", scope: 'statecode eq 0 and customertypecode eq 3' });
  });

  it('queries BC columns within the table filter when the source is Dataverse', () => {
    const [q] = matchQueries(customer, 'dataverse', { name: 'Contoso' }, undefined);
    expect(q?.filter).toBe("displayName eq 'Contoso' and (blocked eq ' ')");
  });

  it('has no query for a mapping without match fields', () => {
    expect(
      matchQueries({ ...customer, couplingRules: { ...customer.couplingRules, matchFields: [] } }, 'bc', { displayName: 'X' }, undefined),
    ).toEqual([]);
  });
});

describe('discriminatingColumns: what registration images carry and routing reads', () => {
  it('tells CUSTOMER and VENDOR apart by customertypecode, not by the clauses they share', () => {
    expect(discriminatingColumns([named('CUSTOMER'), named('VENDOR')])).toEqual(['customertypecode']);
    expect(numericClauses(named('VENDOR')).get('customertypecode')).toBe(11);
    expect(discriminatingColumns([named('CUSTOMER')])).toEqual([]);
  });
});
