// Small DOM helpers shared by the apps: building elements without innerHTML (so text
// from callers can never become markup), times, and the app shell.

import { Client, bindIndicator, requireSession, logout } from './muster.js';

/** `h('button', {class: 'x', onclick}, 'text', child…)`. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c != null && c !== false));
  return el;
}

/** "4 s", "3 min", "2 h 5 min" since `iso`. */
export function age(iso, now = Date.now()) {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/**
 * Orders two timestamps by the instant they name. The hub writes RFC 3339 in two
 * spellings (`…:18Z` for a whole second, `…:18.250Z` otherwise), which do not sort as
 * strings: `.` sorts before `Z`, so 18.250 would come before 18.
 */
export function byTime(a, b) {
  return Date.parse(a) - Date.parse(b);
}

export function clock(iso) {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** "en_route" → "en route". */
export function words(s) {
  return String(s ?? '').replaceAll('_', ' ');
}

/** A status badge: the word is always shown, colour only reinforces it. */
export function badge(status) {
  return h('span', { class: `badge s-${status}` }, words(status));
}

export const OPEN_INCIDENT = ['new', 'assessed', 'dispatched', 'in_progress'];

/**
 * Starts an app: checks the session (roles allowed), connects, binds the indicator in
 * `#conn`, the user's name in `#me` and the log-out button. Returns the client.
 */
export function startApp(roles) {
  const session = requireSession(roles);
  if (!session) return null;
  const client = new Client(session);
  bindIndicator(client, document.getElementById('conn'));
  const me = document.getElementById('me');
  if (me) me.textContent = `${session.user.name} (${session.user.role})`;
  document.getElementById('logout')?.addEventListener('click', async () => {
    client.stop();
    await logout();
    location.replace('/');
  });
  client.connect();
  keepScrollablesReachable();
  return client;
}

const SCROLLERS = 'section.panel, .col, #page, .timeline, .table-wrap, [data-scrolls]';
const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/**
 * Keyboard users must be able to scroll every scrolling region. A region that scrolls
 * and holds nothing focusable becomes a tab stop (`tabindex="0"`, named by its
 * `aria-labelledby`, its `aria-label` or its `data-scrolls` text); it stops being one
 * as soon as it no longer scrolls or gains a control, so the tab order stays short.
 */
export function keepScrollablesReachable(root = document.body) {
  const check = () => {
    for (const el of root.querySelectorAll(SCROLLERS)) {
      const ours = 'scrollStop' in el.dataset;
      const scrolls = el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1;
      const need = scrolls && !el.querySelector(FOCUSABLE);
      if (need && !ours) {
        el.dataset.scrollStop = el.getAttribute('tabindex') ?? '';
        el.tabIndex = 0;
        if (!el.hasAttribute('aria-labelledby') && !el.hasAttribute('aria-label')) {
          if (el.tagName === 'DIV' && !el.hasAttribute('role')) el.setAttribute('role', 'region');
          el.setAttribute('aria-label', el.dataset.scrolls || 'Scrolling content');
        }
      } else if (!need && ours) {
        const was = el.dataset.scrollStop;
        delete el.dataset.scrollStop;
        if (was === '') el.removeAttribute('tabindex'); else el.setAttribute('tabindex', was);
      }
    }
  };
  const soon = throttleFrame(check);
  new MutationObserver(soon).observe(root, { childList: true, subtree: true, characterData: true });
  addEventListener('resize', soon);
  check();
}

/** Reports a failed command where the user will see it (an alert region, not a dialog). */
export function showError(err) {
  const box = document.getElementById('errors');
  if (!box) return;
  box.textContent = `Refused: ${err.message}${err.code ? ` (${err.code})` : ''}`;
  box.hidden = false;
  clearTimeout(showError.t);
  showError.t = setTimeout(() => { box.hidden = true; }, 8000);
}

/** Runs a command, reporting refusals; resolves to the data or undefined. */
export async function run(client, command) {
  try {
    return await client.command(command);
  } catch (e) {
    showError(e);
    return undefined;
  }
}

/** Calls `fn` at most once per animation frame however many events arrive. */
export function throttleFrame(fn) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; fn(); });
  };
}
