// The snapshot window in a real browser, on a generated year whose every finished item
// is long past the window: an old incident is not in the console's first snapshot, is
// still there one at a time, and shows in the console's open list once it is reopened
// (the console fetches an incident its store lacks when an event touches it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useHub, logIn } from './hub.mjs';

const { hub, api, ui } = useHub({ genLogEvents: 3000 });

test('an incident closed long ago is left out of the snapshot, and the console shows it once reopened', async () => {
  const old = Object.values(hub.generated.incidents).find((i) => i.status === 'closed');
  assert.ok(old, 'the generated log has a closed incident');
  const token = await api.login('operator');
  const state = await api.get('/api/state', token);
  assert.ok(Date.parse(state.closed_since) > Date.parse(old.closed_at), `${state.closed_since} is after ${old.closed_at}`);
  assert.ok(!state.incidents.some((i) => i.id === old.id), 'left out of the snapshot');
  assert.equal((await api.get(`/api/incidents/${old.id}`, token)).status, 'closed');

  const { page } = await ui.open('console', { viewport: { width: 1366, height: 768 } });
  await logIn(page, 'operator', '/console');
  const item = page.locator(`#incidents [data-incident="${old.id}"]`);
  assert.equal(await item.count(), 0);
  const r = await api.command(token, { kind: 'incident.reopen', incident_id: old.id, reason: 'the caller rang back' });
  assert.ok(r.ok, JSON.stringify(r.error));
  await item.waitFor({ timeout: 3000 });
  assert.equal(await item.getAttribute('data-status'), 'assessed');
});

test('a complaint about an incident closed long ago is opened by the reference the caller quotes', async () => {
  const old = Object.values(hub.generated.incidents).filter((i) => i.status === 'closed').at(-1);
  const token = await api.login('supervisor');
  const { page } = await ui.open('console-old-complaint', { viewport: { width: 1366, height: 768 } });
  await logIn(page, 'supervisor', '/console');
  await page.getByRole('button', { name: 'Open a case' }).click();
  assert.equal(await page.locator(`#nc-incident option[value="${old.id}"]`).count(), 0, 'not in the picker');
  await page.locator('#nc-type').selectOption('complaint');
  await page.locator('#nc-incident-ref').fill(old.reference);
  await page.locator('#nc-from').fill('A neighbour');
  await page.locator('#nc-text').fill('Nobody came for an hour.');
  await page.getByRole('button', { name: 'Open case' }).click();
  await page.getByRole('heading', { name: /^Complaint case_.* open$/ }).waitFor();
  const id = await page.locator('#case-list li.selected').getAttribute('data-case');
  const pack = await api.get(`/api/cases/${id}`, token);
  assert.deepEqual(pack.case?.incident_ids ?? pack.incident_ids, [old.id]);
});
