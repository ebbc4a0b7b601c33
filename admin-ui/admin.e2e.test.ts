/**
 * End-to-end tests of the admin console in headless Chromium (Debian's `chromium` through
 * playwright-core) against a real platform started in-process (test/support/platform.ts), with
 * the console served on the platform's own origin (see `serveAdminOn`).
 *
 * The main flow runs in order on one page: sign in → write a function with a syntax error and see
 * the diagnostic inline at its line and column → fix and deploy → invoke from Try it and see the
 * result and the log line → deploy a second version → diff → roll back with confirmation → verify
 * with an HTTP invocation. Tests of features whose endpoints a server may not have yet are skipped
 * at run time by probing the endpoint (they run once it exists). Screenshots of every page go to
 * test/artifacts/admin/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startPlatform, type TestPlatform } from '../test/support/platform.ts';
import { ensureBuilt, hasRoute, launchBrowser, serveAdminOn } from './test-support.ts';

const ARTIFACTS = resolve(import.meta.dirname, '../test/artifacts/admin');
mkdirSync(ARTIFACTS, { recursive: true });

ensureBuilt();
const platform: TestPlatform = await startPlatform();
let restore: () => Promise<void> = async () => {};
let browser: Browser;
try {
  restore = await serveAdminOn(platform.platform);
  browser = await launchBrowser();
} catch (error) {
  await restore();
  await platform.stop();
  throw error;
}
after(async () => {
  await browser.close();
  await restore();
  await platform.stop();
});

const BASE = platform.url;
const KEY = platform.apiKey;
const APP = 'demo';
const FN = 'hello-e2e';

// Which of the newer endpoints this server has (GET probes only: nothing is changed).
const sample = await (await fetch(`${BASE}/api/apps/${APP}/functions/live-stream`, { headers: { authorization: `Bearer ${KEY}` } })).json() as { function: { aliases: Record<string, string>; canaries?: unknown } };
const sampleProd = sample.function.aliases.prod as string;
const probe = (path: string) => hasRoute(BASE, KEY, 'GET', path);
const has = {
  whoami: await probe('/api/whoami'),
  stats: await probe(`/api/apps/${APP}/stats`),
  versionCode: await probe(`/api/apps/${APP}/functions/live-stream/versions/${sampleProd}`),
  config: await probe(`/api/apps/${APP}/functions/live-stream/config`),
  settings: await probe(`/api/apps/${APP}/settings`),
  keys: await probe('/api/keys'),
  audit: await probe('/api/audit'),
  canary: sample.function.canaries !== undefined,
};
const needs = (present: boolean, endpoint: string): string | false => (present ? false : `needs ${endpoint}`);

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** A context with short waits: a missing element fails the test in seconds, not half a minute. */
async function newContext(width: number, height: number): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width, height } });
  context.setDefaultTimeout(10_000);
  return context;
}

async function signIn(page: Page, key = KEY): Promise<void> {
  await page.goto(`${BASE}/admin/`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Apps', exact: true }).waitFor();
}

/** Replace the editor's whole text as if pasted. */
async function setEditor(page: Page, code: string): Promise<void> {
  const content = page.locator('.cm-content').first();
  await content.click();
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.press('Backspace');
  await page.keyboard.insertText(code);
  // CodeMirror draws U+2028 as a placeholder, so compare the printable ASCII only.
  const printable = (text: string) => text.replace(/[^\x20-\x7e\n]/g, '');
  assert.equal(printable(await editorText(page)), printable(code), 'the editor holds the pasted code');
}

/** The editor's text, line by line (special characters as CodeMirror renders them). */
async function editorText(page: Page): Promise<string> {
  return page.evaluate(() => Array.from(document.querySelectorAll('.cm-content > .cm-line')).map((l) => l.textContent ?? '').join('\n'));
}

async function invoke(path = '/', headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; requestId: string | null }> {
  const res = await fetch(`${BASE}/fn/${APP}/${FN}${path}`, { headers });
  return { status: res.status, body: await res.json() as Record<string, unknown>, requestId: res.headers.get('x-faas-request-id') };
}

// Line 2 holds a U+2028 inside a string: JavaScript counts it as a line break, CodeMirror does not,
// so the checker's "line 4" is the editor's third line. The marker must land on `;` there.
const BROKEN = "export default async function handler(req, ctx) {\n  const note = 'a\u2028b';\n  const greeting = ;\n  return { greeting };\n}\n";
const V1 = `export default async function handler(req, ctx) {
  const name = req.query.name ?? 'world';
  ctx.log.info('greeting', name);
  return { version: 1, hello: name };
}
`;
const V2 = `export default async function handler(req, ctx) {
  const name = req.query.name ?? 'world';
  ctx.log.warn('greeting v2', name);
  return { version: 2, hello: name, shout: name.toUpperCase() };
}
`;

describe('admin console: the main flow', { timeout: 240_000 }, () => {
  let context: BrowserContext;
  let page: Page;
  let v1 = '';
  let v2 = '';

  after(async () => { await context?.close(); });

  it('serves the console under /admin/ with the SPA fallback for client routes', async () => {
    const index = await fetch(`${BASE}/admin/apps/${APP}/functions/${FN}/versions`);
    assert.equal(index.status, 200);
    assert.match(await index.text(), /<div id="root">/);
    assert.match(index.headers.get('content-security-policy') ?? '', /script-src 'self'/);
  });

  it('a wrong key is refused with the server\'s message; the right key opens the apps', async () => {
    context = await newContext(1280, 800);
    page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${BASE}/admin/`);
    await page.getByLabel('API key').fill('faas_not-a-real-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const refusal = page.getByRole('alert');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /E_UNAUTHORIZED/);
    assert.match(await refusal.innerText(), /unknown or revoked API key/);
    await shot(page, 'sign-in');
    await page.getByLabel('API key').fill(KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Apps', exact: true }).waitFor();
    await page.locator('.card-link', { hasText: APP }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('faas.console.apiKey')), KEY, 'the key is kept in sessionStorage');
    await shot(page, 'apps');
    // A reload keeps the session.
    await page.reload();
    await page.getByRole('heading', { name: 'Apps', exact: true }).waitFor();
    assert.deepEqual(pageErrors, []);
  });

  it('lists the app\'s functions with their prod version', async () => {
    await page.locator('.card-link', { hasText: APP }).click();
    const table = page.getByTestId('functions-table');
    await table.waitFor();
    const row = table.locator('tr', { hasText: 'live-stream' });
    assert.match(await row.innerText(), new RegExp(sampleProd.slice(0, 8)));
    assert.match(await row.innerText(), /live/);
    await shot(page, 'functions');
  });

  it('shows a syntax error inline at its line and column as you type, and refuses to deploy it', async () => {
    await page.getByRole('link', { name: 'New function' }).click();
    await page.getByTestId('function-name').fill(FN);
    await setEditor(page, BROKEN);
    const mark = page.locator('.cm-content .cm-lintRange-error');
    await mark.first().waitFor({ timeout: 10_000 });
    const where = await page.evaluate(() => {
      const range = document.querySelector('.cm-content .cm-lintRange-error');
      const lines = Array.from(document.querySelectorAll('.cm-content > .cm-line'));
      return { line: range === null ? -1 : lines.indexOf(range.closest('.cm-line') as Element) + 1, text: range?.textContent ?? null };
    });
    assert.deepEqual(where, { line: 3, text: ';' }, 'the marker covers the `;` on the editor\'s third line');
    const problems = page.getByTestId('problems');
    assert.match(await problems.innerText(), /^3:20\s+syntax/m, 'the problem list gives the line:column the editor shows');
    assert.match(await problems.locator('.problem-pos').getAttribute('title') ?? '', /checker counts line 4/, 'and explains why the checker says line 4');
    assert.match(await page.getByTestId('check-status').innerText(), /1 error/);
    // The gutter marks the same line.
    const gutterLine = await page.evaluate(() => {
      const marker = document.querySelector('.cm-gutter-lint .cm-lint-marker-error');
      const el = marker?.closest('.cm-gutterElement') as HTMLElement | null;
      const lineEls = Array.from(document.querySelectorAll('.cm-content > .cm-line')) as HTMLElement[];
      if (el === null) return -1;
      const top = el.getBoundingClientRect().top;
      return lineEls.findIndex((l) => Math.abs(l.getBoundingClientRect().top - top) < 4) + 1;
    });
    assert.equal(gutterLine, 3);
    await shot(page, 'code-diagnostic');
    // Deploying anyway shows the server's refusal as code + message, not raw JSON.
    await page.getByTestId('deploy').click();
    const alert = page.locator('.notice-error', { hasText: 'E_SYNTAX' });
    await alert.waitFor();
    const text = await alert.innerText();
    assert.doesNotMatch(text, /[{]\s*"error"/, 'no raw JSON');
    assert.match(text, /How to fix/);
  });

  it('deploys the fixed code with a message', async () => {
    await setEditor(page, V1);
    await page.getByTestId('check-status').filter({ hasText: 'no problems' }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('.cm-content .cm-lintRange-error').count(), 0);
    await page.getByTestId('deploy-message').fill('first version');
    await page.getByTestId('deploy').click();
    const result = page.getByTestId('deploy-result');
    await result.waitFor({ timeout: 30_000 });
    assert.equal(new URL(page.url()).pathname, `/admin/apps/${APP}/functions/${FN}`);
    v1 = /[0-9a-f]{20}/.exec(await result.innerText())?.[0] ?? '';
    assert.match(v1, /^[0-9a-f]{20}$/);
    assert.equal(await editorText(page), V1, 'the code tab shows the deployed code');
    const answer = await invoke();
    assert.deepEqual(answer.body, { version: 1, hello: 'world' });
    await shot(page, 'code');
  });

  it('Try it sends a request and shows status, body, timings and the invocation\'s log line', async () => {
    await page.getByRole('link', { name: 'Try it' }).click();
    await page.getByTestId('try-path').fill('/greet');
    await page.getByLabel('Query parameters name 1').fill('name');
    await page.getByLabel('Query parameters value 1').fill('tester');
    await page.getByLabel('Headers name 1').fill('x-demo');
    await page.getByLabel('Headers value 1').fill('yes');
    await page.getByTestId('try-send').click();
    await page.getByTestId('try-result').waitFor({ timeout: 20_000 });
    assert.equal(await page.getByTestId('try-status').innerText(), '200');
    assert.deepEqual(JSON.parse(await page.getByTestId('try-body-out').innerText()), { version: 1, hello: 'tester' });
    assert.match(await page.getByTestId('try-cpu').innerText(), /^\d+(\.\d+)? (ms|s)$/);
    assert.match(await page.getByTestId('try-duration').innerText(), /^\d+(\.\d+)? (ms|s)$/);
    assert.equal(await page.getByTestId('try-version-ran').getAttribute('title'), v1);
    const requestId = await page.getByTestId('try-request-id').innerText();
    assert.match(requestId, /\S{8,}/);
    const logLine = page.getByTestId('try-result').locator('.log-line', { hasText: 'greeting tester' });
    await logLine.waitFor({ timeout: 10_000 });
    assert.match(await logLine.innerText(), /info/i);
    await shot(page, 'try-it');
  });

  it('deploys a second version from the code tab', async () => {
    await page.getByRole('link', { name: 'Code', exact: true }).click();
    await setEditor(page, V2);
    await page.getByTestId('check-status').filter({ hasText: 'no problems' }).waitFor({ timeout: 10_000 });
    await page.getByTestId('deploy-message').fill('second version');
    await page.getByTestId('deploy').click();
    const result = page.getByTestId('deploy-result');
    await result.waitFor({ timeout: 30_000 });
    v2 = /[0-9a-f]{20}/.exec(await result.innerText())?.[0] ?? '';
    assert.notEqual(v2, v1);
    assert.equal((await invoke('/', {})).body.version, 2);
  });

  it('lists both versions with author, message and size', async () => {
    await page.getByRole('link', { name: 'Versions' }).click();
    const table = page.getByTestId('versions-table');
    await table.locator(`tr[data-version="${v1}"]`).waitFor();
    const rows = table.locator('tbody tr');
    assert.equal(await rows.count(), 2);
    const first = await rows.nth(0).innerText();
    assert.match(first, /second version/);
    assert.match(first, /prod/);
    assert.match(first, /admin/, 'the author is the key name');
    assert.match(first, /\d+ B/);
    assert.match(await rows.nth(1).innerText(), /first version/);
    await shot(page, 'versions');
  });

  it('diffs two versions side by side', { skip: needs(has.versionCode, 'GET /api/apps/:app/functions/:fn/versions/:id') }, async () => {
    await page.getByLabel(`Select version ${v1}`).check();
    await page.getByLabel(`Select version ${v2}`).check();
    await page.getByTestId('compare').click();
    const diff = page.getByTestId('diff-view');
    await diff.locator('.cm-mergeView').waitFor({ timeout: 10_000 });
    const editors = diff.locator('.cm-mergeView .cm-editor');
    assert.equal(await editors.count(), 2, 'two editors side by side');
    assert.match(await editors.nth(0).innerText(), /version: 1/);
    assert.match(await editors.nth(1).innerText(), /version: 2/);
    assert.ok(await diff.locator('.cm-changedLine').count() > 0, 'changed lines are marked');
    await shot(page, 'diff');
  });

  it('rolls back only after confirmation, and the gateway then serves the previous version', async () => {
    await page.getByTestId('rollback').click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.match(await dialog.innerText(), new RegExp(`serves ${v2.slice(0, 8)} now`));
    await shot(page, 'rollback-dialog');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    assert.equal((await invoke()).body.version, 2, 'cancel changes nothing');

    await page.getByTestId('rollback').click();
    await dialog.getByRole('button', { name: 'Roll back', exact: true }).click();
    await dialog.waitFor({ state: 'hidden', timeout: 20_000 });
    assert.match(await page.getByTestId('versions-result').innerText(), new RegExp(`prod now points at ${v1}`));
    const answer = await invoke('/', {});
    assert.deepEqual(answer.body, { version: 1, hello: 'world' }, 'HTTP invocation runs the rolled-back version');
    await page.locator(`tr[data-version="${v1}"] .badge`, { hasText: 'prod' }).waitFor();
  });

  it('tails logs live, filters by level and finds one request by id', async () => {
    await page.getByRole('link', { name: 'Logs' }).click();
    await page.getByTestId('logs-view').locator('.log-line').first().waitFor();
    const marker = `live-${Date.now()}`;
    const fresh = await invoke(`/?name=${marker}`);
    assert.equal(fresh.status, 200);
    await page.getByTestId('logs-view').locator('.log-line', { hasText: marker }).waitFor({ timeout: 15_000 });
    await shot(page, 'logs');

    await page.getByTestId('logs-level').selectOption('warn');
    await page.getByTestId('logs-view').locator('.log-line', { hasText: marker }).waitFor({ state: 'detached' });
    assert.match(await page.getByTestId('logs-view').innerText(), /greeting v2 world/, 'warn lines stay');
    await page.getByTestId('logs-level').selectOption('all');

    await page.getByTestId('logs-search').fill(fresh.requestId as string);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText(`Lines of request ${fresh.requestId}`).waitFor();
    const lines = page.getByTestId('logs-view').locator('.log-line');
    assert.equal(await lines.count(), 1);
    assert.match(await lines.first().innerText(), new RegExp(marker));
  });
});

describe('admin console: features on newer endpoints', { timeout: 180_000 }, () => {
  let context: BrowserContext;
  let page: Page;
  after(async () => { await context?.close(); });

  const ready = async () => {
    if (page !== undefined) return;
    context = await newContext(1280, 800);
    page = await context.newPage();
    await signIn(page);
  };

  it('the top bar shows the key\'s name and role', { skip: needs(has.whoami, 'GET /api/whoami') }, async () => {
    await ready();
    assert.match(await page.getByTestId('whoami').innerText(), /admin/);
  });

  it('the functions list shows last-hour invocations, error rate and p95', { skip: needs(has.stats, 'GET /api/apps/:app/stats') }, async () => {
    await ready();
    await invoke();
    await page.goto(`${BASE}/admin/apps/${APP}`);
    const row = page.getByTestId('functions-table').locator('tr', { hasText: FN });
    await row.waitFor();
    const cells = await row.locator('td').allInnerTexts();
    assert.ok(Number((cells[4] ?? '').replace(/,/g, '')) >= 1, `invocations counted: ${cells.join(' | ')}`);
    assert.match(cells[5] ?? '', /%/);
  });

  it('config values are editable; secret values are write-only', { skip: needs(has.config, 'GET /api/apps/:app/functions/:fn/config') }, async () => {
    await ready();
    await page.goto(`${BASE}/admin/apps/${APP}/functions/${FN}/config`);
    await page.getByTestId('config-new-name').fill('GREETING');
    await page.getByTestId('config-new-value').fill('hi there');
    await page.getByRole('button', { name: 'Add value' }).click();
    await page.getByTestId('config-values').locator('code', { hasText: 'GREETING' }).waitFor();
    const secret = `s3cret-${Date.now()}`;
    await page.getByTestId('secret-name').fill('API_TOKEN');
    await page.getByTestId('secret-value').fill(secret);
    await page.getByRole('button', { name: /Store secret|Replace secret/ }).click();
    await page.getByTestId('secrets').locator('code', { hasText: 'API_TOKEN' }).waitFor();
    assert.equal(await page.getByTestId('secret-value').inputValue(), '', 'the typed secret is cleared once sent');
    assert.doesNotMatch(await page.content(), new RegExp(secret), 'the secret value is nowhere on the page');
    await shot(page, 'config');
  });

  it('app settings show the fetch allowlist', { skip: needs(has.settings, 'GET /api/apps/:app/settings') }, async () => {
    await ready();
    await page.goto(`${BASE}/admin/apps/${APP}/settings`);
    await page.getByLabel('Fetch allowlist').waitFor();
    await shot(page, 'settings');
  });

  it('sets and clears a canary weight', { skip: needs(has.canary, 'canaries in GET /api/apps/:app/functions/:fn (and PUT aliases with canary)') }, async () => {
    await ready();
    await page.goto(`${BASE}/admin/apps/${APP}/functions/${FN}/versions`);
    const versions = await (await fetch(`${BASE}/api/apps/${APP}/functions/${FN}/versions`, { headers: { authorization: `Bearer ${KEY}` } })).json() as { versions: Array<{ id: string }> };
    const newest = versions.versions[0]?.id as string;
    await page.getByTestId('route-version').selectOption(newest);
    await page.getByLabel('Canary weight %').fill('20');
    await page.getByRole('button', { name: 'Set as canary' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.getByTestId('alias-badges').getByText(/prod canary 20%/).waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: 'Clear canary' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await page.getByTestId('alias-badges').getByText(/canary/).waitFor({ state: 'detached', timeout: 10_000 });
  });

  it('creates an API key, shows its secret once, and revokes it', { skip: needs(has.keys, 'GET /api/keys') }, async () => {
    await ready();
    await page.goto(`${BASE}/admin/keys`);
    const name = `e2e-dev-${Date.now()}`;
    await page.getByTestId('key-name').fill(name);
    await page.getByTestId('key-role').selectOption('developer');
    await page.locator('.app-picker label', { hasText: APP }).locator('input').check();
    await page.getByTestId('key-create').click();
    const secret = await page.getByTestId('new-key-secret').innerText();
    assert.match(secret, /^faas_/);
    await shot(page, 'keys');
    const works = await fetch(`${BASE}/api/apps`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(works.status, 200, 'the new key works');
    await page.getByRole('button', { name: 'I have stored it' }).click();
    assert.doesNotMatch(await page.content(), new RegExp(secret), 'the secret is gone from the page');
    await page.locator(`tr[data-key="${name}"]`).getByRole('button', { name: 'Revoke…' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await page.locator(`tr[data-key="${name}"]`, { hasText: 'revoked' }).waitFor();
    const refused = await fetch(`${BASE}/api/apps`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(refused.status, 401, 'the revoked key is refused');
  });

  it('the audit log lists the deploys and the rollback', { skip: needs(has.audit, 'GET /api/audit') }, async () => {
    await ready();
    await page.goto(`${BASE}/admin/audit`);
    const table = page.getByTestId('audit-table');
    await table.waitFor();
    assert.match(await table.innerText(), new RegExp(FN));
    await shot(page, 'audit');
  });
});

describe('admin console: uploads, roles and progress', { timeout: 120_000 }, () => {
  it('a function folder upload fills the editor and deploys with its manifest; the deploy button shows progress', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'admin-upload-'));
    const fnDir = join(folder, 'uploaded');
    mkdirSync(fnDir);
    writeFileSync(join(fnDir, 'index.js'), "export default async function handler() {\n  return { uploaded: true };\n}\n");
    writeFileSync(join(fnDir, 'function.json'), JSON.stringify({ name: 'uploaded-fn', limits: { cpuTimeMs: 150 } }));
    const context = await newContext(1280, 800);
    try {
      const page = await context.newPage();
      await signIn(page);
      await page.goto(`${BASE}/admin/apps/${APP}/new`);
      await page.getByTestId('upload-folder').setInputFiles(fnDir);
      await page.getByText('Loaded uploaded/index.js with uploaded/function.json').waitFor();
      assert.equal(await page.getByTestId('function-name').inputValue(), 'uploaded-fn', 'the manifest names the function');
      assert.match(await editorText(page), /uploaded: true/);
      // Hold the deploy request to see the progress state, then let it through.
      let release: () => void = () => {};
      const held = new Promise<void>((resolve) => { release = resolve; });
      await page.route('**/api/apps/*/functions/*/deploy', async (route) => { await held; await route.continue(); });
      await page.getByTestId('deploy').click();
      const button = page.getByTestId('deploy');
      await button.filter({ hasText: 'Deploying…' }).waitFor();
      assert.equal(await button.isDisabled(), true);
      assert.equal(await button.getAttribute('aria-busy'), 'true');
      release();
      await page.getByTestId('deploy-result').waitFor({ timeout: 30_000 });
      const version = await (await fetch(`${BASE}/api/apps/${APP}/functions/uploaded-fn/versions`, { headers: { authorization: `Bearer ${KEY}` } })).json() as { versions: Array<{ limits: { cpuTimeMs: number } }> };
      assert.equal(version.versions[0]?.limits.cpuTimeMs, 150, 'the manifest limits were deployed');
      const answer = await fetch(`${BASE}/fn/${APP}/uploaded-fn`);
      assert.deepEqual(await answer.json(), { uploaded: true });

      // A single .js file replaces the editor text.
      await page.getByTestId('upload-file').setInputFiles({ name: 'other.js', mimeType: 'text/javascript', buffer: Buffer.from('export default () => 1;\n') });
      await page.getByText('Loaded other.js').waitFor();
      assert.match(await editorText(page), /export default \(\) => 1;/);
    } finally {
      await context.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('a viewer key sees functions read-only and no admin pages; a key revoked meanwhile signs out with the reason', { skip: needs(has.keys && has.whoami, 'POST /api/keys and GET /api/whoami') }, async () => {
    const created = await (await fetch(`${BASE}/api/keys`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'e2e-viewer', role: 'viewer', apps: [APP] }),
    })).json() as { key: { id: string }; secret: string };
    const context = await newContext(1280, 800);
    try {
      const page = await context.newPage();
      await signIn(page, created.secret);
      assert.match(await page.getByTestId('whoami').innerText(), /e2e-viewer\s*viewer/);
      assert.equal(await page.getByRole('link', { name: 'API keys' }).count(), 0, 'no admin pages for a viewer');
      await page.goto(`${BASE}/admin/apps/${APP}/functions/${FN}`);
      await page.getByText('Your key can read this function but not deploy it.').waitFor();
      assert.equal(await page.getByTestId('deploy').count(), 0);
      await page.getByRole('link', { name: 'Versions' }).click();
      await page.getByTestId('versions-table').waitFor();
      assert.equal(await page.getByTestId('rollback').count(), 0, 'no rollback for a viewer');

      const revoked = await fetch(`${BASE}/api/keys/${created.key.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${KEY}` } });
      assert.equal(revoked.status, 200);
      await page.getByRole('link', { name: 'Logs' }).click();
      await page.getByText(/The server refused the key: unknown or revoked API key/).waitFor();
      assert.equal(await page.evaluate(() => sessionStorage.getItem('faas.console.apiKey')), null, 'the refused key is forgotten');
    } finally {
      await context.close();
    }
  });
});

describe('admin console: degraded servers and small windows', { timeout: 120_000 }, () => {
  it('a missing endpoint (404 E_ROUTE_NOT_FOUND) gives a readable message and the rest keeps working', async () => {
    // The route is answered the way a server without it answers, so this holds whether or not
    // the real endpoint exists yet.
    const context = await newContext(1280, 800);
    try {
      const page = await context.newPage();
      const missing = (path: string) => ({ status: 404, contentType: 'application/json; charset=utf-8', body: JSON.stringify({ error: { code: 'E_ROUTE_NOT_FOUND', message: `no API route for GET ${path}; see control-plane/README.md` } }) });
      await page.route('**/api/whoami', (route) => route.fulfill(missing('/api/whoami')));
      await page.route(`**/api/apps/${APP}/stats`, (route) => route.fulfill(missing(`/api/apps/${APP}/stats`)));
      await page.route('**/api/keys', (route) => route.fulfill(missing('/api/keys')));
      await page.route(`**/api/apps/${APP}/functions/${FN}/versions/*`, (route) => route.fulfill(missing('/api/apps/…/versions/:id')));
      await signIn(page);
      assert.match(await page.locator('.topbar').innerText(), /role unknown/, 'without whoami the sign-in still works');
      await page.goto(`${BASE}/admin/apps/${APP}`);
      await page.getByText('Metrics are not available on this server').waitFor();
      await page.getByTestId('functions-table').locator('tr', { hasText: FN }).waitFor();
      await page.goto(`${BASE}/admin/keys`);
      await page.getByText('API key management is not available on this server').waitFor();
      assert.match(await page.locator('.notice-warn').innerText(), /404 E_ROUTE_NOT_FOUND/);
      await page.goto(`${BASE}/admin/apps/${APP}/functions/${FN}`);
      await page.getByText('Cannot load the deployed code').waitFor();
      await shot(page, 'degraded');
    } finally {
      await context.close();
    }
  });

  it('at 400 px wide no page overflows horizontally', async () => {
    const context = await newContext(400, 800);
    try {
      const page = await context.newPage();
      await signIn(page);
      const paths = [
        ['apps', '/admin/'],
        ['functions', `/admin/apps/${APP}`],
        ['code', `/admin/apps/${APP}/functions/${FN}`],
        ['versions', `/admin/apps/${APP}/functions/${FN}/versions`],
        ['try-it', `/admin/apps/${APP}/functions/${FN}/try`],
        ['logs', `/admin/apps/${APP}/functions/${FN}/logs`],
        ['config', `/admin/apps/${APP}/functions/${FN}/config`],
        ['keys', '/admin/keys'],
        ['audit', '/admin/audit'],
      ];
      for (const [name, path] of paths) {
        await page.goto(`${BASE}${path}`);
        await page.locator('.page').waitFor();
        await page.waitForLoadState('networkidle');
        const size = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
        assert.ok(size.scroll <= size.client, `${path}: content is ${size.scroll}px wide in a ${size.client}px window`);
        if (name === 'functions' || name === 'versions' || name === 'code') await shot(page, `narrow-${name}`);
      }
      // The diff falls back to one column on a narrow window.
      if (has.versionCode) {
        await page.goto(`${BASE}/admin/apps/${APP}/functions/${FN}/versions`);
        const boxes = page.locator('tbody input[type="checkbox"]');
        await boxes.nth(0).check();
        await boxes.nth(1).check();
        await page.getByTestId('compare').click();
        await page.getByTestId('diff-view').locator('.cm-editor').first().waitFor();
        assert.equal(await page.locator('.cm-mergeView').count(), 0, 'unified, not side by side');
        const size = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
        assert.ok(size.scroll <= size.client, `diff: ${size.scroll}px in ${size.client}px`);
        await shot(page, 'narrow-diff');
      }
    } finally {
      await context.close();
    }
  });
});
