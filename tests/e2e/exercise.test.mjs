// Exercise mode (issue 18) in real Chromium against `muster exercise --scenario
// busy-evening --speed 20`: contacts arrive in the console without anyone typing; the
// trainee (an operator) plays the call in the console like a person: takes it, opens
// its incident, answers the call script and assesses validity and priority with a
// reason by keyboard alone, and dispatches the recommended simulated unit with its
// button; the unit acknowledges and arrives (seen in the field app);
// the EXERCISE banner is on every app (log-in, console, board, field, review) and the
// page passes axe; a live hub started alongside answers 404 `not_an_exercise` and its
// log is untouched (event count and head hash before and after). The simulated callers
// and units are clients of the API: the simulator's intake account and every simulated
// unit's field user are connected (the hub's /metrics count of users by role), and
// every event of the exercise log has a real user of that log (or the system) as actor.
//
// The handles (`handles.ex`, `.live`, `.ui`, `.api`, `.story`) are exported so the
// debrief's checks can be added to this file after its tests.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { startHub, startExercise, apiFor, launchBrowser, logIn, ROOT } from './hub.mjs';
import { Socket } from './wsclient.mjs';
import { debriefFigures } from './debrief-figures.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const DESKTOP = { viewport: { width: 1366, height: 768 } };
const PHONE = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const SHOTS = join(ROOT, 'docs', 'screenshots');
const SPEED = 20;
const PACE = { delay: 70 }; // between key presses, as a person types

/** Everything the tests share; filled in before the first test runs. */
export const handles = { ex: null, live: null, ui: null, api: null, liveApi: null, story: {} };

before(async () => {
  handles.live = await startHub();
  handles.liveApi = apiFor(handles.live.url);
  handles.story.liveSupervisor = await handles.liveApi.login('supervisor');
  handles.story.liveBefore = await handles.liveApi.get('/api/audit/verify', handles.story.liveSupervisor);
  handles.ex = await startExercise({ scenario: 'busy-evening', speed: SPEED });
  handles.api = apiFor(handles.ex.url);
  // Every event of the exercise log, as a supervisor's socket carries them from seq 0:
  // the debrief's figures are computed again from these.
  handles.story.records = [];
  const supervisor = await handles.api.login('supervisor');
  handles.story.socket = await Socket.open(handles.ex.url, (f) => {
    if (f.type === 'event') handles.story.records.push(f);
  });
  handles.story.socket.send({ type: 'hello', token: supervisor, resume_from: 0 });
  assert.equal((await handles.story.socket.next('welcome')).resumed, true, 'the log from its first event');
  handles.ui = await launchBrowser(handles.ex.url);
});

after(async () => {
  handles.story.socket?.close();
  await handles.ui?.close();
  await handles.ex?.stop();
  await handles.live?.stop();
});

afterEach(() => assert.deepEqual(handles.ui.takeErrors(), [], 'no console errors'));

/** Waits (bounded) until `f()` is truthy; answers its value. */
async function until(what, f, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Presses Tab on `page` and checks that focus moved to `target` (a selector or a locator). */
async function tabTo(page, target) {
  await page.keyboard.press('Tab');
  const field = typeof target === 'string' ? page.locator(target) : target;
  const there = await field.evaluate((el) => el === document.activeElement);
  assert.ok(there, `Tab moves focus to ${target}, not ${await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 80))}`);
}

/** The banner of `page`: its text, and the tab's title. */
async function banner(page) {
  const status = page.locator('#exercise-banner [role="status"]');
  await status.waitFor();
  return { text: await status.textContent(), title: await page.title() };
}

function assertBanner({ text, title }, where) {
  assert.match(text, /^EXERCISE — Busy evening \(speed ×20\)$/, where);
  assert.match(title, /^EXERCISE/, where);
}

/** Runs axe on `page`; fails on any serious or critical violation. */
async function audit(page, where) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const blocking = result.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
  const report = blocking.map((v) => `${v.id} (${v.impact}): ${v.help} ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(report, [], `${where}: axe found serious or critical violations`);
}

test('GET /api/exercise says what is played, to anyone', async () => {
  const res = await fetch(`${handles.ex.url}/api/exercise`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.scenario, 'busy-evening');
  assert.equal(body.title, 'Busy evening');
  assert.equal(body.status, 'running');
  assert.equal(body.speed, SPEED);
  assert.match(handles.ex.log, /exercises\/busy-evening-\d{8}T\d{6}\/muster\.sqlite$/);
});

test('the log-in page shows the banner before anyone signs in', async () => {
  const { page, context } = await handles.ui.open('login', DESKTOP);
  await page.goto('/');
  assertBanner(await banner(page), 'log-in');
  await audit(page, 'log-in');
  await context.close();
});

test('a trainee takes a simulated call, opens its incident and dispatches a simulated unit that acknowledges and arrives', async () => {
  const { page: desk } = await handles.ui.open('console', DESKTOP);
  await logIn(desk, 'operator', '/console');
  assertBanner(await banner(desk), 'console');
  // The first call of the scenario arrives by itself (20 simulated seconds in).
  const take = desk.getByRole('button', { name: /^Take contact: A visitor has fallen on the stairs/ });
  await take.waitFor({ timeout: 30000 });
  // ...and more keep coming without anyone typing.
  await until('a second simulated contact', async () => (await handles.api.get('/api/state', await op())).contacts.length >= 2);
  await take.click();
  const form = desk.locator('#mine form[data-contact]').filter({ hasText: 'A visitor has fallen' });
  await form.locator('select[name="type"]').selectOption('medical_emergency');
  await form.getByRole('button', { name: 'Open incident' }).click();
  const token = await op();
  const incident = await until('the incident', async () => Object.values((await handles.api.get('/api/state', token)).incidents)
    .find((i) => i.description?.startsWith('A visitor has fallen')));
  handles.story.incident = incident.id;
  await desk.locator('#page h2').filter({ hasText: incident.reference }).waitFor();

  // The call script and the assessment by keyboard alone, as the caller answers: the
  // console puts focus on the first question; each answer is typed and Tab goes on.
  await desk.waitForFunction(() => document.activeElement?.id === 'q-breathing');
  await desk.keyboard.type('y', PACE); // Yes
  await tabTo(desk, '#q-conscious');
  await desk.keyboard.type('y', PACE);
  await tabTo(desk, '#q-bleeding');
  await desk.keyboard.type('minor', PACE);
  await tabTo(desk, '#q-casualties');
  await desk.keyboard.type('1', PACE);
  await tabTo(desk, '#q-hazards'); // optional: nothing said about it
  const [validity, priority, method, reason] = ['Validity', 'Priority', 'Method', 'Reason'].map((l) => desk.getByLabel(l, { exact: true }));
  await tabTo(desk, validity);
  assert.equal(await validity.inputValue(), 'verified');
  await tabTo(desk, priority);
  await desk.keyboard.type('p2', PACE);
  assert.equal(await priority.inputValue(), 'P2');
  await tabTo(desk, method);
  await desk.keyboard.type('manual', PACE);
  assert.equal(await method.inputValue(), 'manual');
  await tabTo(desk, reason);
  await desk.keyboard.type('awake, breathing, minor bleeding', PACE);
  await desk.keyboard.press('Enter');
  await desk.locator(`#incidents li[data-incident="${incident.id}"][data-status="assessed"]`).waitFor();
  const assessed = await handles.api.get(`/api/incidents/${incident.id}`, token);
  assert.deepEqual(assessed.answers, { breathing: true, conscious: true, bleeding: 'minor', casualties: 1 }, 'the answers typed in the script');
  assert.deepEqual(assessed.assessments.map((a) => [a.validity, a.priority, a.method, a.reason]),
    [['verified', 'P2', 'manual', 'awake, breathing, minor bleeding']]);

  // Dispatch Chen Wei (a simulated unit, at the Civic Centre already) from the
  // recommended resources, with the console's button.
  const state = await handles.api.get('/api/state', token);
  const chen = Object.values(state.resources).find((r) => r.name === 'Chen Wei');
  const top = desk.locator('#recs .rec').first();
  await top.getByRole('button', { name: /^Assign / }).waitFor();
  assert.equal(await top.getAttribute('data-resource'), chen.id, 'Chen Wei is recommended first');
  await desk.locator(`#recs .rec[data-resource="${chen.id}"]`).getByRole('button', { name: 'Assign Chen Wei' }).click();
  const created = await until('the assignment', async () => {
    const mine = Object.values((await handles.api.get('/api/state', token)).assignments).filter((x) => x.incident_id === incident.id);
    return mine.length > 0 && mine;
  });
  assert.deepEqual(created.map((x) => x.resource_id), [chen.id], 'one assignment, to Chen Wei');
  const asg = created[0].id;
  await desk.locator(`#assignments [data-assignment="${asg}"]`).waitFor();
  // The list holds still under the pointer; once it leaves, Chen Wei is offered no more.
  await desk.mouse.move(0, 0);
  await desk.locator('#recs').getByRole('button', { name: 'Assign Chen Wei' }).waitFor({ state: 'detached' });
  handles.story.assignment = asg;

  // The unit acknowledges and arrives, seen in its field app.
  const { page: phone } = await handles.ui.open('field', PHONE);
  await logIn(phone, 'field3', '/field');
  assertBanner(await banner(phone), 'field');
  await phone.locator(`article[data-assignment="${asg}"][data-status="on_scene"]`).waitFor({ timeout: 30000 });
  const a = Object.values((await handles.api.get('/api/state', token)).assignments).find((x) => x.id === asg);
  assert.ok(a.acknowledged_at, 'acknowledged');
  assert.ok(a.on_scene_at, 'arrived');
  await audit(desk, 'console');
  await desk.evaluate(() => window.scrollTo(0, 0));
  await desk.locator('#page').evaluate((el) => { el.scrollTop = 0; });
  await desk.screenshot({ path: join(SHOTS, 'exercise-console-desktop.png') });
});

test("the console's running clocks follow the hub's scaled clock, not the browser's", async () => {
  const { page, context } = await handles.ui.open('console', DESKTOP);
  await logIn(page, 'operator', '/console');
  await banner(page);
  // The newest event's time is on the hub's clock, which runs 20 times faster than the
  // browser's: by now the browser's clock is minutes behind it; the page's is not.
  const last = Date.parse(handles.story.records.at(-1).at);
  const { hub, browser } = await page.evaluate(async () => {
    const { hubNow } = await import('/lib/exercise.js');
    return { hub: hubNow(), browser: Date.now() };
  });
  assert.ok(browser < last - 60_000, `the browser's clock is behind the exercise's (${new Date(browser).toISOString()} vs ${new Date(last).toISOString()})`);
  assert.ok(hub >= last - 5_000, `the page's clock keeps up with the hub's (${new Date(hub).toISOString()} vs ${new Date(last).toISOString()})`);
  await context.close();
});

test('the banner is on the board and the review too', async () => {
  for (const app of ['/board', '/review']) {
    const { page, context } = await handles.ui.open(app, DESKTOP);
    await logIn(page, 'supervisor', app);
    assertBanner(await banner(page), app);
    await context.close();
  }
});

/** `muster_users_connected{role=…}` from the exercise hub's /metrics (loopback may read it). */
async function usersConnected(role) {
  const text = await (await fetch(`${handles.ex.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`muster_users_connected{role="${role}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

test('the simulated callers and units act through the API as real users of the exercise log', async () => {
  const supervisor = await handles.api.login('supervisor');
  const { users } = await handles.api.get('/api/state', supervisor);
  const simulator = Object.values(users).find((u) => u.username === 'simulator');
  assert.ok(simulator, 'the simulator has an account in the exercise log');
  assert.equal(simulator.role, 'intake');
  // Its socket and every simulated unit's are open while the exercise runs (busy
  // evening plays 8 units, each the field user who carries it).
  const scenario = readFileSync(join(ROOT, 'config', 'exercises', 'busy-evening.toml'), 'utf8');
  const units = scenario.match(/^\[\[units\]\]$/gm).length;
  assert.equal(units, 8);
  assert.ok((await usersConnected('intake')) >= 1, 'the simulator is connected');
  assert.ok((await usersConnected('field')) >= units, 'every simulated unit is connected');
  // Contacts come from the simulator's account; every event's actor is a user of the log.
  await until('the socket has simulated contacts', async () => handles.story.records
    .filter((r) => r.event.kind === 'contact.received').length >= 2);
  const records = handles.story.records;
  const contacts = records.filter((r) => r.event.kind === 'contact.received');
  assert.ok(contacts.every((r) => r.actor === simulator.id), 'every contact came from the simulator');
  const known = new Set([...Object.values(users).map((u) => u.id), 'system']);
  const strangers = records.filter((r) => !known.has(r.actor)).map((r) => `${r.event.kind} by ${r.actor}`);
  assert.deepEqual(strangers, [], 'events whose actor is no user of the exercise log');
  handles.story.simulator = simulator.id;
});

test('a live hub alongside refuses exercise controls and its log is untouched', async () => {
  for (const [method, path] of [['GET', '/api/exercise'], ['POST', '/api/exercise/stop']]) {
    const res = await fetch(`${handles.live.url}${path}`, { method });
    assert.equal(res.status, 404, path);
    assert.equal((await res.json()).error.code, 'not_an_exercise', path);
  }
  const after = await handles.liveApi.get('/api/audit/verify', handles.story.liveSupervisor);
  // The exercise wrote to its own log, never this one.
  assert.equal(after.events, handles.story.liveBefore.events);
  assert.equal(after.head_hash, handles.story.liveBefore.head_hash);
  assert.equal(after.head_seq, handles.story.liveBefore.head_seq);
  assert.ok(after.ok);
});

test("the debrief's figures for the trainee match figures computed from the exercise log", async () => {
  const supervisor = await handles.api.login('supervisor');
  const users = (await handles.api.get('/api/state', supervisor)).users;
  const trainee = Object.values(users).find((u) => u.username === 'operator').id;
  const debrief = await handles.api.get('/api/exercise/debrief', supervisor);
  const theirs = debrief.trainees.find((t) => t.user_id === trainee);
  assert.ok(theirs, 'the trainee is in the debrief');
  // The debrief reads the log when asked; the socket has every event up to then.
  await until('the socket caught up', async () => {
    const { head_seq } = await handles.api.get('/api/audit/verify', supervisor);
    return handles.story.records.at(-1)?.seq >= head_seq;
  });
  const simulator = Object.values(users).find((u) => u.username === 'simulator').id;
  const ours = debriefFigures(handles.story.records, { scenario: [], simulator })[trainee];
  assert.ok(ours, 'the trainee acted in the log');
  for (const figure of ['answer', 'dispatch']) {
    for (const key of ['count', 'median_secs', 'worst_secs']) {
      assert.equal(theirs[figure][key], ours[figure][key], `${figure}.${key}`);
    }
  }
  assert.ok(theirs.answer.count >= 1 && theirs.dispatch.count >= 1, 'the trainee answered and dispatched');
  assert.ok(theirs.score >= 0 && theirs.score <= 100, `a score out of 100: ${theirs.score}`);
});

let operatorToken;
async function op() {
  operatorToken ??= await handles.api.login('operator');
  return operatorToken;
}
