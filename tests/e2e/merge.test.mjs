// Merging a duplicate from the console, by keyboard: the duplicate leaves the open
// list and its caller shows on the survivor. A unit nobody carries the app for, once
// assigned, is shown prominently as "Call <unit> by radio" (the hub's first escalation
// rung, `call_by_radio`); the desk records the radio acknowledgement and the call
// clears. The board's override form offers the hub's own list of rules. Screenshots:
// console-merge.png, console-call-by-radio.png.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { useHub, logIn, ROOT } from './hub.mjs';

const SHOTS = join(ROOT, 'target', 'e2e-screenshots');
const DESKTOP = { viewport: { width: 1366, height: 768 } };

let op; // the operator's token, for setting up

const { api, ui } = useHub({
  setup: async () => {
    op = await api.login('operator2');
    mkdirSync(SHOTS, { recursive: true });
  },
});

async function waitFor(cond, what = 'condition', ms = 10000) {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A call taken and opened as an incident at `place`: its contact and incident ids. */
async function calledIn(name, summary, place) {
  const { data: { contact_id: contactId } } = await api.command(op, { kind: 'contact.receive', channel: 'phone', caller: { name },
    location: place, summary });
  await api.command(op, { kind: 'contact.take', contact_id: contactId });
  const { data: { incident_id: incidentId } } = await api.command(op, { kind: 'incident.open', contact_id: contactId, type: 'medical_emergency',
    description: summary, location: place });
  return { contactId, incidentId };
}

test('the console merges a duplicate into the incident it repeats, by keyboard', async () => {
  const place = { text: 'Riverside Park, bandstand', lat: 51.5101, lon: -0.1312 };
  const first = await calledIn('Ola First', 'Man collapsed by the bandstand', place);
  // Some other open incident, far away: offered, but after the suggested duplicate.
  await calledIn('Pat Elsewhere', 'Fainted on the bus', { text: 'Bus station, bay 4', lat: 51.53, lon: -0.09 });
  const second = await calledIn('Rui Second', 'Someone lying on the ground at the bandstand', place);
  const state = await api.get('/api/state', op);
  const ref = (id) => state.incidents.find((i) => i.id === id).reference;

  const { page: desk } = await ui.open('console-merge', DESKTOP);
  await logIn(desk, 'operator', '/console');
  await desk.goto(`/console#incident=${second.incidentId}`);
  await desk.waitForSelector('#conn[data-state="live"]');
  const into = desk.locator('#merge-into');
  await into.waitFor();
  // The suggested duplicate comes first, under its own heading.
  const options = await into.locator('option').evaluateAll((els) => els.map((o) => [o.value, o.parentElement.getAttribute('label')]));
  assert.deepEqual(options[1], [first.incidentId, 'Suggested duplicates'], JSON.stringify(options));
  assert.ok(options.slice(2).every(([id, group]) => id !== second.incidentId && group === 'Other open incidents'), JSON.stringify(options));

  // Keyboard only: a reason is needed, said next to the field.
  await into.focus();
  await desk.keyboard.press('ArrowDown');
  assert.equal(await into.inputValue(), first.incidentId);
  await desk.keyboard.press('Tab');
  assert.equal(await desk.evaluate(() => document.activeElement.id), 'merge-reason');
  await desk.keyboard.press('Enter');
  await desk.locator('#merge-error', { hasText: 'Say why' }).waitFor();
  assert.equal(await desk.evaluate(() => document.activeElement.id), 'merge-reason');
  await desk.keyboard.type('Same collapse, second caller');
  assert.equal(await desk.locator('#merge-error').isHidden(), true, 'the error goes once a reason is typed');
  await desk.screenshot({ path: join(SHOTS, 'console-merge.png') });
  await desk.keyboard.press('Enter');

  // The hub merged it: the duplicate is cancelled into the survivor, its caller moved.
  await waitFor(async () => (await api.get('/api/state', op)).incidents.find((i) => i.id === second.incidentId)?.merged_into === first.incidentId, 'merged');
  const after = await api.get('/api/state', op);
  const dup = after.incidents.find((i) => i.id === second.incidentId);
  const survivor = after.incidents.find((i) => i.id === first.incidentId);
  assert.equal(dup.status, 'cancelled');
  assert.equal(dup.cancel_reason, 'Same collapse, second caller');
  assert.deepEqual(survivor.contact_ids, [first.contactId, second.contactId]);
  assert.deepEqual(survivor.merged_from, [second.incidentId]);

  // The console: the duplicate is gone from the open list, the survivor is on the page
  // with both callers and names the duplicate merged into it.
  await desk.locator(`#incidents [data-incident="${second.incidentId}"]`).waitFor({ state: 'detached' });
  await desk.locator(`#incidents [data-incident="${first.incidentId}"]`).waitFor();
  await desk.locator('#page h2', { hasText: ref(first.incidentId) }).waitFor();
  await desk.locator('#callers li', { hasText: 'Rui Second' }).waitFor();
  await desk.locator('#callers li', { hasText: 'Ola First' }).waitFor();
  await desk.locator('#callers li', { hasText: `Merged here: ${ref(second.incidentId)}` }).waitFor();
  // And the duplicate is offered no more as a place to merge into.
  const left = await desk.locator('#merge-into option').evaluateAll((els) => els.map((o) => o.value));
  assert.ok(!left.includes(second.incidentId) && !left.includes(first.incidentId), JSON.stringify(left));
  await desk.close();
});

test('a unit without the app is called by radio; the radio acknowledgement clears the call', async () => {
  const state = await api.get('/api/state', op);
  const unit = state.resources.find((r) => r.name === 'Hana Ito');
  assert.ok(unit && !unit.user_id, 'Hana Ito has no app user');
  const { incidentId } = await calledIn('Vic Caller', 'Fell from a ladder in the yard', { text: 'Depot yard, gate 2', lat: 51.5, lon: -0.12 });
  await api.command(op, { kind: 'incident.assess', incident_id: incidentId, validity: 'verified', priority: 'P1', method: 'manual', reason: 'head injury' });

  const { page: desk } = await ui.open('console-radio', DESKTOP);
  await logIn(desk, 'operator', '/console');
  const calls = desk.locator('#radio-calls');
  assert.equal(await calls.isHidden(), true, 'nothing to call yet');
  const { data: { assignment_id: assignmentId } } = await api.command(op, { kind: 'assignment.create', incident_id: incidentId, resource_id: unit.id });

  // Prominent, by name, whichever incident is on the page.
  const call = calls.locator(`li[data-assignment="${assignmentId}"]`);
  await call.locator('strong', { hasText: 'Call Hana Ito by radio' }).waitFor();
  assert.equal(await calls.isVisible(), true);
  // The hub's ladder for it starts with call_by_radio and pushes nothing to the unit.
  await waitFor(async () => (await api.get(`/api/incidents/${incidentId}`, op)).timeline
    .some((e) => e.event.kind === 'assignment.escalated' && e.event.assignment_id === assignmentId), 'the first rung');
  const rungs = (await api.get(`/api/incidents/${incidentId}`, op)).timeline
    .filter((e) => e.event.kind === 'assignment.escalated' && e.event.assignment_id === assignmentId).map((e) => e.event);
  assert.deepEqual([rungs[0].level, rungs[0].action, rungs[0].channel], [1, 'call_by_radio', undefined]);
  await desk.screenshot({ path: join(SHOTS, 'console-call-by-radio.png') });

  // The desk records the radio acknowledgement (keyboard): the call clears.
  await call.getByRole('button', { name: 'Hana Ito acknowledged by radio' }).focus();
  await desk.keyboard.press('Enter');
  await call.waitFor({ state: 'detached' });
  await calls.waitFor({ state: 'hidden' });
  const a = (await api.get(`/api/incidents/${incidentId}`, op)).assignments.find((x) => x.id === assignmentId);
  assert.equal(a.status, 'acknowledged');
  const ack = (await api.get(`/api/incidents/${incidentId}`, op)).timeline.find((e) => e.event.kind === 'assignment.acknowledged');
  assert.equal(ack.event.via, 'radio');
  await desk.close();
});

test('the board offers exactly the rules the hub accepts, and its placeholder names one it accepts', async () => {
  const sup = await api.login('supervisor');
  const known = (await api.get('/api/catalogue', sup)).override_rules.map((r) => r.rule);
  assert.ok(known.includes('close_requires_actions') && known.includes('required_questions'), JSON.stringify(known));
  const { incidentId } = await calledIn('Kit Caller', 'Smell of burning in the lift', { text: 'Library, lift 1' });

  const { page: board } = await ui.open('board-override', DESKTOP);
  await logIn(board, 'supervisor', '/board');
  await board.waitForFunction((n) => document.querySelectorAll('#ov-rules option').length === n, known.length);
  const offered = await board.locator('#ov-rules option').evaluateAll((els) => els.map((o) => o.value));
  assert.deepEqual(offered, known, 'the list is the hub\'s, in its order');
  const placeholder = await board.locator('#ov-rule').getAttribute('placeholder');
  const example = placeholder.replace(/^e\.g\. /, '');
  assert.ok(known.includes(example), `the placeholder's rule ${example} is one the hub accepts`);

  // The example, sent as it stands, is accepted.
  await board.locator('#ov-incident').selectOption(incidentId);
  await board.locator('#ov-rule').fill(example);
  await board.locator('#ov-why').fill('Checked with the caller by phone');
  await board.getByRole('button', { name: 'Override' }).click();
  await waitFor(async () => (await api.get('/api/state', sup)).incidents.find((i) => i.id === incidentId).overrides?.some((o) => o.rule === example),
    'the override');
  await board.close();
});
