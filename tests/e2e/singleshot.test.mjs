// Every command button acts once per intent. Each button is double-clicked in real
// Chromium and the events the hub appends are counted on a supervisor's WebSocket (a
// tap that sees the whole log): exactly one per intent. Also: a button stays busy while
// its command waits (offline), and pressing it again sends nothing new; a second
// dispatch of the same incident asks for confirmation; the console stands a resource
// down and cancels an incident with a reason, and records a unit's radio report with
// `via` and the operator as the actor; the new buttons (record call, merge, untick)
// act once too, as does acknowledging an alert on the board (wallboard.test.mjs).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useHub, logIn } from './hub.mjs';
import { openTap, waitFor } from './tap.mjs';

const DESKTOP = { viewport: { width: 1366, height: 768 } };
const PHONE = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

let seen; // the tap on the whole log (tap.mjs)
let barrier;
let once;
let sup; // the supervisor's token (the tap's, and for barriers)
let users; // username → user

const { api, ui } = useHub({
  setup: async () => {
    sup = await api.login('supervisor');
    users = Object.fromEntries((await api.get('/api/state', await api.login('admin'))).users.map((u) => [u.username, u]));
    ({ seen, barrier, once } = await openTap(ui, api, sup));
  },
});

test('the console: every command button double-clicked acts once; radio reports, stand down and cancel', async () => {
  const { page: desk } = await ui.open('console', DESKTOP);
  await logIn(desk, 'operator', '/console');
  const me = users.operator.id;

  await api.intake({ channel: 'phone', caller: { name: 'Sam Double' }, location: { text: 'Market Square, fountain', lat: 51.5080, lon: -0.1250 },
    summary: 'Cyclist fell at the fountain' });
  const take = desk.getByRole('button', { name: /Take contact: Cyclist fell/ });
  const taken = await once(take, 'contact.taken', (e, f) => f.actor === me, 'take');

  await desk.getByLabel('Incident type').selectOption('medical_emergency');
  const opened = await once(desk.getByRole('button', { name: 'Open incident' }), 'incident.opened',
    (e) => e.incident.description.includes('Cyclist fell'), 'open incident');
  const incidentId = opened.event.incident.id;
  const about = (e) => e.incident_id === incidentId;
  assert.equal((await seen('contact.linked', (e) => e.contact_id === taken.event.contact_id)).length, 1);

  await desk.getByLabel('Validity', { exact: true }).selectOption('verified');
  await desk.getByLabel('Priority', { exact: true }).selectOption('P2');
  await desk.getByLabel('Method', { exact: true }).selectOption('manual');
  await desk.getByLabel('Reason', { exact: true }).fill('Conscious, cut to the head');
  await once(desk.getByRole('button', { name: 'Assess' }), 'incident.assessed', about, 'assess');

  await desk.getByLabel('Note', { exact: true }).fill('Caller stays with him');
  await once(desk.getByRole('button', { name: 'Add note' }), 'incident.noted', about, 'add note');

  // Assign: the double click dispatches one resource, not the one that moved under it.
  const first = desk.locator('#recs .rec').first();
  await first.locator('li').first().waitFor();
  // Resources nobody carries the app for are marked: their reports come by radio.
  const byId = Object.fromEntries((await api.get('/api/state', sup)).resources.map((r) => [r.id, r]));
  const marks = await desk.locator('#recs .rec').evaluateAll((els) => els.map((el) => [el.dataset.resource, !!el.querySelector('.badge.no-app')]));
  assert.ok(marks.some(([, m]) => m) && marks.some(([, m]) => !m), `both kinds listed: ${JSON.stringify(marks)}`);
  for (const [id, marked] of marks) assert.equal(marked, !byId[id].user_id, `${byId[id].name}: badge iff no app user`);
  const created = await once(first.getByRole('button', { name: /^Assign / }), 'assignment.created',
    (e) => e.assignment.incident_id === incidentId, 'assign');
  const assignmentId = created.event.assignment.id;
  const resource = (await api.get('/api/state', sup)).resources.find((r) => r.id === created.event.assignment.resource_id);

  // A second dispatch within seconds asks first; "No" sends nothing.
  const other = desk.locator('#recs .rec button', { hasText: /^Assign / }).first();
  await other.click();
  const confirm = desk.locator('#dispatch-confirm [role="alert"]');
  await confirm.waitFor();
  assert.match(await confirm.textContent(), /dispatched \d+ s ago/);
  await confirm.getByRole('button', { name: 'No' }).click();
  await barrier();
  assert.equal((await seen('assignment.created', (e) => e.assignment.incident_id === incidentId)).length, 1, 'no second dispatch');

  // Broadcast.
  await desk.locator('#bc-text').fill('Road closed at Market Square');
  await once(desk.getByRole('button', { name: 'Send broadcast' }), 'message.broadcast',
    (e) => e.message.text === 'Road closed at Market Square', 'broadcast');

  // The unit reports by radio: the desk records it, with via and who recorded it.
  const row = desk.locator(`#assignments [data-assignment="${assignmentId}"]`);
  const ack = await once(row.getByRole('button', { name: `By radio: acknowledged (${resource.name})` }), 'assignment.acknowledged',
    (e) => e.assignment_id === assignmentId, 'radio acknowledgement');
  assert.equal(ack.event.via, 'radio');
  assert.equal(ack.actor, me, 'the log names the operator who recorded it');
  await desk.locator(`#assignments [data-assignment="${assignmentId}"][data-status="acknowledged"]`).waitFor();
  const enRoute = await once(row.getByRole('button', { name: `By radio: en route (${resource.name})` }), 'assignment.progressed',
    (e) => e.assignment_id === assignmentId, 'radio en route');
  assert.deepEqual([enRoute.event.status, enRoute.event.via, enRoute.actor], ['en_route', 'radio', me]);
  await desk.locator(`#assignments [data-assignment="${assignmentId}"][data-status="en_route"]`).waitFor();
  const checkin = await once(row.getByRole('button', { name: `By radio: checked in OK (${resource.name})` }), 'checkin.recorded',
    (e) => e.assignment_id === assignmentId, 'radio check-in');
  assert.deepEqual([checkin.event.ok, checkin.event.via, checkin.actor], [true, 'radio', me]);
  // The timeline says it came by radio.
  await desk.locator('.timeline li', { hasText: 'by radio' }).first().waitFor();

  // Stand down: a reason is needed, and the error says so next to the field.
  await row.getByRole('button', { name: `Stand down ${resource.name}` }).click();
  const standDown = desk.locator('#stand-down');
  await standDown.getByRole('button', { name: 'Stand down', exact: true }).click();
  await desk.locator('#sd-error', { hasText: 'Say why' }).waitFor();
  await desk.locator('#sd-reason').fill('Patient walked to the clinic');
  const cancelled = await once(standDown.getByRole('button', { name: 'Stand down', exact: true }), 'assignment.cancelled',
    (e) => e.assignment_id === assignmentId, 'stand down');
  assert.equal(cancelled.event.reason, 'Patient walked to the clinic');
  await desk.locator(`#assignments [data-assignment="${assignmentId}"][data-status="cancelled"]`).waitFor();

  // Cancel the incident, with a reason.
  await desk.getByRole('button', { name: 'Cancel incident' }).click();
  await desk.locator('#cancel-error', { hasText: 'Say why' }).waitFor();
  await desk.locator('#cancel-reason').fill('Caller rang back: no longer needed');
  const gone = await once(desk.getByRole('button', { name: 'Cancel incident' }), 'incident.cancelled', about, 'cancel incident');
  assert.equal(gone.event.reason, 'Caller rang back: no longer needed');
  await desk.close();
});

test('a busy button waits for its result: pressed again while offline, it sends the command once', async () => {
  const token = await api.login('operator2');
  const { data: { incident_id: incidentId } } = await api.command(token, { kind: 'incident.open', type: 'medical_emergency',
    description: 'Dizzy visitor at the museum', location: { text: 'City Museum, hall 3' } });
  const { context, page: desk } = await ui.open('console-offline', DESKTOP);
  await logIn(desk, 'operator2', '/console');
  await desk.locator(`#incidents [data-incident="${incidentId}"] button`).click();
  await desk.getByLabel('Note', { exact: true }).fill('Sat down, feels better');
  await desk.locator('.timeline li').first().waitFor(); // the page has fetched what it needs

  await context.setOffline(true);
  await desk.waitForSelector('#conn[data-state="offline"]');
  const add = desk.getByRole('button', { name: 'Add note' });
  await add.click();
  assert.equal(await add.getAttribute('aria-busy'), 'true', 'busy until the result');
  await add.click({ force: true }); // a second, separate press of the same intent (it is aria-disabled)
  await desk.getByLabel('Note', { exact: true }).press('Enter'); // and the keyboard's
  const outbox = await desk.evaluate(() => Object.entries(localStorage).filter(([k]) => k.endsWith('.outbox'))
    .flatMap(([, v]) => JSON.parse(v)).filter((c) => c.command.kind === 'incident.note'));
  assert.equal(outbox.length, 1, 'one queued command');

  await context.setOffline(false);
  await waitFor(async () => (await seen('incident.noted', (e) => e.incident_id === incidentId)).length >= 1, 'the note');
  await desk.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
  await barrier();
  assert.equal((await seen('incident.noted', (e) => e.incident_id === incidentId)).length, 1);
  await context.close();
});

test('the field app: acknowledge, progress, check in and acknowledge a message, each double-clicked, act once', async () => {
  const token = await api.login('operator2');
  const { data: { incident_id: incidentId } } = await api.command(token, { kind: 'incident.open', type: 'medical_emergency',
    description: 'Runner with cramp', location: { text: 'Riverside path, bench 4' } });
  await api.command(token, { kind: 'incident.assess', incident_id: incidentId, validity: 'verified', priority: 'P3', method: 'manual', reason: 'minor' });
  const state = await api.get('/api/state', token);
  const free = state.resources.find((r) => r.status === 'available' && r.user_id && r.skills.includes('first_aid'));
  const { data: { assignment_id: assignmentId } } = await api.command(token, { kind: 'assignment.create', incident_id: incidentId,
    resource_id: free.id, reason: 'nearest' });
  const fieldUser = Object.values(users).find((u) => u.id === free.user_id);

  const { page: field } = await ui.open('field', PHONE);
  await logIn(field, fieldUser.username, '/field');
  const card = field.locator(`article[data-assignment="${assignmentId}"]`);
  await card.waitFor();
  const mine = (e) => e.assignment_id === assignmentId;

  const ack = await once(card.getByRole('button', { name: 'Acknowledge', exact: true }), 'assignment.acknowledged', mine, 'acknowledge');
  assert.equal(ack.event.via, undefined, 'from the app: no via');
  assert.equal(ack.actor, fieldUser.id);
  await field.locator(`article[data-assignment="${assignmentId}"][data-status="acknowledged"]`).waitFor();
  await once(card.getByRole('button', { name: 'En route' }), 'assignment.progressed', mine, 'en route');
  await field.locator(`article[data-assignment="${assignmentId}"][data-status="en_route"]`).waitFor();
  await once(card.getByRole('button', { name: 'Check in: I am OK' }), 'checkin.recorded', mine, 'check in');

  const { data: { message_id: messageId } } = await api.command(token, { kind: 'message.broadcast', audience: 'all',
    text: 'Confirm you have water', requires_ack: true });
  const ackMsg = field.getByRole('button', { name: 'Acknowledge message' });
  await ackMsg.waitFor();
  await once(ackMsg, 'message.acknowledged', (e) => e.message_id === messageId && e.user_id === fieldUser.id, 'acknowledge message');
  await field.close();
});

test('the board sends guidance once and the console acknowledges it once, each double-clicked', async () => {
  const { page: board } = await ui.open('board', DESKTOP);
  await logIn(board, 'supervisor', '/board');
  const { page: desk } = await ui.open('console-guided', DESKTOP);
  await logIn(desk, 'operator2', '/console');
  const to = users.operator2.id;

  await board.locator(`#guide-to option[value="${to}"]`).waitFor({ state: 'attached' });
  await board.locator('#guide-to').selectOption(to);
  await board.locator('#guide-text').fill('Take the next P1 yourself');
  const sent = await once(board.getByRole('button', { name: 'Send guidance' }), 'message.broadcast',
    (e) => e.message.text === 'Take the next P1 yourself', 'send guidance');
  const messageId = sent.event.message.id;

  const ack = desk.getByRole('button', { name: 'Acknowledge guidance' });
  await ack.waitFor();
  await once(ack, 'message.acknowledged', (e) => e.message_id === messageId && e.user_id === to, 'acknowledge guidance');
  await board.close();
  await desk.close();
});

test('the console: record a new call, merge and untick, each double-clicked, act once', async () => {
  const { page: desk } = await ui.open('console-new', DESKTOP);
  await logIn(desk, 'operator', '/console');
  const op = await api.login('operator');

  await desk.locator('#new-call').click();
  await desk.locator('#nc-summary').fill('Walk-in: lost child at the desk');
  await once(desk.locator('#new-call-form').getByRole('button', { name: 'Record call' }), 'contact.received',
    (e) => e.contact.summary === 'Walk-in: lost child at the desk', 'record call');

  // Two reports of one thing: the second merged into the first.
  const open = async (description) => (await api.command(op, { kind: 'incident.open', type: 'medical_emergency', description,
    location: { text: 'Market Square, fountain', lat: 51.5080, lon: -0.1250 } })).data.incident_id;
  const survivor = await open('Man fainted by the fountain');
  const duplicate = await open('Someone collapsed at the fountain');
  await desk.goto(`/console#incident=${duplicate}`);
  await desk.locator(`#merge-into option[value="${survivor}"]`).waitFor({ state: 'attached' });
  await desk.locator('#merge-into').selectOption(survivor);
  await desk.locator('#merge-reason').fill('Same fall, second caller');
  await once(desk.getByRole('button', { name: 'Merge', exact: true }), 'incident.merged', (e) => e.incident_id === duplicate, 'merge');

  // A ticked action, unticked with a reason.
  await api.command(op, { kind: 'incident.assess', incident_id: survivor, validity: 'verified', priority: 'P3', method: 'manual', reason: 'conscious now' });
  const state = await api.get('/api/state', sup);
  const free = state.resources.find((r) => r.status === 'available' && r.user_id);
  const { data: { assignment_id: asg } } = await api.command(op, { kind: 'assignment.create', incident_id: survivor, resource_id: free.id,
    actions: [{ text: 'Check the casualty', required: true }] });
  const crew = await api.login(state.users.find((u) => u.id === free.user_id).username);
  await api.command(crew, { kind: 'assignment.acknowledge', assignment_id: asg });
  await api.command(crew, { kind: 'assignment.action_done', assignment_id: asg, action_id: 'act_1' });
  await desk.goto(`/console#incident=${survivor}`);
  await desk.locator(`#assignments [data-assignment="${asg}"] .done-action`).getByRole('button', { name: /^Untick/ }).click();
  await desk.locator('#ut-reason').fill('Ticked by mistake');
  await once(desk.locator('#untick').getByRole('button', { name: 'Untick', exact: true }), 'assignment.action_undone',
    (e) => e.assignment_id === asg, 'untick');
  await desk.close();
});
