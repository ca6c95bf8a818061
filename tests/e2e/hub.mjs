// Starts a real hub for the browser tests: builds the binary (a no-op when it is up
// to date), copies it so a concurrent build cannot swap it mid-test, and runs
// `muster serve` from the repo root on a free port with a fresh data directory.

import { before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, copyFileSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * `genLogEvents`: start on a log of that many events from `muster-load gen-log` (a generated
 * year that starts on 1 January of last year, so all of it is old); the hub then carries
 * `generated`, the state at the end of that log (`muster replay`). `env`: more
 * environment for `muster serve` (settings such as `MUSTER_RESUME_WINDOW_SECS`).
 */
export async function startHub({ genLogEvents, env = {}, args = ['serve'] } = {}) {
  if (!process.env.MUSTER_E2E_SKIP_BUILD) {
    execFileSync('cargo', ['build', '--quiet', '--bin', 'muster', '--bin', 'muster-load'], { cwd: ROOT, stdio: 'inherit' });
  }
  const targetDir = process.env.CARGO_TARGET_DIR ? resolve(ROOT, process.env.CARGO_TARGET_DIR) : join(ROOT, 'target');
  const dir = mkdtempSync(join(tmpdir(), 'muster-e2e-'));
  const bin = join(dir, 'muster');
  // MUSTER_BIN: a binary built elsewhere (e.g. when the target directory is shared).
  copyFileSync(process.env.MUSTER_BIN || join(targetDir, 'debug', 'muster'), bin);
  const data = join(dir, 'data');
  let generated = null;
  if (genLogEvents) {
    mkdirSync(data);
    const run = (exe, args) => execFileSync(exe, args, { cwd: ROOT, env: { ...process.env, RUST_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'inherit'] });
    // MUSTER_LOAD_BIN: the load tools built elsewhere, as MUSTER_BIN.
    const load = process.env.MUSTER_LOAD_BIN || join(targetDir, 'debug', 'muster-load');
    run(load, ['gen-log', '--events', String(genLogEvents), '--out', join(data, 'muster.sqlite')]);
    generated = JSON.parse(run(bin, ['replay', '--until', '2100-01-01T00:00:00Z', '--data-dir', data]));
  }
  // MUSTER_E2E_WEB_DIR: serve web/ from disk, so front-end work needs no rebuild.
  const child = spawn(bin, args, {
    cwd: ROOT,
    env: { ...process.env, MUSTER_BIND: '127.0.0.1:0', MUSTER_DATA_DIR: data, MUSTER_WEB_DIR: process.env.MUSTER_E2E_WEB_DIR || '', RUST_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  // What the hub printed before it served (`muster exercise` says where its log is).
  const said = [];
  const url = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('the hub did not start within 60 s')), 60000);
    child.once('exit', (code) => fail(new Error(`the hub exited with ${code}`)));
    const first = (line) => {
      const m = /^muster: serving (http:\/\/\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        lines.off('line', first);
        return ok(m[1]);
      }
      if (!line.startsWith('muster: ')) {
        clearTimeout(timer);
        return fail(new Error(`unexpected line before serving: ${line}`));
      }
      said.push(line);
    };
    lines.on('line', first);
  });
  lines.on('line', () => {}); // keep draining stdout
  return {
    url,
    generated,
    said,
    data,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode != null ? r() : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * `muster exercise --scenario NAME --speed N` on a fresh data dir: the same hub as
 * `startHub`'s, plus `log`, the exercise's own SQLite log (under
 * `<data>/exercises/<name>-<stamp>/`).
 */
export async function startExercise({ scenario = 'busy-evening', speed = 1, seed, env = {} } = {}) {
  const args = ['exercise', '--scenario', scenario, '--speed', String(speed)];
  if (seed != null) args.push('--seed', String(seed));
  const hub = await startHub({ args, env });
  const log = hub.said.map((l) => /^muster: exercise log (\S+)/.exec(l)?.[1]).find(Boolean);
  assert.ok(log, `the exercise says where its log is: ${hub.said.join(' | ')}`);
  return { ...hub, log };
}

/**
 * One hub (and, unless `browser: false`, one Chromium) for a test file: started before
 * its tests, stopped after them, and every test fails on any console or page error.
 * Answers `{ hub, api, ui }`, filled in before the first test runs. Options are
 * `startHub`'s, plus `centre`: a function from the shipped `config/centre.toml` to the
 * procedures to run instead (a test's shorter clocks), and `setup`: what the file needs
 * done once the hub is up (in the same hook: node:test does not wait for one top-level
 * `before` to finish before it starts the next).
 */
export function useHub({ centre, setup, browser = true, ...options } = {}) {
  const hub = {};
  const api = {};
  const ui = {};
  let confDir;
  before(async () => {
    const env = { ...options.env };
    if (centre) {
      confDir = mkdtempSync(join(tmpdir(), 'muster-centre-'));
      const shipped = readFileSync(join(ROOT, 'config', 'centre.toml'), 'utf8');
      const changed = centre(shipped);
      assert.notEqual(changed, shipped, 'the test changed the procedures');
      writeFileSync(join(confDir, 'centre.toml'), changed);
      env.MUSTER_CENTRE = join(confDir, 'centre.toml');
    }
    Object.assign(hub, await startHub({ ...options, env }));
    Object.assign(api, apiFor(hub.url));
    if (browser) Object.assign(ui, await launchBrowser(hub.url));
    await setup?.();
  });
  after(async () => {
    await ui.close?.();
    await hub.stop?.();
    if (confDir) rmSync(confDir, { recursive: true, force: true });
  });
  if (browser) afterEach(() => assert.deepEqual(ui.takeErrors(), [], 'no console errors'));
  return { hub, api, ui };
}

/** The shipped procedures with the urgent escalation's first rung after `secs`, not 30 s. */
export function quickEscalation(toml, secs) {
  const quick = toml.replace(/(id = "urgent"[\s\S]*?after_secs = )30\b/, (_, head) => `${head}${secs}`);
  assert.notEqual(quick, toml, 'the urgent escalation policy was found');
  return quick;
}

/**
 * The shipped procedures with the medical emergency's dispatch target at `priority`
 * set to `secs` (its targets are the file's first).
 */
export function dispatchTarget(toml, priority, secs) {
  const at = new RegExp(`(${priority} = \\{ answer_secs = \\d+, dispatch_secs = )\\d+`);
  const first = toml.search(at);
  const medical = toml.indexOf('id = "medical_emergency"');
  assert.ok(medical >= 0 && first > medical, `a ${priority} target after the medical emergency`);
  assert.doesNotMatch(toml.slice(medical, first), /\[\[types\]\]/, 'the first targets are the medical emergency\'s');
  return toml.replace(at, (_, head) => `${head}${secs}`);
}

/** A tiny API client for setting up and checking from the test side. */
export function apiFor(url) {
  const call = async (method, path, token, body) => {
    const res = await fetch(url + path, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  return {
    login: async (username) => (await call('POST', '/api/login', null, { username, password: 'muster-demo' })).token,
    get: (path, token) => call('GET', path, token),
    command: (token, command) => call('POST', '/api/commands', token, { id: `e2e-${Math.random().toString(36).slice(2)}`, command }),
    intake: (body) => call('POST', '/api/intake/contacts', 'demo-intake-key', body),
  };
}

/**
 * Headless Chromium for the hub at `url`: `open(name, options)` makes a page in a fresh
 * context that records console and page errors; `takeErrors()` hands them over (each
 * test fails on any).
 */
export async function launchBrowser(url) {
  const browser = await chromium.launch({
    executablePath: process.env.MUSTER_CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const errors = [];
  // Chromium logs every request that fails while a test holds the context offline
  // (`context.setOffline(true)`), however the app handles the failure; whether a page
  // happens to make one in that window is timing. An app's own failures still show
  // (its console errors, and uncaught errors as page errors).
  const offline = /^Failed to load resource: net::ERR_INTERNET_DISCONNECTED$/;
  return {
    async open(name, options) {
      const context = await browser.newContext({ ...options, baseURL: url });
      const page = await context.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error' && !offline.test(m.text())) errors.push(`${name}: ${m.text()}`);
      });
      page.on('pageerror', (e) => errors.push(`${name}: ${e.message}`));
      return { context, page };
    },
    takeErrors: () => errors.splice(0),
    close: () => browser.close(),
  };
}

/** Logs `username` in with the demo password and waits until `app` is live. */
export async function logIn(page, username, app) {
  await page.goto(`/?next=${encodeURIComponent(app)}`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill('muster-demo');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`**${app}`);
  await page.waitForSelector('#conn[data-state="live"]');
}
