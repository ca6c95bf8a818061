// Accountable broadcasts, the field card and unticking, in real Chromium against the
// real hub: the board sends to "all field staff", two phones (375×667) acknowledge and
// the sender sees their names flip from waiting to acknowledged, live; an
// information-only broadcast shows on a phone and on a console and is dismissed there
// (the console acknowledges one that asks for it);
// the field card shows the reference, a tel: call-back link and a geo: navigation link
// and adds a note the console shows with its author; an action unticked on the phone
// is seen unticked at the console, and one unticked at the console on the phone.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { useHub, logIn, ROOT } from './hub.mjs';

const DESKTOP = { viewport: { width: 1366, height: 768 } };
const PHONE = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const SHOTS = join(ROOT, 'target', 'e2e-screenshots');

let users; // username → user

const { api, ui } = useHub({
  setup: async () => {
    users = Object.fromEntries((await api.get('/api/state', await api.login('admin'))).users.map((u) => [u.username, u]));
    mkdirSync(SHOTS, { recursive: true });
  },
});

async function must(token, command) {
  const r = await api.command(token, command);
  assert.ok(r.ok, `${command.kind}: ${JSON.stringify(r.error)}`);
  return r.data;
}

test('the board sends to all field staff; two phones acknowledge and the sender sees who, by name, live', async () => {
  const { page: board } = await ui.open('board', DESKTOP);
  await logIn(board, 'supervisor', '/board');
  const phones = {};
  for (const name of ['field1', 'field2']) {
    ({ page: phones[name] } = await ui.open(name, PHONE));
    await logIn(phones[name], name, '/field');
  }

  // "All field staff" is the first choice: only the people who answer from phones.
  assert.equal(await board.locator('#bc-audience').inputValue(), 'field');
  await board.locator('#bc-text').fill('Bridge Street closed: use the ring road');
  await board.locator('#bc-ack').check();
  await board.getByRole('button', { name: 'Send broadcast' }).click();

  const item = board.locator('#sent li[data-message]', { hasText: 'Bridge Street closed' });
  await item.waitFor();
  const field = Object.values(users).filter((u) => u.role === 'field' && !u.disabled);
  assert.match(await item.textContent(), /to all field staff:/, 'the audience in words');
  await item.getByText(`acknowledged by 0 of ${field.length}`).waitFor();
  const names = await item.locator('.ack-list li').allTextContents();
  assert.equal(names.length, field.length, 'one line per field user');
  for (const u of field) assert.ok(names.some((n) => n.startsWith(u.name)), `${u.name} listed`);
  assert.ok(!names.some((n) => n.startsWith(users.admin.name) || n.startsWith(users.operator.name)), 'no desks among the recipients');
  const line = (name) => item.locator(`.ack-list li[data-user="${users[name].id}"]`);
  assert.equal(await line('field1').getAttribute('data-acked'), 'false');
  assert.match(await line('field1').textContent(), /waiting/);

  // Each phone shows it with one Acknowledge button; the board flips that name live.
  let done = 0;
  for (const name of ['field1', 'field2']) {
    const msg = phones[name].locator('#messages .msg', { hasText: 'Bridge Street closed' });
    await msg.waitFor();
    if (name === 'field1') await phones[name].screenshot({ path: join(SHOTS, 'broadcast-field-phone.png') });
    await msg.getByRole('button', { name: 'Acknowledge message' }).click();
    await msg.waitFor({ state: 'detached' });
    done += 1;
    await board.locator(`#sent li[data-message] .ack-list li[data-user="${users[name].id}"][data-acked="true"]`).waitFor();
    await item.getByText(`acknowledged by ${done} of ${field.length}`).waitFor();
    assert.match(await line(name).textContent(), new RegExp(`^${users[name].name} — acknowledged \\d`));
  }
  assert.equal(await line('field5').getAttribute('data-acked'), 'false', 'the others still wait');
  await board.locator('#sent').screenshot({ path: join(SHOTS, 'broadcast-acks-board.png') });

  // Guidance names its operator, never user:usr_…
  await board.locator('#guide-to').selectOption(users.operator.id);
  await board.locator('#guide-text').fill('Take the next 999 call');
  await board.getByRole('button', { name: 'Send guidance' }).click();
  const guidance = board.locator('#sent li[data-message]', { hasText: 'Take the next 999 call' });
  await guidance.waitFor();
  assert.match(await guidance.textContent(), new RegExp(`to ${users.operator.name}:`));
  assert.doesNotMatch(await board.locator('#sent').textContent(), /user:|usr_/);
});

test('an information-only broadcast shows on a phone and a console, and is dismissed there; the console acknowledges one that asks', async () => {
  const { page: phone } = await ui.open('field3', PHONE);
  await logIn(phone, 'field3', '/field');
  const { page: desk } = await ui.open('console', DESKTOP);
  await logIn(desk, 'operator', '/console');
  const sup = await api.login('supervisor');
  await must(sup, { kind: 'message.broadcast', audience: 'all', text: 'Canteen closes at 22:00', requires_ack: false });

  const onPhone = phone.locator('#messages .msg', { hasText: 'Canteen closes' });
  await onPhone.waitFor();
  assert.equal(await onPhone.getByRole('button', { name: /Acknowledge/ }).count(), 0, 'nothing to acknowledge');
  const onDesk = desk.locator('#inbox .msg', { hasText: 'Canteen closes' });
  await onDesk.waitFor();
  assert.match(await onDesk.textContent(), new RegExp(`from ${users.supervisor.name}`));

  await onPhone.getByRole('button', { name: 'Dismiss' }).click();
  await onPhone.waitFor({ state: 'detached' });
  await onDesk.getByRole('button', { name: 'Dismiss' }).click();
  await onDesk.waitFor({ state: 'detached' });
  // One asking for acknowledgement stays until acknowledged, and the sender is told.
  const { message_id: shift } = await must(sup, { kind: 'message.broadcast', audience: 'all', text: 'Shift briefing at 22:30', requires_ack: true });
  const ask = desk.locator('#inbox .msg', { hasText: 'Shift briefing' });
  await ask.getByRole('button', { name: 'Acknowledge' }).click();
  await ask.waitFor({ state: 'detached' });
  const acks = (await api.get('/api/state', sup)).messages.find((m) => m.id === shift).acks;
  assert.ok(acks[users.operator.id], 'the operator acknowledged from the console');

  // A supervisor at the board is a recipient of `all` too, and acknowledges there
  // (double-clicked: once).
  const { page: board } = await ui.open('board-inbox', DESKTOP);
  await logIn(board, 'supervisor', '/board');
  const op = await api.login('operator');
  const { message_id: drill } = await must(op, { kind: 'message.broadcast', audience: 'all', text: 'Fire drill at 23:00', requires_ack: true });
  const onBoard = board.locator('#inbox .msg', { hasText: 'Fire drill' });
  await onBoard.getByRole('button', { name: 'Acknowledge' }).dblclick();
  await onBoard.waitFor({ state: 'detached' });
  const drillAcks = (await api.get('/api/state', sup)).messages.find((m) => m.id === drill).acks;
  assert.ok(drillAcks[users.supervisor.id], 'the supervisor acknowledged from the board');
  assert.equal(await board.locator('#errors').isVisible(), false, 'no refusal of a second acknowledgement');
  await board.context().close();

  // Dismissed stays dismissed in this browser.
  await phone.reload();
  await phone.waitForSelector('#conn[data-state="live"]');
  // The messages have rendered (field3 has not acknowledged the first test's one)…
  await phone.locator('#messages .msg', { hasText: 'Bridge Street closed' }).waitFor();
  assert.equal(await phone.locator('#messages .msg', { hasText: 'Canteen closes' }).count(), 0);
});

test('the field card: reference, call back, navigate, a note the console sees; untick both ways', async () => {
  const op = await api.login('operator');
  const f1 = await api.login('field1');
  const contact = (await api.intake({ channel: 'phone', caller: { name: 'Rita Caller', phone: '+44 20 7946 0123' },
    location: { text: 'Town Hall steps', lat: 51.5079, lon: -0.1283 }, summary: 'Woman fainted on the steps' })).data.contact_id;
  await must(op, { kind: 'contact.take', contact_id: contact });
  const { incident_id: incidentId } = await must(op, { kind: 'incident.open', contact_id: contact, type: 'medical_emergency',
    description: 'Woman fainted, now sitting up', location: { text: 'Town Hall steps', lat: 51.5079, lon: -0.1283 } });
  await must(op, { kind: 'incident.assess', incident_id: incidentId, validity: 'verified', priority: 'P2', method: 'manual', reason: 'caller is with her' });
  const { assignment_id: asg } = await must(op, { kind: 'assignment.create', incident_id: incidentId, resource_id: users.field1.resource_id,
    actions: [{ text: 'Check her breathing', required: true }, { text: 'Tell control the outcome' }] });
  await must(f1, { kind: 'assignment.acknowledge', assignment_id: asg });
  const reference = (await api.get(`/api/incidents/${incidentId}`, op)).reference;

  const { page: phone } = await ui.open('field1-card', PHONE);
  await logIn(phone, 'field1', '/field');
  const { page: desk } = await ui.open('console-card', DESKTOP);
  await logIn(desk, 'operator', '/console');
  await desk.evaluate((id) => { location.hash = `#incident=${id}`; }, incidentId);
  const row = desk.locator(`#page li[data-assignment="${asg}"]`);
  await row.waitFor();

  const card = phone.locator(`article[data-assignment="${asg}"]`);
  await card.waitFor();
  await card.getByText(reference).waitFor();
  const call = card.getByRole('link', { name: /Call Rita Caller back/ });
  await call.waitFor();
  assert.equal(await call.getAttribute('href'), 'tel:+442079460123');
  const nav = card.getByRole('link', { name: `Navigate to ${reference}` });
  assert.equal(await nav.getAttribute('href'), 'geo:51.507900,-0.128300?q=51.507900,-0.128300');

  // A note from the scene: the console shows it with who wrote it.
  await card.getByLabel('Add a note for control').fill('Ambulance not needed, she is walking');
  await card.getByRole('button', { name: 'Add note' }).dblclick(); // a hurried thumb: one note
  // The notes list, not the timeline (which also shows the note once it has refreshed).
  const note = desk.getByRole('list', { name: 'Notes' }).getByRole('listitem').filter({ hasText: 'Ambulance not needed' });
  await note.waitFor();
  await phone.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
  assert.match(await note.textContent(), new RegExp(users.field1.name));
  await phone.screenshot({ path: join(SHOTS, 'field-card-phone.png'), fullPage: true });

  // Tick, then untick on the phone with a reason: the console counts it undone.
  const box = card.getByRole('checkbox', { name: /Check her breathing/ });
  await box.check();
  await row.getByText('actions 1/2 done').waitFor();
  await card.getByText('Check her breathing — done').waitFor();
  await box.click();
  const reason = card.getByLabel(/Untick .*why is it not done/);
  await reason.fill('Ticked the wrong line');
  await card.getByRole('button', { name: 'Untick', exact: true }).dblclick();
  await row.getByText('actions 0/2 done').waitFor();
  assert.equal(await box.isChecked(), false);
  const detail = await api.get(`/api/incidents/${incidentId}`, op);
  assert.equal(detail.notes.filter((n) => n.text.includes('Ambulance not needed')).length, 1, 'one note per double tap');
  assert.equal(detail.timeline.filter((e) => e.event.kind === 'assignment.action_undone').length, 1, 'one untick per double tap');
  const undone = detail.timeline.find((e) => e.event.kind === 'assignment.action_undone');
  assert.equal(undone.event.reason, 'Ticked the wrong line');
  assert.equal(undone.actor, users.field1.id, 'the log says who unticked it');

  // The desk unticks (a radio report): the phone's box clears.
  await must(f1, { kind: 'assignment.action_done', assignment_id: asg, action_id: 'act_1' });
  await card.getByText('Check her breathing — done').waitFor();
  await row.getByRole('button', { name: /Untick “Check her breathing”/ }).click();
  await desk.getByLabel('Why is it not done after all?').fill('Unit says by radio: not yet');
  await desk.getByRole('button', { name: 'Untick', exact: true }).click();
  await row.getByText('actions 0/2 done').waitFor();
  await phone.waitForFunction((id) => !document.getElementById(id)?.checked, `act-${asg}-act_1`);
});
