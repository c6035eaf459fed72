import type { Settings } from '../../config';
import { type CredentialSettings, createTokenSource } from '../credentials';
import { DataverseClient, type DataverseClientOptions } from './client';

export type DataverseClientSettings = CredentialSettings & Partial<Pick<Settings, 'DATAVERSE_MAX_CONCURRENCY'>>;

/** A Dataverse client from the settings; `overrides` for hooks, retry policy, impersonation or a test's fetch. */
export function createDataverseClient(s: DataverseClientSettings, overrides: Partial<DataverseClientOptions> = {}): DataverseClient {
  return new DataverseClient({
    url: s.DATAVERSE_URL,
    tokens: createTokenSource('dataverse', s),
    maxConcurrency: s.DATAVERSE_MAX_CONCURRENCY ?? 16,
    ...overrides,
  });
}
