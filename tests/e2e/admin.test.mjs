// The /admin app of issue 20 in real Chromium against a real hub: the admin logs in and
// lands on /admin; registers a resource by keyboard alone and creates a field user who
// carries it through the forms; a duplicate username is refused next to the username
// field; axe finds nothing serious on the page. Then the new field user logs in (a
// second browser context), lands on the field app, and sees the assignment an operator
// makes (over the API) to the resource the admin registered. Any console error fails.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { useHub, ROOT } from './hub.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const DESKTOP = { viewport: { width: 1366, height: 768 } };
const PHONE = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const PACE = { delay: 20 };
const PASSWORD = 'a long enough password';

const { api, ui } = useHub();

async function must(token, command) {
  const r = await api.command(token, command);
  assert.ok(r.ok, `${command.kind}: ${JSON.stringify(r.error)}`);
  return r.data;
}

/** Logs in from the landing page (no `?next=`) and waits for where the role lands. */
async function logInHome(page, username, password, home) {
  await page.goto('/');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`**${home}`);
  await page.waitForSelector('#conn[data-state="live"]');
}

/** axe-core on the page: no violation of impact serious or critical. */
async function audit(page, where) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const blocking = result.violations.filter((v) => ['serious', 'critical'].includes(v.impact))
    .map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  assert.deepEqual(blocking, [], `${where}: axe found serious or critical violations`);
}

test('an admin creates a resource and its field user in /admin; the user logs in and receives an assignment', async () => {
  const { context, page } = await ui.open('admin', DESKTOP);
  await logInHome(page, 'admin', 'muster-demo', '/admin');
  await page.locator('#user-list tbody tr').first().waitFor();

  // A resource, by keyboard alone: focus its first field, type, Tab, Enter.
  await page.locator('#resource-create [name="name"]').focus();
  await page.keyboard.type('Rapid Medic 9', PACE);
  await page.keyboard.press('Tab'); // kind
  await page.keyboard.press('Tab');
  await page.keyboard.type('north', PACE);
  await page.keyboard.press('Tab');
  await page.keyboard.type('first_aid; driving', PACE);
  await page.keyboard.press('Tab');
  await page.keyboard.type('51.5074', PACE);
  await page.keyboard.press('Tab');
  await page.keyboard.type('-0.1278', PACE);
  await page.keyboard.press('Enter');
  const row = page.locator('#resource-list tbody tr', { hasText: 'Rapid Medic 9' });
  await row.waitFor();
  const resourceId = await row.getAttribute('data-resource');
  assert.match(resourceId, /^res_/);
  assert.equal(await page.locator('#resource-create [name="name"]').inputValue(), '', 'the form is cleared once accepted');
  // It joins the skills list the forms pick from.
  await page.locator('#skill-list li', { hasText: 'first_aid' }).waitFor();

  // Its field user, through the users form.
  const form = page.locator('#user-create');
  await form.locator('[name="username"]').fill('medic9');
  await form.locator('[name="name"]').fill('Morgan Medic');
  await form.locator('[name="role"]').selectOption('field');
  await form.locator('[name="resource_id"]').selectOption(resourceId);
  await form.locator('[name="password"]').fill(PASSWORD);
  await form.getByRole('button', { name: 'Create user' }).click();
  const userRow = page.locator('#user-list tbody tr', { hasText: 'medic9' });
  await userRow.waitFor();
  assert.match(await userRow.innerText(), /Rapid Medic 9/);
  assert.match(await row.innerText(), /medic9/, 'the resource shows who carries it');

  // The same username again: refused, next to the username field.
  await form.locator('[name="username"]').fill('medic9');
  await form.locator('[name="role"]').selectOption('operator');
  await form.locator('[name="password"]').fill(PASSWORD);
  await form.getByRole('button', { name: 'Create user' }).click();
  const err = form.locator('.field-error[data-field="username"]');
  await err.waitFor();
  assert.match(await err.innerText(), /taken/);
  assert.equal(await form.locator('[name="username"]').getAttribute('aria-invalid'), 'true');
  assert.equal(await page.locator('#user-list tbody tr', { hasText: 'medic9' }).count(), 1);

  await audit(page, '/admin');
  await page.screenshot({ path: join(ROOT, 'docs', 'screenshots', 'admin-desktop.png') });

  // The new field user logs in and lands on the field app.
  const phone = await ui.open('field', PHONE);
  await logInHome(phone.page, 'medic9', PASSWORD, '/field');

  // An operator sends the new resource to an incident.
  const op = await api.login('operator');
  const { incident_id } = await must(op, { kind: 'incident.open', type: 'medical_emergency',
    description: 'Cyclist down at the crossing', location: { text: 'Civic Centre', lat: 51.5074, lon: -0.1278 } });
  await must(op, { kind: 'incident.assess', incident_id, validity: 'verified', priority: 'P2', method: 'manual', reason: 'caller on scene' });
  const recs = await api.get(`/api/incidents/${incident_id}/recommendations`, op);
  assert.ok(recs.recommendations.some((r) => r.resource_id === resourceId), 'the new resource is recommended');
  const { assignment_id } = await must(op, { kind: 'assignment.create', incident_id, resource_id: resourceId });
  // The card, then the incident it fetches for it: what and where.
  const card = phone.page.locator(`article.card[data-assignment="${assignment_id}"]`);
  await card.filter({ hasText: 'Cyclist down at the crossing' }).waitFor();
  assert.match(await card.innerText(), /Civic Centre/);
  await card.getByRole('button', { name: 'Acknowledge' }).waitFor();

  await phone.context.close();
  await context.close();
});

test('an admin edits, disables and re-enables a user, renames a team and retires a resource', async () => {
  const admin = await api.login('admin');
  const { resource_id } = await must(admin, { kind: 'resource.register', name: 'Old Cart', resource_type: 'vehicle', team: 'yard' });
  await must(admin, { kind: 'resource.register', name: 'Yard Bike', resource_type: 'person', team: 'yard' });
  const { context, page } = await ui.open('admin-edit', DESKTOP);
  await logInHome(page, 'admin', 'muster-demo', '/admin');

  // Rename operator2 and make them a supervisor.
  const row = page.locator('#user-list tbody tr', { hasText: 'operator2' });
  await row.getByRole('button', { name: 'Edit operator2' }).click();
  const edit = page.locator('#user-edit');
  await edit.locator('[name="name"]').fill('Jordan Two');
  await edit.locator('[name="role"]').selectOption('supervisor');
  await edit.getByRole('button', { name: 'Save user' }).click();
  await page.locator('#user-list tbody tr', { hasText: 'Jordan Two' }).waitFor();
  assert.match(await row.innerText(), /supervisor/);

  // Disable, then enable.
  await row.getByRole('button', { name: 'Disable operator2' }).click();
  await row.getByRole('button', { name: 'Enable operator2' }).waitFor();
  await row.getByRole('button', { name: 'Enable operator2' }).click();
  await row.getByRole('button', { name: 'Disable operator2' }).waitFor();

  // Rename a team: both its resources move, in one batch.
  await page.getByRole('button', { name: 'Rename team yard' }).click();
  const rename = page.locator('#team-rename');
  await rename.locator('[name="team"]').fill('depot');
  await rename.getByRole('button', { name: 'Rename team' }).click();
  await page.locator('#team-list li[data-team="depot"]', { hasText: '2 resources' }).waitFor();
  assert.equal(await page.locator('#team-list li[data-team="yard"]').count(), 0);
  const moved = await api.get('/api/state', admin);
  assert.equal(moved.resources.filter((r) => r.team === 'depot').length, 2);

  // Retire: it leaves the list; the hub keeps it, retired.
  const cart = page.locator(`#resource-list tbody tr[data-resource="${resource_id}"]`);
  await cart.getByRole('button', { name: 'Retire Old Cart' }).click();
  await cart.waitFor({ state: 'detached' });
  const state = await api.get('/api/state', admin);
  assert.equal(state.resources.find((r) => r.id === resource_id)?.retired, true);
  await context.close();
});

test('an admin imports users from CSV: a dry run first, the errors by line, then the import', async () => {
  const { context, page } = await ui.open('admin-import', DESKTOP);
  await logInHome(page, 'admin', 'muster-demo', '/admin');
  const form = page.locator('#import-form');
  const apply = page.locator('#import-apply');
  const upload = (text) => form.locator('[name="file"]').setInputFiles({ name: 'users.csv', mimeType: 'text/csv', buffer: Buffer.from(text) });

  await form.locator('[name="what"]').selectOption('users');
  await upload('username,name,role\nclerk1,Clerk One,operator\nclerk2,Clerk Two,pilot\n');
  await form.getByRole('button', { name: 'Check (dry run)' }).click();
  const result = page.locator('#import-result');
  await result.locator('li', { hasText: 'Line 3' }).waitFor();
  assert.match(await result.innerText(), /2 rows read; 1 invalid: nothing was applied/);
  assert.equal(await apply.isDisabled(), true, 'no import while a row is invalid');

  await upload('username,name,role\nclerk1,Clerk One,operator\nclerk2,Clerk Two,supervisor\n');
  await form.getByRole('button', { name: 'Check (dry run)' }).click();
  await result.locator('p', { hasText: 'all valid' }).waitFor();
  await apply.click();
  await result.locator('p[data-applied="2"]').waitFor();
  // The new users are in the list, from the socket.
  await page.locator('#user-list tbody tr', { hasText: 'clerk2' }).waitFor();
  await context.close();
});
