// The field app as an installed app on the phone: its service worker (the shell kept
// for offline reloads, pushes shown as notifications), Web Push for this person (asked
// for after log-in, with the reason), and a hint on how to install the app.

import { h, fill, setBusy, explain } from './lib/ui.js';

const SCOPE = '/field';
const HINT_KEY = 'muster-field.install-hint'; // a device preference, no personal data

/** Registers the service worker; answers its registration, or null where there is none. */
export async function registerWorker() {
  if (!('serviceWorker' in navigator)) return null;
  try {
    return await navigator.serviceWorker.register('/field-sw.js', { scope: SCOPE });
  } catch (e) {
    console.warn('muster: no service worker', e);
    return null;
  }
}

/** base64url (unpadded) → bytes, as `applicationServerKey` takes them. */
function fromBase64Url(s) {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function pushSupported() {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

function isIos() {
  return /iPhone|iPad|iPod/.test(navigator.userAgent) || (navigator.platform === 'MacIntel' && navigator.maxTouchPoints > 1);
}

function standalone() {
  return matchMedia('(display-mode: standalone)').matches || navigator.standalone === true;
}

/**
 * The push card in `box`: why, and a button to turn notifications on; the warning when
 * they are off; the outcome in words. `client` sends `push.subscribe`; `registration`
 * is `registerWorker()`'s promise.
 */
export function pushCard(client, box, registration) {
  let state = 'checking';
  let detail = '';

  const show = (next, why = '') => {
    state = next;
    detail = why;
    box.dataset.push = state;
    render();
  };

  function render() {
    const title = (text) => h('h2', { id: 'push-title' }, text);
    const keepOpen = 'Until then keep this app open: new tasks still sound and vibrate while it is.';
    const views = {
      checking: () => [],
      ask: () => h('div', { class: 'push-card' },
        title('Get new tasks with the phone in your pocket'),
        h('p', {}, 'Turn on notifications so a new task reaches you with the phone in your pocket, and acknowledge it from the notification.'),
        detail && h('p', { class: 'field-error', role: 'alert' }, detail),
        h('button', { id: 'push-on', class: 'big', type: 'button', onclick: turnOn }, 'Turn on notifications')),
      on: () => h('p', { class: 'push-on muted', role: 'status' }, 'Notifications are on for this phone.'),
      denied: () => h('div', { class: 'push-card warn', role: 'alert' },
        title('Notifications are off'),
        h('p', {}, 'New tasks cannot reach you while the app is closed or the phone is locked.'),
        h('p', {}, 'To turn them on: open this site’s settings in the browser (the icon left of the address, or ⋮ → Site settings), set Notifications to Allow, then reload this page.'),
        h('p', {}, h('strong', {}, keepOpen))),
      unsupported: () => h('div', { class: 'push-card warn' },
        title('Notifications are not available here'),
        h('p', {}, isIos() && !standalone()
          ? 'On iPhone, notifications work once Muster is on the Home Screen: tap Share, then Add to Home Screen, and open it from there.'
          : 'This browser cannot receive push notifications.'),
        h('p', {}, h('strong', {}, keepOpen))),
      unavailable: () => h('div', { class: 'push-card warn' },
        title('Push notifications are unavailable'),
        h('p', { role: 'status' }, detail),
        h('p', {}, h('strong', {}, keepOpen)),
        h('button', { id: 'push-on', class: 'big secondary', type: 'button', onclick: turnOn }, 'Try again')),
    };
    fill(box, views[state]());
  }

  async function turnOn(e) {
    const button = e?.currentTarget;
    if (button?.getAttribute('aria-busy') === 'true') return;
    if (button) setBusy([button], true);
    try {
      await subscribe();
    } finally {
      if (button?.isConnected) setBusy([button], false);
    }
  }

  async function subscribe() {
    const permission = await Notification.requestPermission();
    if (permission === 'denied') return show('denied');
    if (permission !== 'granted') return show('ask', 'Notifications were not allowed: press the button again and choose Allow.');
    if (client.state !== 'live') return show('ask', 'You are offline: turn notifications on once the connection is back.');
    let key;
    try {
      const res = await fetch('/api/push/key');
      if (!res.ok) return show('unavailable', 'The hub does not offer push notifications.');
      key = (await res.json()).public_key;
    } catch {
      return show('ask', 'The hub cannot be reached: try again once the connection is back.');
    }
    const reg = await navigator.serviceWorker.ready;
    let sub;
    try {
      sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: fromBase64Url(key) });
    } catch (err) {
      return show('unavailable', `This browser could not reach its push service (${err.message || err.name}).`);
    }
    const { endpoint, keys } = sub.toJSON();
    try {
      await client.command({ kind: 'push.subscribe', endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } });
    } catch (err) {
      await sub.unsubscribe().catch(() => {});
      return show('unavailable', err.code === 'bad_request' ? 'The hub does not offer push notifications.' : explain(err).text);
    }
    client.keep('push', endpoint);
    show('on');
  }

  /**
   * Where things stand: a subscription this user made in this session is `on`; one
   * left by an earlier session that ended without log-out (it may be someone else's)
   * is dropped, so the hub's next push to it is answered `gone` and it is forgotten.
   */
  async function check() {
    if (!pushSupported()) return show('unsupported');
    if (Notification.permission === 'denied') return show('denied');
    const reg = await registration;
    const sub = await reg?.pushManager.getSubscription().catch(() => null);
    if (sub && client.kept('push', null) !== sub.endpoint) {
      await sub.unsubscribe().catch(() => {});
      return show('ask');
    }
    show(sub && Notification.permission === 'granted' ? 'on' : 'ask');
  }

  check();
  // Notifications turned off (or on again) in the site settings while the app is open.
  navigator.permissions?.query({ name: 'notifications' })
    .then((status) => { status.onchange = () => { if (state !== 'unavailable') check(); }; })
    .catch(() => {});

  return { get state() { return state; } };
}

/**
 * Log-out on this phone: the hub forgets the subscription (`push.unsubscribe`, when
 * live; `POST /api/logout` removes it anyway), the browser drops it, and the
 * notifications still shown (they name places) are closed. Bounded to a few seconds.
 */
export async function forgetPush(client) {
  if (!('serviceWorker' in navigator)) return;
  const work = (async () => {
    const reg = await navigator.serviceWorker.getRegistration(SCOPE);
    if (!reg) return;
    for (const n of await reg.getNotifications().catch(() => [])) n.close();
    const sub = await reg.pushManager?.getSubscription().catch(() => null);
    if (!sub) return;
    if (client.state === 'live') await client.command({ kind: 'push.unsubscribe', endpoint: sub.endpoint }).catch(() => {});
    await sub.unsubscribe().catch(() => {});
  })();
  await Promise.race([work, new Promise((r) => setTimeout(r, 3000))]);
}

/**
 * The install hint on phones, in `box`: a button when the browser offers installing
 * (`beforeinstallprompt`), on iPhone Safari the Share → Add to Home Screen line. Not
 * shown once installed or dismissed (remembered on this phone).
 */
export function installHint(box) {
  const dismissed = () => localStorage.getItem(HINT_KEY) === 'dismissed';
  const phone = matchMedia('(pointer: coarse)').matches;
  if (!phone || standalone() || dismissed()) return;
  const dismiss = () => {
    try { localStorage.setItem(HINT_KEY, 'dismissed'); } catch { /* then it shows again next time */ }
    fill(box);
  };
  const show = (...content) => fill(box, h('div', { class: 'install-hint', role: 'region', 'aria-label': 'Install the app' },
    ...content,
    h('button', { class: 'big secondary', type: 'button', onclick: dismiss }, 'Not now')));
  addEventListener('beforeinstallprompt', (e) => {
    e.preventDefault();
    if (dismissed()) return;
    show(h('p', {}, 'Install Muster on this phone: it opens like an app, also without a connection.'),
      h('button', { class: 'big', type: 'button', onclick: async () => { await e.prompt(); await e.userChoice.catch(() => {}); fill(box); } }, 'Install the app'));
  });
  addEventListener('appinstalled', () => fill(box));
  if (isIos()) show(h('p', {}, 'Install Muster on this iPhone: tap Share, then Add to Home Screen.'));
}
