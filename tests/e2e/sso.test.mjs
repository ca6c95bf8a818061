// Single sign-on through a real OpenID Connect provider (oidc-provider, OpenID
// Certified, on loopback): Chromium clicks the provider's button on the hub's log-in
// page, signs in at the provider and lands in the app of the role its group maps to;
// a person without a mapped group is refused with a clear message and no account;
// the same person signing in again reuses their account; a person whose group is
// taken away is disabled at their next sign-in; with local passwords off only the
// break-glass account logs in with a password; a forged `state` is refused.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHub, apiFor, launchBrowser, ROOT } from './hub.mjs';
import { startProvider, freePort } from './oidc.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const DESKTOP = { viewport: { width: 1366, height: 768 } };
const PROVIDER = 'corp';
const BUTTON = 'Example Corp account';

const accounts = {
  'sam-sub-1': { preferred_username: 'sam.super', name: 'Sam Super', email: 'sam@corp.example', groups: ['staff', 'muster-supervisors'] },
  'olly-sub-2': { preferred_username: 'olly.op', name: 'Olly Op', email: 'olly@corp.example', groups: ['muster-operators'] },
  'nora-sub-3': { preferred_username: 'nora.none', name: 'Nora None', email: 'nora@corp.example', groups: ['staff'] },
};

let idp;
let hub;
let api;
let ui;
let admin;
let confDir;

before(async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  idp = await startProvider({ redirectUri: `${url}/auth/oidc/${PROVIDER}/callback`, accounts });
  confDir = mkdtempSync(join(tmpdir(), 'muster-sso-'));
  const settings = join(confDir, 'muster.toml');
  writeFileSync(settings, `[auth]
local_passwords = false
break_glass = ["admin"]

[[auth.oidc]]
id = "${PROVIDER}"
name = "${BUTTON}"
issuer = "${idp.issuer}"
client_id = "${idp.clientId}"
scopes = ["openid", "profile", "email", "groups"]
role_claim = "groups"
roles = { "muster-operators" = "operator", "muster-supervisors" = "supervisor" }
`);
  hub = await startHub({
    env: {
      MUSTER_CONFIG: settings,
      MUSTER_BIND: `127.0.0.1:${port}`,
      MUSTER_PUBLIC_URL: url,
      // The secret comes from the environment, as an operator would give it.
      [`MUSTER_OIDC_${PROVIDER.toUpperCase()}_CLIENT_SECRET`]: idp.clientSecret,
    },
  });
  assert.equal(hub.url, url);
  api = apiFor(hub.url);
  ui = await launchBrowser(hub.url);
  admin = await api.login('admin'); // a break-glass account
});

after(async () => {
  await ui?.close();
  await hub?.stop();
  await idp?.stop();
  if (confDir) rmSync(confDir, { recursive: true, force: true });
});

afterEach(() => assert.deepEqual(ui.takeErrors(), [], 'no console errors'));

/** Every user the hub knows, as the admin sees them. */
async function users() {
  return (await api.get('/api/state', admin)).users;
}

/**
 * Opens the log-in page (optionally with `?next=`), presses the provider's button by
 * keyboard, and signs in at the provider as `login`. Leaves the page wherever the hub
 * sent it.
 */
async function signIn(login, next) {
  const { page, context } = await ui.open(`sso-${login}`, DESKTOP);
  await page.goto(next ? `/?next=${encodeURIComponent(next)}` : '/');
  const button = page.getByRole('link', { name: BUTTON });
  await button.focus();
  await page.keyboard.press('Enter');
  await page.waitForURL(`${idp.issuer}/interaction/**`);
  await page.getByLabel('Provider username').fill(login);
  await page.getByLabel('Provider password').fill('anything');
  await page.getByRole('button', { name: 'Sign in at provider' }).click();
  await page.waitForURL(`${hub.url}/**`);
  return { page, context };
}

/** The session the page stored, or null. */
const storedSession = (page) => page.evaluate(() => {
  const key = Object.keys(sessionStorage).find((k) => k.endsWith('session'));
  return key ? JSON.parse(sessionStorage.getItem(key)) : null;
});

test('the log-in page lists the provider, folds the password form away, and passes axe', async () => {
  const providers = await (await fetch(`${hub.url}/api/auth/providers`)).json();
  assert.deepEqual(providers, [{ id: PROVIDER, name: BUTTON }]);
  const { page, context } = await ui.open('login-page', DESKTOP);
  await page.goto('/');
  await page.getByRole('link', { name: BUTTON }).waitFor();
  assert.equal(await page.locator('#break-glass').evaluate((d) => d.open), false, 'the password form is behind the break-glass disclosure');
  assert.equal(await page.getByLabel('Password').isVisible(), false);
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const blocking = result.violations.filter((v) => ['serious', 'critical'].includes(v.impact)).map((v) => v.id);
  assert.deepEqual(blocking, [], 'axe: no serious or critical violations on the log-in page');
  await page.screenshot({ path: join(ROOT, 'docs', 'screenshots', 'login-sso-desktop.png') });
  await context.close();
});

test('a supervisor group signs in to the board with the supervisor role; the second sign-in reuses the account', async () => {
  const before = (await users()).length;
  const first = await signIn('sam-sub-1');
  await first.page.waitForURL(`${hub.url}/board`);
  await first.page.waitForSelector('#conn[data-state="live"]');
  const session = await storedSession(first.page);
  assert.equal(session.user.role, 'supervisor');
  assert.equal(session.user.username, 'sam.super');
  assert.equal(session.user.name, 'Sam Super');
  // The long-lived token never appeared in a URL.
  assert.ok(!first.page.url().includes(session.token));
  const created = (await users()).filter((u) => u.username === 'sam.super');
  assert.equal(created.length, 1);
  assert.equal((await users()).length, before + 1);
  await first.context.close();

  // A fresh browser, the same person: the same account, no new one.
  const again = await signIn('sam-sub-1', '/console');
  await again.page.waitForURL(`${hub.url}/console`);
  const second = await storedSession(again.page);
  assert.equal(second.user.id, created[0].id);
  assert.notEqual(second.token, session.token);
  assert.equal((await users()).length, before + 1, 'no second account');
  await again.context.close();
});

test("a person whose group changes signs in with the new role: the account follows the provider", async () => {
  const first = await signIn('sam-sub-1');
  await first.page.waitForURL(`${hub.url}/board`);
  const before = await storedSession(first.page);
  await first.context.close();

  accounts['sam-sub-1'].groups = ['staff', 'muster-operators'];
  try {
    const again = await signIn('sam-sub-1');
    await again.page.waitForURL(`${hub.url}/console`);
    const after = await storedSession(again.page);
    assert.equal(after.user.id, before.user.id, 'the same account');
    assert.equal(after.user.role, 'operator');
    const sam = (await users()).find((u) => u.username === 'sam.super');
    assert.equal(sam.role, 'operator', 'user.update was recorded');
    await again.context.close();
  } finally {
    accounts['sam-sub-1'].groups = ['staff', 'muster-supervisors'];
  }
});

test('a person without a mapped group is refused with a clear message and gets no account', async () => {
  const { page, context } = await signIn('nora-sub-3');
  const error = page.locator('#login-error');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /no role in Muster\. Ask your Muster administrator/);
  assert.equal(new URL(page.url()).hash, '', 'the fragment is cleared');
  assert.equal(await storedSession(page), null);
  assert.equal((await users()).some((u) => u.username === 'nora.none'), false);
  await context.close();
});

test('a person whose group is taken away is disabled at their next sign-in', async () => {
  const first = await signIn('olly-sub-2');
  await first.page.waitForURL(`${hub.url}/console`);
  assert.equal((await storedSession(first.page)).user.role, 'operator');
  await first.context.close();

  accounts['olly-sub-2'].groups = ['staff'];
  const { page, context } = await signIn('olly-sub-2');
  const error = page.locator('#login-error');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /disabled/);
  assert.equal(await storedSession(page), null);
  const olly = (await users()).find((u) => u.username === 'olly.op');
  assert.equal(olly.disabled, true, 'user.disable was recorded');
  await context.close();
});

test('with local passwords off, only the break-glass account logs in with a password', async () => {
  const res = await fetch(`${hub.url}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'operator', password: 'muster-demo' }),
  });
  assert.equal(res.status, 403);
  assert.equal((await res.json()).error.code, 'local_login_disabled');

  // The break-glass account, through the page's disclosure, by keyboard.
  const { page, context } = await ui.open('break-glass', DESKTOP);
  await page.goto('/');
  await page.locator('#break-glass > summary').focus();
  await page.keyboard.press('Enter');
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('muster-demo');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL((u) => u.pathname !== '/');
  assert.equal((await storedSession(page)).user.role, 'admin');
  await context.close();
});

test('a forged or replayed state is refused', async () => {
  const { page, context } = await ui.open('bad-state', DESKTOP);
  await page.goto(`/auth/oidc/${PROVIDER}/callback?code=forged&state=not-a-state-we-made`);
  const error = page.locator('#login-error');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /expired or was already used/);
  assert.equal(await storedSession(page), null);
  await context.close();
});

test('a one-time code is good once', async () => {
  const { page, context } = await ui.open('once', DESKTOP);
  // Catch the code on its way: the callback's redirect names it in the fragment.
  let code = null;
  page.on('response', (r) => {
    const loc = r.headers().location;
    const m = loc && /#sso=([^&]+)/.exec(loc);
    if (m) code = m[1];
  });
  await page.goto('/');
  await page.getByRole('link', { name: BUTTON }).click();
  await page.waitForURL(`${idp.issuer}/interaction/**`);
  await page.getByLabel('Provider username').fill('sam-sub-1');
  await page.getByRole('button', { name: 'Sign in at provider' }).click();
  await page.waitForURL(`${hub.url}/board`);
  assert.ok(code, 'the callback redirected with a one-time code');
  const again = await fetch(`${hub.url}/api/auth/oidc/exchange`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code }),
  });
  assert.equal(again.status, 401, 'the page used it; a second exchange is refused');
  await context.close();
});

test('a sign-in cancelled at the provider comes back with a clear message', async () => {
  const { page, context } = await ui.open('cancel', DESKTOP);
  await page.goto('/');
  await page.getByRole('link', { name: BUTTON }).click();
  await page.waitForURL(`${idp.issuer}/interaction/**`);
  await page.getByRole('button', { name: 'Cancel' }).click();
  const error = page.locator('#login-error');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /cancelled or refused/);
  assert.equal(await storedSession(page), null);
  await context.close();
});

// Last in the file: it leaves this address with its quota of unfinished sign-ins.
test('a flood of unfinished sign-ins from one address is refused with a message, not stored', async () => {
  const start = () => fetch(`${hub.url}/auth/oidc/${PROVIDER}/login`, { redirect: 'manual' });
  const answers = [];
  for (let i = 0; i < 31; i += 1) answers.push((await start()).headers.get('location'));
  const toProvider = answers.filter((l) => l.startsWith(idp.issuer));
  // Earlier tests' unfinished sign-ins from this address count too.
  assert.ok(toProvider.length <= 30 && toProvider.length > 0, `${toProvider.length} sent to the provider`);
  assert.equal(answers.at(-1), '/#sso_error=busy');
  const { page, context } = await ui.open('busy', DESKTOP);
  await page.goto('/#sso_error=busy');
  const error = page.locator('#login-error');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /Too many sign-ins/);
  await context.close();
});
