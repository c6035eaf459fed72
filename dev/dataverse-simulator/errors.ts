import { randomUUID } from 'node:crypto';

/**
 * A failure answered with Dataverse's error body `{"error":{"code":"0x…","message":"…"}}` (api-contracts.md B.11).
 * `code` is Dataverse's hex error code, unrelated to the HTTP status (and sometimes empty, as in the docs).
 */
export class DataverseError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'DataverseError';
  }

  body(): { error: { code: string; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** Dataverse error codes used by the simulator. */
export const Codes = {
  /** Record does not exist. */
  notFound: '0x80040217',
  /** ETag (RowVersion) mismatch on If-Match. */
  versionMismatch: '0x80060882',
  /** Validation failed (length, range). */
  validation: '0x80044331',
  /** Option value outside the option set. */
  optionOutOfRange: '0x8004431a',
  /** Duplicate primary key. */
  duplicateKey: '0x80040237',
  /** Duplicate alternate key value. */
  duplicateAlternateKey: '0x80060892',
  /** Unknown property / navigation property in a URL or payload (OData layer). */
  unknownProperty: '0x80060888',
  /** Malformed payload (wrong JSON type, direct write of `_x_value`). */
  badPayload: '0x80048d19',
  /** Invalid argument (bad status for state, read-only row, unsupported operation). */
  invalidArgument: '0x80040203',
  /** Generic unexpected server error (used for injected 5xx). */
  unexpected: '0x80040216',
  /** Caller lacks a privilege (impersonation without prvActOnBehalfOfAnotherUser). */
  privilegeDenied: '0x80040220',
  /** Disabled or unlicensed user. */
  userDisabled: '0x8004e203',
  /** Authentication failed. */
  badAuth: '0x80072560',
  /** Change-tracking token expired. */
  expiredVersionStamp: '0x80044352',
  /** Service protection: number of requests. */
  throttleRequests: '0x80072322',
  /** Service protection: execution time. */
  throttleExecutionTime: '0x80072321',
  /** Service protection: concurrency. */
  throttleConcurrency: '0x80072326',
} as const;

export const notFound = (logicalName: string, id: string): DataverseError =>
  new DataverseError(404, Codes.notFound, `${logicalName} With Id = ${id} Does Not Exist`);

export const versionMismatch = (): DataverseError =>
  new DataverseError(412, Codes.versionMismatch, "The version of the existing record doesn't match the RowVersion property provided.");

export const duplicateRecord = (code: string = Codes.duplicateKey): DataverseError =>
  new DataverseError(412, code, 'A record with matching key values already exists.');

export const badRequest = (message: string, code: string = Codes.badPayload): DataverseError => new DataverseError(400, code, message);

export const unknownProperty = (name: string, logicalName: string): DataverseError =>
  new DataverseError(
    400,
    Codes.unknownProperty,
    `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${logicalName}'.`,
  );

/**
 * A column the entity reference marks IsValidForCreate / IsValidForUpdate = false. No Microsoft source gives the text
 * real Dataverse returns (it may also drop such a column silently); the simulator refuses, the stricter choice.
 */
export const notValidFor = (mode: 'create' | 'update', column: string, logicalName: string): DataverseError =>
  new DataverseError(
    400,
    Codes.invalidArgument,
    `The '${column}' attribute of '${logicalName}' is not valid for ${mode} (IsValidFor${mode === 'create' ? 'Create' : 'Update'} = false).`,
  );

/** A SystemRequired column left empty. The exact server text is not in a Microsoft source; the code is the validation one. */
export const requiredMissing = (column: string, logicalName: string): DataverseError =>
  new DataverseError(
    400,
    Codes.validation,
    `A validation error occurred. The value for '${column}' on record of type '${logicalName}' is required and can't be empty.`,
  );

export const newRequestId = (): string => randomUUID();
