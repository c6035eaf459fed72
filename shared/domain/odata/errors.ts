/**
 * Raised for any malformed or unsupported OData query option. The message is written for API clients:
 * simulators put it verbatim into the body of a 400 response.
 */
export class ODataQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ODataQueryError';
  }
}

/** A record as a simulator stores it: JSON-like property bag. */
export type Row = Record<string, unknown>;
