import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TableMapping } from '../../shared/domain/mappings';
import type { SyncOutcome } from '../../shared/domain/sync/types';
import { getRuntime } from '../../shared/runtime';
import { adminClient, customerByName } from '../operations/helpers';
import { type Stack, startStack, TEST_LOCAL_KEY, TEST_READER_KEY } from '../support/stack';
import { until } from '../support/until';

/**
 * The admin page in headless Chromium (Debian's package, driven by playwright-core): it renders, shows an
 * error injected by a failing sync (an ambiguous match: two Dataverse accounts with the customer's name), and
 * its Retry button clears the error once the data is fixed; its mapping editor checks a field-mapping change
 * (the error shown at the field), saves it and undoes it; a Reader's change is refused. The page runs under its
 * CSP (no unsafe-inline): a violation would fail the tests.
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
/** Each step waits for the API (metadata checks, filters run against both systems); generous on a loaded machine. */
const SLOW = { timeout: 20_000 };

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
  await expect.poll(() => page.locator('#whoami').textContent(), SLOW).toContain('Sync.Admin');
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
  const coupling = await until('the coupling', () => rt.stores.couplings.getByBcId('CUSTOMER', customer.id));
  expect(coupling.dataverseId).toBe(a1.id);
  const open = await admin.ok<{ items: unknown[] }>('GET', 'errors?mapping=CUSTOMER');
  expect(open.items).toEqual([]);
  // Found by name, not GUID: the BC customer and the Dataverse account, each showing the other side.
  await page.selectOption('#coupling-mapping', 'CUSTOMER');
  await page.fill('#coupling-id', 'Duplicate Name Ltd');
  await page.click('#coupling-search button[type=submit]');
  const bcRow = page.locator('#couplings-body tr', { hasText: 'Business Central' });
  await bcRow.waitFor();
  expect(await bcRow.textContent()).toContain(a1.id);
  expect(await page.locator('#couplings-body tr', { hasText: 'Dataverse' }).textContent()).toContain(customer.id);
  expect(cspViolations).toEqual([]);
});

it('edits a field mapping: checked with the error at the field, saved, undone; a Reader is refused', { timeout: 90_000 }, async () => {
  const admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
  const original = await admin.ok<TableMapping>('GET', 'mappings/CONTACT');
  const page = await signIn(TEST_LOCAL_KEY);
  await page.selectOption('#editor-mapping', 'CONTACT');
  await page.click('#editor-pick button[type=submit]');
  const phoneIndex = original.fields.findIndex((f) => f.dataverseColumn === 'telephone1');
  const row = page.locator(`#editor-fields tr[data-field-index="${phoneIndex}"]`);
  await row.waitFor();
  expect(await row.locator('[data-f=dataverseColumn]').inputValue()).toBe('telephone1');

  // A column Dataverse does not have: the check puts the error on that row.
  await row.locator('[data-f=dataverseColumn]').fill('telephone9');
  await page.click('#editor-check');
  const rowError = page.locator(`[data-error-row="${phoneIndex}"]`);
  await expect.poll(() => rowError.textContent(), SLOW).toContain("column 'telephone9' does not exist on contact");
  expect(await row.getAttribute('class')).toContain('invalid');
  // A filter Dataverse refuses: the error is shown at the filter.
  await page.fill('#editor [name=integrationTableFilter]', 'nosuchcolumn eq 1');
  await page.click('#editor-check');
  await expect
    .poll(() => page.locator('[data-error-for="integrationTableFilter"]').textContent(), SLOW)
    .toMatch(/integrationTableFilter: .+/);
  await page.fill('#editor [name=integrationTableFilter]', original.integrationTableFilter);

  // The real change: the phone goes BC → Dataverse only. Check shows the diff, Save saves it.
  await row.locator('[data-f=dataverseColumn]').fill('telephone1');
  await row.locator('[data-f=direction]').selectOption('ToIntegrationTable');
  await page.click('#editor-check');
  await expect.poll(() => page.locator('#status').textContent(), SLOW).toBe('Valid.');
  expect(await rowError.textContent()).toBe('');
  expect(await page.locator('#editor-diff').textContent()).toContain('telephone1].direction');
  await page.click('#editor-save');
  await expect.poll(() => page.locator('#status').textContent(), SLOW).toBe('Saved.');
  const saved = await admin.ok<TableMapping>('GET', 'mappings/CONTACT');
  expect(saved.fields[phoneIndex]?.direction).toBe('ToIntegrationTable');
  await expect.poll(() => page.locator('#editor-changes').textContent(), SLOW).toContain('key:Sync.Admin');
  const png = await page.screenshot({ fullPage: true });
  expect(png.subarray(1, 4).toString()).toBe('PNG');

  // One click undoes it.
  await page.click('#editor-undo');
  await expect.poll(() => page.locator('#status').textContent(), SLOW).toBe('Undone.');
  expect(await admin.ok('GET', 'mappings/CONTACT')).toEqual(original);
  expect(await row.locator('[data-f=direction]').inputValue()).toBe('Bidirectional');

  // A Reader sees the editor, but the API refuses the change and nothing is saved.
  const readerPage = await signIn(TEST_READER_KEY);
  await expect.poll(() => readerPage.locator('#whoami').textContent(), SLOW).toContain('Sync.Reader');
  await readerPage.selectOption('#editor-mapping', 'CONTACT');
  await readerPage.click('#editor-pick button[type=submit]');
  const readerRow = readerPage.locator(`#editor-fields tr[data-field-index="${phoneIndex}"]`);
  await readerRow.locator('[data-f=direction]').selectOption('FromIntegrationTable');
  await readerPage.click('#editor-save');
  await expect.poll(() => readerPage.locator('#status').textContent(), SLOW).toContain('needs the Sync.Admin role');
  expect(await readerPage.locator('#status').getAttribute('class')).toBe('bad');
  expect(await admin.ok('GET', 'mappings/CONTACT')).toEqual(original);
  expect(cspViolations).toEqual([]);
});

it('creates a new mapping from the form: a bad column is refused at its row, fixed, saved, listed and opened', {
  timeout: 90_000,
}, async () => {
  const admin = adminClient((r) => stack.host.apiUrl(r), TEST_LOCAL_KEY);
  const page = await signIn(TEST_LOCAL_KEY);
  const form = page.locator('#new-mapping');
  await form.locator('[name=name]').fill('VENDOR-CONTACT');
  await form.locator('[name=bcEntitySet]').fill('vendors');
  await form.locator('[name=bcTable]').fill('Vendor');
  await form.locator('[name=bcTableId]').fill('23');
  await form.locator('[name=dataverseTable]').fill('contact');
  await form.locator('[name=dataverseEntitySet]').fill('contacts');
  await form.locator('[name=direction]').selectOption('ToIntegrationTable');
  const row = page.locator('#new-fields tr[data-new-field]').first();
  await row.locator('[data-f=bcField]').fill('displayName');
  await row.locator('[data-f=dataverseColumn]').fill('lastnam');
  await row.locator('[data-f=direction]').selectOption('ToIntegrationTable');

  // A column Dataverse does not have: refused at that row, nothing saved.
  await page.click('#new-create');
  await expect
    .poll(() => page.locator('[data-new-error]').first().textContent(), SLOW)
    .toContain("column 'lastnam' does not exist on contact");
  expect(await row.getAttribute('class')).toContain('invalid');
  expect((await admin.call('GET', 'mappings/VENDOR-CONTACT')).status).toBe(404);

  await row.locator('[data-f=dataverseColumn]').fill('lastname');
  await page.click('#new-create');
  await expect.poll(() => page.locator('#status').textContent(), SLOW).toBe('Created VENDOR-CONTACT.');
  expect(await page.locator('[data-new-error]').first().textContent()).toBe('');
  expect(await admin.ok<TableMapping>('GET', 'mappings/VENDOR-CONTACT')).toMatchObject({
    userDefined: true,
    queueName: 'sync-custom',
    bc: { kind: 'apiV2', entitySet: 'vendors', table: 'Vendor', tableId: 23 },
    dataverse: { entityLogicalName: 'contact', entitySet: 'contacts' },
    fields: [{ bcField: 'displayName', dataverseColumn: 'lastname', direction: 'ToIntegrationTable' }],
  });
  // Listed with the others, and open in the editor.
  await page.locator('#mappings-body td', { hasText: 'VENDOR-CONTACT' }).first().waitFor(SLOW);
  const edited = page.locator('#editor-fields tr[data-field-index="0"] [data-f=dataverseColumn]');
  await expect.poll(() => edited.inputValue(), SLOW).toBe('lastname');
  expect(await page.locator('#editor-mapping').inputValue()).toBe('VENDOR-CONTACT');

  // "New" never replaces a mapping that exists.
  await page.click('#new-create');
  await expect.poll(() => page.locator('#new-problems').textContent(), SLOW).toContain("a mapping named 'VENDOR-CONTACT' already exists");
  await admin.ok('DELETE', 'mappings/VENDOR-CONTACT');
  expect(cspViolations).toEqual([]);
});
