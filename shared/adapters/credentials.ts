import {
  type AccessToken,
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import type { Settings } from '../config';
import { SyncError } from '../errors';
import type { AccessTokenSource } from './http/client';

/** OAuth scope of the Business Central API (api-contracts.md C.1). */
export const BC_SCOPE = 'https://api.businesscentral.dynamics.com/.default';

/** `<environment-url>/.default` is the confidential-client scope of a Dataverse environment (api-contracts.md B.1). */
export function dataverseScope(environmentUrl: string): string {
  return `${new URL(environmentUrl).origin}/.default`;
}

/** A fixed bearer token: the local simulators accept any token and use it to tell users apart. */
export class StaticTokenSource implements AccessTokenSource {
  constructor(private readonly token: string) {
    if (!token) throw new SyncError('CONFIG.INVALID', 'a static token must not be empty');
  }

  async getToken(): Promise<string> {
    return this.token;
  }
}

export interface CachedTokenOptions {
  /** Renew this long before `expiresOn`, in ms. Default 5 minutes (Entra tokens live 60–90 minutes). */
  refreshMarginMs?: number;
  now?: () => number;
}

/**
 * Wraps an `@azure/identity` credential: one token per scope, reused until shortly before it expires, and one
 * request to Entra at a time however many HTTP calls ask concurrently.
 */
export class CachedTokenSource implements AccessTokenSource {
  private cached: AccessToken | undefined;
  private pending: Promise<AccessToken> | undefined;
  private readonly margin: number;
  private readonly now: () => number;

  constructor(
    private readonly credential: Pick<TokenCredential, 'getToken'>,
    readonly scope: string,
    options: CachedTokenOptions = {},
  ) {
    this.margin = options.refreshMarginMs ?? 5 * 60_000;
    this.now = options.now ?? Date.now;
  }

  async getToken(signal?: AbortSignal): Promise<string> {
    const c = this.cached;
    if (c && this.fresh(c)) return c.token;
    this.pending ??= this.fetchToken(signal).finally(() => {
      this.pending = undefined;
    });
    return (await this.pending).token;
  }

  invalidate(): void {
    this.cached = undefined;
  }

  private fresh(t: AccessToken): boolean {
    const refreshAt = Math.min(t.expiresOnTimestamp - this.margin, t.refreshAfterTimestamp ?? Number.POSITIVE_INFINITY);
    return this.now() < refreshAt;
  }

  private async fetchToken(signal?: AbortSignal): Promise<AccessToken> {
    const token = await this.credential.getToken(this.scope, signal ? { abortSignal: signal } : undefined);
    if (!token) throw new SyncError('CONFIG.INVALID', `the credential returned no token for ${this.scope}`);
    this.cached = token;
    return token;
  }
}

/** The settings credentials read; a subset of `Settings` so tools can build clients without the whole configuration. */
export type CredentialSettings = Pick<
  Settings,
  | 'BC_AUTH'
  | 'BC_TENANT_ID'
  | 'BC_CLIENT_ID'
  | 'BC_CLIENT_SECRET'
  | 'BC_CLIENT_CERTIFICATE_PATH'
  | 'BC_STATIC_TOKEN'
  | 'DATAVERSE_URL'
  | 'DATAVERSE_AUTH'
  | 'DATAVERSE_TENANT_ID'
  | 'DATAVERSE_CLIENT_ID'
  | 'DATAVERSE_CLIENT_SECRET'
  | 'DATAVERSE_CLIENT_CERTIFICATE_PATH'
  | 'DATAVERSE_STATIC_TOKEN'
> &
  Partial<Pick<Settings, 'AZURE_CLIENT_ID'>>;

/**
 * The token source for one side, from the settings: managed identity (client id from AZURE_CLIENT_ID for a
 * user-assigned identity), client secret, client certificate, or a static token for the simulators.
 */
export function createTokenSource(side: 'bc' | 'dataverse', s: CredentialSettings): AccessTokenSource {
  const p = side === 'bc' ? 'BC' : 'DATAVERSE';
  const mode = side === 'bc' ? s.BC_AUTH : s.DATAVERSE_AUTH;
  const tenant = side === 'bc' ? s.BC_TENANT_ID : (s.DATAVERSE_TENANT_ID ?? s.BC_TENANT_ID);
  const clientId = side === 'bc' ? s.BC_CLIENT_ID : s.DATAVERSE_CLIENT_ID;
  const scope = side === 'bc' ? BC_SCOPE : dataverseScope(s.DATAVERSE_URL);
  const missing = (name: string) => new SyncError('CONFIG.INVALID', `${p}_${name} is required when ${p}_AUTH=${mode}`);
  switch (mode) {
    case 'static-token': {
      const token = side === 'bc' ? s.BC_STATIC_TOKEN : s.DATAVERSE_STATIC_TOKEN;
      if (!token) throw missing('STATIC_TOKEN');
      return new StaticTokenSource(token);
    }
    case 'managed-identity':
      return new CachedTokenSource(
        s.AZURE_CLIENT_ID ? new ManagedIdentityCredential({ clientId: s.AZURE_CLIENT_ID }) : new ManagedIdentityCredential(),
        scope,
      );
    case 'client-secret': {
      const secret = side === 'bc' ? s.BC_CLIENT_SECRET : s.DATAVERSE_CLIENT_SECRET;
      if (!clientId) throw missing('CLIENT_ID');
      if (!secret) throw missing('CLIENT_SECRET');
      if (!tenant) throw missing('TENANT_ID');
      return new CachedTokenSource(new ClientSecretCredential(tenant, clientId, secret), scope);
    }
    case 'client-certificate': {
      const certificatePath = side === 'bc' ? s.BC_CLIENT_CERTIFICATE_PATH : s.DATAVERSE_CLIENT_CERTIFICATE_PATH;
      if (!clientId) throw missing('CLIENT_ID');
      if (!certificatePath) throw missing('CLIENT_CERTIFICATE_PATH');
      if (!tenant) throw missing('TENANT_ID');
      return new CachedTokenSource(new ClientCertificateCredential(tenant, clientId, { certificatePath }), scope);
    }
  }
}
