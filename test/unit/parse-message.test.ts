import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidMessageError, parseMessage } from '../../shared/adapters/servicebus/message';
import { changeEventSchema } from '../../shared/domain/change-event';
import { categoryOf } from '../../shared/errors';

const schema = z.object({ runId: z.string().min(1), page: z.number().int().min(0).default(0) });

function refusal(body: unknown): InvalidMessageError {
  try {
    parseMessage(schema, body);
  } catch (err) {
    if (err instanceof InvalidMessageError) return err;
    throw err;
  }
  throw new Error(`${JSON.stringify(body)} was accepted`);
}

describe('parseMessage', () => {
  it('reads a body the host already parsed, JSON text and bytes alike, with the schema defaults', () => {
    const expected = { runId: 'r1', page: 0 };
    expect(parseMessage(schema, { runId: 'r1' })).toEqual(expected);
    expect(parseMessage(schema, '{"runId":"r1"}')).toEqual(expected);
    expect(parseMessage(schema, new TextEncoder().encode('{"runId":"r1"}'))).toEqual(expected);
  });

  it('refuses a body its schema refuses as EVENT.INVALID naming the property, keeping the body', () => {
    const err = refusal({ runId: '', page: 2 });
    expect(err.code).toBe('EVENT.INVALID');
    expect(err.category).toBe(categoryOf('EVENT.INVALID'));
    expect(err.message).toContain('runId');
    expect(err.body).toEqual({ runId: '', page: 2 });
  });

  it('refuses text that is not JSON, keeping the text', () => {
    const err = refusal('runId=r1');
    expect(err.message).toContain('not JSON');
    expect(err.body).toBe('runId=r1');
  });

  it.each([null, undefined, 42, [], 'null'])('refuses %j', (body) => {
    expect(refusal(body).code).toBe('EVENT.INVALID');
  });

  it('gives a change event in the one id spelling', () => {
    const event = parseMessage(changeEventSchema, {
      mapping: 'CUSTOMER',
      source: 'bc',
      recordId: 'ABCDEF01-2345-6789-ABCD-EF0123456789',
      changeType: 'updated',
      origin: 'webhook',
      correlationId: 'c1',
      observedAt: '2026-01-01T00:00:00Z',
    });
    expect(event.recordId).toBe('abcdef01-2345-6789-abcd-ef0123456789');
    expect(event.deferrals).toBe(0);
  });
});
