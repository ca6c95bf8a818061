#!/usr/bin/env node
// Draws the field app's icons (web/icons/*.png) from the same artwork as the favicon,
// in headless Chromium: run once after changing the artwork, and commit the PNGs.
//   node scripts/field-icons.mjs     (needs the e2e tests' packages: cd tests/e2e && npm ci)
// `any` icons keep the favicon's rounded square on a transparent ground; the maskable
// icon and the Apple touch icon are full-bleed (the platform cuts its own shape), with
// the mark inside the central safe zone.

import { createRequire } from 'node:module';
import { writeFileSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { chromium } = createRequire(join(ROOT, 'tests/e2e/package.json'))('playwright-core');

const NAVY = '#10243e';
const GREEN = '#7ef29a';
const MARK = `<path d="M7 24V8l9 9 9-9v16" stroke="${GREEN}" stroke-width="3.5" fill="none"/>`;
const rounded = readFileSync(join(ROOT, 'web/favicon.svg'), 'utf8');
// Full bleed, the mark scaled to the inner 60 % (the maskable safe zone is a circle of 80 %).
const bleed = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" fill="${NAVY}"/><g transform="translate(16 16) scale(0.72) translate(-16 -16)">${MARK}</g></svg>`;

const ICONS = [
  ['field-192.png', 192, rounded],
  ['field-512.png', 512, rounded],
  ['field-maskable-512.png', 512, bleed],
  ['apple-touch-icon.png', 180, bleed],
];

const browser = await chromium.launch({ executablePath: process.env.MUSTER_CHROMIUM || '/usr/bin/chromium', args: ['--headless', '--no-sandbox'] });
for (const [name, size, svg] of ICONS) {
  const page = await browser.newPage({ viewport: { width: size, height: size }, deviceScaleFactor: 1 });
  const src = `data:image/svg+xml;base64,${Buffer.from(svg).toString('base64')}`;
  await page.setContent(`<style>html,body{margin:0;background:transparent}img{display:block}</style><img width="${size}" height="${size}" src="${src}">`);
  await page.waitForFunction(() => document.images[0].complete);
  writeFileSync(join(ROOT, 'web/icons', name), await page.screenshot({ omitBackground: true, clip: { x: 0, y: 0, width: size, height: size } }));
  await page.close();
}
await browser.close();
console.log(`wrote ${ICONS.map(([n]) => n).join(', ')} to web/icons/`);
