// The supervisor board: every open incident and resource live in status columns,
// alerts that stay until acknowledged, operator workload, live guidance to one
// operator, overrides with a justification, and broadcasts.

import { h, fill, age, badge, words, startApp, run, throttleFrame, OPEN_INCIDENT } from './lib/ui.js';
import { bindBroadcast } from './lib/desk.js';
import { api } from './lib/muster.js';

const client = startApp(['supervisor', 'admin', 'operator']);
const $ = (id) => document.getElementById(id);
const ALERT_KINDS = ['assignment.escalated', 'checkin.missed', 'target.breached'];
const RESOURCE_COLUMNS = ['available', 'assigned', 'en_route', 'on_scene', 'unavailable', 'off_duty'];
let map = null; // Leaflet, made on first render
let layer = null;
let guideTo; // pickers, filled on every render
let overrideOn;
let alerts = client ? client.kept('alerts', []) : [];

if (client) {
  $('review-link').hidden = client.user.role !== 'supervisor';
  client.subscribe((f) => {
    if (f && ALERT_KINDS.includes(f.event.kind)) {
      alerts.push({ seq: f.seq, at: f.at, event: f.event });
      client.keep('alerts', alerts);
    }
  });
  client.subscribe(throttleFrame(render));
  bindBroadcast(client, $('broadcast'), $('sent'));
  buildGuidance();
  buildOverride();
  setInterval(() => { for (const el of document.querySelectorAll('[data-since]')) el.textContent = age(el.dataset.since); }, 1000);
  render();
}

function render() {
  renderMap();
  renderIncidents();
  renderResources();
  renderAlerts();
  renderWorkload();
  refreshSelects();
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
  return h('div', { class: 'tile', dataset: { incident: i.id, status: i.status } },
    h('strong', {}, i.reference), ' ', i.priority ? badge(i.priority) : '', ' ', words(i.type),
    h('div', { class: 'muted' }, i.location?.text || '', ' · ', h('span', { dataset: { since: i.opened_at } }, age(i.opened_at))),
    asg.map((a) => {
      const done = a.actions.filter((x) => x.done_at).length;
      return h('div', { dataset: { assignment: a.id, status: a.status, done: String(done) } },
        client.store.resources[a.resource_id]?.name || a.resource_id, ' ', badge(a.status), ` ${done}/${a.actions.length} actions`);
    }));
}

function renderResources() {
  const all = Object.values(client.store.resources).sort((a, b) => a.name.localeCompare(b.name));
  fill($('resource-columns'), RESOURCE_COLUMNS.map((s) => h('div', { role: 'group', 'aria-label': `Resources ${words(s)}`, dataset: { column: s } },
    h('h3', {}, `${words(s)} (${all.filter((r) => r.status === s).length})`),
    all.filter((r) => r.status === s).map((r) => h('div', { class: 'tile', dataset: { resource: r.id, status: r.status } },
      r.name, h('span', { class: 'muted' }, ` · ${r.team}`))))));
}

function renderAlerts() {
  if (!alerts.length) return fill($('alerts'), h('li', { class: 'muted' }, 'No alerts.'));
  fill($('alerts'), alerts.map((a) => h('li', { class: 'alert', dataset: { seq: String(a.seq) } },
    words(a.event.kind), ': ', describeAlert(a.event), ' ',
    h('button', { type: 'button', 'aria-label': `Acknowledge alert ${words(a.event.kind)}`, onclick: () => {
      alerts = alerts.filter((x) => x.seq !== a.seq);
      client.keep('alerts', alerts);
      render();
    } }, 'Acknowledge'))));
}

function describeAlert(e) {
  const asg = e.assignment_id && client.store.assignments[e.assignment_id];
  const inc = client.store.incidents[e.incident_id || asg?.incident_id];
  const res = asg && client.store.resources[asg.resource_id];
  const about = e.case_id ? `case ${e.case_id}` : e.plan_id ? `support plan ${e.plan_id}` : null;
  return [inc?.reference, about, res?.name, e.action, e.target, e.step].filter(Boolean).join(' · ');
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
    const tiles = new URLSearchParams(location.search).get('tiles')
      || document.querySelector('meta[name="muster-tile-url"]')?.content;
    if (tiles) L.tileLayer(tiles, { maxZoom: 19, attribution: '&copy; map data contributors' }).addTo(map);
    layer = L.layerGroup().addTo(map);
  }
  layer.clearLayers();
  for (const r of Object.values(client.store.resources)) {
    if (r.location?.lat != null) pin(r.location.lat, r.location.lon, 'res', `R ${r.name.split(' ')[0]}`, `${r.name}: ${words(r.status)}`);
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
