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
  guardIntents();
  bindIndicator(client, document.getElementById('conn'));
  const me = document.getElementById('me');
  if (me) me.textContent = `${session.user.name} (${session.user.role})`;
  document.getElementById('logout')?.addEventListener('click', async () => {
    client.stop();
    await logout();
    location.replace('/');
  });
  client.connect();
  return client;
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

// ----- one command per intent -------------------------------------------------------
//
// A double click is one intent, and so is a second press while the first is still
// waiting for its result. The rules, for every app at once:
// - the second click of a double click (`detail > 1`) on a button is dropped;
// - the button (and its form) that started a command is busy (`aria-busy`,
//   `aria-disabled`, class `busy`) until the command's result, and a short moment after
//   it, so a second click on it, or a second submit of its form, does nothing;
// - the same command made again while the first is unanswered reuses its id (the
//   client's outbox answers both from the one result).
// Buttons stay focusable while busy (aria-disabled rather than disabled), so the
// keyboard user keeps their place.

const SETTLE_MS = 500; // a busy control stays busy this long after its result
let trigger = null; // the control whose click or submit is being handled now

function busyOf(el) {
  return el?.getAttribute('aria-busy') === 'true';
}

/** Installs the guards (once per page); `startApp` calls it. */
export function guardIntents(doc = document) {
  if (doc.musterGuarded) return;
  doc.musterGuarded = true;
  doc.addEventListener('click', (e) => {
    const button = e.target instanceof Element ? e.target.closest('button, input[type="submit"]') : null;
    if (!button) return;
    if (e.detail > 1 || busyOf(button) || busyOf(button.form)) {
      e.preventDefault();
      e.stopImmediatePropagation();
      return;
    }
    note(button);
  }, true);
  doc.addEventListener('submit', (e) => {
    const form = e.target;
    if (busyOf(form) || busyOf(e.submitter)) {
      e.preventDefault();
      e.stopImmediatePropagation();
      return;
    }
    note(e.submitter || form.querySelector('button[type="submit"], button:not([type])') || form, form);
  }, true);
}

/** Remembers the control handled now, for `run` called from its handler. */
function note(...els) {
  trigger = els.filter(Boolean);
  setTimeout(() => { trigger = null; }, 0);
}

/** Marks `els` busy (or not). */
export function setBusy(els, busy) {
  for (const el of els) {
    if (busy) {
      el.setAttribute('aria-busy', 'true');
      if (el.tagName !== 'FORM') el.setAttribute('aria-disabled', 'true');
      el.classList.add('busy');
    } else {
      el.removeAttribute('aria-busy');
      if (el.tagName !== 'FORM') el.removeAttribute('aria-disabled');
      el.classList.remove('busy');
    }
  }
}

/**
 * Runs a command, reporting refusals; resolves to the data or undefined. The button
 * (and form) whose click or submit called it is busy until the result; `busy` names
 * other elements to mark as well.
 */
export async function run(client, command, { busy = [] } = {}) {
  const els = [...new Set([...(trigger || []), ...busy])].filter((el) => el?.setAttribute);
  trigger = null;
  setBusy(els, true);
  try {
    return await client.command(command);
  } catch (e) {
    showError(e);
    return undefined;
  } finally {
    setTimeout(() => setBusy(els, false), SETTLE_MS);
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
