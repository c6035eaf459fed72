import { describe, expect, it } from 'vitest';
import { newChangeEvent } from '../../shared/domain/change-event';
import { otherSide, passOf, sourceOf } from '../../shared/domain/direction';
import { dataverseGuidSchema, guidSchema, isGuid, recordId, toRecordId } from '../../shared/domain/ids';
import { SyncError } from '../../shared/errors';

const ID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

describe('record ids', () => {
  it('spell a GUID one way: lower case, no braces', () => {
    expect(recordId(ID.toUpperCase())).toBe(ID);
    expect(recordId(`{${ID.toUpperCase()}}`)).toBe(ID);
    expect(toRecordId(`{${ID}`)).toBeUndefined();
    expect(guidSchema.parse(ID.toUpperCase())).toBe(ID);
    expect(dataverseGuidSchema.parse(`{${ID}}`)).toBe(ID);
  });

  it.each(['', 'not-a-guid', `${ID}0`, ` ${ID}`, `${ID.slice(0, 8)}${ID.slice(9)}`, 42, undefined])('refuse %j', (value) => {
    expect(toRecordId(value)).toBeUndefined();
    expect(() => recordId(value)).toThrow(SyncError);
    expect(guidSchema.safeParse(value).success).toBe(false);
  });

  it('tell braces apart only when asked', () => {
    expect(isGuid(ID)).toBe(true);
    expect(isGuid(`{${ID}}`)).toBe(false);
    expect(isGuid(`{${ID}}`, { braces: true })).toBe(true);
    expect(guidSchema.safeParse(`{${ID}}`).success).toBe(false);
  });
});

describe('direction', () => {
  it('a change goes away from the side it was seen on unless a direction was forced', () => {
    expect(passOf('bc')).toBe('ToIntegrationTable');
    expect(passOf('dataverse')).toBe('FromIntegrationTable');
    expect(passOf('bc', 'FromIntegrationTable')).toBe('FromIntegrationTable');
    expect(sourceOf(passOf('bc'))).toBe('bc');
    expect(sourceOf(passOf('dataverse'))).toBe('dataverse');
    expect(otherSide('bc')).toBe('dataverse');
  });
});

describe('newChangeEvent', () => {
  it('makes an event the handler accepts, id in its one spelling, defaults filled', () => {
    const at = new Date('2026-03-01T10:00:00Z');
    const event = newChangeEvent({
      mapping: 'CUSTOMER',
      source: 'bc',
      recordId: ID.toUpperCase(),
      origin: 'manual',
      correlationId: 'c',
      observedAt: at,
    });
    expect(event).toEqual({
      v: 1,
      mapping: 'CUSTOMER',
      source: 'bc',
      recordId: ID,
      changeType: 'unknown',
      origin: 'manual',
      correlationId: 'c',
      observedAt: at.toISOString(),
      deferrals: 0,
    });
  });

  it('refuses an id that is not a GUID instead of queueing a message the handler would refuse', () => {
    expect(() => newChangeEvent({ mapping: 'CUSTOMER', source: 'bc', recordId: 'CUST-1', origin: 'manual', correlationId: 'c' })).toThrow();
  });
});
