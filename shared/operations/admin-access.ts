import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { Settings } from '../config';

/**
 * Who is calling the admin API, and what they may do. Two roles, as BC's permission sets "D365 DYN CRM READ" and
 * "D365 DYN CRM MGT": `Sync.Reader` reads, `Sync.Admin` reads and changes.
 *
 * - In Azure (`ADMIN_AUTH=entra`) App Service authentication signs the caller in and passes the validated token's
 *   claims in `x-ms-client-principal`: base64 of `{ auth_typ, claims: [{ typ, val }], name_typ, role_typ }`
 *   (learn.microsoft.com/azure/app-service/configure-authentication-user-identities, "Decode the client principal
 *   header"). App Service strips that header from outside requests, which is why it is only trusted when App
 *   Service sets `WEBSITE_AUTH_ENABLED=True` (as Microsoft.Identity.Web's AppServicesAuthenticationInformation
 *   checks); otherwise anyone could send it.
 * - Locally (`ADMIN_AUTH=keys`) two keys stand for the two roles, in the `x-sync-key` header — never in a URL.
 */

export const SYNC_ROLES = ['Sync.Reader', 'Sync.Admin'] as const;
export type SyncRole = (typeof SYNC_ROLES)[number];

export interface Caller {
  /** User principal name, app id or `key:<role>`: for logs and the page's header line. */
  name: string;
  roles: SyncRole[];
  via: 'entra' | 'key';
}

export type Access = { ok: true; caller: Caller } | { ok: false; status: 401 | 500; error: string };

/** Header a local key travels in. */
export const SYNC_KEY_HEADER = 'x-sync-key';
/**
 * Header every change must carry when the caller signed in with Entra ID: a browser only sends a custom header
 * cross-origin after a CORS preflight (which this app never grants), so a forged form post with the user's session
 * cookie is refused. Keys travel in a custom header already.
 */
export const CLIENT_HEADER = 'x-sync-client';

/**
 * The role claim: its type is `role_typ` (Entra sends `roles` claims; App Service maps them to the role URI on
 * some runtimes). Both forms are accepted; an open point noted in docs/operations.md.
 */
const ROLE_CLAIM_TYPES = ['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'];
const NAME_CLAIM_TYPES = ['preferred_username', 'name', 'appid', 'azp', 'http://schemas.microsoft.com/identity/claims/objectidentifier'];

export const clientPrincipalSchema = z.object({
  auth_typ: z.string().min(1),
  claims: z.array(z.object({ typ: z.string(), val: z.string() })),
  name_typ: z.string().optional(),
  role_typ: z.string().optional(),
});
export type ClientPrincipal = z.infer<typeof clientPrincipalSchema>;

/** Decodes `x-ms-client-principal`; undefined when it is not base64 JSON of the documented shape. */
export function parseClientPrincipal(header: string): ClientPrincipal | undefined {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = clientPrincipalSchema.safeParse(json);
  return parsed.success ? parsed.data : undefined;
}

export function principalCaller(p: ClientPrincipal): Caller {
  const roleTypes = new Set([...(p.role_typ ? [p.role_typ] : []), ...ROLE_CLAIM_TYPES]);
  const granted = new Set(p.claims.filter((c) => roleTypes.has(c.typ)).map((c) => c.val));
  const roles = SYNC_ROLES.filter((r) => granted.has(r));
  const nameClaim =
    p.claims.find((c) => c.typ === p.name_typ) ?? NAME_CLAIM_TYPES.map((t) => p.claims.find((c) => c.typ === t)).find(Boolean);
  return { name: nameClaim?.val ?? '(unnamed principal)', roles, via: 'entra' };
}

function sameKey(given: string, expected: string | undefined): boolean {
  if (!expected) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

type AccessSettings = Pick<Settings, 'ADMIN_AUTH' | 'SYNC_ADMIN_KEY' | 'SYNC_READER_KEY'>;

/**
 * Authenticates one request from its headers. `env` is the process environment (for `WEBSITE_AUTH_ENABLED`).
 * A caller without any Sync role is still authenticated: the route answers 403, not 401.
 */
export function authenticate(header: (name: string) => string | null | undefined, s: AccessSettings, env: NodeJS.ProcessEnv): Access {
  if (s.ADMIN_AUTH === 'entra') {
    if ((env.WEBSITE_AUTH_ENABLED ?? '').toLowerCase() !== 'true')
      return {
        ok: false,
        status: 500,
        error: 'ADMIN_AUTH=entra but App Service authentication is not enabled on this app (WEBSITE_AUTH_ENABLED); see docs/operations.md',
      };
    const raw = header('x-ms-client-principal');
    if (!raw) return { ok: false, status: 401, error: 'Sign in with Microsoft Entra ID (/.auth/login/aad) or send a bearer token.' };
    const principal = parseClientPrincipal(raw);
    if (!principal) return { ok: false, status: 401, error: 'x-ms-client-principal: not the App Service client principal format' };
    return { ok: true, caller: principalCaller(principal) };
  }
  const key = header(SYNC_KEY_HEADER) ?? '';
  if (!s.SYNC_ADMIN_KEY && !s.SYNC_READER_KEY)
    return { ok: false, status: 401, error: 'No admin key is configured: set SYNC_ADMIN_KEY (and SYNC_READER_KEY) or ADMIN_AUTH=entra.' };
  if (key === '') return { ok: false, status: 401, error: `Send your key in the ${SYNC_KEY_HEADER} header.` };
  if (sameKey(key, s.SYNC_ADMIN_KEY))
    return { ok: true, caller: { name: 'key:Sync.Admin', roles: ['Sync.Reader', 'Sync.Admin'], via: 'key' } };
  if (sameKey(key, s.SYNC_READER_KEY)) return { ok: true, caller: { name: 'key:Sync.Reader', roles: ['Sync.Reader'], via: 'key' } };
  return { ok: false, status: 401, error: `The ${SYNC_KEY_HEADER} key is not valid.` };
}

/** Reading needs Sync.Reader (Sync.Admin includes it); every change needs Sync.Admin. */
export function allowed(caller: Caller, need: SyncRole): boolean {
  return caller.roles.includes('Sync.Admin') || (need === 'Sync.Reader' && caller.roles.includes('Sync.Reader'));
}

/** `x-availability-key` against AVAILABILITY_KEY, in constant time. */
export function availabilityKeyValid(given: string | null | undefined, expected: string | undefined): boolean {
  return Boolean(given) && sameKey(given ?? '', expected);
}
