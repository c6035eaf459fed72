import { describe, expect, it } from 'vitest';
import { evaluateFilter } from '../../shared/domain/odata/filter';

/**
 * The product's reading of a $filter on a record it already read: an answer only where the side could not answer
 * otherwise, undefined (ask the side) wherever its collation, functions or unread columns could decide differently.
 */
describe('evaluateFilter', () => {
  const company = '5f0c8a2e-1b7d-4c3e-9a41-2d6e8f0b3c71';
  const customerDv = `statecode eq 0 and customertypecode eq 3 and (_bcbi_companyid_value eq ${company} or _bcbi_companyid_value eq null)`;

  it('decides comparisons of read columns with literals: numbers, booleans, GUIDs, null, enum texts', () => {
    expect(evaluateFilter(customerDv, { statecode: 0, customertypecode: 3, _bcbi_companyid_value: null })).toBe(true);
    expect(evaluateFilter(customerDv, { statecode: 0, customertypecode: 3, _bcbi_companyid_value: company.toUpperCase() })).toBe(true);
    expect(evaluateFilter(customerDv, { statecode: 1, customertypecode: 3, _bcbi_companyid_value: null })).toBe(false);
    expect(evaluateFilter(customerDv, { statecode: 0, customertypecode: 11, _bcbi_companyid_value: null })).toBe(false);
    expect(
      evaluateFilter(customerDv, { statecode: 0, customertypecode: 3, _bcbi_companyid_value: '00000000-0000-0000-0000-000000000001' }),
    ).toBe(false);
    expect(evaluateFilter("blocked eq ' '", { blocked: ' ' })).toBe(true);
    expect(evaluateFilter("blocked eq ' '", { blocked: 'Ship' })).toBe(false);
    expect(evaluateFilter('blocked eq false', { blocked: false })).toBe(true);
    expect(evaluateFilter('blocked eq false', { blocked: true })).toBe(false);
    expect(evaluateFilter("(status eq 'Not Started' or status eq 'In Progress')", { status: 'In Progress' })).toBe(true);
    expect(evaluateFilter("status ne 'Draft' and status ne 'In Review'", { status: 'Draft' })).toBe(false);
    expect(evaluateFilter("type eq 'Person' and companyNumber ne ''", { type: 'Person', companyNumber: 'C0001' })).toBe(true);
    expect(evaluateFilter('quantity gt 2 and quantity le 5', { quantity: 5 })).toBe(true);
    expect(evaluateFilter('code in (1, 2, 3)', { code: 4 })).toBe(false);
    expect(evaluateFilter('modifiedon ge 2026-01-01T00:00:00Z', { modifiedon: '2026-03-01T10:00:00Z' })).toBe(true);
    expect(evaluateFilter('not (statecode eq 1)', { statecode: 0 })).toBe(true);
  });

  it('asks the side about columns it did not read, navigation paths, functions and refused syntax', () => {
    expect(evaluateFilter('statecode eq 0', {})).toBeUndefined();
    expect(evaluateFilter('parentcustomerid_account/accountid ne null', { statecode: 0 })).toBeUndefined();
    expect(evaluateFilter("contains(name, 'x')", { name: 'xyz' })).toBeUndefined();
    expect(evaluateFilter('statecode eq 0 and customertypecode eq {companyId}', { statecode: 0 })).toBeUndefined();
    expect(evaluateFilter('primarycontactid/any(c: c/statecode eq 0)', {})).toBeUndefined();
  });

  it('still answers when the unknown part cannot change the result', () => {
    expect(evaluateFilter('statecode eq 0 and parentcustomerid_account/accountid ne null', { statecode: 1 })).toBe(false);
    expect(evaluateFilter("statecode eq 0 or contains(name, 'x')", { statecode: 0 })).toBe(true);
    expect(evaluateFilter('statecode eq 0 and parentcustomerid_account/accountid ne null', { statecode: 0 })).toBeUndefined();
  });

  it('leaves text the collation may equate to the side: case, trailing blanks, accents; and text ordering', () => {
    expect(evaluateFilter("status eq 'Open'", { status: 'open' })).toBeUndefined();
    expect(evaluateFilter("blocked eq ' '", { blocked: '' })).toBeUndefined();
    expect(evaluateFilter("name eq 'Cafe'", { name: 'Café' })).toBeUndefined();
    expect(evaluateFilter("name eq 'Strasse'", { name: 'Straße' })).toBeUndefined();
    expect(evaluateFilter("name gt 'M'", { name: 'Z' })).toBeUndefined();
    // Mixed types are the side's type error or conversion, not ours.
    expect(evaluateFilter("statecode eq '0'", { statecode: 0 })).toBeUndefined();
    expect(evaluateFilter('versionnumber gt 5', { versionnumber: '12' })).toBeUndefined();
  });
});
