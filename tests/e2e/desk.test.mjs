// The operator's desk over a shift: a refusal shows next to the field it concerns in
// plain words (or in the alert region, still without the wire code), each incident has
// its own address that a reload keeps, and typed drafts survive a reload but not a
// log-out. Real hub, real Chromium; any console error fails the test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useHub, logIn } from './hub.mjs';

const DESKTOP = { viewport: { width: 1366, height: 768 } };

const { api, ui } = useHub();

/** A new incident opened through the API by `operator`; answers its id. */
async function newIncident(description) {
  const token = await api.login('operator');
  const r = await api.command(token, { kind: 'incident.open', type: 'medical_emergency', description, location: { text: 'Main library, reading room' } });
  assert.ok(r.ok, JSON.stringify(r.error));
  return r.data.incident_id;
}

async function openConsole(name) {
  const { context, page } = await ui.open(name, DESKTOP);
  await logIn(page, 'operator', '/console');
  return { context, page };
}

test('a refusal shows next to the field it concerns, in plain words; others in the alert region without the code', async () => {
  const id = await newIncident('Reader feels faint');
  const { context, page } = await openConsole('errors');
  await page.locator(`#incidents [data-incident="${id}"] button`).click();
  const reason = page.getByLabel('Reason', { exact: true });
  await reason.waitFor();

  // The manual method needs a reason: said under the Reason field, which is marked.
  await page.getByLabel('Priority', { exact: true }).selectOption('P3');
  await page.getByLabel('Method', { exact: true }).selectOption('manual');
  await page.getByRole('button', { name: 'Assess' }).click();
  const note = page.locator('#page .field-error[data-field]');
  await note.waitFor();
  assert.equal(await note.textContent(), 'the manual method needs a reason');
  assert.equal(await reason.getAttribute('aria-invalid'), 'true');
  assert.equal(await reason.getAttribute('aria-describedby'), await note.getAttribute('id'));
  assert.ok(await reason.evaluate((el) => el === document.activeElement), 'the field is focused');
  // It sits right after the field's label, not at the bottom of the page.
  assert.ok(await note.evaluate((n) => n.previousElementSibling.contains(document.querySelector('#page [name="reason"]'))));
  assert.equal(await page.locator('#errors').isHidden(), true, 'no toast for a field error');
  // Typing clears it; an accepted command leaves none.
  await reason.fill('Stable, sitting down');
  await note.waitFor({ state: 'detached' });
  assert.equal(await reason.getAttribute('aria-invalid'), null);
  await page.getByRole('button', { name: 'Assess' }).click();
  await page.locator(`#incidents [data-incident="${id}"][data-status="assessed"]`).waitFor();
  assert.equal(await page.locator('#page .field-error[data-field]').count(), 0);

  // A refusal about no field: in the alert region, in plain words, no wire code. A
  // dispatched incident cannot be closed before it is resolved.
  const token = await api.login('operator');
  const state = await api.get('/api/state', token);
  const free = state.resources.find((r) => r.status === 'available' && r.user_id && r.skills.includes('first_aid'));
  const assigned = await api.command(token, { kind: 'assignment.create', incident_id: id, resource_id: free.id });
  assert.ok(assigned.ok, JSON.stringify(assigned.error));
  await page.locator(`#incidents [data-incident="${id}"][data-status="dispatched"]`).waitFor();
  await page.getByRole('button', { name: 'Close incident' }).click();
  const toast = page.locator('#errors');
  await toast.waitFor();
  const text = await toast.textContent();
  assert.match(text, /^Not possible at this stage: /);
  assert.doesNotMatch(text, /invalid_transition|\(\w+_\w+\)/);
  assert.equal(await toast.getAttribute('data-code'), 'invalid_transition');
  await context.close();
});

test('each incident has its own address: a reload and a shared link open it', async () => {
  const first = await newIncident('Visitor slipped on the stairs');
  const second = await newIncident('Smoke smell in the basement');
  const { context, page } = await openConsole('address');
  const entries = await page.evaluate(() => history.length);
  await page.locator(`#incidents [data-incident="${first}"] button`).click();
  await page.waitForURL(`**/console#incident=${first}`);
  await page.locator(`#incidents [data-incident="${second}"] button`).click();
  await page.waitForURL(`**/console#incident=${second}`);
  assert.equal(await page.evaluate(() => history.length), entries, 'choosing incidents adds no history entries');

  await page.reload();
  await page.locator(`#incidents li.selected[data-incident="${second}"]`).waitFor();
  assert.match(await page.locator('#page h2').textContent(), /^INC-/);
  await page.locator('#script select').first().waitFor(); // the script is built, the catalogue in

  // Another address: the page follows the hash.
  await page.evaluate((id) => { location.hash = `#incident=${id}`; }, first);
  await page.locator(`#incidents li.selected[data-incident="${first}"]`).waitFor();
  // A case page is not an incident: the incident's address goes.
  await page.locator('#new-case').click();
  await page.locator('#nc-title').waitFor();
  assert.equal(new URL(page.url()).hash, '');
  await context.close();
});

test('typed drafts survive a reload, go once sent, and log-out leaves no muster. key', async () => {
  const id = await newIncident('Child with a cut hand');
  const { context, page } = await openConsole('drafts');
  await page.locator(`#incidents [data-incident="${id}"] button`).click();
  await page.getByLabel('Note', { exact: true }).fill('Mother on the way, ETA ten minutes');
  await page.getByLabel('Reason', { exact: true }).fill('Bleeding controlled');

  await page.reload();
  await page.locator(`#incidents li.selected[data-incident="${id}"]`).waitFor();
  assert.equal(await page.getByLabel('Note', { exact: true }).inputValue(), 'Mother on the way, ETA ten minutes');
  assert.equal(await page.getByLabel('Reason', { exact: true }).inputValue(), 'Bleeding controlled');

  // Sent: the note's draft goes (a reload shows an empty field), the reason's stays.
  await page.getByRole('button', { name: 'Add note' }).click();
  await page.locator('#page li', { hasText: 'Mother on the way' }).first().waitFor();
  assert.equal(await page.getByLabel('Note', { exact: true }).inputValue(), '');
  await page.reload();
  await page.locator(`#incidents li.selected[data-incident="${id}"]`).waitFor();
  assert.equal(await page.getByLabel('Note', { exact: true }).inputValue(), '');
  assert.equal(await page.getByLabel('Reason', { exact: true }).inputValue(), 'Bleeding controlled');
  const drafts = await page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.includes('.draft.')));
  assert.ok(drafts.length > 0 && drafts.every((k) => k.startsWith('muster.')), `drafts under muster.: ${drafts}`);

  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL((u) => u.pathname === '/');
  const left = await page.evaluate(() => [...Object.keys(sessionStorage), ...Object.keys(localStorage)].filter((k) => k.startsWith('muster.')));
  assert.deepEqual(left, []);
  await context.close();
});
