import { describe, expect, it } from 'vitest';
import { authenticate, type Caller, parseClientPrincipal } from '../../shared/operations/admin-access';
import { handleAdmin } from '../../shared/operations/admin-router';
import type { Runtime } from '../../shared/runtime';

/**
 * Roles from the App Service client principal (ADMIN_AUTH=entra) and from the local keys. The header is what App
 * Service authentication passes: base64 JSON `{ auth_typ, claims: [{ typ, val }], name_typ, role_typ }`
 * (learn.microsoft.com/azure/app-service/configure-authentication-user-identities).
 */
const ROLE_URI = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role';

function principal(roles: string[], options: { roleTyp?: string; claimTyp?: string } = {}): string {
  const body = {
    auth_typ: 'aad',
    claims: [
      { typ: 'preferred_username', val: 'admin@contoso.example' },
      { typ: 'http://schemas.microsoft.com/identity/claims/tenantid', val: '11111111-2222-3333-4444-555555555555' },
      ...roles.map((val) => ({ typ: options.claimTyp ?? 'roles', val })),
    ],
    name_typ: 'preferred_username',
    role_typ: options.roleTyp ?? ROLE_URI,
  };
  return Buffer.from(JSON.stringify(body), 'utf8').toString('base64');
}

const entra = { ADMIN_AUTH: 'entra' as const, SYNC_ADMIN_KEY: undefined, SYNC_READER_KEY: undefined };
const easyAuthOn = { WEBSITE_AUTH_ENABLED: 'True' };
const headers = (h: Record<string, string>) => (name: string) => h[name.toLowerCase()];

describe('Entra principal (App Service authentication)', () => {
  it('reads the Sync roles from role claims, by `roles` or by the role_typ URI', () => {
    for (const claimTyp of ['roles', ROLE_URI]) {
      const a = authenticate(headers({ 'x-ms-client-principal': principal(['Sync.Reader'], { claimTyp }) }), entra, easyAuthOn);
      expect(a).toEqual({ ok: true, caller: { name: 'admin@contoso.example', roles: ['Sync.Reader'], via: 'entra' } });
    }
    const admin = authenticate(headers({ 'x-ms-client-principal': principal(['Sync.Admin', 'Other.Role']) }), entra, easyAuthOn);
    expect(admin.ok && admin.caller.roles).toEqual(['Sync.Admin']);
  });

  it('a role name in another claim (a group name, say) grants nothing', () => {
    const a = authenticate(headers({ 'x-ms-client-principal': principal(['Sync.Admin'], { claimTyp: 'groups' }) }), entra, easyAuthOn);
    expect(a.ok && a.caller.roles).toEqual([]);
  });

  it('no principal is 401; a malformed one is 401; the local key is not accepted in Entra mode', () => {
    expect(authenticate(headers({}), entra, easyAuthOn)).toMatchObject({ ok: false, status: 401 });
    expect(authenticate(headers({ 'x-ms-client-principal': 'not base64 json' }), entra, easyAuthOn)).toMatchObject({
      ok: false,
      status: 401,
    });
    const noClaims = Buffer.from(JSON.stringify({ auth_typ: 'aad' })).toString('base64');
    expect(parseClientPrincipal(noClaims)).toBeUndefined();
    expect(
      authenticate(
        headers({ 'x-sync-key': 'local-admin-key-not-secret' }),
        { ...entra, SYNC_ADMIN_KEY: 'local-admin-key-not-secret' },
        easyAuthOn,
      ),
    ).toMatchObject({ ok: false, status: 401 });
  });

  it('the header is not trusted when App Service authentication is off (anyone could send it)', () => {
    const a = authenticate(headers({ 'x-ms-client-principal': principal(['Sync.Admin']) }), entra, {});
    expect(a).toMatchObject({ ok: false, status: 500 });
  });
});

describe('local keys', () => {
  const keys = { ADMIN_AUTH: 'keys' as const, SYNC_ADMIN_KEY: 'admin-key-0123456789', SYNC_READER_KEY: 'reader-key-0123456789' };
  it('the admin key is Sync.Admin, the reader key Sync.Reader, anything else 401', () => {
    expect(authenticate(headers({ 'x-sync-key': keys.SYNC_ADMIN_KEY }), keys, {})).toMatchObject({
      ok: true,
      caller: { roles: ['Sync.Reader', 'Sync.Admin'] },
    });
    expect(authenticate(headers({ 'x-sync-key': keys.SYNC_READER_KEY }), keys, {})).toMatchObject({
      ok: true,
      caller: { roles: ['Sync.Reader'] },
    });
    const refused: Array<Record<string, string>> = [
      {},
      { 'x-sync-key': 'admin-key-012345678' },
      { 'x-functions-key': keys.SYNC_ADMIN_KEY },
    ];
    for (const h of refused) expect(authenticate(headers(h), keys, {})).toMatchObject({ ok: false, status: 401 });
    // A principal header means nothing in key mode.
    expect(authenticate(headers({ 'x-ms-client-principal': principal(['Sync.Admin']) }), keys, easyAuthOn)).toMatchObject({
      ok: false,
      status: 401,
    });
  });
});

describe('the admin router checks the role of every route', () => {
  // The role check runs before any handler, so no runtime is touched on a refusal.
  const rt = { settings: { RETENTION_DAYS: 30 } } as unknown as Runtime;
  const reader: Caller = { name: 'reader@contoso.example', roles: ['Sync.Reader'], via: 'entra' };
  const nobody: Caller = { name: 'guest@contoso.example', roles: [], via: 'entra' };
  const call = (caller: Caller, method: string, path: string) =>
    handleAdmin(rt, { method, path, query: new URLSearchParams(), body: {}, caller });

  it("refuses a Reader's change with 403, on every changing route", async () => {
    for (const [method, path] of [
      ['PUT', 'mappings/CUSTOMER'],
      ['POST', 'mappings/CUSTOMER/disable'],
      ['POST', 'full-sync'],
      ['POST', 'couplings/uncouple'],
      ['POST', 'errors/retry-all'],
      ['POST', 'dead-letters/purge'],
      ['POST', 'setup'],
    ] as const) {
      const res = await call(reader, method, path);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect((res.body as { error: string }).error).toContain('needs the Sync.Admin role');
    }
  });

  it('refuses a read by a signed-in user without a Sync role with 403', async () => {
    expect((await call(nobody, 'GET', 'mappings')).status).toBe(403);
    const who = await call(reader, 'GET', 'whoami');
    expect(who).toEqual({
      status: 200,
      body: { name: 'reader@contoso.example', roles: ['Sync.Reader'], via: 'entra', canChange: false, retentionDays: 30 },
    });
  });
});
