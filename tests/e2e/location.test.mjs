// A new call from the console by keyboard alone (the `n` shortcut, phone preselected),
// and a location that means something: the centre's gazetteer searched by name and by
// postcode, its premise notes shown, a point picked on the map; and then the
// recommendations give a distance for every resource with a known position. Real hub,
// real Chromium; any console error fails the test. The hub asks a Nominatim-compatible
// stand-in on loopback for addresses. Saves new-call-desktop.png and
// map-pick-desktop.png.

import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { startHub, apiFor, launchBrowser, logIn, ROOT } from './hub.mjs';

const DESKTOP = { viewport: { width: 1366, height: 768 } };
const SHOTS = join(ROOT, 'target', 'e2e-screenshots');

let hub;
let ui;
let api;
let geocoder; // a Nominatim-compatible stand-in on loopback, asked by the hub only
const geocoded = []; // the queries it was asked

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  geocoder = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    geocoded.push({ path: url.pathname, format: url.searchParams.get('format'), q: url.searchParams.get('q') });
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify([{ place_id: 1, display_name: `${url.searchParams.get('q')}, Westminster, London`, lat: '51.5010', lon: '-0.1416' }]));
  });
  await new Promise((ok) => geocoder.listen(0, '127.0.0.1', ok));
  hub = await startHub({ env: { MUSTER_GEOCODER_URL: `http://127.0.0.1:${geocoder.address().port}` } });
  api = apiFor(hub.url);
  ui = await launchBrowser(hub.url);
});

after(async () => {
  await ui?.close();
  await hub?.stop();
  geocoder?.close();
});

afterEach(() => {
  assert.deepEqual(ui.takeErrors(), [], 'no console errors');
});

const focusedId = (page) => page.evaluate(() => document.activeElement?.id || '');

/** Assesses `incidentId` through the API (manual P2), so the page shows recommendations. */
async function assess(incidentId) {
  const token = await api.login('operator');
  const r = await api.command(token, { kind: 'incident.assess', incident_id: incidentId, validity: 'verified', priority: 'P2', method: 'manual', reason: 'located' });
  assert.ok(r.ok, JSON.stringify(r.error));
}

/**
 * Every recommendation has a distance (the hub's answer and the page): the incident's
 * position is known and every demo resource has one.
 */
async function distancesForEveryone(page, incidentId) {
  const token = await api.login('operator');
  const state = await api.get('/api/state', token);
  const positioned = new Set(state.resources.filter((r) => r.location?.lat != null).map((r) => r.id));
  const { recommendations } = await api.get(`/api/incidents/${incidentId}/recommendations`, token);
  assert.ok(recommendations.length > 0);
  for (const r of recommendations) {
    assert.ok(positioned.has(r.resource_id), `${r.name} has a position in the demo`);
    assert.equal(typeof r.distance_m, 'number', `${r.name}: ${r.summary}`);
    assert.ok(!r.reasons.includes('distance unknown'), r.summary);
  }
  const cards = page.locator('#recs .rec');
  await cards.first().waitFor();
  const texts = await cards.allTextContents();
  for (const t of texts) {
    assert.match(t, /\d+(\.\d+)? (km|m)\b/, t);
    assert.doesNotMatch(t, /distance unknown/, t);
  }
}

test('a walk-in call logged by keyboard alone, its place found by name and postcode, with premise notes; then distances for everyone', async () => {
  const { context, page } = await ui.open('new-call', DESKTOP);
  await logIn(page, 'operator', '/console');
  const button = page.locator('#new-call');
  assert.equal(await button.getAttribute('aria-keyshortcuts'), 'n');

  // `n` (focus on no field) opens the form, phone preselected, focus in the first field.
  await page.locator('body').press('n');
  await page.locator('#new-call-form').waitFor();
  assert.equal(await focusedId(page), 'nc-channel');
  assert.equal(await page.locator('#nc-channel').inputValue(), 'phone');
  // Typing `n` inside a field types it, and opens nothing twice.
  assert.equal(await page.locator('#new-call-form').count(), 1);

  // Walk-in, by type-ahead on the channel, then Tab through the form.
  await page.keyboard.type('walk');
  assert.equal(await page.locator('#nc-channel').inputValue(), 'walk_in');
  await page.keyboard.press('Tab');
  await page.keyboard.type('Pat Doe');
  await page.keyboard.press('Tab');
  await page.keyboard.type('07700 900999');
  await page.keyboard.press('Tab');
  await page.keyboard.type('Smell of burning near the plant room');
  await page.keyboard.press('Tab');
  const where = page.locator('#new-call-form [role="combobox"]');
  assert.equal(await where.evaluate((el) => el === document.activeElement), true, 'Tab reaches the location field');

  // By name: the gazetteer answers as the operator types.
  await page.keyboard.type('covent');
  const options = page.locator('#new-call-form [role="listbox"] [role="option"]');
  await options.first().waitFor();
  assert.equal(await where.getAttribute('aria-expanded'), 'true');
  assert.match(await options.first().textContent(), /Covent Garden Market/);
  // By postcode, however it is spaced and cased.
  await page.keyboard.press('Control+A');
  await page.keyboard.type('wc2n5du');
  await page.locator('#new-call-form [role="option"][data-place="civic-centre"]').waitFor();
  // The geocoder's results come below the gazetteer's, asked by the hub (the page's CSP
  // allows no other host).
  const fromGeocoder = page.locator('#new-call-form [role="option"][data-source="geocoder"]');
  await fromGeocoder.waitFor();
  assert.match(await fromGeocoder.textContent(), /wc2n5du, Westminster, London/);
  assert.deepEqual(await options.evaluateAll((els) => els.map((e) => e.dataset.source)), ['gazetteer', 'geocoder']);
  assert.ok(geocoded.some((g) => g.path === '/search' && g.format === 'jsonv2' && g.q === 'wc2n5du'), JSON.stringify(geocoded));
  await page.keyboard.press('ArrowDown');
  assert.match(await where.getAttribute('aria-activedescendant'), /-0$/);
  await page.keyboard.press('Enter');
  assert.equal(await where.inputValue(), 'Civic Centre');
  assert.equal(await where.getAttribute('aria-expanded'), 'false');
  // The place's premise notes show under the field.
  const notes = page.locator('#new-call-form .premise-notes');
  await notes.waitFor();
  assert.match(await notes.textContent(), /key safe code 4471/);
  assert.match(await page.locator('#new-call-form .loc-chosen').textContent(), /51\.5074, -0\.1278 · from the gazetteer/);
  await page.screenshot({ path: join(SHOTS, 'new-call-desktop.png') });

  // Enter in the field records the call; the operator lands on it in My contacts.
  await page.keyboard.press('Enter');
  const mine = page.locator('#mine form[data-contact]');
  await mine.waitFor();
  const contactId = await mine.getAttribute('data-contact');
  await page.waitForFunction((id) => document.activeElement?.closest(`#mine [data-contact="${id}"]`) && document.activeElement.name === 'type', contactId);

  // The log says who took it, and the place travelled with it.
  const token = await api.login('operator');
  const state = await api.get('/api/state', token);
  const contact = state.contacts.find ? state.contacts.find((c) => c.id === contactId) : state.contacts[contactId];
  const operator = state.users.find((u) => u.username === 'operator');
  assert.equal(contact.received_by, operator.id);
  assert.equal(contact.channel, 'walk_in');
  assert.deepEqual(contact.caller, { name: 'Pat Doe', phone: '07700 900999' });
  assert.equal(contact.location.place_id, 'civic-centre');

  // Open the incident from it, still by keyboard: type-ahead the type, Enter in the location.
  await page.keyboard.type('Medical');
  await page.locator(`#mine [data-contact="${contactId}"] [role="combobox"]`).focus();
  await page.keyboard.press('Enter');
  await page.locator('#page h2').filter({ hasText: 'Medical emergency' }).waitFor();
  const incidentId = decodeURIComponent(new URL(page.url()).hash.split('=')[1]);
  const opened = (await api.get('/api/state', token)).incidents;
  const incident = opened.find ? opened.find((i) => i.id === incidentId) : opened[incidentId];
  assert.deepEqual(incident.location, { text: 'Civic Centre', lat: 51.5074, lon: -0.1278, place_id: 'civic-centre' });
  // The incident view shows the premise notes too.
  await page.locator('#page .premise-notes').filter({ hasText: 'key safe code 4471' }).waitFor();

  await assess(incidentId);
  await distancesForEveryone(page, incidentId);

  // The next call about the same place shows the incident just opened there.
  await page.locator('#new-call').click();
  const again = page.locator('#new-call-form [role="combobox"]');
  await again.fill('civic');
  await page.locator('#new-call-form [role="option"][data-place="civic-centre"]').click();
  const history = page.locator('#new-call-form .premise-history');
  await history.waitFor();
  assert.match(await history.textContent(), new RegExp(`Previous incidents here \\(1\\).*${incident.reference}`));
  await context.close();
});

test('a point picked on the map becomes the location, and recommendations give distances', async () => {
  const { context, page } = await ui.open('map-pick', DESKTOP);
  await logIn(page, 'operator', '/console');
  await page.locator('#new-call').click();
  await page.locator('#nc-summary').fill('Fallen tree across the path');
  await page.locator('#new-call-form').getByRole('button', { name: 'Pick on map' }).click();
  const map = page.locator('#new-call-form .loc-map');
  await map.waitFor();
  // The map is no tab stop of its own (the field is the keyboard's way) and no
  // interactive element nests another.
  assert.equal(await map.getAttribute('tabindex'), null);
  const box = await map.boundingBox();
  await page.mouse.click(box.x + box.width * 0.6, box.y + box.height * 0.4);
  const where = page.locator('#new-call-form [role="combobox"]');
  await page.waitForFunction(() => /^-?\d+\.\d{4}, -?\d+\.\d{4}$/.test(document.querySelector('#new-call-form [role="combobox"]').value));
  await page.locator('#new-call-form .leaflet-marker-icon.picked').waitFor();
  const [lat, lon] = (await where.inputValue()).split(', ').map(Number);
  assert.ok(Math.abs(lat - 51.51) < 0.05 && Math.abs(lon + 0.12) < 0.1, `${lat}, ${lon} is near the demo centre`);
  assert.match(await page.locator('#new-call-form .loc-chosen').textContent(), /^Position /);
  await page.screenshot({ path: join(SHOTS, 'map-pick-desktop.png') });

  // Typed coordinates are the keyboard's way to the same.
  await where.fill('51.5101, -0.1301');
  await page.locator('#new-call-form .loc-chosen').filter({ hasText: 'Position 51.5101, -0.1301' }).waitFor();
  await where.fill(`${lat.toFixed(4)}, ${lon.toFixed(4)}`);

  await page.getByRole('button', { name: 'Record call' }).click();
  const mine = page.locator('#mine form[data-contact]');
  await mine.waitFor();
  await mine.locator('select[name="type"]').selectOption('medical_emergency');
  await mine.getByRole('button', { name: 'Open incident' }).click();
  await page.locator('#page h2').filter({ hasText: 'Medical emergency' }).waitFor();
  const incidentId = decodeURIComponent(new URL(page.url()).hash.split('=')[1]);
  await assess(incidentId);
  await distancesForEveryone(page, incidentId);
  await context.close();
});
