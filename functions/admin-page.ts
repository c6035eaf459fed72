import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { app, type HttpResponseInit } from '@azure/functions';

/**
 * The admin web page (`/api/admin/ui?code=<function key>`): `web/admin.html` with its CSS and JS inlined, so
 * one protected request serves everything and the page's fetch calls reuse the key from its own URL.
 */
function webDir(): string {
  // dist/functions/admin-page.js and functions/admin-page.ts both sit two levels below the root or one.
  for (const dir of [path.join(__dirname, '..', '..', 'web'), path.join(__dirname, '..', 'web')])
    if (existsSync(path.join(dir, 'admin.html'))) return dir;
  throw new Error(`web/admin.html not found near ${__dirname}`);
}

let cached: string | undefined;

export function adminPageHtml(): string {
  if (cached && process.env.NODE_ENV === 'production') return cached;
  const dir = webDir();
  const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');
  // Function replacements: `$` sequences in the inlined code must stay as they are.
  cached = read('admin.html')
    .replace('/*CSS*/', () => read('admin.css'))
    .replace('/*JS*/', () => read('admin.js'));
  return cached;
}

export async function adminPage(): Promise<HttpResponseInit> {
  return {
    status: 200,
    body: adminPageHtml(),
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      // Inline script/style only; no other origin is contacted. The key is in the URL, so never send a referrer.
      'Content-Security-Policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self' data:",
      'Referrer-Policy': 'no-referrer',
    },
  };
}

app.http('admin-page', { route: 'admin/ui', methods: ['GET'], authLevel: 'function', handler: adminPage });
