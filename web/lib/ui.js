// Small DOM helpers shared by the apps: building elements without innerHTML (so text
// from callers can never become markup), times, and the app shell.

import { Client, bindIndicator, requireSession, logout, currentSession, userKey } from './muster.js';
import { hubNow } from './exercise.js';

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

/** "4 s", "3 min", "2 h 5 min" since `iso` (on the hub's clock: an exercise's runs faster). */
export function age(iso, now = hubNow()) {
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
 * `beforeLogout(client)`: what the app undoes first on log-out (the field app's push
 * subscription), while the session still works.
 */
export function startApp(roles, { beforeLogout } = {}) {
  const session = requireSession(roles);
  if (!session) return null;
  const client = new Client(session);
  guardIntents();
  bindIndicator(client, document.getElementById('conn'));
  const me = document.getElementById('me');
  if (me) me.textContent = `${session.user.name} (${session.user.role})`;
  document.getElementById('logout')?.addEventListener('click', async () => {
    await beforeLogout?.(client);
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

// What each refusal means, in plain words (the wire code stays out of sight: it is kept
// on the message as `data-code` for support and tests).
const PLAIN = {
  bad_request: 'The app sent something the hub could not read',
  unauthorized: 'Your session has ended; log in again',
  forbidden: 'Your role may not do this',
  not_found: 'Not found',
  invalid_transition: 'Not possible at this stage',
  conflict: 'Not possible now',
  validation_failed: 'Please check',
  procedure_violation: 'The procedure does not allow this',
  rate_limited: 'Too many requests: wait a moment and try again',
  too_large: 'Too long to send',
  unavailable: 'The hub is busy: try again in a moment',
  offline: 'You are offline',
};

/**
 * A refusal in plain words: `{field, text}`. Validation messages start with the field
 * (`reason: the manual method needs a reason`, PROTOCOL.md); `field` is that name, and
 * `text` the reason alone when it is shown next to the field, or the whole sentence.
 */
export function explain(err) {
  const message = String(err?.message || 'refused');
  const m = err?.code === 'validation_failed' && /^([A-Za-z_][\w.]*): (.+)$/s.exec(message);
  const lead = PLAIN[err?.code] || 'Refused';
  if (m) return { field: m[1], reason: m[2], text: `${lead} ${words(m[1]).replaceAll('.', ' ')}: ${m[2]}` };
  // A refusal the caller tied to a field (`run`'s `conflictField`: a username taken).
  if (err?.field) return { field: err.field, reason: message, text: `${lead}: ${message}` };
  return { field: null, reason: message, text: `${lead}: ${message}` };
}

/** The control in `form` for a command field (`answers.breathing` → name, then `answers`). */
function controlFor(form, field) {
  if (!form || !field) return null;
  const names = [field, field.split('.')[0], field.split('.').pop()];
  for (const n of names) {
    const el = form.querySelector(`[name="${CSS.escape(n)}"], [data-field="${CSS.escape(n)}"]`);
    if (el) return el;
  }
  return null;
}

/** Removes the field messages shown in `form`. */
export function clearFieldErrors(form) {
  if (!form) return;
  // Only the errors showError placed (data-field, ids err-N): a form may keep marks of
  // its own (the console's call-script questions).
  for (const el of form.querySelectorAll('.field-error[data-field]')) el.remove();
  for (const el of form.querySelectorAll('[aria-invalid="true"][aria-describedby*="err-"]')) {
    const all = (el.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
    const ids = all.filter((id) => !/^err-\d+$/.test(id));
    if (ids.length === all.length) continue;
    el.removeAttribute('aria-invalid');
    if (ids.length) el.setAttribute('aria-describedby', ids.join(' ')); else el.removeAttribute('aria-describedby');
  }
}

let fieldErrors = 0;
/**
 * Reports a refusal where the user will see it: next to the field it concerns when
 * `form` has that field (marked invalid, described by the message, focused), else in
 * the page's alert region. Plain words either way.
 */
export function showError(err, form) {
  const { field, reason, text } = explain(err);
  const control = controlFor(form, field);
  if (control) {
    clearFieldErrors(form);
    const id = `err-${++fieldErrors}`;
    const note = h('span', { class: 'field-error', id, role: 'alert', dataset: { code: err.code || '', field } }, reason);
    (control.closest('label') || control).after(note);
    control.setAttribute('aria-invalid', 'true');
    control.setAttribute('aria-describedby', [control.getAttribute('aria-describedby'), id].filter(Boolean).join(' '));
    control.addEventListener('input', () => clearFieldErrors(form), { once: true });
    control.focus();
    return;
  }
  const box = document.getElementById('errors');
  if (!box) return;
  box.textContent = text;
  box.dataset.code = err?.code || '';
  box.hidden = false;
  clearTimeout(showError.t);
  showError.t = setTimeout(() => { box.hidden = true; }, 8000);
}

/**
 * Keeps what is typed into the named fields of `root` in sessionStorage (under the
 * user's `muster.` keys, so log-out removes it), and puts it back when `root` is built
 * again, after a reload too. `scope` names what the fields are about (`inc_42`).
 * `run` forgets a form's drafts once its command is accepted.
 */
export function keepDrafts(root, scope) {
  const uid = currentSession()?.user?.id;
  if (!uid) return;
  for (const el of root.querySelectorAll('input[name], textarea[name]')) {
    if (['checkbox', 'radio', 'hidden', 'password', 'file'].includes(el.type)) continue;
    const key = userKey(uid, `draft.${scope}.${el.name}`);
    el.dataset.draft = key;
    const saved = sessionStorage.getItem(key);
    if (saved != null) el.value = saved;
    el.addEventListener('input', () => {
      try { sessionStorage.setItem(key, el.value); } catch (e) { console.warn('muster: cannot keep the draft', e); }
    });
  }
}

/** Forgets the drafts of the fields in `form` (kept by keepDrafts). */
export function forgetDrafts(form) {
  for (const el of form?.querySelectorAll?.('[data-draft]') || []) sessionStorage.removeItem(el.dataset.draft);
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
 * Runs a command; resolves to the data or undefined. A refusal is shown next to its
 * field when `form` has the field, else in the alert area. The button (and form) whose
 * click or submit called it is busy until the result; `busy` names other elements to
 * mark as well. The third argument is the form, or `{ form, busy, conflictField }`
 * (`conflictField`: the field a `conflict` refusal is shown next to).
 */
export async function run(client, command, options = {}) {
  const { form, busy = [], conflictField } = options instanceof Element ? { form: options } : options || {};
  clearFieldErrors(form);
  const els = [...new Set([...(trigger || []), ...busy])].filter((el) => el?.setAttribute);
  trigger = null;
  setBusy(els, true);
  try {
    const data = await client.command(command);
    forgetDrafts(form);
    return data;
  } catch (e) {
    // A conflict names no field; the caller may say which of the form's it concerns.
    if (conflictField && e.code === 'conflict') e.field = conflictField;
    showError(e, form);
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
