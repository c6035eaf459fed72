import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { settings } from '../shared/config';

/**
 * The admin web page (`/api/admin/ui`): `web/admin.html` with its CSS and JS inlined, allowed by their SHA-256
 * hashes in the Content-Security-Policy (no `unsafe-inline`). The page holds no data: everything it shows comes
 * from the admin API, which checks the caller's role. Locally the page asks for a key and sends it in a header;
 * in Azure (ADMIN_AUTH=entra) an anonymous visitor is sent to the Entra sign-in first.
 */
function webDir(): string {
  // dist/functions/admin-page.js and functions/admin-page.ts both sit two levels below the root or one.
  for (const dir of [path.join(__dirname, '..', '..', 'web'), path.join(__dirname, '..', 'web')])
    if (existsSync(path.join(dir, 'admin.html'))) return dir;
  throw new Error(`web/admin.html not found near ${__dirname}`);
}

interface AdminPage {
  html: string;
  csp: string;
}

let cached: AdminPage | undefined;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export function adminPageHtml(): AdminPage {
  if (cached && process.env.NODE_ENV === 'production') return cached;
  const dir = webDir();
  const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');
  const css = read('admin.css');
  const js = read('admin.js');
  // Function replacements: `$` sequences in the inlined code must stay as they are.
  const html = read('admin.html')
    .replace('/*CSS*/', () => css)
    .replace('/*JS*/', () => js);
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(js)}`,
    `style-src ${sha256(css)}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "form-action 'self'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
  cached = { html, csp };
  return cached;
}

export async function adminPage(request: HttpRequest): Promise<HttpResponseInit> {
  if (settings().ADMIN_AUTH === 'entra' && !request.headers.get('x-ms-client-principal'))
    return { status: 302, headers: { Location: `/.auth/login/aad?post_login_redirect_uri=${encodeURIComponent('/api/admin/ui')}` } };
  const page = adminPageHtml();
  return {
    status: 200,
    body: page.html,
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Security-Policy': page.csp,
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
    },
  };
}

app.http('admin-page', { route: 'admin/ui', methods: ['GET'], authLevel: 'anonymous', handler: adminPage });
