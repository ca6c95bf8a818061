// Accessibility: axe-core run in real Chromium on every page of every app, each in the
// state people work in (the console with an incident open, its new-call form with place
// suggestions and the map, the board with its map and
// an alert, the field app on a phone with an assignment open, the review page, the case
// and support-plan pages, the log-in page). The test fails on any violation of impact
// `serious` or `critical`, listing the rule, its impact and the elements concerned.
//
// axe is injected through the DevTools protocol (`page.evaluate` of its source), which
// the pages' strict CSP does not govern, so the pages run under their real CSP.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { useHub, logIn, quickEscalation } from './hub.mjs';
import { seedReview } from './seed.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const DESKTOP = { viewport: { width: 1366, height: 768 } };
const PHONE = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const BLOCKING = ['serious', 'critical'];

let seeded;
let story; // the open incident and its unacknowledged assignment

// The centre's procedures, with the urgent escalation's first rung after 1 s instead of
// 30 s, so the board has a real alert to show within the test.
const { api, ui } = useHub({
  centre: (toml) => quickEscalation(toml, 1),
  setup: async () => {
    seeded = await seedReview(api);
  },
});

/** Runs axe on `page` and fails on any serious or critical violation, naming `where`. */
async function audit(page, where) {
  await page.evaluate(() => document.fonts.ready);
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const blocking = result.violations.filter((v) => BLOCKING.includes(v.impact));
  const lesser = result.violations.filter((v) => !BLOCKING.includes(v.impact));
  if (lesser.length) console.log(`${where}: axe, not blocking:`, lesser.map((v) => `${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`));
  const report = blocking.map((v) => `${v.id} (${v.impact}): ${v.help}\n${v.nodes.map((n) => `    ${n.target.join(' ')}`).join('\n')}`);
  assert.deepEqual(report, [], `${where}: axe found serious or critical violations`);
  assert.deepEqual(await smallTargets(page), [], `${where}: touch targets under 44 × 44 px`);
  return result;
}

/**
 * Controls smaller than 44 × 44 px, as `selector w×h`: buttons, pickers, fields, the
 * header's links, the map's controls and its pins that can be pressed, and checkbox rows (a checkbox counts by
 * its label, the whole of which is the target). Links inside running text are exempt.
 */
function smallTargets(page) {
  return page.evaluate(() => {
    const seen = [];
    const controls = document.querySelectorAll('button, select, input:not([type=hidden]), textarea, a.navlink, [role=button], .leaflet-marker-icon.leaflet-interactive, .leaflet-bar a');
    for (const el of controls) {
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || el.closest('[hidden]')) continue;
      let box = el.getBoundingClientRect();
      if (!box.width && !box.height) continue;
      if (['checkbox', 'radio'].includes(el.type) && el.closest('label')) box = el.closest('label').getBoundingClientRect();
      if (box.width < 43.5 || box.height < 43.5) {
        const name = el.id ? `#${el.id}` : `${el.tagName.toLowerCase()}${el.className && typeof el.className === 'string' ? `.${el.className.trim().split(/\s+/).join('.')}` : ''}`;
        seen.push(`${name} "${(el.textContent || el.getAttribute('aria-label') || '').trim().slice(0, 30)}" ${Math.round(box.width)}×${Math.round(box.height)}`);
      }
    }
    return seen;
  });
}

async function openAs(name, user, path, options = DESKTOP) {
  const { context, page } = await ui.open(name, options);
  await logIn(page, user, path);
  return { context, page };
}

/** An open P1 incident with a coordinate and an unacknowledged assignment to a field user. */
async function incidentWithAssignment() {
  const token = await api.login('operator');
  const { data: { contact_id: contact } } = await api.intake({ channel: 'phone', caller: { name: 'Sam <b>Caller</b>' },
    location: { text: 'Town Hall steps', lat: 51.509, lon: -0.125 }, summary: 'Cyclist down, not moving' });
  await api.command(token, { kind: 'contact.take', contact_id: contact });
  const { data: { incident_id: incidentId } } = await api.command(token, { kind: 'incident.open', contact_id: contact, type: 'medical_emergency',
    description: 'Cyclist down after a fall', location: { text: 'Town Hall steps', lat: 51.509, lon: -0.125 } });
  await api.command(token, { kind: 'incident.assess', incident_id: incidentId, validity: 'verified', priority: 'P1', method: 'manual', reason: 'not moving' });
  const state = await api.get('/api/state', token);
  const free = state.resources.find((r) => r.status === 'available' && r.user_id && r.skills.includes('first_aid'));
  const r = await api.command(token, { kind: 'assignment.create', incident_id: incidentId, resource_id: free.id,
    actions: [{ text: 'Check breathing', required: true }, { text: 'Report to control', required: false }] });
  assert.ok(r.ok, JSON.stringify(r.error));
  return { incidentId, assignmentId: r.data.assignment_id, fieldUser: state.users.find((u) => u.id === free.user_id).username };
}

test('the log-in page, empty and with a refused log-in', async () => {
  const { context, page } = await ui.open('login', DESKTOP);
  await page.goto('/');
  await page.getByLabel('Username').waitFor();
  await audit(page, 'log-in page');
  await page.getByLabel('Username').fill('nobody');
  await page.getByLabel('Password').fill('wrong');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#login-error:not([hidden])').waitFor();
  await audit(page, 'log-in page with an error');
  // The refused log-in is the browser's one expected console error.
  assert.deepEqual(ui.takeErrors().filter((e) => !/status of 401/.test(e)), []);
  await context.close();
});

test('the board: columns, the map with its pins, and an alert', async () => {
  const { context, page } = await openAs('board', 'supervisor', '/board');
  await page.locator('#map .pin.res').first().waitFor({ state: 'attached' });
  story = await incidentWithAssignment();
  // The first rung of the urgent escalation fires after a second: a live alert.
  await page.locator('#alerts li.alert').first().waitFor({ timeout: 10000 });
  await page.locator('#map .pin.inc').first().waitFor({ state: 'attached' });
  await audit(page, 'board');
  // A pin's tooltip, as a keyboard user opens it.
  await page.locator('#map .pin.inc').first().focus();
  await page.locator('.leaflet-tooltip').first().waitFor();
  await audit(page, 'board with a map tooltip open');
  await context.close();
});

test('the console: queue, a taken contact, an incident open, as operator', async () => {
  assert.ok(story, 'the board test made the incident');
  await api.intake({ channel: 'sms', caller: { phone: '+44 7700 900123' }, location: { text: 'Riverside car park' }, summary: 'Tree branch blocking the exit' });
  // A long timeline: the incident page's timeline scrolls, and must be reachable by keyboard.
  const token = await api.login('operator');
  for (let n = 1; n <= 16; n++) await api.command(token, { kind: 'incident.note', incident_id: story.incidentId, text: `Update ${n} from the caller` });
  await api.intake({ channel: 'web', caller: { name: 'Lee' }, location: { text: 'Market square' }, summary: 'Lost child by the fountain' });
  const { context, page } = await openAs('console', 'operator', '/console');
  await page.getByRole('button', { name: /Take contact: Tree branch/ }).click();
  await page.locator('#mine form[data-contact]').waitFor();
  await page.locator(`#incidents [data-incident="${story.incidentId}"] button`).click();
  await page.locator(`#incidents li.selected[data-incident="${story.incidentId}"]`).waitFor();
  await page.locator('#recs .rec').first().waitFor();
  await page.waitForFunction(() => document.querySelectorAll('.timeline li').length > 16);
  await audit(page, 'console with an incident open');
  await context.close();
});

test('the console new-call form: gazetteer suggestions open, then the map with a picked point', async () => {
  const { context, page } = await openAs('new-call', 'operator', '/console');
  await page.locator('#new-call').click();
  const where = page.locator('#new-call-form [role="combobox"]');
  await where.fill('civic');
  await page.locator('#new-call-form [role="option"]').first().waitFor();
  await audit(page, 'new-call form with suggestions');
  await where.press('ArrowDown');
  await where.press('Enter');
  await page.locator('#new-call-form .premise-notes').waitFor();
  await page.locator('#new-call-form').getByRole('button', { name: 'Pick on map' }).click();
  const map = page.locator('#new-call-form .loc-map');
  await map.waitFor();
  const box = await map.boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 3);
  await page.locator('#new-call-form .leaflet-marker-icon.picked').waitFor();
  await audit(page, 'new-call form with the map');
  await context.close();
});

test('casework in the console: a case, a support plan, the new-case form, as supervisor', async () => {
  const { context, page } = await openAs('casework', 'supervisor', '/console');
  await page.goto(`/console#case=${encodeURIComponent(seeded.caseId)}`);
  await page.waitForSelector('#conn[data-state="live"]');
  await page.locator(`[data-evidence="${seeded.caseId}"] :not(.muted)`).first().waitFor();
  await audit(page, 'console: a closed case');
  await page.locator('#new-case').click();
  await page.locator('#nc-title').waitFor();
  await audit(page, 'console: open a case');
  await page.locator('#new-plan').click();
  await page.locator('#np-title').waitFor();
  await audit(page, 'console: propose support');
  await context.close();
});

test('the field app on a phone with an assignment open', async () => {
  assert.ok(story, 'the board test made the assignment');
  const { context, page } = await openAs('field', story.fieldUser, '/field', PHONE);
  await page.locator(`article[data-assignment="${story.assignmentId}"]`).waitFor();
  await audit(page, 'field app, a new assignment');
  await page.getByRole('button', { name: 'Decline', exact: true }).click();
  await page.locator(`article[data-assignment="${story.assignmentId}"] textarea`).waitFor();
  await audit(page, 'field app, declining');
  await page.getByRole('button', { name: 'Decline', exact: true }).click();
  await page.getByRole('button', { name: 'Acknowledge', exact: true }).click();
  await page.locator(`article[data-assignment="${story.assignmentId}"][data-status="acknowledged"]`).waitFor();
  await page.getByRole('checkbox').first().waitFor();
  await audit(page, 'field app, an acknowledged assignment');
  await context.close();
});

test('the review page, as supervisor and as an operator (refused)', async () => {
  const { context, page } = await openAs('review', 'supervisor', '/review');
  await page.waitForSelector('body[data-loaded="operator"]');
  await page.locator('#chart-dispatch .uplot canvas').waitFor();
  await audit(page, 'review page');
  await context.close();
  const op = await openAs('review-operator', 'operator', '/review');
  await op.page.locator('#denied:not([hidden])').waitFor();
  await audit(op.page, 'review page refused');
  await op.context.close();
});
