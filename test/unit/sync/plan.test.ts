import { describe, expect, it } from 'vitest';
import type { Direction, UpdateConflictResolution } from '../../../shared/domain/mappings/schema';
import { fingerprint, sameValue } from '../../../shared/domain/sync/compare';
import { type FieldState, type PlanInput, planPass } from '../../../shared/domain/sync/plan';

/** A field in a BC → Dataverse pass; `s0/s` source before/now, `d0/d` destination before/now. */
function field(label: string, s0: unknown, s: unknown, d0: unknown, d: unknown, direction: Direction = 'Bidirectional'): FieldState {
  return { label, writeKey: label, direction, source: s, sourceBefore: s0, dest: d, destBefore: d0, mapped: s, payload: s };
}

function plan(fields: FieldState[], policy: UpdateConflictResolution = 'None', extra: Partial<PlanInput> = {}) {
  return planPass({ pass: 'ToIntegrationTable', tableDirection: 'Bidirectional', policy, force: false, fields, ...extra });
}

const labels = (fs: FieldState[]) => fs.map((f) => f.label);

describe('planPass: change detection (BC 3.5)', () => {
  it('writes only the fields that differ when only the source changed', () => {
    const out = plan([field('name', 'A', 'B', 'A', 'A'), field('city', 'X', 'X', 'X', 'X')]);
    expect(out).toMatchObject({ kind: 'write' });
    expect(labels((out as { write: FieldState[] }).write)).toEqual(['name']);
  });

  it('is unchanged when the destination already holds the mapped values (an echo)', () => {
    expect(plan([field('name', 'A', 'B', 'A', 'B')])).toEqual({ kind: 'unchanged' });
  });

  it('does not undo a change the destination made on its own', () => {
    // The destination changed `name`; the source did not. This pass must not write the old value back.
    expect(plan([field('name', 'A', 'A', 'A', 'Z')])).toEqual({ kind: 'unchanged' });
  });

  it('writes a one-way field the destination changed, because the source is its master', () => {
    const out = plan([field('phone', '1', '1', '1', '2', 'ToIntegrationTable')]);
    expect(out.kind).toBe('write');
  });

  it('never writes a field whose direction excludes this pass', () => {
    expect(plan([field('owner', 'A', 'B', 'A', 'A', 'FromIntegrationTable')])).toEqual({ kind: 'unchanged' });
  });

  it('writes everything that differs when forced (no snapshot yet)', () => {
    const out = plan([field('name', undefined, 'B', undefined, 'Z'), field('city', undefined, 'X', undefined, 'X')], 'None', {
      force: true,
    });
    expect(labels((out as { write: FieldState[] }).write)).toEqual(['name']);
  });
});

describe('planPass: update conflicts (BC 3.6)', () => {
  const both = () => [field('name', 'A', 'B', 'A', 'C'), field('city', 'X', 'Y', 'X', 'X')];

  it.each<[UpdateConflictResolution, 'ToIntegrationTable' | 'FromIntegrationTable', string]>([
    ['None', 'ToIntegrationTable', 'conflict'],
    ['None', 'FromIntegrationTable', 'conflict'],
    ['SendUpdateToIntegration', 'ToIntegrationTable', 'write'],
    ['SendUpdateToIntegration', 'FromIntegrationTable', 'skip'],
    ['GetUpdateFromIntegration', 'ToIntegrationTable', 'skip'],
    ['GetUpdateFromIntegration', 'FromIntegrationTable', 'write'],
  ])('policy %s in pass %s → %s', (policy, pass, kind) => {
    const out = planPass({ pass, tableDirection: 'Bidirectional', policy, force: false, fields: both() });
    expect(out.kind).toBe(kind);
    if (out.kind !== 'unchanged') expect(labels(out.kind === 'write' ? out.conflicts : out.conflicts)).toContain('name');
  });

  it('is not a conflict when both sides changed but only one-way fields would change', () => {
    const out = plan([
      field('name', 'A', 'A', 'A', 'A'),
      field('phone', '1', '2', '1', '1', 'ToIntegrationTable'),
      field('x', 'p', 'p', 'p', 'q'),
    ]);
    expect(out.kind).toBe('write');
    expect(labels((out as { write: FieldState[] }).write)).toEqual(['phone']);
  });

  it('is not a conflict on a one-way table mapping', () => {
    const out = plan(both(), 'None', { tableDirection: 'ToIntegrationTable' });
    expect(out.kind).toBe('write');
  });
});

describe('planPass: field merge (beyond BC)', () => {
  it('merges fields changed on different sides and keeps the destination-only change', () => {
    const out = plan([field('name', 'A', 'B', 'A', 'A'), field('city', 'X', 'X', 'X', 'Z')], 'FieldMerge');
    expect(out.kind).toBe('write');
    expect(labels((out as { write: FieldState[] }).write)).toEqual(['name']);
  });

  it('gives a truly conflicting field to the side that changed last', () => {
    const fields = [field('name', 'A', 'B', 'A', 'C')];
    const later = plan(fields, 'FieldMerge', { sourceModifiedOn: '2026-01-02T00:00:00Z', destModifiedOn: '2026-01-01T00:00:00Z' });
    expect(later.kind).toBe('write');
    const earlier = plan(fields, 'FieldMerge', { sourceModifiedOn: '2026-01-01T00:00:00Z', destModifiedOn: '2026-01-02T00:00:00Z' });
    expect(earlier).toEqual({ kind: 'unchanged' });
  });
});

describe('value comparison', () => {
  it.each([
    ['', null, true],
    [undefined, '', true],
    ['2026-01-01T00:00:00Z', '2026-01-01T00:00:00.000Z', true],
    ['ABC', 'abc', false],
    ['0B1C2D3E-0000-0000-0000-000000000001', '0b1c2d3e-0000-0000-0000-000000000001', true],
    ['00000000-0000-0000-0000-000000000000', null, true],
    [0, null, true],
    [1.1, 1.1000000001, true],
    [1, 2, false],
  ])('sameValue(%j, %j) = %s', (a, b, expected) => {
    expect(sameValue(a, b)).toBe(expected);
  });

  it('fingerprints ignore key order and normalise values', () => {
    expect(fingerprint({ a: 1, b: '' })).toBe(fingerprint({ b: null, a: 1 }));
    expect(fingerprint({ a: 1 })).not.toBe(fingerprint({ a: 2 }));
  });
});
