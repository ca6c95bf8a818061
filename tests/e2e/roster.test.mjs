// Rosters in real Chromium against a real hub: a supervisor gives the best-placed
// first-aider a shift that ends in a few seconds. The board shows the coming shift
// change (who goes off, and when) as soon as the shift is added; the console's
// recommendations say the shift ends before the incident's resolve target. When the
// shift ends the hub puts the resource off duty by itself: the board moves it to the
// off-duty column and its shift change moves on, and the console's recommendations no
// longer offer it.
//
// The e2e hub runs on the wall clock, so the shift ends a few real seconds after it is
// added; the test waits on what the pages show, never a fixed pause.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useHub, logIn } from './hub.mjs';

const DESKTOP = { viewport: { width: 1366, height: 768 } };
const END_SECS = 15; // how long after it is added the shift ends

const { api, ui } = useHub();

async function must(token, command) {
  const r = await api.command(token, command);
  assert.ok(r.ok, `${command.kind}: ${JSON.stringify(r.error)}`);
  return r.data;
}

test('a resource whose shift ended is off duty and not recommended; the board shows the shift change', async () => {
  const op = await api.login('operator');
  const sup = await api.login('supervisor');
  const { incident_id: incident } = await must(op, { kind: 'incident.open', type: 'medical_emergency',
    description: 'Visitor fainted in reception', location: { text: 'Civic Centre, main entrance', lat: 51.5074, lon: -0.1278 } });
  await must(op, { kind: 'incident.assess', incident_id: incident, validity: 'verified', priority: 'P2', method: 'manual',
    reason: 'receptionist is with them' });
  const before = (await api.get(`/api/incidents/${incident}/recommendations`, op)).recommendations;
  assert.ok(before.length >= 2, 'several resources are recommended');
  const { resource_id: unit, name } = before[0];
  assert.equal(before[0].shift_ends_at, undefined, 'no rosters yet: no shift on any recommendation');

  // The supervisor's board and the operator's console, open before the roster changes.
  const { page: board } = await ui.open('board', DESKTOP);
  await logIn(board, 'supervisor', '/board');
  await board.locator('#shift-change').getByText('No shift starts or ends ahead.').waitFor();
  const { page: desk } = await ui.open('console', DESKTOP);
  await logIn(desk, 'operator', '/console');
  await desk.goto(`/console#incident=${incident}`);
  const card = desk.locator(`#recs .rec[data-resource="${unit}"]`);
  await card.waitFor();

  // On shift since an hour ago, until END_SECS from now (whole seconds, as the hub keeps them).
  const end = new Date(Math.ceil(Date.now() / 1000) * 1000 + END_SECS * 1000).toISOString();
  const start = new Date(Date.parse(end) - 3600_000 - END_SECS * 1000).toISOString();
  const { shift_id: shift } = await must(sup, { kind: 'roster.add', resource_id: unit, start, end });
  assert.match(shift, /^shf_\d+$/);

  // The board shows the coming change live: when, and who goes off.
  const change = board.locator('#shift-change');
  await board.waitForFunction((at) => document.getElementById('shift-change').dataset.at === at, end);
  await change.locator('.shift-off').getByText(`Off duty: ${name}`).waitFor();
  assert.equal(await change.locator('.shift-on').count(), 0, 'nobody comes on');

  // The console's recommendation says the shift ends before the resolve target (P2: 2 h),
  // in its list (reloaded on the roster event) and in the hub's answer.
  await card.locator('.shift-warning').getByText(/^shift ends \d\d:\d\d UTC, before the resolve target/).waitFor();
  const during = (await api.get(`/api/incidents/${incident}/recommendations`, op)).recommendations;
  const flagged = during.find((r) => r.resource_id === unit);
  assert.ok(flagged, 'still recommended while on shift');
  assert.equal(flagged.shift_ends_at && new Date(flagged.shift_ends_at).toISOString(), end);
  assert.match(flagged.shift_warning, /^shift ends \d\d:\d\d UTC, before the resolve target \d\d:\d\d UTC$/);
  assert.ok(flagged.reasons.includes(flagged.shift_warning));

  // The shift ends: the hub puts the unit off duty, the board moves it and its next
  // change moves on, and the console's recommendations drop it.
  await board.locator(`#resource-columns [data-column="off_duty"] [data-resource="${unit}"]`)
    .waitFor({ timeout: (END_SECS + 15) * 1000 });
  await board.waitForFunction((at) => document.getElementById('shift-change').dataset.at !== at, end);
  await change.getByText('No shift starts or ends ahead.').waitFor();
  await card.waitFor({ state: 'detached' });
  assert.ok(await desk.locator('#recs .rec').count() >= 1, 'the others are still recommended');

  const state = await api.get('/api/state', sup);
  assert.equal(state.resources.find((r) => r.id === unit).status, 'off_duty');
  const ended = state.shifts.find((s) => s.id === shift);
  assert.ok(ended.started_at && ended.ended_at, 'the hub recorded the shift start and end');
  const after = (await api.get(`/api/incidents/${incident}/recommendations`, op)).recommendations;
  assert.ok(!after.some((r) => r.resource_id === unit), 'not recommended once its shift ended');
});
