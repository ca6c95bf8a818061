// The procedure binds, in real Chromium against a real hub: the console will not
// assess by protocol with a required call-script question blank (the error shows at
// the question, and focus goes there), a supervisor waives it with a justification, and
// the field app asks for a reason for each undone required action before completing.
// Any console error or page error fails the test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useHub, logIn } from './hub.mjs';

const DESKTOP = { viewport: { width: 1366, height: 768 } };
const PHONE = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

const { api, ui } = useHub();

async function must(token, command) {
  const r = await api.command(token, command);
  assert.ok(r.ok, `${command.kind}: ${JSON.stringify(r.error)}`);
  return r.data;
}

/** A medical emergency opened through the API, shown on `desk`'s incident page. */
async function openOnConsole(desk, token, description) {
  const { incident_id: id } = await must(token, { kind: 'incident.open', type: 'medical_emergency',
    description, location: { text: 'Town Hall, east stairs' } });
  const row = desk.locator(`#incidents li[data-incident="${id}"] button`);
  await row.click();
  await desk.locator('#q-breathing').waitFor();
  return id;
}

const activeId = (page) => page.evaluate(() => document.activeElement?.id);

test('the console will not assess by protocol with required questions blank: marked in place, focus on the first', async () => {
  const token = await api.login('operator');
  const { page: desk } = await ui.open('console', DESKTOP);
  await logIn(desk, 'operator', '/console');
  const id = await openOnConsole(desk, token, 'Woman fell on the stairs');

  // Only the first required question answered.
  await desk.locator('#q-breathing').selectOption('yes');
  await desk.getByLabel('Validity', { exact: true }).selectOption('verified');
  await desk.getByLabel('Method', { exact: true }).selectOption('protocol');
  await desk.getByRole('button', { name: 'Assess' }).click();

  // Each unanswered required question says so next to itself; the answered one and the
  // optional one do not; focus is on the first missing one.
  for (const q of ['conscious', 'bleeding', 'casualties']) {
    await desk.locator(`#q-${q}-err`).filter({ hasText: /Required: ask the caller/ }).waitFor();
    assert.equal(await desk.locator(`#q-${q}`).getAttribute('aria-invalid'), 'true', q);
  }
  assert.equal(await desk.locator('#q-breathing-err').textContent(), '');
  assert.equal(await desk.locator('#q-hazards-err').textContent(), '');
  await desk.waitForFunction(() => document.activeElement?.id === 'q-conscious');
  // An operator is told who can waive the rule.
  await desk.locator('#override-offer').getByText(/Only a supervisor can waive/).waitFor();
  // Nothing was assessed, and the hub refuses the same on its own, naming the rule.
  await assert.rejects(api.command(token, { kind: 'incident.assess', incident_id: id, validity: 'verified', method: 'protocol' }),
    (e) => /422 .*"code":"procedure_violation".*conscious, bleeding, casualties".*"rule":"required_questions"/.test(e.message));
  assert.equal((await api.get(`/api/incidents/${id}`, token)).assessments.length, 0);

  // Answering clears each mark; with all required answered the assessment goes through.
  await desk.locator('#q-conscious').selectOption('yes');
  await desk.locator('#q-conscious-err').filter({ hasText: /^$/ }).waitFor({ state: 'attached' });
  assert.equal(await desk.locator('#q-conscious').getAttribute('aria-invalid'), null);
  await desk.locator('#q-bleeding').selectOption('minor');
  await desk.locator('#q-casualties').fill('1');
  await desk.locator('#q-casualties').press('Tab');
  await desk.getByRole('button', { name: 'Assess' }).click();
  await desk.locator(`#incidents li[data-incident="${id}"][data-status="assessed"]`).waitFor();
  const assessed = await api.get(`/api/incidents/${id}`, token);
  assert.equal(assessed.assessments[0].method, 'protocol');
  await desk.context().close();
});

test('a supervisor at the console waives required questions with a justification, then assesses', async () => {
  const token = await api.login('supervisor');
  const { page: desk } = await ui.open('console-sup', DESKTOP);
  await logIn(desk, 'supervisor', '/console');
  const id = await openOnConsole(desk, token, 'Caller hung up: man not breathing');
  await desk.locator('#q-breathing').selectOption('no');
  await desk.getByLabel('Method', { exact: true }).selectOption('protocol');
  await desk.getByRole('button', { name: 'Assess' }).click();
  await desk.waitForFunction(() => document.activeElement?.id === 'q-conscious');

  const why = desk.getByLabel('Justification for assessing without these answers');
  await why.fill('too short');
  await desk.getByRole('button', { name: 'Override required questions' }).click();
  await desk.locator('#override-justification-err').filter({ hasText: /at least 10 characters/ }).waitFor();
  assert.equal(await activeId(desk), 'override-justification');
  // The counter shows how much room is left.
  assert.match(await desk.locator('#override-offer .counter').textContent(), /^9 \/ 4000/);

  await why.fill('caller hung up after saying he is not breathing');
  await desk.getByRole('button', { name: 'Override required questions' }).click();
  await desk.locator('#override-offer').waitFor({ state: 'hidden' });
  await desk.getByRole('button', { name: 'Assess' }).click();
  await desk.locator(`#incidents li[data-incident="${id}"][data-status="assessed"]`).waitFor();
  const detail = await api.get(`/api/incidents/${id}`, token);
  assert.deepEqual(detail.overrides.map((o) => o.rule), ['required_questions']);
  assert.equal(detail.assessments[0].rule, 'not breathing');
  assert.equal(detail.priority, 'P1');
  await desk.context().close();
});

test('the field app asks for a reason for each undone required action before completing', async () => {
  const op = await api.login('operator');
  const { incident_id: incidentId } = await must(op, { kind: 'incident.open', type: 'medical_emergency',
    description: 'Child with a cut knee in the park', location: { text: 'Victoria Park, play area' } });
  await must(op, { kind: 'incident.assess', incident_id: incidentId, validity: 'verified', priority: 'P4', method: 'manual', reason: 'minor cut, parent present' });
  const state = await api.get('/api/state', op);
  const free = state.resources.find((r) => r.status === 'available' && r.user_id && r.skills.includes('first_aid'));
  const { assignment_id: asg } = await must(op, { kind: 'assignment.create', incident_id: incidentId, resource_id: free.id,
    actions: [{ text: 'Clean and dress the wound', required: true }, { text: 'Report the outcome to control', required: true },
      { text: 'Give the parent a leaflet', required: false }] });
  const username = state.users.find((u) => u.id === free.user_id).username;

  const { page: field } = await ui.open('field', PHONE);
  await logIn(field, username, '/field');
  const card = field.locator(`article[data-assignment="${asg}"]`);
  await card.waitFor();
  await field.getByRole('button', { name: 'Acknowledge', exact: true }).click();
  await field.getByRole('button', { name: 'En route' }).click();
  await field.locator(`article[data-assignment="${asg}"][data-status="en_route"]`).waitFor();
  await field.getByLabel('Clean and dress the wound').check();
  await field.waitForFunction(() => /done/.test(document.querySelector('.checklist li')?.textContent || ''));

  // Completing asks first: one reason for the undone required action, none for the
  // done one or the optional one. Nothing is sent yet.
  const sent = [];
  field.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(JSON.parse(f.payload))));
  await field.getByRole('button', { name: 'Completed' }).click();
  const reason = field.getByLabel('Why was “Report the outcome to control” not done?');
  await reason.waitFor();
  assert.equal(await field.locator('.skip-form textarea').count(), 1);
  assert.equal(await activeId(field), `skip-${asg}-act_2`);
  assert.equal((await api.get(`/api/incidents/${incidentId}`, op)).assignments[0].status, 'en_route');

  // A blank reason is pointed out next to its field.
  await field.getByRole('button', { name: 'Complete with these reasons' }).click();
  await field.locator(`#skip-${asg}-act_2-err`).filter({ hasText: /Say why/ }).waitFor();
  assert.equal(await activeId(field), `skip-${asg}-act_2`);
  assert.deepEqual(sent.filter((f) => f.type === 'command' && f.command.kind === 'assignment.progress'), []);

  await reason.fill('Radio dead; told control by phone');
  await field.getByRole('button', { name: 'Complete with these reasons' }).click();
  await field.locator(`article[data-assignment="${asg}"][data-status="completed"]`).waitFor();
  const detail = await api.get(`/api/incidents/${incidentId}`, op);
  const done = detail.timeline.find((e) => e.event.kind === 'assignment.progressed' && e.event.status === 'completed');
  assert.deepEqual(done.event.skipped, { act_2: 'Radio dead; told control by phone' });
  assert.equal(detail.assignments[0].actions[1].skipped, 'Radio dead; told control by phone');
  await field.context().close();

  // The desk sees what was left undone and why, on the incident page.
  const { page: desk } = await ui.open('console-after', DESKTOP);
  await logIn(desk, 'operator', '/console');
  await desk.locator(`#incidents li[data-incident="${incidentId}"] button`).click();
  await desk.locator(`#assignments [data-assignment="${asg}"] .skipped`)
    .filter({ hasText: 'Not done: Report the outcome to control — Radio dead; told control by phone' }).waitFor();
  await desk.context().close();
});
