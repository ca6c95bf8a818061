// The three web apps in real headless Chromium against a real hub: the whole story
// across three browser contexts, an acknowledgement made offline, a console reload
// that resumes, and screenshots. Any console error or page error fails the test.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { useHub, logIn, ROOT } from './hub.mjs';

const SHOTS = join(ROOT, 'target', 'e2e-screenshots');
const DESKTOP = { viewport: { width: 1366, height: 768 } };
const PHONE = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const LIVE_WITHIN = 1000; // the board must show each change within a second

const { api, ui } = useHub();
const story = {}; // what the first test leaves for the others

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
});

/** Waits until `page` (app `name`) shows what its screenshot is of: live, its content
 * drawn, fonts loaded, and the frame after the last batched render painted. */
async function rendered(page, name) {
  await page.waitForSelector('#conn[data-state="live"]');
  const content = {
    console: `#incidents li.selected[data-incident="${story.incidentId}"]`,
    board: `[data-incident="${story.incidentId}"]`,
    field: 'article[data-assignment]',
  }[name];
  await page.locator(content).first().waitFor();
  await page.evaluate(() => document.fonts.ready);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

function open(name, options = DESKTOP) {
  return ui.open(name, options);
}

/** Waits for `selector` on the board, failing if it takes longer than a second. */
async function boardShows(board, selector, since = Date.now()) {
  await board.waitForSelector(selector, { timeout: LIVE_WITHIN + 2000 });
  const took = Date.now() - since;
  assert.ok(took <= LIVE_WITHIN, `board showed ${selector} after ${took} ms`);
}

async function usernameFor(resourceId) {
  const token = await api.login('admin');
  const state = await api.get('/api/state', token);
  const resource = state.resources.find((r) => r.id === resourceId);
  return state.users.find((u) => u.id === resource.user_id).username;
}

test('the whole story: take, script, assess, assign; the field acknowledges and works; the board follows live', async () => {
  const { page: board } = await open('board');
  await logIn(board, 'supervisor', '/board');
  // The map has no tiles here (no internet), yet its markers show.
  await board.locator('#map .pin.res').nth(7).waitFor({ state: 'attached', timeout: 3000 });
  const { page: desk } = await open('console');
  await logIn(desk, 'operator', '/console');
  story.desk = desk;
  story.board = board;

  await api.intake({ channel: 'phone', caller: { name: 'Jo Bloggs', phone: '+44 20 7946 0000' },
    location: { text: 'Civic Centre, floor 2 lifts', lat: 51.5074, lon: -0.1278 }, summary: 'Man collapsed near the lifts' });
  await desk.getByRole('button', { name: /Take contact: Man collapsed/ }).click();
  await desk.getByLabel('Incident type').selectOption('medical_emergency');
  let t = Date.now();
  await desk.getByRole('button', { name: 'Open incident' }).click();
  const row = desk.locator('#incidents li[data-incident]');
  await row.first().waitFor();
  const incidentId = await row.first().getAttribute('data-incident');
  story.incidentId = incidentId;
  await boardShows(board, `#incident-columns [data-column="new"] [data-incident="${incidentId}"]`, t);

  // The call script: required questions are marked and the priority follows live.
  assert.ok(await desk.locator('#script .req-mark').count() >= 4, 'required questions are marked');
  await desk.locator('#q-breathing').selectOption('no');
  await desk.waitForFunction(() => /P1.*not breathing/.test(document.getElementById('suggested').textContent));
  await desk.locator('#q-conscious').selectOption('no');
  await desk.locator('#q-bleeding').selectOption('none');
  await desk.locator('#q-casualties').fill('1');
  await desk.locator('#q-casualties').press('Tab');

  await desk.getByLabel('Validity', { exact: true }).selectOption('verified');
  await desk.getByLabel('Method', { exact: true }).selectOption('protocol');
  await desk.getByLabel('Reason', { exact: true }).fill('Caller is with the patient');
  t = Date.now();
  await desk.getByRole('button', { name: 'Assess' }).click();
  await boardShows(board, `[data-incident="${incidentId}"][data-status="assessed"]`, t);
  await board.locator('#map .pin.inc').first().waitFor({ state: 'attached', timeout: 2000 });

  // Recommendations with reasons; assign the best with the template pre-filled.
  const best = desk.locator('#recs .rec').first();
  await best.locator('li').first().waitFor();
  const resourceId = await best.getAttribute('data-resource');
  assert.match(await desk.locator('#responsibilities').inputValue(), /first aid/i);
  t = Date.now();
  await best.getByRole('button', { name: /^Assign / }).click();
  const tile = board.locator(`[data-incident="${incidentId}"] [data-assignment]`);
  await boardShows(board, `[data-incident="${incidentId}"] [data-assignment][data-status="notified"]`, t);
  const assignmentId = await tile.getAttribute('data-assignment');

  // The field user, on a phone, sees it, acknowledges, goes en route and ticks actions.
  const username = await usernameFor(resourceId);
  story.fieldUser = username;
  const { page: field } = await open('field', PHONE);
  await logIn(field, username, '/field');
  await field.locator(`article[data-assignment="${assignmentId}"]`).waitFor();
  t = Date.now();
  await field.getByRole('button', { name: 'Acknowledge', exact: true }).click();
  await boardShows(board, `[data-assignment="${assignmentId}"][data-status="acknowledged"]`, t);
  t = Date.now();
  await field.getByRole('button', { name: 'En route' }).click();
  await boardShows(board, `[data-assignment="${assignmentId}"][data-status="en_route"]`, t);
  await boardShows(board, `#resource-columns [data-column="en_route"] [data-resource="${resourceId}"]`, t);
  t = Date.now();
  await field.getByRole('checkbox').first().check();
  await boardShows(board, `[data-assignment="${assignmentId}"][data-done="1"]`, t);
  t = Date.now();
  await field.getByRole('checkbox').nth(1).check();
  await boardShows(board, `[data-assignment="${assignmentId}"][data-done="2"]`, t);

  // The console's incident page follows too.
  await desk.locator(`#assignments [data-assignment="${assignmentId}"][data-status="en_route"]`).waitFor({ timeout: 2000 });
  story.field = field;
});

test('an acknowledgement made offline arrives exactly once after reconnecting', async () => {
  const token = await api.login('operator2');
  const { data: { incident_id: incidentId } } = await api.command(token, { kind: 'incident.open', type: 'medical_emergency',
    description: 'Visitor fainted in the library', location: { text: 'Central Library, ground floor' } });
  await api.command(token, { kind: 'incident.assess', incident_id: incidentId, validity: 'verified', priority: 'P3', method: 'manual', reason: 'stable, conscious' });
  const state = await api.get('/api/state', token);
  const free = state.resources.find((r) => r.status === 'available' && r.user_id && r.skills.includes('first_aid'));
  const { data: { assignment_id: assignmentId } } = await api.command(token, { kind: 'assignment.create', incident_id: incidentId, resource_id: free.id, reason: 'nearest free first-aider' });
  const username = state.users.find((u) => u.id === free.user_id).username;

  const { context, page: field } = await open('field-offline', PHONE);
  await logIn(field, username, '/field');
  await field.locator(`article[data-assignment="${assignmentId}"]`).waitFor();

  await context.setOffline(true);
  await field.waitForSelector('#conn[data-state="offline"]');
  await field.getByRole('button', { name: 'Acknowledge', exact: true }).click();
  await field.getByText('Acknowledgement queued').waitFor();
  assert.match(await field.locator('#conn').textContent(), /1 queued/);
  // Held, not sent: the acknowledgement waits in the stored outbox (it survives a reload).
  await field.waitForFunction(() => Object.keys(localStorage).some((k) => k.endsWith('.outbox')
    && localStorage.getItem(k).includes('assignment.acknowledge')));
  const before = await api.get(`/api/incidents/${incidentId}`, token);
  assert.equal(before.assignments[0].status, 'notified', 'nothing reached the hub while offline');

  await context.setOffline(false);
  await field.waitForSelector('#conn[data-state="live"]');
  await field.locator(`article[data-assignment="${assignmentId}"][data-status="acknowledged"]`).waitFor();
  await field.waitForFunction(() => !/queued|sending/.test(document.getElementById('conn').textContent));
  // A second reconnect resends nothing: the outbox is empty. The client resends its
  // outbox as it goes live, before anything the user does next, so the frames the page
  // sends up to the next command (en route) show whether it resent the acknowledgement.
  const sent = [];
  field.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(JSON.parse(f.payload))));
  await context.setOffline(true);
  await context.setOffline(false);
  await field.waitForSelector('#conn[data-state="live"]');
  await field.getByRole('button', { name: 'En route' }).click();
  await field.locator(`article[data-assignment="${assignmentId}"][data-status="en_route"]`).waitFor();
  const commands = sent.filter((f) => f.type === 'command').map((f) => f.command.kind);
  assert.deepEqual(commands, ['assignment.progress'], 'only the new command was sent');
  const detail = await api.get(`/api/incidents/${incidentId}`, token);
  const acks = detail.timeline.filter((e) => e.event.kind === 'assignment.acknowledged');
  assert.equal(acks.length, 1, 'exactly one acknowledgement');
  assert.equal(detail.assignments[0].status, 'en_route');
  await context.close();
});

test('a reloaded console resumes from where it was, without fetching the whole state', async () => {
  const desk = story.desk;
  assert.ok(desk, 'the story test ran');
  const stateFetches = [];
  desk.on('request', (r) => { if (r.url().includes('/api/state')) stateFetches.push(r.url()); });
  const welcomes = [];
  desk.on('websocket', (ws) => ws.on('framereceived', (f) => {
    const frame = JSON.parse(f.payload);
    if (frame.type === 'welcome') welcomes.push(frame);
  }));
  await desk.reload();
  await desk.waitForSelector('html[data-resumed="true"]');
  await desk.waitForSelector('#conn[data-state="live"]');
  assert.equal(welcomes.length, 1);
  assert.equal(welcomes[0].resumed, true);
  assert.equal(welcomes[0].snapshot, undefined, 'no snapshot sent');
  assert.deepEqual(stateFetches, [], 'no GET /api/state');
  // The store came back from the browser: the incident is still listed and live.
  await desk.locator(`#incidents [data-incident="${story.incidentId}"]`).waitFor();
  const { page: board } = { page: story.board };
  await board.bringToFront();
  await story.field.getByRole('button', { name: 'On scene' }).click();
  await desk.locator(`#incidents [data-incident="${story.incidentId}"][data-status="in_progress"]`).waitFor({ timeout: 3000 });
});

test('screenshots of the three apps at desktop and phone sizes', async () => {
  await api.intake({ channel: 'sms', caller: { phone: '+44 7700 900123' }, location: { text: 'Riverside car park' }, summary: 'Tree branch blocking the exit' });
  const apps = [['console', 'operator', '/console'], ['board', 'supervisor', '/board'], ['field', story.fieldUser, '/field']];
  for (const [name, user, path] of apps) {
    for (const [size, options] of [['desktop', DESKTOP], ['phone', PHONE]]) {
      const { context, page } = await open(`${name}-${size}`, options);
      await logIn(page, user, path);
      if (name === 'console') await page.locator(`#incidents [data-incident="${story.incidentId}"] button`).click();
      await rendered(page, name);
      await page.screenshot({ path: join(SHOTS, `${name}-${size}.png`), fullPage: size === 'phone' });
      await context.close();
    }
  }
});
