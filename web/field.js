// The field app: one person's assignments on a phone. Everything is one tap, buttons
// are big, and every action goes through the client's outbox, so taps made in a tunnel
// are shown as queued and delivered once the phone is back online.

import { api } from './lib/muster.js';
import { h, fill, byTime, badge, words, age, clock, startApp, run, throttleFrame } from './lib/ui.js';
import { dismissals } from './lib/desk.js';
import { hubNow } from './lib/exercise.js';
import { alarm } from './field-alerts.js';
import { registerWorker, pushCard, forgetPush, installHint } from './field-push.js';

const client = startApp(['field'], { beforeLogout: forgetPush });
const me = client?.session.user;
const list = document.getElementById('assignments');
const msgBox = document.getElementById('messages');
const ui = new Map(); // assignment id → {declining, reason}: survives re-renders
const fetching = new Set();
// Incident id → the caller's call-back numbers, for incidents this phone's crew is
// working: held in memory only (never in the saved store), and asked for afresh.
const callbacks = new Map();
const dismissed = client ? dismissals(me.id) : new Set();
let types = {};
const loud = client ? alarm() : null;

const ACTIVE = ['notified', 'acknowledged', 'en_route', 'on_scene'];
const STEPS = ['acknowledged', 'en_route', 'on_scene', 'completed'];

if (client) {
  // The catalogue is kept for this user, so a reload without network still names types.
  types = client.kept('types', {});
  if (navigator.onLine) {
    api('/api/catalogue').then((c) => { types = Object.fromEntries(c.types.map((t) => [t.id, t])); client.keep('types', types); render(); }).catch(() => {});
  }
  client.subscribe(throttleFrame(render));
  // What the store kept, at once: started offline, no event or state change may follow.
  render();
  // Not throttled to frames: a background tab gets no frames, and must still sound.
  client.subscribe(listen);
  listen(null);
  setInterval(tick, 1000);
  pushCard(client, document.getElementById('push'), registerWorker());
  installHint(document.getElementById('install'));
}

/**
 * Loud until acknowledged: every assignment of mine still waiting for my answer (and
 * not answered in the outbox) keeps the alarm going; a renotify rings it again now.
 */
function listen(frame) {
  const waiting = mine().filter((a) => a.status === 'notified'
    && !client.queued('assignment.acknowledge', (c) => c.assignment_id === a.id)
    && !client.queued('assignment.decline', (c) => c.assignment_id === a.id));
  loud.update(waiting.map((a) => a.id));
  const e = frame?.event;
  if (e?.kind === 'assignment.escalated' && waiting.some((a) => a.id === e.assignment_id)) loud.now();
}

function mine() {
  const rid = client.user.resource_id || me.resource_id;
  return Object.values(client.store.assignments)
    .filter((a) => a.resource_id === rid)
    .sort((a, b) => ACTIVE.includes(b.status) - ACTIVE.includes(a.status) || byTime(b.notified_at, a.notified_at));
}

function render() {
  // Typing a decline reason: do not pull the field out from under the thumb.
  renderMessages();
  const active = document.activeElement;
  if (active && list.contains(active) && active.tagName === 'TEXTAREA') return;
  const assignments = mine();
  if (!assignments.length) return fill(list, h('p', { class: 'muted' }, 'No assignments.'));
  const focusedId = active && list.contains(active) ? active.id : null;
  fill(list, assignments.map(card));
  tick();
  if (focusedId) document.getElementById(focusedId)?.focus();
}

function card(a) {
  const inc = client.store.incidents[a.incident_id];
  const live = ['acknowledged', 'en_route', 'on_scene', 'notified'].includes(a.status);
  if ((!inc || (live && !callbacks.has(a.incident_id))) && !fetching.has(a.incident_id) && navigator.onLine) fetchIncident(a.incident_id);
  const state = ui.get(a.id) || {};
  const queuedAck = client.queued('assignment.acknowledge', (c) => c.assignment_id === a.id);
  const type = types[inc?.type]?.name || words(inc?.type || 'Incident');
  const isNew = a.status === 'notified';
  return h('article', { class: `card${isNew ? ' new' : ''}`, 'aria-labelledby': `t-${a.id}`, dataset: { assignment: a.id, status: a.status } },
    h('h3', { id: `t-${a.id}` }, `${type}${inc?.priority ? ` · ${inc.priority}` : ''}`, ' ', badge(a.status)),
    inc?.reference && h('p', { class: 'ref' }, 'Reference ', h('strong', {}, inc.reference)),
    inc && h('p', { class: 'where' }, inc.location?.text || 'Location not given'),
    inc && navigation(inc),
    inc && h('p', {}, inc.description),
    live && callBack(a.incident_id),
    h('p', {}, h('strong', {}, 'Your responsibilities: '), a.responsibilities),
    progressSteps(a),
    queuedAck && h('p', { class: 'queued', role: 'status' }, 'Acknowledgement queued — it is sent as soon as you are back online.'),
    isNew && !queuedAck && h('div', { class: 'row' },
      h('button', { class: 'big', type: 'button', onclick: () => run(client, { kind: 'assignment.acknowledge', assignment_id: a.id }) }, 'Acknowledge'),
      h('button', { class: 'big danger', type: 'button', 'aria-expanded': String(!!state.declining), onclick: () => { ui.set(a.id, { ...state, declining: !state.declining }); render(); } }, 'Decline')),
    isNew && state.declining && declineForm(a, state),
    ['acknowledged', 'en_route', 'on_scene'].includes(a.status) && progressButtons(a, state),
    state.completing && ['acknowledged', 'en_route', 'on_scene'].includes(a.status) && skipForm(a, state),
    ['acknowledged', 'en_route', 'on_scene'].includes(a.status) && checkin(a, inc),
    a.actions.length > 0 && checklist(a, state),
    // Notes from the scene once the job is taken (before, the choice is take or decline).
    inc && ['acknowledged', 'en_route', 'on_scene'].includes(a.status) && noteForm(a, inc, state),
  );
}

/** Directions to the incident when it has coordinates: the phone's own maps app first. */
function navigation(inc) {
  const { lat, lon } = inc.location || {};
  if (lat == null || lon == null) return null;
  const at = `${Number(lat).toFixed(6)},${Number(lon).toFixed(6)}`;
  return h('p', { class: 'row nav' },
    h('a', { class: 'button big secondary', href: `geo:${at}?q=${at}`, 'aria-label': `Navigate to ${inc.reference || 'the incident'}` }, 'Navigate'),
    h('a', { class: 'button big secondary', href: `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=17/${lat}/${lon}`, target: '_blank', rel: 'noopener noreferrer' }, 'Map in browser'));
}

/** The caller's call-back number(s) for the incident this crew is working. */
function callBack(incidentId) {
  const numbers = callbacks.get(incidentId) || [];
  if (!numbers.length) return null;
  return h('p', { class: 'row callback' }, numbers.map((c) => h('a', { class: 'button big secondary', href: `tel:${c.phone.replace(/[^0-9+*#,;]/g, '')}` },
    `Call ${c.name || 'the caller'} back: ${c.phone}`)));
}

/** A note from the scene, added to the incident (the log says who). */
function noteForm(a, inc, state) {
  const id = `note-${a.id}`;
  const text = h('textarea', { id, name: 'text', rows: 2, maxlength: 4000, 'aria-describedby': `${id}-err`,
    oninput: (e) => ui.set(a.id, { ...ui.get(a.id), note: e.target.value }) });
  text.value = state.note || '';
  const err = h('p', { id: `${id}-err`, class: 'field-error', role: 'alert' });
  const last = (inc.notes || []).slice(-3);
  return h('form', { class: 'note-form', onsubmit: async (e) => {
    e.preventDefault();
    const value = text.value.trim();
    if (!value) { err.textContent = 'Write the note first.'; return text.focus(); }
    err.textContent = '';
    text.blur();
    const form = e.target;
    ui.set(a.id, { ...ui.get(a.id), note: '' });
    if (await run(client, { kind: 'incident.note', incident_id: inc.id, text: value }, form) === undefined) ui.set(a.id, { ...ui.get(a.id), note: value });
    render();
  } },
  last.length > 0 && h('ul', { class: 'notes', 'aria-label': 'Latest notes' }, last.map((n) => h('li', {}, clock(n.at), ' — ', n.text))),
  h('label', { for: id }, 'Add a note for control'), text, err,
  h('button', { class: 'big secondary', type: 'submit' }, 'Add note'));
}

function progressSteps(a) {
  const at = STEPS.indexOf(a.status);
  return h('ol', { class: 'steps', 'aria-label': 'Progress' }, STEPS.map((s, i) =>
    h('li', { class: i < at ? 'done' : '', 'aria-current': i === at ? 'step' : null }, words(s))));
}

function progressButtons(a, state) {
  const next = { acknowledged: ['en_route'], en_route: ['on_scene', 'completed'], on_scene: ['completed'] }[a.status] || [];
  const label = { en_route: 'En route', on_scene: 'On scene', completed: 'Completed' };
  const pending = client.queued('assignment.progress', (c) => c.assignment_id === a.id);
  const tap = (s) => {
    // Required actions left undone need a reason each before completing (the centre's
    // rule `required_actions`): ask for them here rather than send and be refused.
    if (s === 'completed' && undoneRequired(a).length) {
      ui.set(a.id, { ...state, completing: true });
      render();
      document.getElementById(`skip-${a.id}-${undoneRequired(a)[0].id}`)?.focus();
      return;
    }
    run(client, { kind: 'assignment.progress', assignment_id: a.id, status: s });
  };
  return h('div', { class: 'row' }, next.map((s) =>
    h('button', { class: 'big', type: 'button', disabled: pending, 'aria-expanded': s === 'completed' ? String(!!state.completing) : null, onclick: () => tap(s) }, label[s])));
}

/** Required actions neither done nor queued as done. */
function undoneRequired(a) {
  return a.actions.filter((x) => x.required && !x.done_at
    && !client.queued('assignment.action_done', (c) => c.assignment_id === a.id && c.action_id === x.id));
}

function skipForm(a, state) {
  const undone = undoneRequired(a);
  const reasons = state.reasons || {};
  const fields = undone.map((x) => {
    const id = `skip-${a.id}-${x.id}`;
    const text = h('textarea', { id, rows: 2, maxlength: 500, 'aria-describedby': `${id}-err`,
      oninput: (e) => { reasons[x.id] = e.target.value; ui.set(a.id, { ...ui.get(a.id), reasons }); } });
    text.value = reasons[x.id] || '';
    const err = h('p', { id: `${id}-err`, class: 'field-error', role: 'alert' });
    return { x, text, err, el: h('div', { class: 'skip' }, h('label', { for: id }, `Why was “${x.text}” not done?`), text, err) };
  });
  return h('form', { class: 'skip-form', 'aria-label': 'Reasons for undone required actions', onsubmit: (e) => {
    e.preventDefault();
    let first = null;
    for (const f of fields) {
      const blank = !f.text.value.trim();
      f.err.textContent = blank ? 'Say why this required action was not done.' : '';
      f.text.setAttribute('aria-invalid', String(blank));
      if (blank && !first) first = f.text;
    }
    if (first) return first.focus();
    const skipped = Object.fromEntries(fields.map((f) => [f.x.id, f.text.value.trim()]));
    ui.delete(a.id);
    document.activeElement?.blur();
    run(client, { kind: 'assignment.progress', assignment_id: a.id, status: 'completed', skipped });
  } },
  h('p', {}, h('strong', {}, 'Required actions not done. '), 'Tick them above if they were done, or say why not:'),
  fields.map((f) => f.el),
  h('div', { class: 'row' },
    h('button', { class: 'big', type: 'submit' }, 'Complete with these reasons'),
    h('button', { class: 'big secondary', type: 'button', onclick: () => { ui.delete(a.id); render(); } }, 'Back')));
}

function declineForm(a, state) {
  const id = `reason-${a.id}`;
  const text = h('textarea', { id, name: 'reason', rows: 2, oninput: (e) => ui.set(a.id, { ...state, declining: true, reason: e.target.value }) });
  text.value = state.reason || '';
  return h('form', { onsubmit: (e) => {
    e.preventDefault();
    const reason = text.value.trim();
    if (!reason) return text.focus();
    ui.delete(a.id);
    text.blur();
    run(client, { kind: 'assignment.decline', assignment_id: a.id, reason }, e.target);
  } },
  h('label', { for: id }, 'Why can you not take it?'), text,
  h('button', { class: 'big danger', type: 'submit' }, 'Send decline'));
}

function checklist(a, state) {
  const working = ['acknowledged', 'en_route', 'on_scene'].includes(a.status);
  return h('ul', { class: 'checklist', 'aria-label': 'Actions' }, a.actions.map((x) => {
    const mine = (c) => c.assignment_id === a.id && c.action_id === x.id;
    const queued = client.queued('assignment.action_done', mine);
    const undoing = client.queued('assignment.action_undone', mine);
    const done = (!!x.done_at || queued) && !undoing;
    // A ticked action may be unticked while the work goes on; that asks why.
    const box = h('input', { type: 'checkbox', id: `act-${a.id}-${x.id}`, checked: done || state.unticking === x.id,
      disabled: queued || undoing || !working,
      onchange: (e) => {
        if (!x.done_at) return run(client, { kind: 'assignment.action_done', assignment_id: a.id, action_id: x.id });
        e.target.checked = true;
        ui.set(a.id, { ...ui.get(a.id), unticking: x.id });
        render();
        document.getElementById(`untick-${a.id}`)?.focus();
      } });
    return h('li', {}, h('label', { for: box.id }, box,
      h('span', { class: x.required ? 'req' : '' }, x.text), undoing ? ' — untick queued' : x.done_at ? ' — done' : queued ? ' — queued' : ''),
    state.unticking === x.id && working && untickForm(a, x));
  }));
}

function untickForm(a, x) {
  const id = `untick-${a.id}`;
  const text = h('textarea', { id, name: 'reason', rows: 2, maxlength: 500, 'aria-describedby': `${id}-err` });
  const err = h('p', { id: `${id}-err`, class: 'field-error', role: 'alert' });
  const close = () => { ui.set(a.id, { ...ui.get(a.id), unticking: null }); render(); };
  return h('form', { class: 'untick-form', onsubmit: async (e) => {
    e.preventDefault();
    const reason = text.value.trim();
    if (!reason) { err.textContent = 'Say why it is not done after all.'; return text.focus(); }
    text.blur();
    ui.set(a.id, { ...ui.get(a.id), unticking: null });
    await run(client, { kind: 'assignment.action_undone', assignment_id: a.id, action_id: x.id, reason }, e.target);
    render();
  } },
  h('label', { for: id }, `Untick “${x.text}”: why is it not done?`), text, err,
  h('div', { class: 'row' },
    h('button', { class: 'big', type: 'submit' }, 'Untick'),
    h('button', { class: 'big secondary', type: 'button', onclick: close }, 'Keep it ticked')));
}

function checkin(a, inc) {
  const every = types[inc?.type]?.checkin_interval_secs || 300;
  const from = a.last_checkin_at || a.on_scene_at || a.en_route_at || a.acknowledged_at || a.notified_at;
  return h('div', {},
    h('button', { class: 'big secondary', type: 'button', onclick: () => run(client, { kind: 'checkin', assignment_id: a.id, ok: true }) }, 'Check in: I am OK'),
    h('p', { class: 'muted', dataset: { due: String(Date.parse(from) + every * 1000) } }, ''));
}

function tick() {
  for (const el of list.querySelectorAll('[data-due]')) {
    const left = Math.round((Number(el.dataset.due) - hubNow()) / 1000);
    el.textContent = left >= 0 ? `Next check-in due in ${Math.floor(left / 60)} min ${left % 60} s` : `Check-in overdue by ${age(new Date(Number(el.dataset.due)).toISOString())}`;
  }
}

async function fetchIncident(id) {
  // A field user first hears of an incident through its assignment; fetch its details.
  fetching.add(id);
  try {
    const inc = await api(`/api/incidents/${encodeURIComponent(id)}`);
    callbacks.set(id, inc.callback || []);
    delete inc.timeline; delete inc.conformance; delete inc.assignments; delete inc.callback;
    // The store may have moved on while the request was out: keep its copy if it has one.
    if (!client.store.incidents[id]) client.store.incidents[id] = inc;
    render();
  } catch { /* asked again on the next render */ }
  fetching.delete(id);
}

/**
 * Messages addressed to this person: ones asking for acknowledgement until
 * acknowledged, information-only ones until dismissed on this phone.
 */
function renderMessages() {
  const open = Object.values(client.store.messages)
    .filter((m) => m.sent_by !== me.id && ((m.recipients || []).includes(me.id) || m.audience === `user:${me.id}`))
    .filter((m) => (m.requires_ack ? !(m.acks || {})[me.id] : !dismissed.has(m.id)))
    .sort((a, b) => byTime(b.sent_at, a.sent_at));
  fill(msgBox, open.map((m) => {
    const queued = client.queued('message.acknowledge', (c) => c.message_id === m.id);
    return h('div', { class: `msg${m.requires_ack ? ' ack' : ' info'}`, role: 'region', 'aria-label': 'Message from control', dataset: { message: m.id } },
      h('p', {}, h('strong', {}, 'Message from control: '), m.text, h('span', { class: 'muted' }, ` (${clock(m.sent_at)})`)),
      !m.requires_ack ? h('button', { class: 'big secondary', type: 'button', onclick: () => { dismissed.add(m.id); render(); } }, 'Dismiss')
        : queued ? h('p', { class: 'queued' }, 'Acknowledgement queued.')
          : h('button', { class: 'big', type: 'button', onclick: () => run(client, { kind: 'message.acknowledge', message_id: m.id }) }, 'Acknowledge message'));
  }));
}

// ----- location sharing (throttled: at most every 30 s, and only after moving) -----
const shareBtn = document.getElementById('share');
const locStatus = document.getElementById('loc-status');
let watch = null;
let lastSent = { t: 0, lat: 0, lon: 0 };
shareBtn?.addEventListener('click', () => {
  if (watch != null) {
    navigator.geolocation.clearWatch(watch);
    watch = null;
    shareBtn.setAttribute('aria-pressed', 'false');
    shareBtn.textContent = 'Share my location';
    locStatus.textContent = 'Location sharing is off.';
    return;
  }
  if (!navigator.geolocation) { locStatus.textContent = 'This browser cannot share its location.'; return; }
  shareBtn.setAttribute('aria-pressed', 'true');
  shareBtn.textContent = 'Stop sharing my location';
  locStatus.textContent = 'Finding you…';
  watch = navigator.geolocation.watchPosition(onPosition, (e) => { locStatus.textContent = `Location unavailable: ${e.message}`; }, { enableHighAccuracy: true, maximumAge: 10000 });
});

function onPosition(p) {
  const { latitude: lat, longitude: lon } = p.coords;
  const moved = Math.hypot(lat - lastSent.lat, (lon - lastSent.lon) * Math.cos(lat * Math.PI / 180)) * 111000;
  if (Date.now() - lastSent.t < 30000 || moved < 25) return;
  lastSent = { t: Date.now(), lat, lon };
  const rid = client.user.resource_id || me.resource_id;
  run(client, { kind: 'resource.locate', resource_id: rid, lat, lon });
  locStatus.textContent = `Location shared at ${new Date().toLocaleTimeString()}.`;
}

// "Your location history": every position the hub still keeps about this user's unit
// and the day each will be erased (GET /api/me/locations), loaded when opened.
const locHistory = document.getElementById('loc-history');
const historyList = document.getElementById('loc-history-list');

/** A day as the user reads it: "7 Dec 2026". */
function day(iso) {
  return new Date(iso).toLocaleDateString([], { day: 'numeric', month: 'short', year: 'numeric' });
}

async function showLocationHistory() {
  fill(historyList, h('p', { class: 'muted' }, 'Loading…'));
  try {
    const { retention_days: days, locations } = await api('/api/me/locations');
    const policy = days > 0
      ? `Positions are kept ${days} days, then erased.`
      : 'Positions are kept until an administrator erases them.';
    if (!locations.length) {
      fill(historyList, h('p', {}, policy), h('p', { class: 'muted' }, 'No position is kept about you.'));
      return;
    }
    const rows = locations.slice().reverse().map((p) => h('tr', {},
      h('td', {}, `${day(p.at)} ${clock(p.at)}`),
      h('td', {}, `${p.lat.toFixed(4)}, ${p.lon.toFixed(4)}`),
      h('td', {}, p.erase_after ? day(p.erase_after) : 'when erased')));
    fill(historyList,
      h('p', {}, `${policy} ${locations.length} position${locations.length === 1 ? '' : 's'} kept.`),
      h('table', { class: 'loc-history' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'Where'), h('th', { scope: 'col' }, 'Erased on'))),
        h('tbody', {}, ...rows)));
  } catch (e) {
    fill(historyList, h('p', { class: 'muted' }, `Could not load your location history: ${e.message}`));
  }
}

locHistory?.addEventListener('toggle', () => { if (locHistory.open) showLocationHistory(); });
