// The field app as an installed app, in real headless Chromium against the real hub:
// the web app manifest and its icons; the service worker controls the app after log-in
// and a reload without network opens it, offline, with the acknowledgement queued
// before the reload; a push delivered to the service worker through the DevTools
// protocol shows a notification with an Acknowledge action that posts the link exactly
// once; a new task sounds, vibrates and marks the tab until acknowledged; denied
// notifications show the warning; the push card, subscribing and log-out, and the
// install hint. End to end: the hub pushes a new task to a push service on loopback,
// the test decrypts it and hands it to the worker, and Acknowledge on the
// notification, with the app closed, acknowledges the task once, by push.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { useHub, logIn, ROOT } from './hub.mjs';
import { waitFor } from './tap.mjs';
import { startPushService, newSubscriptionKeys, decryptPush } from './pushservice.mjs';

const SHOTS = join(ROOT, 'target', 'e2e-screenshots');
const PHONE = { viewport: { width: 375, height: 667 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };
const GRANTED = { ...PHONE, permissions: ['notifications'] };
const IPHONE_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

// The loopback push service the hub pushes to (http:// allowed on loopback, for tests);
// the played browser's subscriptions name push.example.test, a push service by setting.
let push;
const { hub, api, ui } = useHub({
  env: { MUSTER_PUSH_ALLOW_HTTP: '1', MUSTER_PUSH_CONTACT: 'mailto:control@muster.test', MUSTER_PUSH_ALLOWED_HOSTS: 'push.example.test' },
  setup: async () => {
    mkdirSync(SHOTS, { recursive: true });
    push = await startPushService();
  },
});
after(() => push?.close());

/** A free first-aider with a log-in: `{resourceId, username}`. */
async function freeFieldUser() {
  const state = await api.get('/api/state', await api.login('operator'));
  const free = state.resources.find((r) => r.status === 'available' && r.user_id && r.skills.includes('first_aid'));
  assert.ok(free, 'a free first-aider with a log-in');
  return { resourceId: free.id, username: state.users.find((u) => u.id === free.user_id).username };
}

/** An assessed P1 incident at `place` assigned to `resourceId`: its ids and reference. */
async function assign(resourceId, place) {
  const token = await api.login('operator');
  const { data: { incident_id: incidentId } } = await api.command(token, { kind: 'incident.open', type: 'medical_emergency',
    description: 'Cyclist down after a fall', location: { text: place } });
  await api.command(token, { kind: 'incident.assess', incident_id: incidentId, validity: 'verified', priority: 'P1', method: 'manual', reason: 'not moving' });
  const r = await api.command(token, { kind: 'assignment.create', incident_id: incidentId, resource_id: resourceId,
    actions: [{ text: 'Check breathing', required: true }] });
  assert.ok(r.ok, JSON.stringify(r.error));
  const detail = await api.get(`/api/incidents/${incidentId}`, token);
  return { incidentId, assignmentId: r.data.assignment_id, reference: detail.reference };
}

/** A task for a free first-aider: `assign`'s answer with the resource and username. */
async function newTask(place) {
  const who = await freeFieldUser();
  return { ...who, ...(await assign(who.resourceId, place)) };
}

/** Width and height from a PNG's IHDR chunk (and that it is a PNG at all). */
function pngSize(bytes) {
  const b = Buffer.from(bytes);
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
  assert.equal(b.subarray(12, 16).toString('latin1'), 'IHDR');
  return `${b.readUInt32BE(16)}x${b.readUInt32BE(20)}`;
}

test('the manifest is valid and installable: name, standalone, /field, icons that are PNGs of their stated sizes', async () => {
  const res = await fetch(`${hub.url}/field.webmanifest`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/manifest+json');
  const m = await res.json();
  assert.equal(m.name, 'Muster field');
  assert.ok(m.short_name && m.short_name.length <= 12, 'a short name for the home screen');
  assert.equal(m.display, 'standalone');
  assert.equal(m.start_url, '/field');
  assert.equal(m.scope, '/field');
  assert.match(m.theme_color, /^#[0-9a-f]{6}$/i);
  assert.match(m.background_color, /^#[0-9a-f]{6}$/i);
  const sizes = new Set();
  for (const icon of m.icons) {
    const r = await fetch(new URL(icon.src, hub.url));
    assert.equal(r.status, 200, icon.src);
    assert.equal(r.headers.get('content-type'), 'image/png', icon.src);
    assert.equal(icon.type, 'image/png');
    assert.equal(pngSize(await r.arrayBuffer()), icon.sizes, `${icon.src} is ${icon.sizes}`);
    sizes.add(`${icon.sizes} ${icon.purpose || 'any'}`);
  }
  for (const want of ['192x192 any', '512x512 any', '512x512 maskable']) assert.ok(sizes.has(want), `an icon ${want}`);

  // The page links it, and the Apple touch icon (180 px) for iPhones.
  const page = await fetch(`${hub.url}/field`);
  const html = await page.text();
  assert.match(html, /<link rel="manifest" href="\/field\.webmanifest">/);
  const touch = /<link rel="apple-touch-icon" href="([^"]+)">/.exec(html);
  assert.ok(touch, 'an Apple touch icon');
  const t = await fetch(new URL(touch[1], hub.url));
  assert.equal(pngSize(await t.arrayBuffer()), '180x180');
  // The policy names the worker and the manifest as this origin's.
  const csp = page.headers.get('content-security-policy');
  assert.match(csp, /worker-src 'self'/);
  assert.match(csp, /manifest-src 'self'/);
});

test('the service worker controls the field app; a reload without network opens it offline with the acknowledgement queued before', async () => {
  const task = await newTask('Civic Centre, floor 2 lifts');
  const { context, page } = await ui.open('offline-reload', GRANTED);
  await logIn(page, task.username, '/field');
  await page.waitForFunction(() => navigator.serviceWorker.controller?.scriptURL.endsWith('/field-sw.js'));
  const scope = await page.evaluate(async () => (await navigator.serviceWorker.getRegistration('/field')).scope);
  assert.equal(new URL(scope).pathname, '/field');
  const card = page.locator(`article[data-assignment="${task.assignmentId}"]`);
  await card.getByText('Civic Centre, floor 2 lifts').waitFor();

  // The shell only is cached: nothing of the API (tasks, places, names).
  const cached = await page.evaluate(async () => {
    const urls = [];
    for (const name of await caches.keys()) for (const r of await (await caches.open(name)).keys()) urls.push(new URL(r.url).pathname);
    return urls;
  });
  for (const path of ['/field', '/field.js', '/lib/muster.js', '/lib/store.js', '/field.webmanifest']) assert.ok(cached.includes(path), `${path} cached`);
  assert.deepEqual(cached.filter((p) => p.startsWith('/api/') || p === '/ws'), [], 'nothing of the API cached');

  await context.setOffline(true);
  await page.waitForSelector('#conn[data-state="offline"]');
  await card.getByRole('button', { name: 'Acknowledge', exact: true }).click();
  await card.getByText('Acknowledgement queued').waitFor();

  // Reload with no network: the worker answers from its cache, and the app starts from
  // the store and outbox it kept.
  const response = await page.reload();
  assert.ok(response.fromServiceWorker(), 'the page came from the service worker');
  await page.waitForSelector('#conn[data-state="offline"]');
  assert.match(await page.locator('#conn').textContent(), /Offline · 1 queued/);
  await card.getByText('Acknowledgement queued').waitFor();
  await card.getByText('Civic Centre, floor 2 lifts').waitFor();
  assert.equal((await api.get(`/api/incidents/${task.incidentId}`, await api.login('operator'))).assignments[0].status, 'notified');

  // Back online: the queued acknowledgement goes, once.
  await context.setOffline(false);
  await page.locator(`article[data-assignment="${task.assignmentId}"][data-status="acknowledged"]`).waitFor();
  const detail = await api.get(`/api/incidents/${task.incidentId}`, await api.login('operator'));
  assert.equal(detail.timeline.filter((e) => e.event.kind === 'assignment.acknowledged').length, 1);
  await context.close();
});

test('a push delivered to the service worker shows a notification whose Acknowledge posts the link exactly once', async () => {
  const task = await newTask('Riverside car park');
  const { context, page } = await ui.open('push', GRANTED);
  await logIn(page, task.username, '/field');
  await page.waitForFunction(() => navigator.serviceWorker.controller);

  // The acknowledge link, counted where the worker's request meets the network.
  const posts = [];
  await context.route('**/api/push/ack/**', async (route) => {
    posts.push({ method: route.request().method(), url: route.request().url() });
    await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ assignment_id: task.assignmentId, status: 'acknowledged' }) });
  });

  const cdp = await context.newCDPSession(page);
  const registrations = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => registrations.push(...e.registrations));
  await cdp.send('ServiceWorker.enable');
  await waitFor(() => registrations.some((r) => !r.isDeleted && new URL(r.scopeURL).pathname === '/field'), 'the registration');
  const { registrationId } = registrations.find((r) => !r.isDeleted && new URL(r.scopeURL).pathname === '/field');
  const ackUrl = `${hub.url}/api/push/ack/e2e-${task.assignmentId}`;
  const payload = {
    kind: 'assignment', title: 'Medical emergency · P1', body: 'Riverside car park — Check breathing', tag: task.assignmentId,
    url: '/field', assignment_id: task.assignmentId, incident_id: task.incidentId, reference: task.reference,
    incident_type: 'medical_emergency', priority: 'P1', place: 'Riverside car park', ack_url: ackUrl,
  };
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: new URL(hub.url).origin, registrationId, data: JSON.stringify(payload) });

  const shown = () => page.evaluate(async (tag) => (await (await navigator.serviceWorker.ready).getNotifications({ tag }))
    .map((n) => ({ title: n.title, body: n.body, tag: n.tag, actions: n.actions.map((a) => ({ action: a.action, title: a.title })), requireInteraction: n.requireInteraction })), task.assignmentId);
  await waitFor(async () => (await shown()).length === 1, 'the notification');
  const [n] = await shown();
  assert.equal(n.title, 'Medical emergency · P1');
  assert.equal(n.body, 'Riverside car park — Check breathing');
  assert.deepEqual(n.actions, [{ action: 'ack', title: 'Acknowledge' }]);
  assert.equal(n.requireInteraction, true);

  // The worker's Acknowledge, twice at once and once more after: one POST.
  const sw = context.serviceWorkers().find((w) => w.url().endsWith('/field-sw.js'));
  assert.ok(sw, 'the service worker');
  const outcomes = await sw.evaluate(async (tag) => {
    const [note] = await self.registration.getNotifications({ tag });
    const both = await Promise.all([self.notificationClick(note, 'ack'), self.notificationClick(note, 'ack')]);
    return [...both, await self.notificationClick(note, 'ack')];
  }, task.assignmentId);
  assert.deepEqual(outcomes.sort(), ['done', 'done', 'ok']);
  assert.equal(posts.length, 1, 'the link was posted once');
  assert.deepEqual(posts[0], { method: 'POST', url: ackUrl });
  await waitFor(async () => (await shown())[0]?.title === `Acknowledged — ${task.reference}`, 'the notification says acknowledged');
  assert.deepEqual((await shown())[0].actions, [], 'nothing left to press');

  // A link past its window: the notification says so and sends to the app.
  await context.unrouteAll();
  await context.route('**/api/push/ack/**', (route) => route.fulfill({ status: 410, contentType: 'application/json', body: JSON.stringify({ error: { code: 'ack_link_expired' } }) }));
  const late = await sw.evaluate(async (p) => {
    await self.showPush(JSON.stringify({ ...p, tag: 'asg_late', ack_url: `${p.ack_url}-late` }));
    const [note] = await self.registration.getNotifications({ tag: 'asg_late' });
    const outcome = await self.notificationClick(note, 'ack');
    const [now] = await self.registration.getNotifications({ tag: 'asg_late' });
    return { outcome, title: now.title, body: now.body, actions: now.actions.length };
  }, payload);
  assert.deepEqual(late, { outcome: 'expired', title: `Acknowledge link expired — ${task.reference}`, body: 'Open the app to acknowledge this task.', actions: 0 });

  // A push without an ack link (a message) has no action.
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: new URL(hub.url).origin, registrationId,
    data: JSON.stringify({ kind: 'message', title: 'Message from control', body: 'Bridge Street closed', tag: 'msg_e2e', url: '/field' }) });
  await waitFor(async () => (await page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications({ tag: 'msg_e2e' })).length)) === 1, 'the message');
  assert.deepEqual(await page.evaluate(async () => (await (await navigator.serviceWorker.ready).getNotifications({ tag: 'msg_e2e' }))[0].actions.length), 0);
  await context.close();
});

// Records the alarm (every vibration and every tone started), and plays a background
// tab: headless Chromium shows every page, so `toBackground()` makes this one report
// itself hidden and get no animation frames (as a tab behind another gets none) until
// `toForeground()`.
function recordAlarm() {
  window.alarmLog = { vibrations: 0, tones: 0 };
  window.audioContexts = [];
  navigator.vibrate = () => { window.alarmLog.vibrations += 1; return true; };
  const Real = window.AudioContext;
  window.AudioContext = class extends Real {
    constructor(...args) {
      super(...args);
      window.audioContexts.push(this);
    }

    createOscillator() {
      const osc = super.createOscillator();
      const start = osc.start.bind(osc);
      osc.start = (...a) => { window.alarmLog.tones += 1; return start(...a); };
      return osc;
    }
  };
  let hidden = false;
  const held = [];
  const frame = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (fn) => (hidden ? held.push(fn) : frame(fn));
  Object.defineProperty(Document.prototype, 'visibilityState', { get: () => (hidden ? 'hidden' : 'visible') });
  Object.defineProperty(Document.prototype, 'hidden', { get: () => hidden });
  const flip = (to) => { hidden = to; document.dispatchEvent(new Event('visibilitychange')); };
  window.toBackground = () => flip(true);
  window.toForeground = () => { flip(false); for (const fn of held.splice(0)) frame(fn); };
}

test('a new task sounds, vibrates and marks the tab, again and again, in a background tab too, until acknowledged', async () => {
  const who = await freeFieldUser();
  const { context, page } = await ui.open('loud', GRANTED);
  await context.addInitScript(recordAlarm);
  await logIn(page, who.username, '/field');
  await page.locator('#me').click(); // a touch: sound may play from now on
  await page.waitForFunction(() => window.audioContexts.length === 1 && window.audioContexts[0].state === 'running');
  assert.equal(await page.title(), 'Muster field');

  // The app goes to the background: hidden, and no animation frames.
  await page.evaluate(() => window.toBackground());
  const log = () => page.evaluate(() => ({ ...window.alarmLog }));
  const before = await log();
  const { assignmentId: second } = await assign(who.resourceId, 'Library steps');
  // Bounds, not pauses: a loaded machine (CI) may take seconds to deliver and ring.
  await page.waitForFunction(() => document.title === '● New task — Muster field', null, { timeout: 15000 });
  assert.equal(await page.locator('link[rel="icon"]').getAttribute('href'), '/favicon-alert.svg');
  await waitFor(async () => (await log()).vibrations >= before.vibrations + 1 && (await log()).tones >= before.tones + 1, 'the first ring', 15000);
  // It repeats.
  await waitFor(async () => (await log()).vibrations >= before.vibrations + 2, 'a second ring', 15000);
  assert.ok((await log()).tones >= before.tones + 6 * 2, 'the tones played twice');

  // Acknowledged: quiet again, title and favicon restored, and no ring after.
  assert.equal(await page.locator(`article[data-assignment="${second}"]`).count(), 0, 'the card is drawn in the next frame only');
  await page.evaluate(() => window.toForeground());
  await page.locator(`article[data-assignment="${second}"]`).getByRole('button', { name: 'Acknowledge', exact: true }).click();
  await page.waitForFunction(() => document.title === 'Muster field');
  assert.equal(await page.locator('link[rel="icon"]').getAttribute('href'), '/favicon.svg');
  const stopped = await log();
  // Over more than one ring's interval (4 s), nothing rings.
  const until = Date.now() + 5000;
  await waitFor(async () => Date.now() > until || (await log()).vibrations !== stopped.vibrations, 'a quiet interval', 8000);
  assert.deepEqual(await log(), stopped, 'no ring after the acknowledgement');
  await context.close();
});

test('notifications denied: the app says they are off and what to do', async () => {
  const { context, page } = await ui.open('denied', PHONE); // no notification grant: the browser says no
  await logIn(page, 'field5', '/field');
  await page.getByRole('button', { name: 'Turn on notifications' }).click();
  const warning = page.locator('#push[data-push="denied"]');
  await warning.getByRole('heading', { name: 'Notifications are off' }).waitFor();
  assert.match(await warning.textContent(), /Site settings.*Allow/);
  assert.match(await warning.textContent(), /keep this app open/);
  // The app still works.
  await page.getByRole('button', { name: 'Share my location' }).waitFor();
  assert.equal(await page.locator('#conn').getAttribute('data-state'), 'live');
  await context.close();
});

test('the push card explains why; where no push service answers, it says push is unavailable and the app carries on', async () => {
  const task = await newTask('Station forecourt');
  const { context, page } = await ui.open('push-card', GRANTED);
  await logIn(page, task.username, '/field');
  await page.locator(`article[data-assignment="${task.assignmentId}"]`).getByText('Station forecourt').waitFor();
  const card = page.locator('#push[data-push="ask"]');
  await card.getByText('so a new task reaches you with the phone in your pocket').waitFor();
  await page.evaluate(() => document.fonts.ready);
  await page.screenshot({ path: join(SHOTS, 'field-install-push.png') });

  await card.getByRole('button', { name: 'Turn on notifications' }).click();
  const unavailable = page.locator('#push[data-push="unavailable"]');
  await unavailable.getByRole('heading', { name: 'Push notifications are unavailable' }).waitFor({ timeout: 15000 });
  // Chromium has no push service in a private window (and says so on the console).
  assert.deepEqual(ui.takeErrors().filter((e) => !/does not support the Push API in incognito/.test(e)), []);
  assert.match(await unavailable.textContent(), /keep this app open/);
  await page.getByRole('button', { name: 'Acknowledge', exact: true }).click();
  await page.locator(`article[data-assignment="${task.assignmentId}"][data-status="acknowledged"]`).waitFor();
  await context.close();
});

// A push service that answers: Chromium has none in a private window, so PushManager is
// played by the page (`subscribe` records what it was asked, `getSubscription` answers
// the one made, or one made before the load when `window.subscribedBefore` is set) and
// every call is reported to the test through `pushRecord`.
function fakePushService(made) {
  let current = null;
  const sub = {
    endpoint: made.endpoint,
    toJSON() { return { endpoint: this.endpoint, expirationTime: null, keys: { p256dh: made.p256dh, auth: made.auth } }; },
    async unsubscribe() { current = null; window.pushRecord({ call: 'unsubscribe' }); return true; },
  };
  PushManager.prototype.subscribe = async function subscribe(options) {
    const key = new Uint8Array(options.applicationServerKey);
    const base64url = btoa(String.fromCharCode(...key)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    window.pushRecord({ call: 'subscribe', userVisibleOnly: options.userVisibleOnly, key: base64url });
    current = sub;
    return sub;
  };
  PushManager.prototype.getSubscription = async function getSubscription() {
    return current ?? (localStorage.getItem('e2e.subscribedBefore') ? sub : null);
  };
}

const SUBSCRIPTION = { endpoint: 'https://push.example.test/send/e2e-endpoint', p256dh: 'BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U', auth: 'tBHItJI5svbpez7KI4CCXg' };

/**
 * A phone page with the played push service handing out `made` (`SUBSCRIPTION`);
 * answers the page, its calls and the commands it sent.
 */
async function withPushService(name, made = SUBSCRIPTION) {
  const { context, page } = await ui.open(name, GRANTED);
  const calls = [];
  await context.exposeBinding('pushRecord', (_, what) => calls.push(what));
  await context.addInitScript(fakePushService, made);
  const sent = [];
  page.on('websocket', (ws) => ws.on('framesent', (f) => {
    const frame = JSON.parse(f.payload);
    if (frame.type === 'command') sent.push(frame.command);
  }));
  return { context, page, calls, sent };
}

test('turning notifications on subscribes with the hub\'s key and sends push.subscribe with the endpoint and keys', async () => {
  const { context, page, calls, sent } = await withPushService('subscribe');
  await logIn(page, 'field6', '/field');
  await page.locator('#push[data-push="ask"]').getByRole('button', { name: 'Turn on notifications' }).click();
  await waitFor(() => sent.some((c) => c.kind === 'push.subscribe'), 'push.subscribe sent');
  const { public_key: hubKey } = await (await fetch(`${hub.url}/api/push/key`)).json();
  assert.deepEqual(calls[0], { call: 'subscribe', userVisibleOnly: true, key: hubKey }, 'subscribed with the hub\'s key');
  assert.deepEqual(sent.filter((c) => c.kind === 'push.subscribe'), [{ kind: 'push.subscribe', endpoint: 'https://push.example.test/send/e2e-endpoint',
    keys: { p256dh: 'BEl62iUYgUivxIkv69yViEuiBIa-Ib9-SkvMeAtA3LFgDzkrxZJjSgSnfckjBJuBkr3qBUYIHBQFLXYp5Nksh8U', auth: 'tBHItJI5svbpez7KI4CCXg' } }]);
  await page.locator('#push[data-push="on"]').getByText('Notifications are on').waitFor();
  // Shown only once the hub accepted push.subscribe; the browser keeps its subscription.
  assert.deepEqual(calls.map((c) => c.call), ['subscribe'], 'the subscription kept');
  assert.equal(await page.locator('#conn').getAttribute('data-state'), 'live');
  await context.close();
});

test('the hub pushes a new task to the app\'s subscription; with the app closed, Acknowledge on the notification acknowledges it once, by push', async () => {
  const who = await freeFieldUser();
  const keys = newSubscriptionKeys();
  const made = { endpoint: `${push.url}/field/${who.username}`, p256dh: keys.p256dh, auth: keys.auth };
  const { context, page, sent } = await withPushService('closed-app', made);
  await logIn(page, who.username, '/field');
  await page.locator('#push[data-push="ask"]').getByRole('button', { name: 'Turn on notifications' }).click();
  await page.locator('#push[data-push="on"]').getByText('Notifications are on').waitFor();
  assert.deepEqual(sent.filter((c) => c.kind === 'push.subscribe').map((c) => c.endpoint), [made.endpoint]);
  await page.waitForFunction(() => navigator.serviceWorker.controller);

  // The app is closed; a page elsewhere on the site holds the DevTools session.
  const other = await context.newPage();
  await other.goto('/');
  await page.close();
  const cdp = await context.newCDPSession(other);
  const registrations = [];
  cdp.on('ServiceWorker.workerRegistrationUpdated', (e) => registrations.push(...e.registrations));
  await cdp.send('ServiceWorker.enable');
  await waitFor(() => registrations.some((r) => !r.isDeleted && new URL(r.scopeURL).pathname === '/field'), 'the registration');
  const { registrationId } = registrations.find((r) => !r.isDeleted && new URL(r.scopeURL).pathname === '/field');

  // A new task: the hub pushes it to the subscription, encrypted for its keys.
  const task = await assign(who.resourceId, 'Bandstand, the park');
  const got = await push.waitFor((r) => r.path === `/field/${who.username}`);
  const payload = decryptPush(got.body, keys);
  assert.equal(payload.kind, 'assignment');
  assert.equal(payload.assignment_id, task.assignmentId);
  assert.ok(payload.ack_url, 'an acknowledge link');

  // The phone's push service hands it to the service worker: a notification.
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: new URL(hub.url).origin, registrationId, data: JSON.stringify(payload) });
  await waitFor(() => context.serviceWorkers().some((w) => w.url().endsWith('/field-sw.js')), 'the worker running');
  const sw = context.serviceWorkers().find((w) => w.url().endsWith('/field-sw.js'));
  const shown = () => sw.evaluate(async (tag) => (await self.registration.getNotifications({ tag })).map((n) => ({ title: n.title, body: n.body, actions: n.actions.map((a) => a.title) })), payload.tag);
  // A worker woken by the push on a loaded machine (the CI run's browser tests follow
  // its load suite) has taken longer than the default 5 s to show it.
  await waitFor(async () => (await shown()).length === 1, 'the notification', 20000);
  const [n] = await shown();
  assert.equal(n.title, payload.title);
  assert.match(n.title, /P1/, 'the title names the priority');
  assert.deepEqual(n.actions, ['Acknowledge']);

  // Acknowledge, pressed twice at once and once more: one acknowledgement, by push.
  const outcomes = await sw.evaluate(async (tag) => {
    const [note] = await self.registration.getNotifications({ tag });
    const both = await Promise.all([self.notificationClick(note, 'ack'), self.notificationClick(note, 'ack')]);
    return [...both, await self.notificationClick(note, 'ack')];
  }, payload.tag);
  assert.deepEqual(outcomes.sort(), ['done', 'done', 'ok']);
  await waitFor(async () => (await shown())[0]?.title === `Acknowledged — ${payload.reference}`, 'the notification says acknowledged');
  const detail = await api.get(`/api/incidents/${task.incidentId}`, await api.login('operator'));
  const acks = detail.timeline.filter((e) => e.event.kind === 'assignment.acknowledged');
  assert.equal(acks.length, 1, 'one acknowledgement');
  assert.equal(acks[0].event.via, 'push');
  assert.equal(detail.assignments.find((a) => a.id === task.assignmentId).status, 'acknowledged');
  await context.close();
});

test('a subscription left by a session that ended without log-out is dropped, not taken over', async () => {
  const task = { username: 'field1' }; // no task needed
  const { context, page, calls } = await withPushService('orphan');
  await context.addInitScript(() => localStorage.setItem('e2e.subscribedBefore', '1'));
  await logIn(page, task.username, '/field');
  await page.locator('#push[data-push="ask"]').getByRole('button', { name: 'Turn on notifications' }).waitFor();
  assert.deepEqual(calls, [{ call: 'unsubscribe' }]);
  await context.close();
});

test('log-out removes the push subscription (hub and browser) and the notifications still shown', async () => {
  const task = { username: 'field2' }; // no task needed
  const userId = (await api.get('/api/state', await api.login('admin'))).users.find((u) => u.username === task.username).id;
  const { context, page, calls, sent } = await withPushService('logout');
  // Subscribed earlier in this session (as the hub would have accepted it).
  await context.addInitScript((key) => {
    localStorage.setItem('e2e.subscribedBefore', '1');
    if (sessionStorage.getItem('muster.session')) localStorage.setItem(key, JSON.stringify('https://push.example.test/send/e2e-endpoint'));
  }, `muster.${userId}.push`);
  await logIn(page, task.username, '/field');
  await page.locator('#push[data-push="on"]').getByText('Notifications are on').waitFor();
  await page.waitForFunction(() => navigator.serviceWorker.controller);
  const shown = () => page.evaluate(async () => (await (await navigator.serviceWorker.getRegistration('/field')).getNotifications()).length);
  const sw = context.serviceWorkers().find((w) => w.url().endsWith('/field-sw.js'));
  await sw.evaluate(() => self.showPush(JSON.stringify({ kind: 'assignment', title: 'Medical emergency · P1', body: 'Quayside', tag: 'asg_x', url: '/field' })));
  await waitFor(async () => (await shown()) === 1, 'a notification shown');

  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL((url) => url.pathname === '/');
  assert.deepEqual(sent.filter((c) => c.kind === 'push.unsubscribe'), [{ kind: 'push.unsubscribe', endpoint: 'https://push.example.test/send/e2e-endpoint' }]);
  assert.deepEqual(calls, [{ call: 'unsubscribe' }], 'the browser dropped its subscription');
  assert.equal(await shown(), 0, 'no notification left');
  assert.deepEqual(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('muster.'))), [], 'nothing of the user kept');
  await context.close();
});

test('where the browser offers installing, the hint has an Install button that asks it', async () => {
  const task = { username: 'field3' }; // no task needed
  const { context, page } = await ui.open('install', PHONE);
  await logIn(page, task.username, '/field');
  await page.evaluate(() => {
    const e = new Event('beforeinstallprompt', { cancelable: true });
    e.prompt = async () => { window.prompted = (window.prompted || 0) + 1; };
    e.userChoice = Promise.resolve({ outcome: 'accepted' });
    dispatchEvent(e);
    window.installDefaultPrevented = e.defaultPrevented;
  });
  assert.equal(await page.evaluate(() => window.installDefaultPrevented), true, 'the browser\'s own banner waits for the button');
  const hint = page.locator('#install .install-hint');
  await hint.getByRole('button', { name: 'Install the app' }).click();
  await hint.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => window.prompted), 1);
  await context.close();
});

test('on iPhone Safari the install hint says Share → Add to Home Screen; dismissed, it stays away', async () => {
  const task = { username: 'field4' }; // no task needed
  const { context, page } = await ui.open('iphone', { ...PHONE, userAgent: IPHONE_UA });
  await logIn(page, task.username, '/field');
  const hint = page.locator('#install .install-hint');
  await hint.getByText('tap Share, then Add to Home Screen').waitFor();
  await hint.getByRole('button', { name: 'Not now' }).click();
  await hint.waitFor({ state: 'detached' });
  await page.reload();
  await page.waitForSelector('#conn[data-state="live"]');
  await page.locator('#push[data-push]').waitFor({ state: 'attached' });
  assert.equal(await page.locator('#install .install-hint').count(), 0, 'not shown again');
  await context.close();
});
