// The supervisor board, made to be read from across the room: alerts the hub holds
// at the top in plain words, contacts waiting, every open incident as a tile with its
// target clock (amber when close, red and marked when breached) that opens the
// incident in the console, resources in status columns, the next shift change,
// operator workload, live guidance to one operator, overrides with a justification,
// and broadcasts.

import { api } from './lib/muster.js';
import { addTiles } from './lib/settings.js';
import { h, fill, age, badge, words, clock, startApp, run, throttleFrame, OPEN_INCIDENT } from './lib/ui.js';
import { currentTarget, runningTargets, clockState, clockWords } from './lib/targets.js';
import { bindBroadcast, bindInbox } from './lib/desk.js';
import { hubNow } from './lib/exercise.js';

const client = startApp(['supervisor', 'admin', 'operator']);
const $ = (id) => document.getElementById(id);
const RESOURCE_COLUMNS = ['available', 'assigned', 'en_route', 'on_scene', 'unavailable', 'off_duty'];
// Escalation steps (the procedures' `action`) in words.
const STEP_WORDS = {
  renotify: 'notified again',
  push: 'notified again by push',
  alternative_channel: 'notified by another channel',
  supervisor_alert: 'supervisor alerted',
  suggest_next_resource: 'suggest the next resource',
  call_by_radio: 'call the unit by radio (no app)',
};
const TARGET_WORDS = { dispatch: 'dispatch', acknowledge: 'acknowledgement', arrive: 'arrival', resolve: 'resolution' };
let map = null; // Leaflet, made on first render
let layer = null;
let guideTo; // pickers, filled on every render
let overrideOn;
let types = {}; // incident types from the catalogue: names and targets
let shiftChange; // the next shift change, the hub's answer: {at, on, off}, or null; undefined until it answers
let shiftTimer = null;

if (client) {
  $('review-link').hidden = client.user.role !== 'supervisor';
  api('/api/catalogue').then((c) => {
    types = Object.fromEntries(c.types.map((t) => [t.id, t]));
    render();
  }).catch((e) => console.warn('catalogue', e));
  client.subscribe(throttleFrame(render));
  // The hub says when the next shift change is (one computation, in core); asked again
  // on every roster event and on every (re)connection, whose snapshot may hold new shifts.
  // Only while live: offline, the question would fail (and the answer could not change).
  client.subscribe((frame) => {
    if (client.state !== 'live') return;
    if (!frame || String(frame.event?.kind).startsWith('roster.')) loadShiftChange();
  });
  bindBroadcast(client, $('broadcast'), $('sent'));
  bindInbox(client, $('inbox'));
  buildGuidance();
  buildOverride();
  $('search').addEventListener('input', applySearch);
  // Clocks tick four times a second, so a target passing shows within a second of it.
  setInterval(tickClocks, 250);
  render();
}

function render() {
  renderMap();
  renderWaiting();
  renderAlerts();
  renderIncidents();
  renderResources();
  renderShiftChange();
  renderWorkload();
  refreshSelects();
  applySearch();
  tickClocks();
}

// ----- contacts waiting --------------------------------------------------------------

function renderWaiting() {
  const waiting = Object.values(client.store.contacts).filter((c) => c.status === 'queued' && !c.incident_id);
  const oldest = waiting.map((c) => c.received_at).sort((a, b) => Date.parse(a) - Date.parse(b))[0];
  $('waiting').dataset.count = String(waiting.length);
  $('waiting').classList.toggle('busy-queue', waiting.length > 0);
  $('waiting-count').textContent = String(waiting.length);
  $('waiting-words').textContent = waiting.length === 1 ? 'contact waiting' : 'contacts waiting';
  const el = $('waiting-oldest');
  if (oldest) el.dataset.since = oldest;
  else delete el.dataset.since;
  el.textContent = oldest ? age(oldest) : '—';
}

// ----- alerts: held by the hub, in plain words -----------------------------------------

function typeName(i) {
  return types[i?.type]?.name || words(i?.type);
}

/** "INC-0042 Fire alarm (P1)". */
function incidentWords(id) {
  const i = client.store.incidents[id];
  if (!i) return `incident ${id}`;
  return `${i.reference} ${typeName(i)}${i.priority ? ` (${i.priority})` : ''}`;
}

function resourceName(id) {
  return client.store.resources[id]?.name || 'a resource';
}

/** The alert in words, as a list of text pieces and live clocks. */
function alertWords(a) {
  const e = a.cause || {};
  const asg = a.assignment_id && client.store.assignments[a.assignment_id];
  const unit = asg ? resourceName(asg.resource_id) : 'a resource';
  switch (a.kind) {
    case 'target.breached':
      return [h('strong', {}, 'Target breached: '), `${incidentWords(a.incident_id)} — ${TARGET_WORDS[e.target] || words(e.target)} target, `,
        h('span', { dataset: { over: e.due_at } }, clockWords({ deadline: Date.parse(e.due_at) }))];
    case 'assignment.escalated': {
      let step = STEP_WORDS[e.action] || words(e.action);
      if (e.action === 'alternative_channel' && e.channel) step = `notified by ${e.channel.toUpperCase()}`;
      if (e.action === 'suggest_next_resource' && e.suggested_resource_id) step = `suggest the next resource: ${resourceName(e.suggested_resource_id)}`;
      return [h('strong', {}, 'No acknowledgement: '), `from ${unit} for ${incidentWords(a.incident_id)}: escalated to step ${e.level} — ${step}`];
    }
    case 'checkin.missed':
      return [h('strong', {}, 'Missed check-in: '), `${unit} on ${incidentWords(a.incident_id)}, due at ${new Date(e.due_at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`];
    default:
      return [h('strong', {}, 'Alert: '), incidentWords(a.incident_id)];
  }
}

/** Why the cause has gone, in words, or null while it stands. */
function resolvedCause(a) {
  const e = a.cause || {};
  const i = client.store.incidents[a.incident_id];
  const asg = a.assignment_id && client.store.assignments[a.assignment_id];
  if (i && !OPEN_INCIDENT.includes(i.status)) return `incident ${words(i.status)}`;
  if (a.kind === 'assignment.escalated' && asg && asg.status !== 'notified') return `assignment ${words(asg.status)}`;
  if (a.kind === 'checkin.missed' && asg) {
    if (!['en_route', 'on_scene'].includes(asg.status)) return `assignment ${words(asg.status)}`;
    if (asg.last_checkin_at && Date.parse(asg.last_checkin_at) > Date.parse(e.due_at)) return 'checked in since';
  }
  if (a.kind === 'target.breached' && i && !runningTargets(client.store, types, i).some((t) => t.target === e.target)) return 'target since met';
  return null;
}

function renderAlerts() {
  const open = Object.values(client.store.alerts || {}).filter((a) => !a.acknowledged_at)
    .sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at));
  $('al-title').textContent = open.length ? `Alerts (${open.length} open)` : 'Alerts';
  if (!open.length) return fill($('alerts'), h('li', { class: 'muted' }, 'No open alerts.'));
  const supervisor = client.user.role === 'supervisor';
  fill($('alerts'), open.map((a) => {
    const gone = resolvedCause(a);
    return h('li', { class: `alert${gone ? ' resolved' : ''}`, dataset: { alert: a.id, kind: a.kind, alertIncident: a.incident_id } },
      h('span', { class: 'alert-text' }, alertWords(a)),
      ' ', h('span', { class: 'muted' }, `raised ${new Date(a.raised_at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`),
      gone && h('span', { class: 'cause-gone' }, ` · cause resolved (${gone})`),
      ' ', h('a', { href: `/console#incident=${encodeURIComponent(a.incident_id)}` }, 'Open'),
      ' ', supervisor
        ? h('button', { type: 'button', 'aria-label': `Acknowledge: ${alertWords(a).map((x) => x.textContent ?? x).join('')}`,
          onclick: (ev) => acknowledge(a, ev.currentTarget) }, 'Acknowledge')
        : h('span', { class: 'muted' }, '(a supervisor acknowledges)'));
  }));
}

/** Acknowledges an alert; the keyboard's focus goes on to the next alert (or the list). */
async function acknowledge(a, button) {
  const next = button.closest('li')?.nextElementSibling?.dataset.alert;
  const ok = await run(client, { kind: 'alert.acknowledge', alert_id: a.id }, { busy: [button] });
  if (ok === undefined) return;
  // The alert.acknowledged event came before the result; let its render land first.
  requestAnimationFrame(() => requestAnimationFrame(() => {
    const target = (next && document.querySelector(`#alerts li[data-alert="${CSS.escape(next)}"] button`))
      || document.querySelector('#alerts button') || $('al-title');
    target.focus();
  }));
}

// ----- incident tiles with target clocks -----------------------------------------------

/** Has the hub said this incident breached a target that is still not met? */
function hubBreach(i) {
  const running = runningTargets(client.store, types, i).map((t) => t.target);
  return Object.values(client.store.alerts || {}).find((a) => a.kind === 'target.breached' && a.incident_id === i.id && running.includes(a.cause?.target));
}

function renderIncidents() {
  const open = Object.values(client.store.incidents).filter((i) => OPEN_INCIDENT.includes(i.status))
    .sort((a, b) => (a.priority || 'P9').localeCompare(b.priority || 'P9'));
  fill($('incident-columns'), OPEN_INCIDENT.map((s) => h('div', { role: 'group', 'aria-label': `Incidents ${words(s)}`, dataset: { column: s } },
    h('h3', {}, `${words(s)} (${open.filter((i) => i.status === s).length})`),
    open.filter((i) => i.status === s).map(incidentTile))));
}

function incidentTile(i) {
  const asg = i.assignment_ids.map((id) => client.store.assignments[id]).filter(Boolean);
  const t = currentTarget(client.store, types, i);
  const breach = hubBreach(i);
  const phones = i.contact_ids.map((c) => client.store.contacts[c]?.caller?.phone).filter(Boolean);
  return h('a', {
    class: 'tile incident-tile', href: `/console#incident=${encodeURIComponent(i.id)}`,
    dataset: {
      incident: i.id, status: i.status,
      search: [i.reference, i.location?.text, ...phones].filter(Boolean).join(' ').toLowerCase(),
      phones: phones.map((p) => p.replace(/\D/g, '')).join(' '),
      ...(t ? { deadline: String(t.deadline), span: String(t.span), target: t.target } : {}),
      ...(breach ? { hubBreach: breach.cause.target } : {}),
    },
  },
  h('span', { class: 'marker', 'aria-hidden': 'true' }),
  h('strong', {}, i.reference), ' ', i.priority ? badge(i.priority) : '', ' ', typeName(i),
  h('span', { class: 'line muted' }, i.location?.text || '', ' · ', h('span', { dataset: { since: i.opened_at } }, age(i.opened_at))),
  t && h('span', { class: 'line clock' }),
  asg.map((a) => {
    const done = a.actions.filter((x) => x.done_at).length;
    return h('span', { class: 'line', dataset: { assignment: a.id, status: a.status, done: String(done) } },
      client.store.resources[a.resource_id]?.name || a.resource_id, ' ', badge(a.status), ` ${done}/${a.actions.length} actions`);
  }));
}

/** Every clock on the page, from its own deadline: a target passing turns red at once. */
function tickClocks() {
  const now = hubNow();
  for (const el of document.querySelectorAll('[data-since]')) el.textContent = age(el.dataset.since, now);
  for (const el of document.querySelectorAll('[data-over]')) el.textContent = clockWords({ deadline: Date.parse(el.dataset.over) }, now);
  for (const tile of document.querySelectorAll('.incident-tile')) {
    const clock = tile.querySelector('.clock');
    let state = 'none';
    if (tile.dataset.deadline) {
      const t = { deadline: Number(tile.dataset.deadline), span: Number(tile.dataset.span) };
      state = clockState(t, now);
      const label = `${TARGET_WORDS[tile.dataset.target] || tile.dataset.target} target`;
      clock.textContent = state === 'late' ? `BREACHED: ${label}, ${clockWords(t, now)}` : `${label}: ${clockWords(t, now)}`;
    }
    if (tile.dataset.hubBreach && state !== 'late') {
      state = 'late';
      if (clock) clock.textContent = `BREACHED: ${TARGET_WORDS[tile.dataset.hubBreach] || tile.dataset.hubBreach} target`;
    }
    if (tile.dataset.clock !== state) {
      tile.dataset.clock = state;
      tile.querySelector('.marker').textContent = state === 'late' ? '⚠ BREACHED ' : state === 'near' ? '◔ CLOSE ' : '';
    }
  }
}

// ----- search ---------------------------------------------------------------------------

/** Filters the tiles by reference, address or a caller's phone, as the user types. */
function applySearch() {
  const q = $('search').value.trim().toLowerCase();
  const digits = q.replace(/\D/g, '');
  const tiles = [...document.querySelectorAll('.incident-tile')];
  let shown = 0;
  for (const tile of tiles) {
    const hit = !q || tile.dataset.search.includes(q) || (digits.length >= 3 && tile.dataset.phones.split(' ').some((p) => p.includes(digits)));
    tile.hidden = !hit;
    if (hit) shown++;
  }
  $('search-count').textContent = q ? `${shown} of ${tiles.length} incidents match` : '';
}

function renderResources() {
  // Retired resources stay in the store (history names them) but leave the lists.
  const all = Object.values(client.store.resources).filter((r) => !r.retired).sort((a, b) => a.name.localeCompare(b.name));
  fill($('resource-columns'), RESOURCE_COLUMNS.map((s) => h('div', { role: 'group', 'aria-label': `Resources ${words(s)}`, dataset: { column: s } },
    h('h3', {}, `${words(s)} (${all.filter((r) => r.status === s).length})`),
    all.filter((r) => r.status === s).map((r) => h('div', { class: 'tile', dataset: { resource: r.id, status: r.status } },
      r.name, h('span', { class: 'muted' }, ` · ${r.team}`))))));
}

// ----- the next shift change -------------------------------------------------------------

async function loadShiftChange() {
  try {
    shiftChange = (await api('/api/roster/next')).next;
  } catch (e) {
    fill($('shift-change'), h('p', {}, `Shift change unavailable: ${e.message}`));
    return;
  }
  renderShiftChange();
  // The boundary's own roster events ask again; this is the fallback if none comes.
  clearTimeout(shiftTimer);
  if (shiftChange) {
    shiftTimer = setTimeout(() => { if (client.state === 'live') loadShiftChange(); },
      Math.max(0, Date.parse(shiftChange.at) - Date.now()) + 2000);
  }
}

function renderShiftChange() {
  if (shiftChange === undefined) return;
  const el = $('shift-change');
  const next = shiftChange;
  el.dataset.at = next?.at || '';
  if (!next) {
    fill(el, h('p', { class: 'muted' }, 'No shift starts or ends ahead.'));
    return;
  }
  const names = (ids) => ids.map((id) => client.store.resources[id]?.name || id).join(', ');
  fill(el, h('p', {}, 'At ', h('strong', {}, clock(next.at))),
    next.on.length > 0 && h('p', { class: 'shift-on', dataset: { resources: next.on.join(' ') } }, `On duty: ${names(next.on)}`),
    next.off.length > 0 && h('p', { class: 'shift-off', dataset: { resources: next.off.join(' ') } }, `Off duty: ${names(next.off)}`));
}

function operators() {
  return Object.values(client.store.users).filter((u) => ['operator', 'supervisor'].includes(u.role) && !u.disabled);
}

function renderWorkload() {
  const open = Object.values(client.store.incidents).filter((i) => OPEN_INCIDENT.includes(i.status));
  fill($('workload'), operators().map((u) => {
    const mine = open.filter((i) => i.opened_by === u.id);
    return h('li', { dataset: { user: u.id } }, h('strong', {}, u.name), ` (${u.role}): ${mine.length} open`,
      mine.length > 0 && h('div', { class: 'muted' }, mine.map((i) => `${i.reference} ${words(i.status)}`).join(', ')));
  }));
}

function buildGuidance() {
  guideTo = h('select', { id: 'guide-to', name: 'audience' });
  const text = h('textarea', { id: 'guide-text', name: 'text', rows: 2 });
  fill($('guide-form'), h('label', { for: 'guide-to' }, 'Operator'), guideTo, h('label', { for: 'guide-text' }, 'Guidance'), text,
    h('button', { type: 'submit' }, 'Send guidance'));
  $('guide-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!guideTo.value || !text.value.trim()) return;
    const ok = await run(client, { kind: 'message.broadcast', audience: `user:${guideTo.value}`, text: text.value.trim(), requires_ack: true }, e.target);
    if (ok !== undefined) text.value = '';
  });
}

function buildOverride() {
  overrideOn = h('select', { id: 'ov-incident', name: 'incident_id' });
  // The rules the hub lets a supervisor waive come from the hub's own list (the
  // catalogue's override_rules; PROTOCOL.md, "Centre rules"), never spelt here.
  const rules = h('datalist', { id: 'ov-rules' });
  const rule = h('input', { id: 'ov-rule', name: 'rule', list: 'ov-rules' });
  api('/api/catalogue').then((c) => {
    const known = c.override_rules || [];
    fill(rules, known.map((r) => h('option', { value: r.rule }, `${r.rule}: ${r.protects}`)));
    if (known[0]) rule.placeholder = `e.g. ${known[0].rule}`;
  }).catch((e) => console.warn('catalogue', e));
  const why = h('textarea', { id: 'ov-why', name: 'justification', rows: 2 });
  fill($('override-form'), h('label', { for: 'ov-incident' }, 'Incident'), overrideOn, h('label', { for: 'ov-rule' }, 'Rule'), rule, rules,
    h('label', { for: 'ov-why' }, 'Justification'), why, h('button', { type: 'submit', class: 'danger' }, 'Override'));
  $('override-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!overrideOn.value || !rule.value.trim() || !why.value.trim()) return;
    const ok = await run(client, { kind: 'incident.override', incident_id: overrideOn.value, rule: rule.value.trim(), justification: why.value.trim() }, e.target);
    if (ok !== undefined) { rule.value = ''; why.value = ''; }
  });
}

/** Refills the pickers, keeping what is chosen. */
function refreshSelects() {
  const keep = (sel, options) => {
    const v = sel.value;
    fill(sel, options);
    if ([...sel.options].some((o) => o.value === v)) sel.value = v;
  };
  keep(guideTo, operators().filter((u) => u.id !== client.user.id).map((u) => h('option', { value: u.id }, u.name)));
  keep(overrideOn, Object.values(client.store.incidents).filter((i) => i.status !== 'closed')
    .map((i) => h('option', { value: i.id }, `${i.reference} · ${words(i.status)}`)));
}

// ----- the map: Leaflet (vendored), markers as text pins so they show without tiles ----
function renderMap() {
  const L = window.L;
  const box = $('map');
  if (!L || !box) return;
  if (!map) {
    map = L.map(box, { attributionControl: true }).setView([51.51, -0.12], 12);
    addTiles(L, map);
    layer = L.layerGroup().addTo(map);
  }
  layer.clearLayers();
  for (const r of Object.values(client.store.resources)) {
    if (r.location?.lat != null && !r.retired) pin(r.location.lat, r.location.lon, 'res', `R ${r.name.split(' ')[0]}`, `${r.name}: ${words(r.status)}`);
  }
  for (const i of Object.values(client.store.incidents)) {
    if (OPEN_INCIDENT.includes(i.status) && i.location?.lat != null) pin(i.location.lat, i.location.lon, 'inc', `I ${i.reference.slice(-3)}`, `${i.reference}: ${words(i.type)}, ${words(i.status)}`);
  }
}

/**
 * A text pin with a tooltip. Leaflet renders a *string* icon `html` or tooltip as
 * markup, so both are given as DOM nodes: a name such as `<img onerror=…>` shows as
 * those characters and never runs.
 */
function pin(lat, lon, cls, text, title) {
  const L = window.L;
  L.marker([lat, lon], {
    icon: L.divIcon({ className: `pin ${cls}`, html: h('span', {}, text) }), title, alt: title, keyboard: true,
  }).addTo(layer).bindTooltip(h('span', {}, title));
}
