import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SyncOutcome } from '../../shared/domain/sync/sync-record';
import { getRuntime } from '../../shared/runtime';
import { adminClient, customerByName } from '../operations/helpers';
import { eventually, type Stack, startStack, TEST_LOCAL_KEY } from '../support/stack';

/**
 * The admin page in headless Chromium (Debian's package, driven by playwright-core): it renders, shows an
 * error injected by a failing sync (an ambiguous match: two Dataverse accounts with the customer's name), and
 * its Retry button clears the error once the data is fixed.
 */
let stack: Stack;
let browser: BrowserContext;
let profile: string;

beforeAll(async () => {
  execFileSync(path.join(__dirname, '..', '..', 'scripts', 'ensure-chromium.sh'), { stdio: 'ignore', timeout: 600_000 });
  stack = await startStack({ functions: ['admin-api', 'admin-page', 'sync'], dataverse: { seed: 'empty' } });
  profile = mkdtempSync(path.join(tmpdir(), 'admin-page-chromium-'));
  // A new, empty profile every run (playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    viewport: { width: 1400, height: 1000 },
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** Opens the page and pastes a role key into its key form (the key goes in a header, never the URL). */
async function signIn(key: string) {
  const page = await browser.newPage();
  page.on('console', (m) => {
    // A CSP violation would show here: the page must run with its hashes only.
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  await page.goto(stack.host.apiUrl('admin/ui'));
  await page.locator('#key-form').waitFor();
  await page.fill('#key-input', key);
  await page.click('#key-form button[type=submit]');
  await page.locator('#key-form').waitFor({ state: 'hidden' });
  expect(page.url()).not.toContain(key);
  return page;
}
const cspViolations: string[] = [];

it('shows an injected error and its Retry button clears it after the data is fixed', { timeout: 90_000 }, async () => {
  const admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
  const rt = await getRuntime();
  const customer = await rt.bcGateway.create({ side: 'bc', kind: 'apiV2', entitySet: 'customers' }, { displayName: 'Duplicate Name Ltd' });
  // The admin couples customers by name.
  await admin.ok('PUT', 'mappings/CUSTOMER', customerByName(await admin.ok('GET', 'mappings/CUSTOMER')));
  const accounts = { side: 'dataverse' as const, entitySet: 'accounts', logicalName: 'account', primaryKey: 'accountid' };
  const a1 = await rt.dataverseGateway.create(accounts, { name: 'Duplicate Name Ltd', customertypecode: 3 });
  await rt.dataverseGateway.create(accounts, { name: 'Duplicate Name Ltd', customertypecode: 3 });
  const failed = await admin.ok<SyncOutcome>('POST', 'sync-now', {
    mapping: 'CUSTOMER',
    bcId: customer.id,
    direction: 'ToIntegrationTable',
  });
  expect(failed).toMatchObject({ result: 'failed', code: 'COUPLE.AMBIGUOUS' });

  const page = await signIn(TEST_LOCAL_KEY);
  expect(await page.title()).toBe('BC ⇄ Dataverse sync — Admin');
  await expect.poll(() => page.locator('#whoami').textContent()).toContain('Sync.Admin');
  for (const heading of ['Connection', 'Full synchronization', 'Mappings', 'Synchronization errors', 'Dead letters', 'Coupling search'])
    await expect.poll(() => page.getByRole('heading', { name: heading }).isVisible()).toBe(true);
  const row = page.locator('#errors-body tr', { hasText: 'COUPLE.AMBIGUOUS' });
  await row.waitFor({ timeout: 20_000 });
  expect(await row.textContent()).toContain(customer.id);
  await page.locator('#mappings-body td', { hasText: 'CUSTOMER' }).first().waitFor({ timeout: 20_000 });
  const png = await page.screenshot({ fullPage: true });
  expect(png.subarray(1, 4).toString()).toBe('PNG');
  expect(png.length).toBeGreaterThan(30_000);

  // The admin decides: the second account was a mistake. Retry then couples the customer to the remaining one.
  const other = (await rt.dataverseGateway.listPage(accounts, { filter: "name eq 'Duplicate Name Ltd'" })).items.find(
    (r) => r.id !== a1.id,
  );
  if (!other) throw new Error('second account missing');
  await rt.dataverseGateway.delete(accounts, other.id);
  await row.getByRole('button', { name: 'Retry' }).click();
  await expect.poll(() => page.locator('#status').textContent()).toBe('Retry queued.');
  await page.locator('#errors-body tr', { hasText: 'COUPLE.AMBIGUOUS' }).waitFor({ state: 'detached', timeout: 30_000 });
  const coupling = await eventually(() => rt.stores.couplings.getByBcId('CUSTOMER', customer.id), { what: 'the coupling' });
  expect(coupling.dataverseId).toBe(a1.id);
  const open = await admin.ok<{ items: unknown[] }>('GET', 'errors?mapping=CUSTOMER');
  expect(open.items).toEqual([]);
  expect(cspViolations).toEqual([]);
});
