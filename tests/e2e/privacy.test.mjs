// Staff transparency and erasure in the apps: a field user opens "Your location
// history" and sees the positions the hub keeps about their unit with the day each is
// erased; a caller erased by an admin disappears from the console at once and from
// its saved copy. Real hub, real Chromium; any console error fails the test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useHub, logIn } from './hub.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
const DESKTOP = { viewport: { width: 1366, height: 768 } };

const { api, ui } = useHub();

test('a field user sees their own location history and when each point is erased', async () => {
  const token = await api.login('field1');
  const state = await api.get('/api/state', token);
  const me = state.users.find((u) => u.username === 'field1');
  for (const [lat, lon] of [[51.5011, -0.1411], [51.5022, -0.1422]]) {
    const r = await api.command(token, { kind: 'resource.locate', resource_id: me.resource_id, lat, lon });
    assert.ok(r.ok, JSON.stringify(r.error));
  }
  const { page } = await ui.open('field1', PHONE);
  await logIn(page, 'field1', '/field');
  await page.getByText('Your location history').click();
  const table = page.locator('table.loc-history');
  await table.waitFor();
  assert.equal(await table.locator('tbody tr').count(), 2);
  assert.match(await page.locator('#loc-history-list').innerText(), /kept 30 days, then erased\. 2 positions kept/);
  const newest = await table.locator('tbody tr').first().innerText();
  assert.match(newest, /51\.5022, -0\.1422/);
  // The erase day the hub gives (the midnight 31 days after the point's day), as the
  // page words dates.
  const { locations } = await api.get('/api/me/locations', token);
  const at = new Date(locations[1].at);
  const midnight = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate() + 31);
  assert.equal(new Date(locations[1].erase_after).getTime(), midnight);
  const day = await page.evaluate((iso) => new Date(iso).toLocaleDateString([], { day: 'numeric', month: 'short', year: 'numeric' }), locations[1].erase_after);
  assert.ok(newest.includes(day), `${newest} names the erase day ${day}`);
});

test('an erased caller leaves the console and its saved copy', async () => {
  const op = await api.login('operator');
  const admin = await api.login('admin');
  const name = `Erin Erasable ${Math.random().toString(36).slice(2, 7)}`;
  const received = await api.command(op, { kind: 'contact.receive', channel: 'phone', caller: { name, phone: '+44 20 7946 0123' }, summary: 'A fox in the bins' });
  assert.ok(received.ok, JSON.stringify(received.error));
  const contact = received.data.contact_id;
  const { page } = await ui.open('console', DESKTOP);
  await logIn(page, 'operator', '/console');
  await page.getByText(name).first().waitFor();
  const closed = await api.command(op, { kind: 'contact.close', contact_id: contact, outcome: 'advice_given' });
  assert.ok(closed.ok, JSON.stringify(closed.error));
  const erased = await api.command(admin, { kind: 'privacy.erase', subject_id: `caller:${contact}`, reason: 'asked to be forgotten' });
  assert.ok(erased.ok, JSON.stringify(erased.error));
  // The console's store drops it and its saved copy is rewritten at once.
  await page.waitForFunction((n) => {
    const saved = Object.keys(localStorage).filter((k) => k.endsWith('.saved')).map((k) => localStorage.getItem(k)).join('');
    return saved.length > 0 && !saved.includes(n) && saved.includes('[erased]');
  }, name);
  assert.equal(await page.getByText(name).count(), 0);
});
