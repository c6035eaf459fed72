import { z } from 'zod';
import { SyncError } from '../../errors';

/** A queue message whose body its queue's schema refuses: `EVENT.INVALID`, with the body kept for the error row. */
export class InvalidMessageError extends SyncError {
  constructor(
    message: string,
    readonly body: unknown,
  ) {
    super('EVENT.INVALID', message);
    this.name = 'InvalidMessageError';
  }
}

/**
 * The one reader of a Service Bus message body: JSON text, bytes or an already-parsed value (the Functions host
 * parses JSON text when it can) checked against the queue's schema. Anything else throws an
 * {@link InvalidMessageError} saying which property is wrong.
 */
export function parseMessage<T>(schema: z.ZodType<T>, body: unknown): T {
  const value = decode(body);
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new InvalidMessageError(
    `the message body is not valid: ${z.prettifyError(parsed.error).replaceAll('\n', ' ').slice(0, 500)}`,
    value,
  );
}

function decode(body: unknown): unknown {
  const text = body instanceof Uint8Array ? Buffer.from(body).toString('utf8') : body;
  if (typeof text !== 'string') return text;
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidMessageError(`the message body is not JSON: ${JSON.stringify(text.slice(0, 80))}`, text);
  }
}
