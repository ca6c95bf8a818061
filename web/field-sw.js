// The field app's service worker (scope /field): keeps the app shell so a reload with
// no network still opens the app (with the tasks and queued taps the page itself kept
// in the browser's storage), and turns the hub's pushes into notifications whose
// Acknowledge action works without opening the app.
//
// What is cached: the shell only — the page, its scripts and styles, the icons and the
// manifest, the same for every user. Never the API (`/api/*`: tasks, incidents, names)
// or the WebSocket, so no personal data is ever in this cache. The shell is fetched
// network-first, so a new deploy shows up on the next load; the cache answers only
// when the network fails. The handlers are named functions on `self` so a test can
// call them (an untrusted synthetic event cannot wait).

const VERSION = 'muster-field-shell-v3';
const SHELL = [
  '/field',
  '/field.js',
  '/field.css',
  '/field-alerts.js',
  '/field-push.js',
  '/field.webmanifest',
  '/lib/app.css',
  '/lib/muster.js',
  '/lib/exercise.js',
  '/lib/settings.js',
  '/lib/debrief-link.js',
  '/lib/ui.js',
  '/lib/desk.js',
  '/lib/store.js',
  '/favicon.svg',
  '/favicon-alert.svg',
  '/icons/field-192.png',
  '/icons/field-512.png',
  '/icons/field-maskable-512.png',
  '/icons/apple-touch-icon.png',
];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(VERSION).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(self.cleanCaches().then(() => self.clients.claim()));
});

/** Removes the caches of earlier versions of this worker. */
self.cleanCaches = async function cleanCaches() {
  for (const name of await caches.keys()) {
    if (name !== VERSION && name.startsWith('muster-field-')) await caches.delete(name);
  }
};

/** The shell's cache key for a request, or null when it is not part of the shell. */
function shellKey(request) {
  if (request.method !== 'GET') return null;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return null;
  if (url.pathname.startsWith('/api/') || url.pathname === '/ws') return null;
  if (request.mode === 'navigate') return url.pathname === '/field' || url.pathname === '/field/' ? '/field' : null;
  return SHELL.includes(url.pathname) ? url.pathname : null;
}

self.addEventListener('fetch', (event) => {
  const key = shellKey(event.request);
  if (key) event.respondWith(self.shellFetch(event.request, key));
});

/**
 * Network first (and the cache refreshed with the answer); the cached copy offline, or
 * when a proxy in front of a restarting hub answers 5xx.
 */
self.shellFetch = async function shellFetch(request, key) {
  const cache = await caches.open(VERSION);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === 'basic') await cache.put(key, response.clone());
    if (response.status >= 500) return (await cache.match(key)) || response;
    return response;
  } catch (err) {
    const cached = await cache.match(key);
    if (cached) return cached;
    throw err;
  }
};

// ----- push ---------------------------------------------------------------------------

self.addEventListener('push', (event) => {
  event.waitUntil(self.showPush(event.data ? event.data.text() : ''));
});

/**
 * Shows the notification for one push payload (PROTOCOL.md, "Push"): title and body
 * as the hub wrote them, replacing an earlier one with the same tag (a renotify), and
 * staying until the user acts. An Acknowledge action when the payload has `ack_url`.
 */
self.showPush = async function showPush(text) {
  let p;
  try {
    p = JSON.parse(text);
  } catch {
    p = {};
  }
  if (!p || typeof p !== 'object') p = {};
  const title = typeof p.title === 'string' && p.title ? p.title : 'Muster: a new message from control';
  const data = {
    kind: p.kind,
    url: typeof p.url === 'string' && p.url ? p.url : '/field',
    ack_url: typeof p.ack_url === 'string' ? p.ack_url : null,
    assignment_id: p.assignment_id,
    reference: p.reference,
  };
  return self.registration.showNotification(title, {
    body: typeof p.body === 'string' ? p.body : '',
    tag: String(p.tag || p.assignment_id || p.message_id || 'muster'),
    renotify: true,
    requireInteraction: true,
    vibrate: [400, 150, 400, 150, 800],
    icon: '/icons/field-192.png',
    badge: '/icons/field-192.png',
    data,
    actions: data.ack_url ? [{ action: 'ack', title: 'Acknowledge' }] : [],
  });
};

self.addEventListener('notificationclick', (event) => {
  event.waitUntil(self.notificationClick(event.notification, event.action));
});

// Tags whose Acknowledge was already sent by this worker: a second tap (or a tap on a
// copy shown again) does not post the link again.
const acked = new Set();

/** A tap on the notification: `ack` acknowledges from here; anywhere else opens the app. */
self.notificationClick = async function notificationClick(notification, action) {
  const data = notification.data || {};
  if (action === 'ack' && data.ack_url) return self.acknowledge(notification);
  notification.close();
  return self.openApp(data.url || '/field');
};

/**
 * POSTs the notification's `ack_url` once, then replaces the notification with the
 * outcome in words: "Acknowledged — <reference>", or what went wrong and that the app
 * is the way to acknowledge now. Answers the outcome (`ok`, `done`, or the error).
 */
self.acknowledge = async function acknowledge(notification) {
  const data = notification.data || {};
  const tag = notification.tag || data.ack_url;
  if (acked.has(tag)) return 'done';
  acked.add(tag);
  let outcome;
  try {
    const res = await fetch(data.ack_url, { method: 'POST', credentials: 'omit', cache: 'no-store' });
    outcome = res.ok ? 'ok' : ({ 409: 'not_waiting', 410: 'expired', 404: 'invalid' }[res.status] || 'failed');
  } catch {
    outcome = 'unreachable';
  }
  // A failure that may pass (no network) lets a later tap try again.
  if (outcome === 'unreachable' || outcome === 'failed') acked.delete(tag);
  const ref = data.reference ? ` — ${data.reference}` : '';
  const words = {
    ok: [`Acknowledged${ref}`, 'Control can see you have taken this task.'],
    not_waiting: [`Not waiting any more${ref}`, 'This task was already acknowledged, declined or withdrawn. Open the app to see it.'],
    expired: [`Acknowledge link expired${ref}`, 'Open the app to acknowledge this task.'],
    invalid: [`Could not acknowledge${ref}`, 'The hub did not recognise this link. Open the app to acknowledge.'],
    unreachable: [`Not sent${ref}`, 'No connection to the hub. Open the app to acknowledge, or try again.'],
    failed: [`Could not acknowledge${ref}`, 'The hub refused. Open the app to acknowledge.'],
  }[outcome];
  notification.close();
  const retry = outcome === 'unreachable' || outcome === 'failed';
  await self.registration.showNotification(words[0], {
    body: words[1],
    tag,
    renotify: false,
    requireInteraction: outcome !== 'ok',
    icon: '/icons/field-192.png',
    data: { ...data, ack_url: retry ? data.ack_url : null, outcome },
    actions: retry ? [{ action: 'ack', title: 'Try again' }] : [],
  });
  return outcome;
};

/** Focuses an open field app window, or opens one at `url`. */
self.openApp = async function openApp(url) {
  const target = new URL(url, self.location.origin);
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const open = windows.find((w) => new URL(w.url).pathname.startsWith('/field'));
  if (open) return open.focus();
  return self.clients.openWindow(target.origin === self.location.origin ? target.href : '/field');
};
