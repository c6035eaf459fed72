/**
 * The `$management` request/response operations Service Bus queue clients use. Each request is a
 * message with `application_properties.operation` and a map body; the answer carries `statusCode`
 * (camelCase, as the service sends it: the SDK's peek checks `statusCode === 204` literally).
 */
import { type Message, types } from 'rhea';
import { z } from 'zod';
import { AmqpFailure, Annotation, Condition, decodeMessage, encodeOutgoing, lockTokenFromUuid, lockTokenToUuid } from './amqp';
import {
  type DeliveredMessage,
  LockLostError,
  type MessageEntity,
  MessageNotFoundError,
  type Settlement,
  type StoredMessage,
} from './queue';

export const Operation = {
  peek: 'com.microsoft:peek-message',
  renewLock: 'com.microsoft:renew-lock',
  schedule: 'com.microsoft:schedule-message',
  cancelScheduled: 'com.microsoft:cancel-scheduled-message',
  receiveBySequenceNumber: 'com.microsoft:receive-by-sequence-number',
  updateDisposition: 'com.microsoft:update-disposition',
} as const;

export interface ManagementResponse {
  statusCode: number;
  statusDescription: string;
  errorCondition?: string;
  body?: unknown;
}

// rhea decodes AMQP longs beyond 2^53 as 8-byte Buffers; sequence numbers here never get that big,
// but a client may still send any long, so both forms are accepted.
const long = z.union([
  z.number().int(),
  z.instanceof(Buffer).transform((b, ctx) => {
    if (b.length !== 8) {
      ctx.addIssue({ code: 'custom', message: 'long must be 8 bytes' });
      return z.NEVER;
    }
    return Number(b.readBigInt64BE(0));
  }),
]);
const lockTokens = z.array(z.unknown()).transform((values, ctx) =>
  values.map((v) => {
    const token = lockTokenFromUuid(v);
    if (token === undefined) {
      ctx.addIssue({ code: 'custom', message: 'lock token must be a uuid' });
      return '';
    }
    return token;
  }),
);
const stringMap = z.record(z.string(), z.unknown());

const peekBody = z.looseObject({ 'from-sequence-number': long, 'message-count': z.number().int().min(1) });
const renewLockBody = z.looseObject({ 'lock-tokens': lockTokens });
const scheduleBody = z.looseObject({
  messages: z.array(z.looseObject({ message: z.instanceof(Buffer) })).min(1),
});
const cancelBody = z.looseObject({ 'sequence-numbers': z.array(long) });
const receiveBySequenceBody = z.looseObject({
  'sequence-numbers': z.array(long).min(1),
  // 0 = receiveAndDelete, 1 = peekLock (the SDK's numbering)
  'receiver-settle-mode': z.number().int().min(0).max(1).optional(),
});
const updateDispositionBody = z.looseObject({
  'lock-tokens': lockTokens,
  'disposition-status': z.enum(['completed', 'abandoned', 'defered', 'suspended']),
  'deadletter-reason': z.string().optional(),
  'deadletter-description': z.string().optional(),
  'properties-to-modify': stringMap.optional(),
});

function parseBody<T extends z.ZodType>(schema: T, body: unknown, operation: string): z.output<T> {
  const result = schema.safeParse(body);
  if (!result.success) {
    throw new AmqpFailure(Condition.invalidField, `Invalid ${operation} request: ${z.prettifyError(result.error)}`, 400);
  }
  return result.data;
}

/** Encodes a message the way $management responses carry it (binary, broker annotations included). */
export function encodeStored(message: StoredMessage, extra?: { deliveryCount?: number; lockedUntilMs?: number }): Buffer {
  return encodeOutgoing(message.amqp, {
    sequenceNumber: message.sequenceNumber,
    enqueuedAtMs: message.enqueuedAtMs,
    deliveryCount: extra?.deliveryCount ?? message.deliveryCount,
    lockedUntilMs: extra?.lockedUntilMs,
    state: message.state,
    deadLetterSource: message.deadLetterSource,
  });
}

function encodeDelivered(d: DeliveredMessage): Buffer {
  return encodeStored(d.message, { deliveryCount: d.deliveryCount, lockedUntilMs: d.lockedUntilMs });
}

/** Runs one $management operation against an entity. Errors come back as a response, never thrown. */
export function handleManagementRequest(entity: MessageEntity, request: Message): ManagementResponse {
  const operation = request.application_properties?.operation;
  try {
    switch (operation) {
      case Operation.peek:
        return peek(entity, parseBody(peekBody, request.body, operation));
      case Operation.renewLock: {
        const body = parseBody(renewLockBody, request.body, operation);
        const expirations = body['lock-tokens'].map((token) => entity.renewLock(token));
        return ok({ expirations: types.wrap_array(expirations, 0x83, undefined) });
      }
      case Operation.schedule:
        return schedule(entity, parseBody(scheduleBody, request.body, operation));
      case Operation.cancelScheduled: {
        const body = parseBody(cancelBody, request.body, operation);
        entity.cancelScheduled(body['sequence-numbers']);
        return ok(undefined);
      }
      case Operation.receiveBySequenceNumber: {
        const body = parseBody(receiveBySequenceBody, request.body, operation);
        const delivered = entity.receiveDeferred(body['sequence-numbers'], body['receiver-settle-mode'] === 0);
        const messages = delivered.map((d) => {
          const entry: Record<string, unknown> = { message: encodeDelivered(d) };
          if (d.lockToken !== undefined) entry['lock-token'] = lockTokenToUuid(d.lockToken);
          return entry;
        });
        return ok({ messages });
      }
      case Operation.updateDisposition:
        return updateDisposition(entity, parseBody(updateDispositionBody, request.body, operation));
      default:
        throw new AmqpFailure(
          Condition.notImplemented,
          `The emulator does not implement $management operation '${String(operation)}'.`,
          501,
        );
    }
  } catch (error) {
    return failure(error);
  }
}

function peek(entity: MessageEntity, body: z.output<typeof peekBody>): ManagementResponse {
  const found = entity.peek(body['from-sequence-number'], body['message-count']);
  if (found.length === 0) return { statusCode: 204, statusDescription: 'No messages' };
  // Peeked messages show their current state but no lock (peek never locks).
  return ok({ messages: found.map((m) => ({ message: encodeStored(m) })) });
}

function schedule(entity: MessageEntity, body: z.output<typeof scheduleBody>): ManagementResponse {
  const sequenceNumbers = body.messages.map((entry) => {
    const decoded = decodeMessage(entry.message);
    const at = decoded.message_annotations?.[Annotation.scheduledEnqueueTime];
    const atMs = at instanceof Date ? at.getTime() : typeof at === 'number' ? at : undefined;
    if (atMs === undefined) {
      throw new AmqpFailure(Condition.invalidField, `Scheduled message lacks ${Annotation.scheduledEnqueueTime}.`, 400);
    }
    return entity.enqueue(decoded, atMs);
  });
  return ok({ 'sequence-numbers': types.wrap_array(sequenceNumbers, 0x81, undefined) });
}

function updateDisposition(entity: MessageEntity, body: z.output<typeof updateDispositionBody>): ManagementResponse {
  const props = body['properties-to-modify'];
  const settlement: Settlement = (() => {
    switch (body['disposition-status']) {
      case 'completed':
        return { kind: 'complete' } as const;
      case 'abandoned':
        return { kind: 'abandon', propertiesToModify: props } as const;
      case 'defered':
        return { kind: 'defer', propertiesToModify: props } as const;
      case 'suspended':
        return {
          kind: 'deadLetter',
          reason: body['deadletter-reason'],
          description: body['deadletter-description'],
          propertiesToModify: props,
        } as const;
    }
  })();
  for (const token of body['lock-tokens']) entity.settle(token, settlement);
  return ok(undefined);
}

function ok(body: unknown): ManagementResponse {
  return { statusCode: 200, statusDescription: 'OK', body };
}

function failure(error: unknown): ManagementResponse {
  if (error instanceof LockLostError) {
    return { statusCode: 410, statusDescription: error.message, errorCondition: Condition.lockLost };
  }
  if (error instanceof MessageNotFoundError) {
    return { statusCode: 404, statusDescription: error.message, errorCondition: Condition.messageNotFound };
  }
  if (error instanceof AmqpFailure) {
    return { statusCode: error.statusCode, statusDescription: error.message, errorCondition: error.condition };
  }
  const description = error instanceof Error ? error.message : String(error);
  return { statusCode: 500, statusDescription: description, errorCondition: Condition.internalError };
}
