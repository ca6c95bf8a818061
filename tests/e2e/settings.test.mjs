// Settings instead of edits: a hub started with a centre name, a logo and a tile server
// (a tiny one on loopback, run by this test) shows them in real Chromium with no page
// edited: the header and title carry the name and the logo, the board's map loads its
// tiles from the tile server, and the Content-Security-Policy lets exactly that origin's
// images through (any blocked image would be a console error, which fails the test).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useHub, logIn } from './hub.mjs';

// A 1×1 PNG, for the tiles and the logo.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const tiles = [];
const tileServer = createServer((req, res) => {
  tiles.push(req.url);
  res.writeHead(200, { 'content-type': 'image/png', 'access-control-allow-origin': '*' });
  res.end(PNG);
});
const dir = mkdtempSync(join(tmpdir(), 'muster-settings-'));
const env = { MUSTER_CENTRE_NAME: 'Northshire Control', MUSTER_CENTRE_LOGO: join(dir, 'logo.png') };

// Before the hub starts (top-level await: node:test runs top-level hooks at once).
writeFileSync(env.MUSTER_CENTRE_LOGO, PNG);
await new Promise((ok) => tileServer.listen(0, '127.0.0.1', ok));
env.MUSTER_TILE_URL = `http://127.0.0.1:${tileServer.address().port}/{z}/{x}/{y}.png`;
env.MUSTER_TILE_ATTRIBUTION = 'Tiles &copy; the test';
after(() => {
  tileServer.close();
  rmSync(dir, { recursive: true, force: true });
});

const { hub, ui } = useHub({ env });

test('GET /api/settings serves the settings without a session, and the CSP names the tile origin', async () => {
  const res = await fetch(`${hub.url}/api/settings`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), {
    name: 'Northshire Control',
    logo_url: '/api/settings/logo',
    tile_url: env.MUSTER_TILE_URL,
    attribution: 'Tiles &copy; the test',
    max_zoom: 19,
    local_passwords: true,
  });
  const logo = await fetch(`${hub.url}/api/settings/logo`);
  assert.equal(logo.headers.get('content-type'), 'image/png');
  assert.deepEqual(Buffer.from(await logo.arrayBuffer()), PNG);
  const csp = (await fetch(`${hub.url}/`)).headers.get('content-security-policy');
  const origin = new URL(env.MUSTER_TILE_URL.replace(/\{.\}/g, '0')).origin;
  assert.match(csp, new RegExp(`img-src 'self' data: ${origin};`));
});

test('the apps show the centre name and logo, and the board draws the configured tiles', async () => {
  const { context, page } = await ui.open('board', { viewport: { width: 1366, height: 768 } });
  try {
    await logIn(page, 'supervisor', '/board');
    await page.waitForFunction(() => document.querySelector('header.bar h1')?.textContent.startsWith('Northshire Control'));
    assert.equal(await page.title(), 'Northshire Control board');
    const logoWidth = await page.locator('header.bar h1 img.centre-logo').evaluate((img) => img.complete && img.naturalWidth);
    assert.equal(logoWidth, 1, 'the logo loaded');
    await page.waitForFunction(() => document.querySelectorAll('#map img.leaflet-tile-loaded').length > 0, null, { timeout: 10000 });
    assert.ok(tiles.length > 0, 'the tile server was asked');
    assert.ok(tiles.every((u) => /^\/\d+\/\d+\/\d+\.png$/.test(u)), tiles.join(' '));
    assert.match(await page.locator('#map .leaflet-control-attribution').textContent(), /Tiles © the test/);
  } finally {
    await context.close();
  }
});
