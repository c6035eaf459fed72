import type { Settings } from '../../config';
import { type CredentialSettings, createTokenSource } from '../credentials';
import { BcClient, type BcClientOptions } from './client';

export type BcClientSettings = CredentialSettings &
  Pick<Settings, 'BC_API_URL' | 'BC_ENVIRONMENT' | 'BC_COMPANY_ID'> &
  Partial<Pick<Settings, 'BC_MAX_CONCURRENCY'>>;

/** A BC client from the settings; `overrides` for hooks, retry policy or a test's fetch. */
export function createBcClient(s: BcClientSettings, overrides: Partial<BcClientOptions> = {}): BcClient {
  return new BcClient({
    apiUrl: s.BC_API_URL,
    tenantId: s.BC_TENANT_ID,
    environment: s.BC_ENVIRONMENT,
    companyId: s.BC_COMPANY_ID,
    tokens: createTokenSource('bc', s),
    maxConcurrency: s.BC_MAX_CONCURRENCY ?? 5,
    ...overrides,
  });
}
