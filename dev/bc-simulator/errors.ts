import { randomUUID } from 'node:crypto';

/**
 * An error the simulator answers with BC's error body:
 * `{"error":{"code":"<Category_Detail>","message":"<text>  CorrelationId:  <guid>."}}` (api-contracts.md C.6).
 */
export class BcError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** BC appends the correlation id with two spaces on each side of the label; clients should not parse messages. */
export function errorBody(
  code: string,
  message: string,
  correlationId: string = randomUUID(),
): {
  error: { code: string; message: string };
} {
  return { error: { code, message: `${message}  CorrelationId:  ${correlationId}.` } };
}

export const missingIfMatch = (): BcError =>
  new BcError(
    400,
    'BadRequest_InvalidToken',
    'Could not validate the client concurrency token required by the service. Please provide a valid token in the client request.',
  );

export const entityChanged = (status: number): BcError =>
  new BcError(status, 'Request_EntityChanged', 'Another user has already changed the record.');

export const querySyntax = (detail?: string): BcError =>
  new BcError(
    400,
    'BadRequest_NotFound',
    detail ? `Bad Request - Error in query syntax. ${detail}` : 'Bad Request - Error in query syntax.',
  );

export const segmentNotFound = (segment: string): BcError =>
  new BcError(404, 'BadRequest_ResourceNotFound', `Resource not found for the segment '${segment}'.`);

export const methodNotAllowed = (method: string, segment: string): BcError =>
  new BcError(
    405,
    'BadRequest_MethodNotAllowed',
    `'${method}' requests for '${segment}' of EdmEntityType are not allowed within Dynamics 365 Business Central OData web services.`,
  );

export const recordNotFound = (tableCaption: string, id: string): BcError =>
  new BcError(
    404,
    'Internal_RecordNotFound',
    `The ${tableCaption} does not exist. Identification fields and values: Id='{${id.toUpperCase()}}'`,
  );

export const dialog = (message: string): BcError => new BcError(400, 'Application_DialogException', message);
