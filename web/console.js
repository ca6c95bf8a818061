// The operator console: queue → take → open incident → call script (live priority) →
// assess → recommendations → assign, and the incident page that follows it to closure.
// Panels with forms are built once per selection and only their read-only parts are
// redrawn on events, so a live update never eats what the operator is typing.

import { api } from './lib/muster.js';
import { h, fill, age, byTime, clock, badge, words, startApp, run, setBusy, showError, throttleFrame, keepDrafts, forgetDrafts, OPEN_INCIDENT } from './lib/ui.js';
import { bindBroadcast, bindGuidance, bindInbox } from './lib/desk.js';
import { bindCasework } from './casework.js';
import { locationField, premiseFor } from './lib/where.js';
import { currentTarget } from './lib/targets.js';
import { hubNow } from './lib/exercise.js';

const client = startApp(['operator', 'supervisor', 'admin']);
const $ = (id) => document.getElementById(id);
let types = {};
let catalogue = null;
let casework = null; // the case and plan pages
let current = null; // the incident on the page
let page = null; // its live parts
let catalogueIn = null; // settles once the catalogue has come (or failed)
// The hub's bound on long texts (descriptions, notes, summaries, text answers).
const MAX_TEXT = 4000;

if (client) {
  catalogueIn = api('/api/catalogue').then((c) => {
    catalogue = c;
    types = Object.fromEntries(c.types.map((t) => [t.id, t]));
    renderAll();
  }).catch((e) => console.warn('catalogue', e));
  client.subscribe(throttleFrame(renderAll));
  client.subscribe((f) => { if (f && current && f.event.incident_id === current) refreshDetail(); });
  bindBroadcast(client, $('broadcast'), $('sent'), () => current);
  bindGuidance(client, $('guidance'));
  bindInbox(client, $('inbox'));
  setInterval(tickClocks, 1000);
  document.addEventListener('keydown', onKey);
  bindCaseworkPanels();
  $('new-call').addEventListener('click', () => newCall());
  // `/console#incident=…` (each incident has its own address, so a reload keeps it),
  // `#case=…` or `#plan=…` (links from the review page) open once the store is in.
  const stop = client.subscribe(() => {
    if (client.state !== 'live') return;
    stop();
    openFromHash();
  });
  addEventListener('hashchange', openFromHash);
}

/** Puts `hash` (`#incident=inc_42`, or '' for none) in the address without a new history entry. */
function setHash(hash) {
  if (location.hash === hash || (!hash && !location.hash)) return;
  history.replaceState(history.state, '', `${location.pathname}${location.search}${hash}`);
}

/** Cases and support plans (operators and supervisors; admins handle neither). */
function bindCaseworkPanels() {
  $('review-link').hidden = client.user.role !== 'supervisor';
  if (!['operator', 'supervisor'].includes(client.user.role)) {
    for (const el of document.querySelectorAll('.casework')) el.hidden = true;
    return;
  }
  casework = bindCasework(client, {
    caseList: $('case-list'), planList: $('plan-list'), newCase: $('new-case'), newPlan: $('new-plan'),
    catalogue: () => catalogue,
    show: (root, focus) => {
      if (location.hash.startsWith('#incident=')) setHash('');
      current = null;
      page = null;
      fill($('page'), root);
      renderIncidents();
      if (focus) $('page').focus();
    },
  });
}

function openFromHash() {
  const m = /^#(incident|case|plan)=(.+)$/.exec(location.hash);
  if (!m) return;
  const id = decodeURIComponent(m[2]);
  if (m[1] === 'incident') {
    // The incident page is built from its type's script: wait for the catalogue.
    if (id !== current) catalogueIn.then(() => { if (id !== current) select(id, true); });
    return;
  }
  if (!casework) return;
  if (m[1] === 'case') casework.openCase(id, true); else casework.openPlan(id, true);
}

function onKey(e) {
  // `n` opens the new-call form, unless the operator is typing or has a modifier down.
  const typing = e.target instanceof Element && e.target.closest('input, textarea, select, [contenteditable="true"]');
  if (e.key === 'n' && !e.altKey && !e.ctrlKey && !e.metaKey && !typing) { e.preventDefault(); newCall(); return; }
  if (!e.altKey) return;
  if (e.key === 'n' || e.key === 'N') { e.preventDefault(); takeNext(); }
  if (e.key === 'i' || e.key === 'I') { e.preventDefault(); $('incidents').querySelector('button')?.focus(); }
}

function renderAll() {
  renderRadioCalls();
  renderQueue();
  renderMine();
  renderIncidents();
  if (current) updatePage();
}

// ----- the queue and my contacts ------------------------------------------------------

function queued() {
  return Object.values(client.store.contacts).filter((c) => c.status === 'queued')
    .sort((a, b) => byTime(a.received_at, b.received_at));
}

function renderQueue() {
  const items = queued();
  if (!items.length) return fill($('queue'), h('li', { class: 'muted' }, 'Nobody waiting.'));
  fill($('queue'), items.map((c) => h('li', { dataset: { contact: c.id } },
    h('strong', {}, c.caller?.name || c.caller?.phone || 'Unknown caller'), ` · ${words(c.channel)} · `,
    h('span', { dataset: { since: c.received_at } }, age(c.received_at)), ' waiting',
    h('div', {}, c.summary),
    h('button', { type: 'button', 'aria-label': `Take contact: ${c.summary}`, onclick: () => take(c.id) }, 'Take'))));
}

async function takeNext() {
  const next = queued()[0];
  if (next) await take(next.id);
}

async function take(id) {
  if (await run(client, { kind: 'contact.take', contact_id: id }) === undefined) return;
  renderMine();
  $('mine').querySelector('select')?.focus();
}

function renderMine() {
  const box = $('mine');
  const mine = Object.values(client.store.contacts)
    .filter((c) => c.status === 'taken' && c.taken_by === client.user.id && !c.incident_id);
  // Keep the forms the operator is filling in: only add and remove whole entries.
  const ids = new Set(mine.map((c) => c.id));
  for (const el of [...box.children]) if (!ids.has(el.dataset.contact)) el.remove();
  for (const c of mine) if (!box.querySelector(`[data-contact="${c.id}"]`)) box.append(contactForm(c));
  if (!mine.length && !box.children.length) box.append(h('p', { class: 'muted', dataset: { contact: '' } }, 'None.'));
  else box.querySelector('[data-contact=""]')?.remove();
}

function contactForm(c) {
  const typeSel = h('select', { name: 'type', required: true, 'aria-label': 'Incident type' },
    h('option', { value: '' }, 'Choose the incident type…'),
    Object.values(types).map((t) => h('option', { value: t.id }, t.name)));
  const desc = h('textarea', { name: 'description', rows: 2, required: true, maxlength: MAX_TEXT }, c.summary);
  const where = locationField(client, { initial: c.location, required: true });
  const dupes = duplicateCandidates(c);
  const form = h('form', { class: 'rec', dataset: { contact: c.id }, onsubmit: async (e) => {
    e.preventDefault();
    const location = where.value();
    const data = await run(client, { kind: 'incident.open', contact_id: c.id, type: typeSel.value, description: desc.value.trim(), location }, e.target);
    if (data?.incident_id) select(data.incident_id, true);
  } },
  h('p', {}, h('strong', {}, c.caller?.name || c.caller?.phone || 'Caller'), ': ', c.summary),
  h('label', {}, 'Incident type', typeSel),
  h('label', {}, 'Description', desc, counter(desc)),
  where.root,
  dupes.length > 0 && h('div', { role: 'group', 'aria-label': 'Possible duplicates' },
    h('p', { class: 'muted' }, 'Possible duplicates — link instead of opening a new incident:'),
    dupes.map((i) => h('button', { type: 'button', class: 'secondary', onclick: () => run(client, { kind: 'contact.link', contact_id: c.id, incident_id: i.id }).then((d) => d && select(i.id)) },
      `Link to ${i.reference} (${words(i.type)}, ${i.location?.text || ''})`))),
  h('button', { type: 'submit' }, 'Open incident'), ' ',
  h('button', { type: 'button', class: 'secondary', onclick: () => run(client, { kind: 'contact.close', contact_id: c.id, outcome: 'no_action' }) }, 'Close contact (no action)'));
  keepDrafts(form, c.id);
  return form;
}

/** Open incidents near the contact (250 m) or at the same place by name. */
function duplicateCandidates(c) {
  const loc = c.location || {};
  return Object.values(client.store.incidents).filter((i) => OPEN_INCIDENT.includes(i.status)).filter((i) => {
    const l = i.location || {};
    if (loc.lat != null && l.lat != null) return Math.hypot(loc.lat - l.lat, (loc.lon - l.lon) * 0.62) * 111000 < 250;
    return loc.text && l.text && loc.text.trim().toLowerCase() === l.text.trim().toLowerCase();
  }).slice(0, 3);
}

// ----- a new call: one that did not come through the intake gateway ---------------------

const CHANNELS = ['phone', 'walk_in', 'radio', 'email', 'sms', 'chat', 'web'];

/**
 * The new-call form on the page (`n`): channel (phone preselected), caller, summary and
 * location; records the contact (`contact.receive`, the log says who took it), takes it
 * and lands the operator on it in My contacts, ready to open or link an incident.
 */
function newCall() {
  if ($('new-call-form')) return $('new-call-form').querySelector('select, input')?.focus();
  casework?.release();
  if (location.hash.startsWith('#incident=')) setHash('');
  current = null;
  page = null;
  const channel = h('select', { id: 'nc-channel', name: 'channel' }, CHANNELS.map((c) => h('option', { value: c, selected: c === 'phone' }, words(c))));
  const name = h('input', { id: 'nc-name', name: 'caller.name', autocomplete: 'off', maxlength: 500 });
  const phone = h('input', { id: 'nc-phone', name: 'caller.phone', type: 'tel', autocomplete: 'off', maxlength: 500 });
  const summary = h('textarea', { id: 'nc-summary', name: 'summary', rows: 2, required: true, maxlength: MAX_TEXT });
  const where = locationField(client, { label: 'Location' });
  const form = h('form', { id: 'new-call-form', 'aria-labelledby': 'nc-title', onsubmit: async (e) => {
    e.preventDefault();
    if (!summary.value.trim()) return showError({ code: 'validation_failed', message: 'summary: say what the call is about' }, form);
    const cmd = { kind: 'contact.receive', channel: channel.value, summary: summary.value.trim() };
    const caller = Object.fromEntries([['name', name.value.trim()], ['phone', phone.value.trim()]].filter(([, v]) => v));
    if (Object.keys(caller).length) cmd.caller = caller;
    const loc = where.value();
    if (loc.text || loc.lat != null) cmd.location = loc;
    const data = await run(client, cmd, form);
    if (!data?.contact_id) return;
    if (await run(client, { kind: 'contact.take', contact_id: data.contact_id }) === undefined) return;
    fill($('page'), h('p', { class: 'muted' }, 'Call recorded: open or link an incident from My contacts.'));
    renderMine();
    $('mine').querySelector(`[data-contact="${CSS.escape(data.contact_id)}"] select`)?.focus();
  } },
  h('h2', { id: 'nc-title' }, 'New call'),
  h('p', { class: 'muted' }, 'A call, walk-in or radio report that did not come through the intake gateway.'),
  h('div', { class: 'grid2' }, h('label', { for: 'nc-channel' }, 'Channel', channel), h('label', { for: 'nc-name' }, 'Caller name', name),
    h('label', { for: 'nc-phone' }, 'Phone', phone)),
  h('label', { for: 'nc-summary' }, 'Summary', h('span', { class: 'req-mark', 'aria-label': 'required' }, ' *')), summary, counter(summary),
  where.root,
  h('button', { type: 'submit' }, 'Record call'), ' ',
  h('button', { type: 'button', class: 'secondary', onclick: () => fill($('page'), h('p', { class: 'muted' }, 'Take a contact or choose an incident.')) }, 'Discard'));
  fill($('page'), form);
  renderIncidents();
  channel.focus();
}

// ----- the incident list ----------------------------------------------------------------

/**
 * The target the incident runs against now, as [label, deadline ms, length ms]: the
 * hub's own clocks (lib/targets.js), so the list and the board agree with its breaches.
 */
function target(i) {
  const t = currentTarget(client.store, types, i);
  return t && [t.target, t.deadline, t.span];
}

function renderIncidents() {
  const open = Object.values(client.store.incidents).filter((i) => OPEN_INCIDENT.includes(i.status))
    .sort((a, b) => (a.priority || 'P9').localeCompare(b.priority || 'P9') || byTime(a.opened_at, b.opened_at));
  if (!open.length) return fill($('incidents'), h('li', { class: 'muted' }, 'No open incidents.'));
  fill($('incidents'), open.map((i) => {
    const t = target(i);
    return h('li', { class: i.id === current ? 'selected' : '', dataset: { incident: i.id, status: i.status } },
      h('button', { type: 'button', class: 'link', onclick: () => select(i.id, true) }, `${i.reference} · ${types[i.type]?.name || words(i.type)}`), ' ',
      badge(i.status), ' ', i.priority ? badge(i.priority) : h('span', { class: 'muted' }, 'no priority'),
      h('div', { class: 'muted' }, i.location?.text || '', ' · age ', h('span', { dataset: { since: i.opened_at } }, age(i.opened_at))),
      t && h('div', { dataset: { deadline: t[1], span: t[2] } }, `${t[0]} target`));
  }));
  tickClocks();
}

function tickClocks() {
  const now = hubNow();
  for (const el of document.querySelectorAll('[data-since]')) el.textContent = age(el.dataset.since, now);
  for (const el of document.querySelectorAll('[data-deadline]')) {
    const left = Number(el.dataset.deadline) - now;
    el.className = left < 0 ? 'clock-late' : left < Number(el.dataset.span) * 0.25 ? 'clock-near' : 'clock-ok';
    const word = el.textContent.split(' target')[0];
    el.textContent = `${word} target: ${left < 0 ? `${age(new Date(now + left).toISOString(), now)} over` : `${Math.ceil(left / 1000)} s left`}`;
  }
}

// ----- units to call by radio -------------------------------------------------------------

/**
 * Assignments of units nobody carries the app for, not yet acknowledged: the hub's
 * ladder for them starts with `call_by_radio` at once (PROTOCOL.md, escalation), so the
 * desk is asked to call each by name until it records the radio acknowledgement.
 */
function renderRadioCalls() {
  const box = $('radio-calls');
  const calls = Object.values(client.store.assignments).filter((a) => a.status === 'notified'
    && client.store.resources[a.resource_id] && !client.store.resources[a.resource_id].user_id)
    .sort((a, b) => byTime(a.notified_at, b.notified_at));
  box.hidden = !calls.length;
  fill($('radio-list'), calls.map((a) => {
    const name = client.store.resources[a.resource_id].name;
    const i = client.store.incidents[a.incident_id];
    return h('li', { dataset: { assignment: a.id } },
      h('strong', {}, `Call ${name} by radio`), ` — ${i?.reference || a.incident_id} · ${types[i?.type]?.name || words(i?.type || '')} · ${i?.location?.text || ''} · waiting `,
      h('span', { dataset: { since: a.notified_at } }, age(a.notified_at)),
      h('button', { type: 'button', onclick: () => run(client, { kind: 'assignment.acknowledge', assignment_id: a.id, via: 'radio' }) }, `${name} acknowledged by radio`),
      i && h('button', { type: 'button', class: 'secondary', onclick: () => select(i.id, true) }, `Open ${i.reference}`));
  }));
}

// ----- the incident page -----------------------------------------------------------------

function select(id, focus) {
  casework?.release();
  current = id;
  const i = client.store.incidents[id];
  if (!i) return;
  setHash(`#incident=${encodeURIComponent(id)}`);
  page = buildPage(i);
  fill($('page'), page.root);
  updatePage();
  refreshDetail();
  renderIncidents();
  if (focus) ($('page').querySelector('#script select, #script input') || $('page')).focus();
}

function buildPage(i) {
  const t = types[i.type] || { questions: [], actions: [] };
  const parts = {
    head: h('div'), premise: h('div', { class: 'premise' }), suggested: h('p', { id: 'suggested', role: 'status', 'aria-live': 'polite' }),
    recs: h('div', { id: 'recs', onpointerleave: () => releaseRecs() }), confirm: h('div', { id: 'dispatch-confirm' }), assignments: h('ul', { class: 'plain', id: 'assignments' }),
    notes: h('ul', { class: 'plain', 'aria-label': 'Notes' }), callers: h('ul', { class: 'plain', id: 'callers' }), timeline: h('ol', { class: 'timeline', dataset: { scrolls: 'Timeline' } }), conformance: h('ul', { class: 'plain' }),
  };
  const script = h('form', { id: 'script', onsubmit: (e) => e.preventDefault() },
    t.questions.map((q) => question(i, q)));
  const assess = assessForm(i, t);
  parts.overrideBox = h('div', { id: 'override-offer', class: 'override-offer', role: 'group', 'aria-label': 'Required questions not answered', hidden: true });
  parts.assessButton = assess.querySelector('button[type="submit"]');
  const assign = assignForm(t);
  parts.sections = {
    script: h('section', { 'aria-labelledby': 'h-script' }, h('h3', { id: 'h-script' }, 'Call script'),
      h('p', { class: 'muted' }, h('span', { class: 'req-mark' }, '*'), ' required question'), script,
      h('p', {}, 'Computed priority: '), parts.suggested),
    assess: h('section', { 'aria-labelledby': 'h-assess' }, h('h3', { id: 'h-assess' }, 'Assess validity and priority'),
      (t.validity_checks || []).length > 0 && h('ul', {}, t.validity_checks.map((v) => h('li', {}, v))), assess, parts.overrideBox),
    dispatch: h('section', { 'aria-labelledby': 'h-recs' }, h('h3', { id: 'h-recs' }, 'Recommended resources'), assign.form, parts.confirm, parts.recs),
    resolve: resolveForm(i),
    cancel: cancelForm(i),
    merge: mergeForm(i),
  };
  parts.standDown = reasonForm({ id: 'stand-down', prefix: 'sd', kind: 'assignment.cancel', label: 'Reason for standing down',
    missing: 'Say why the resource is stood down.', submit: 'Stand down', keep: 'Keep it' });
  parts.untick = reasonForm({ id: 'untick', prefix: 'ut', kind: 'assignment.action_undone', label: 'Why is it not done after all?',
    missing: 'Say why the action is unticked.', submit: 'Untick', keep: 'Keep it ticked' });
  parts.assign = assign;
  parts.root = h('div', {}, parts.head, parts.sections.script, parts.sections.assess, parts.sections.dispatch,
    h('h3', {}, 'Callers'), parts.callers,
    h('h3', {}, 'Assignments'), parts.assignments, parts.standDown.form, parts.untick.form,
    h('h3', {}, 'Notes'), parts.notes, noteForm(i),
    parts.sections.resolve, parts.sections.merge.section, parts.sections.cancel,
    h('h3', {}, 'Conformance'), parts.conformance,
    h('h3', {}, 'Timeline'), parts.timeline);
  keepDrafts(parts.root, i.id);
  return parts;
}

function question(i, q) {
  const id = `q-${q.id}`;
  const send = (value) => run(client, { kind: 'incident.answer', incident_id: i.id, answers: { [q.id]: value } }, input.form);
  let input;
  const have = i.answers?.[q.id];
  if (q.kind === 'yes_no') {
    input = h('select', { id, name: `answers.${q.id}`, required: q.required, onchange: (e) => e.target.value && send(e.target.value === 'yes') },
      h('option', { value: '' }, '—'), h('option', { value: 'yes', selected: have === true }, 'Yes'), h('option', { value: 'no', selected: have === false }, 'No'));
  } else if (q.kind === 'choice') {
    input = h('select', { id, name: `answers.${q.id}`, required: q.required, onchange: (e) => e.target.value && send(e.target.value) },
      h('option', { value: '' }, '—'), (q.options || []).map((o) => h('option', { value: o, selected: have === o }, words(o))));
  } else if (q.kind === 'number') {
    input = h('input', { id, name: `answers.${q.id}`, type: 'number', min: 0, required: q.required, value: have ?? '', onchange: (e) => e.target.value !== '' && send(Number(e.target.value)) });
  } else {
    input = h('textarea', { id, name: `answers.${q.id}`, rows: 2, maxlength: MAX_TEXT, required: q.required, onchange: (e) => send(e.target.value) });
    input.value = have ?? '';
  }
  input.setAttribute('aria-describedby', `${id}-err`);
  // Answering clears the mark a refused assessment left here.
  input.addEventListener('change', () => markQuestion(q.id, ''));
  return h('div', { class: 'question', dataset: { question: q.id } },
    h('label', { for: id }, q.text, q.required && h('span', { class: 'req-mark', 'aria-label': 'required' }, ' *')), input,
    q.kind === 'text' && counter(input),
    h('p', { id: `${id}-err`, class: 'field-error' }));
}

/** Shows `message` next to question `qid` (empty clears it). */
function markQuestion(qid, message) {
  const input = document.getElementById(`q-${qid}`);
  const err = document.getElementById(`q-${qid}-err`);
  if (!input || !err) return;
  err.textContent = message;
  if (message) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
}

/**
 * Required questions of incident `i` with no answer yet (blank text counts as none). An
 * answer still on its way counts: it is in its field, and its command goes ahead of
 * the assessment on the same connection.
 */
function unanswered(i, t) {
  return (t.questions || []).filter((q) => q.required).filter((q) => {
    const v = i.answers?.[q.id];
    const typed = document.getElementById(`q-${q.id}`)?.value;
    const blank = (x) => x == null || (typeof x === 'string' && !x.trim());
    return blank(v) && blank(typed);
  });
}

/**
 * Marks each unanswered required question in place, keeps focus on the first, and
 * offers the override (supervisors) or says who can give one.
 */
function refuseUnanswered(i, t, missing) {
  for (const q of t.questions || []) markQuestion(q.id, '');
  for (const q of missing) markQuestion(q.id, 'Required: ask the caller and answer this before assessing by protocol.');
  const box = page?.overrideBox;
  if (box) {
    box.hidden = false;
    fill(box, overrideOffer(i, missing));
  }
  document.getElementById(`q-${missing[0].id}`)?.focus();
}

function overrideOffer(i, missing) {
  const names = missing.map((q) => q.text).join('; ');
  const intro = h('p', {}, `${missing.length} required question${missing.length > 1 ? 's are' : ' is'} not answered: ${names}. `,
    'Answer them, choose another method with a reason, or waive the rule with a justification.');
  if (client.user.role !== 'supervisor') return [intro, h('p', { class: 'muted' }, 'Only a supervisor can waive a rule: ask one to override required_questions on this incident.')];
  const just = h('textarea', { id: 'override-justification', rows: 2, maxlength: MAX_TEXT, 'aria-describedby': 'override-justification-err' });
  const err = h('p', { id: 'override-justification-err', class: 'field-error' });
  return [intro, h('form', { onsubmit: async (e) => {
    e.preventDefault();
    const text = just.value.trim();
    if (text.length < 10) {
      err.textContent = 'Write at least 10 characters saying why the questions cannot be answered.';
      just.setAttribute('aria-invalid', 'true');
      return just.focus();
    }
    if (await run(client, { kind: 'incident.override', incident_id: i.id, rule: 'required_questions', justification: text }) === undefined) return;
    for (const q of missing) markQuestion(q.id, '');
    page.overrideBox.hidden = true;
    page.assessButton?.focus();
  } },
  h('label', { for: just.id }, 'Justification for assessing without these answers'), just, counter(just), err,
  h('button', { type: 'submit' }, 'Override required questions'))];
}

/** "n characters left" under a long text field, turning red near the end. */
function counter(field) {
  const max = Number(field.getAttribute('maxlength')) || MAX_TEXT;
  const out = h('p', { class: 'counter', 'aria-live': 'polite' });
  const update = () => {
    const left = max - field.value.length;
    out.textContent = `${field.value.length} / ${max} characters`;
    out.classList.toggle('near', left < max * 0.1);
  };
  field.addEventListener('input', update);
  update();
  return out;
}

function assessForm(i, t) {
  const validity = h('select', { name: 'validity', 'aria-label': 'Validity' }, ['verified', 'unverified', 'duplicate', 'false_report'].map((v) => h('option', { value: v }, words(v))));
  const priority = h('select', { name: 'priority', 'aria-label': 'Priority' }, h('option', { value: '' }, 'as computed'), ['P1', 'P2', 'P3', 'P4'].map((p) => h('option', { value: p }, p)));
  const method = h('select', { name: 'method', 'aria-label': 'Method' }, ['protocol', 'manual', 'matrix'].map((m) => h('option', { value: m }, m)));
  const reason = h('input', { name: 'reason', 'aria-label': 'Reason', placeholder: 'why this validity and priority' });
  const dup = h('input', { name: 'duplicate_of', 'aria-label': 'Duplicate of (incident id)' });
  const button = h('button', { type: 'submit' }, 'Assess');
  return h('form', { onsubmit: async (e) => {
    e.preventDefault();
    const cmd = { kind: 'incident.assess', incident_id: i.id, validity: validity.value, method: method.value, reason: reason.value.trim() };
    if (priority.value) cmd.priority = priority.value;
    if (validity.value === 'duplicate') cmd.duplicate_of = dup.value.trim();
    // The centre's rule required_questions: checked here first so the questions are
    // marked in place; the hub refuses the same (and says so if this copy is stale).
    const now = client.store.incidents[i.id] || i;
    const binds = cmd.method === 'protocol' && ['verified', 'unverified'].includes(cmd.validity)
      && !(now.overrides || []).some((o) => o.rule === 'required_questions');
    const missing = binds ? unanswered(now, t) : [];
    if (missing.length) return refuseUnanswered(now, t, missing);
    // Busy until the result, as run() makes every other command (one per intent).
    const busy = [e.target, e.submitter].filter(Boolean);
    setBusy(busy, true);
    try {
      await client.command(cmd);
      forgetDrafts(e.target);
    } catch (err) {
      if (err.rule === 'required_questions') return refuseUnanswered(now, t, unanswered(now, t).length ? unanswered(now, t) : t.questions.filter((q) => q.required));
      return showError(err, e.target);
    } finally {
      setTimeout(() => setBusy(busy, false), 500);
    }
    if (page?.overrideBox) page.overrideBox.hidden = true;
    setTimeout(() => $('recs').querySelector('button')?.focus(), 300);
  } },
  h('div', { class: 'grid2' }, h('label', {}, 'Validity', validity), h('label', {}, 'Priority', priority),
    h('label', {}, 'Method', method), h('label', {}, 'Reason', reason), h('label', {}, 'Duplicate of', dup)),
  button, ` Default priority for ${t.name || 'this type'}: ${t.default_priority || '—'}`);
}

function assignForm(t) {
  const resp = h('textarea', { id: 'responsibilities', rows: 2 }, t.responsibilities || '');
  const actions = h('textarea', { id: 'actions', rows: 4 }, (t.actions || []).map((a) => `${a.text}${a.required ? ' *' : ''}`).join('\n'));
  const form = h('div', {}, h('label', { for: 'responsibilities' }, 'Responsibilities'), resp,
    h('label', { for: 'actions' }, 'Actions, one a line (end with * when required)'), actions);
  const read = () => ({
    responsibilities: resp.value.trim(),
    actions: actions.value.split('\n').map((l) => l.trim()).filter(Boolean)
      .map((l) => ({ text: l.replace(/\s*\*$/, ''), required: l.endsWith('*') })),
  });
  return { form, read };
}

function resolveForm(i) {
  const outcome = h('input', { name: 'outcome', 'aria-label': 'Outcome', placeholder: 'e.g. treated_on_scene' });
  const summary = h('input', { name: 'summary', 'aria-label': 'Summary', maxlength: MAX_TEXT });
  return h('section', { 'aria-labelledby': 'h-resolve' }, h('h3', { id: 'h-resolve' }, 'Resolve and close'),
    h('form', { onsubmit: (e) => { e.preventDefault(); run(client, { kind: 'incident.resolve', incident_id: i.id, outcome: outcome.value.trim(), summary: summary.value.trim() }, e.target); } },
      h('div', { class: 'grid2' }, h('label', {}, 'Outcome', outcome), h('label', {}, 'Summary', summary, counter(summary))),
      h('button', { type: 'submit' }, 'Resolve')),
    h('button', { type: 'button', class: 'secondary', onclick: () => run(client, { kind: 'incident.close', incident_id: i.id }) }, 'Close incident'));
}

const ACTIVE = ['notified', 'acknowledged', 'en_route', 'on_scene'];

/** A badge for a resource nobody carries the app for: the desk records its reports. */
function noApp(r) {
  return r && !r.user_id ? h('span', { class: 'badge no-app', title: 'No app user: reports come by radio' }, 'no app · radio') : null;
}

/** What the unit can report next, recorded by the desk because it came by radio. */
function radioButtons(a, name) {
  const next = { notified: [['acknowledge', 'acknowledged']], acknowledged: [['en_route', 'en route']],
    en_route: [['on_scene', 'on scene'], ['completed', 'completed']], on_scene: [['completed', 'completed']] }[a.status] || [];
  const command = (step) => (step === 'acknowledge' ? { kind: 'assignment.acknowledge', assignment_id: a.id, via: 'radio' }
    : step === 'checkin' ? { kind: 'checkin', assignment_id: a.id, ok: true, via: 'radio' }
      : { kind: 'assignment.progress', assignment_id: a.id, status: step, via: 'radio' });
  if (a.status !== 'notified') next.push(['checkin', 'checked in OK']);
  return next.map(([step, said]) => h('button', { type: 'button', class: 'secondary', 'aria-label': `By radio: ${said} (${name})`,
    onclick: () => run(client, command(step)) }, `By radio: ${said}`));
}

/**
 * A command that needs a reason, asked in one small form opened from the row it is
 * about (standing a resource down, unticking an action): `open(heading, fields)` sets
 * the command's other fields.
 */
function reasonForm({ id, prefix, kind, label, missing, submit, keep }) {
  let fields = null;
  const title = h('p', { id: `${prefix}-title` });
  const reason = h('input', { id: `${prefix}-reason`, name: 'reason', 'aria-required': 'true', 'aria-describedby': `${prefix}-error` });
  const error = h('p', { id: `${prefix}-error`, class: 'field-error', hidden: true });
  const form = h('form', { id, hidden: true, 'aria-labelledby': `${prefix}-title`, onsubmit: async (e) => {
    e.preventDefault();
    if (!reason.value.trim()) {
      error.textContent = missing;
      error.hidden = false;
      return reason.focus();
    }
    if (await run(client, { kind, ...fields, reason: reason.value.trim() }, form) !== undefined) {
      form.hidden = true;
      reason.value = '';
    }
  } }, title, h('label', { for: `${prefix}-reason` }, label), reason, error,
  h('button', { type: 'submit' }, submit), ' ',
  h('button', { type: 'button', class: 'secondary', onclick: () => { form.hidden = true; } }, keep));
  return {
    form,
    open(heading, commandFields) {
      fields = commandFields;
      title.textContent = heading;
      error.hidden = true;
      form.hidden = false;
      reason.focus();
    },
  };
}

/** Cancelling an incident stands every resource down; it needs a reason. */
function cancelForm(i) {
  const reason = h('input', { id: 'cancel-reason', 'aria-required': 'true', 'aria-describedby': 'cancel-error' });
  const error = h('p', { id: 'cancel-error', class: 'field-error', hidden: true });
  return h('section', { 'aria-labelledby': 'h-cancel' }, h('h3', { id: 'h-cancel' }, 'Cancel incident'),
    h('form', { onsubmit: async (e) => {
      e.preventDefault();
      if (!reason.value.trim()) {
        error.textContent = 'Say why the incident is cancelled.';
        error.hidden = false;
        return reason.focus();
      }
      error.hidden = true;
      if (await run(client, { kind: 'incident.cancel', incident_id: i.id, reason: reason.value.trim() }) !== undefined) reason.value = '';
    } }, h('label', { for: 'cancel-reason' }, 'Reason for cancelling (every assigned resource is stood down)'), reason, error,
    h('button', { type: 'submit', class: 'danger' }, 'Cancel incident')));
}

/**
 * Merging a duplicate into the incident it repeats (its callers move there, its
 * resources are stood down, it leaves the open list). The likely originals come first:
 * the one its assessment named, then open incidents of the same type close by.
 */
function mergeForm(i) {
  const into = h('select', { id: 'merge-into', name: 'into', 'aria-required': 'true', 'aria-describedby': 'merge-error' });
  const reason = h('input', { id: 'merge-reason', name: 'reason', 'aria-required': 'true', 'aria-describedby': 'merge-error' });
  const error = h('p', { id: 'merge-error', class: 'field-error', hidden: true });
  let shown = '';
  const say = (text, control) => { error.textContent = text; error.hidden = false; control.focus(); };
  for (const el of [into, reason]) el.addEventListener('input', () => { error.hidden = true; });
  const form = h('form', { onsubmit: async (e) => {
    e.preventDefault();
    if (!into.value) return say('Choose the incident this one repeats.', into);
    if (!reason.value.trim()) return say('Say why they are the same incident.', reason);
    error.hidden = true;
    const survivor = into.value;
    if (await run(client, { kind: 'incident.merge', incident_id: i.id, into: survivor, reason: reason.value.trim() }, e.target) !== undefined) {
      reason.value = '';
      forgetDrafts(e.target);
      select(survivor, false);
    }
  } }, h('label', { for: 'merge-into' }, 'Merge into'), into,
  h('label', { for: 'merge-reason' }, 'Reason (its callers move there; its resources are stood down)'), reason, error,
  h('button', { type: 'submit' }, 'Merge'));
  return {
    section: h('section', { 'aria-labelledby': 'h-merge' }, h('h3', { id: 'h-merge' }, 'Merge into…'), form),
    refresh(now) {
      const { suggested, others } = mergeTargets(now);
      const key = [...suggested, '|', ...others].map((x) => `${x.id}:${x.status}`).join(',');
      if (key === shown) return;
      shown = key;
      const keep = into.value;
      const label = (x) => `${x.reference} · ${types[x.type]?.name || words(x.type)} · ${x.location?.text || ''}`;
      fill(into, h('option', { value: '' }, 'Choose the incident this one repeats…'),
        suggested.length > 0 && h('optgroup', { label: 'Suggested duplicates' }, suggested.map((x) => h('option', { value: x.id }, label(x)))),
        others.length > 0 && h('optgroup', { label: 'Other open incidents' }, others.map((x) => h('option', { value: x.id }, label(x)))));
      into.value = [...suggested, ...others].some((x) => x.id === keep) ? keep : '';
    },
  };
}

/** Open incidents `i` may be merged into: the likely originals first, then the rest. */
function mergeTargets(i) {
  const near = (a, b) => {
    const p = a.location || {};
    const q = b.location || {};
    if (p.lat != null && q.lat != null) return Math.hypot(p.lat - q.lat, (p.lon - q.lon) * 0.62) * 111000 < 250;
    return !!(p.text && q.text && p.text.trim().toLowerCase() === q.text.trim().toLowerCase());
  };
  const named = new Set((i.assessments || []).map((a) => a.duplicate_of).filter(Boolean));
  const open = Object.values(client.store.incidents).filter((x) => x.id !== i.id && OPEN_INCIDENT.includes(x.status))
    .sort((a, b) => byTime(a.opened_at, b.opened_at));
  const likely = (x) => named.has(x.id) || (x.type === i.type && near(x, i));
  return { suggested: open.filter(likely), others: open.filter((x) => !likely(x)) };
}

function noteForm(i) {
  const text = h('input', { name: 'text', 'aria-label': 'Note', maxlength: MAX_TEXT });
  const count = counter(text);
  return h('form', { onsubmit: async (e) => {
    e.preventDefault();
    if (!text.value.trim()) return;
    if (await run(client, { kind: 'incident.note', incident_id: i.id, text: text.value.trim() }, e.target) !== undefined) {
      text.value = '';
      text.dispatchEvent(new Event('input'));
    }
  } }, text, ' ', h('button', { type: 'submit' }, 'Add note'), count);
}

let recsFor = null;
let recsHeld = false; // a reload of the recommendations waits for the pointer to leave
let dispatching = 0; // assignment.create commands in flight from this page
const RECENT_DISPATCH_MS = 10_000; // a second dispatch within this asks for confirmation
const dispatchedAt = new Map(); // incident id → when this console last dispatched to it

/** Reloads the recommendations if a reload was held back. */
function releaseRecs() {
  if (!recsHeld || dispatching || !page || page.recs.matches(':hover')) return;
  recsHeld = false;
  updatePage();
}
function updatePage() {
  const i = client.store.incidents[current];
  if (!i || !page) return;
  const t = types[i.type] || {};
  fill(page.head, h('h2', {}, `${i.reference} · ${t.name || words(i.type)} `, badge(i.status), ' ', i.priority ? badge(i.priority) : ''),
    h('p', {}, i.description), h('p', { class: 'muted' }, i.location?.text || '', ' · opened ', clock(i.opened_at),
      ' · validity ', words(i.validity)), page.premise,
    i.merged_into && h('p', { class: 'merged-into' }, `Merged into ${client.store.incidents[i.merged_into]?.reference || i.merged_into}: ${i.cancel_reason || ''}`));
  if (page.premiseFor !== JSON.stringify(i.location || {})) {
    page.premiseFor = JSON.stringify(i.location || {});
    premiseFor(client, i.location, page.premise, i.id);
  }
  const s = i.suggested;
  page.suggested.textContent = s?.priority ? `${s.priority} — rule: ${s.rule || 'default'}` : `${t.default_priority || '—'} (type default; answer the script)`;
  const open = OPEN_INCIDENT.includes(i.status);
  page.sections.script.hidden = !['new', 'assessed'].includes(i.status);
  page.sections.assess.hidden = !open;
  page.sections.dispatch.hidden = !['assessed', 'dispatched', 'in_progress'].includes(i.status);
  page.sections.resolve.hidden = !['dispatched', 'in_progress', 'resolved'].includes(i.status);
  page.sections.cancel.hidden = !open;
  page.sections.merge.section.hidden = !open;
  if (open) page.sections.merge.refresh(i);
  // Keyed by the active assignments too: a stand-down frees its unit for the list.
  // And by who is available (a unit going off duty as its shift ends leaves the list)
  // and by the roster (a shift added or removed changes the order and the warnings).
  const available = Object.values(client.store.resources).filter((r) => r.status === 'available').map((r) => r.id);
  const roster = Object.keys(client.store.shifts || {});
  const recsKey = `${i.id}:${i.status}:${activeResources(i).join(',')}:${available.join(',')}:${roster.length}:${roster.at(-1)}`;
  if (!page.sections.dispatch.hidden && recsFor !== recsKey) {
    // The list re-sorts after a dispatch; not while one is in flight, nor under the
    // pointer (the second click of a double click would land on another resource).
    if (dispatching || page.recs.matches(':hover')) recsHeld = true;
    else {
      recsFor = recsKey;
      loadRecs(i);
    }
  }
  fill(page.assignments, i.assignment_ids.map((id) => client.store.assignments[id]).filter(Boolean).map((a) => {
    const r = client.store.resources[a.resource_id];
    const done = a.actions.filter((x) => x.done_at).length;
    return h('li', { dataset: { assignment: a.id, status: a.status } }, h('strong', {}, r?.name || a.resource_id), ' ', noApp(r), ' ', badge(a.status), ' ',
      a.acknowledged_at ? `acknowledged ${clock(a.acknowledged_at)}` : a.status === 'notified' ? h('span', {}, 'awaiting acknowledgement for ', h('span', { dataset: { since: a.notified_at } }, age(a.notified_at))) : '',
      ` · actions ${done}/${a.actions.length} done`,
      ACTIVE.includes(a.status) && h('div', { class: 'row-actions' }, radioButtons(a, r?.name || a.resource_id),
        h('button', { type: 'button', class: 'secondary', 'aria-label': `Stand down ${r?.name || a.resource_id}`, onclick: () => page.standDown.open(`Stand down ${r?.name || a.resource_id}`, { assignment_id: a.id }) }, 'Stand down…')),
      // Ticked actions, each of which may be unticked (with a reason) while the work goes on.
      ACTIVE.includes(a.status) && a.actions.filter((x) => x.done_at).map((x) => h('div', { class: 'done-action', dataset: { action: x.id } },
        `Done: ${x.text} `, h('button', { type: 'button', class: 'secondary', 'aria-label': `Untick “${x.text}” (${r?.name || a.resource_id})`,
          onclick: () => page.untick.open(`Untick “${x.text}”`, { assignment_id: a.id, action_id: x.id }) }, 'Untick…'))),
      // Required actions the crew left undone at completion, each with its reason.
      a.actions.filter((x) => x.skipped && !x.done_at).map((x) => h('div', { class: 'skipped' }, `Not done: ${x.text} — ${x.skipped}`)));
  }));
  fill(page.notes, (i.notes || []).map((n) => h('li', {}, clock(n.at), ` ${client.store.users[n.by]?.name || ''} — `, n.text)));
  // Callers, with those of duplicates merged here; a merged duplicate's notes stay on it.
  const callers = (i.contact_ids || []).map((id) => client.store.contacts[id]).filter(Boolean);
  const merged = (i.merged_from || []).map((id) => client.store.incidents[id]?.reference || id);
  fill(page.callers, callers.map((c) => h('li', { dataset: { contact: c.id } }, h('strong', {}, c.caller?.name || c.caller?.phone || 'Unknown caller'), ` · ${words(c.channel)} · ${clock(c.received_at)} — ${c.summary}`)),
    !callers.length && h('li', { class: 'muted' }, 'No caller linked.'),
    merged.length > 0 && h('li', { class: 'muted' }, `Merged here: ${merged.join(', ')} (their notes stay on them)`));
}

/** The resources with an assignment still active on incident `i`. */
function activeResources(i) {
  return i.assignment_ids.map((a) => client.store.assignments[a]).filter((a) => a && ACTIVE.includes(a.status)).map((a) => a.resource_id);
}

async function loadRecs(i) {
  try {
    const r = await api(`/api/incidents/${encodeURIComponent(i.id)}/recommendations`);
    if (current !== i.id) return;
    const assigned = new Set(activeResources(i));
    fill(page.recs, r.recommendations.slice(0, 6).map((x) => h('div', { class: 'rec', dataset: { resource: x.resource_id } },
      h('strong', {}, x.name), ' ', noApp(client.store.resources[x.resource_id]), ` · score ${Number(x.score).toFixed(2)}`, x.eta_secs != null ? ` · ETA ${Math.round(x.eta_secs / 60)} min` : '',
      h('ul', {}, (x.reasons || []).map((why) => h('li', why === x.shift_warning ? { class: 'shift-warning' } : {}, why))),
      assigned.has(x.resource_id) ? h('span', {}, 'Assigned')
        : h('button', { type: 'button', 'aria-label': `Assign ${x.name}`, onclick: () => assign(i.id, x.resource_id, x.name) }, `Assign ${x.name}`))));
  } catch (e) { fill(page.recs, h('p', {}, `Recommendations unavailable: ${e.message}`)); }
}

/** When the incident was last dispatched to (this console's or the log's), in ms. */
function lastDispatch(incidentId) {
  const i = client.store.incidents[incidentId];
  const fromLog = (i?.assignment_ids || []).map((id) => Date.parse(client.store.assignments[id]?.notified_at || 0));
  return Math.max(dispatchedAt.get(incidentId) || 0, ...fromLog, 0);
}

/**
 * Dispatches `resourceId`. A second dispatch of the same incident within a few seconds
 * is more often a slip than a plan: it asks for confirmation first.
 */
async function assign(incidentId, resourceId, name, confirmed = false) {
  const since = Date.now() - lastDispatch(incidentId);
  if (!confirmed && since < RECENT_DISPATCH_MS) {
    const ref = client.store.incidents[incidentId]?.reference || 'this incident';
    fill(page.confirm, h('div', { class: 'confirm', role: 'alert' },
      h('p', {}, `${ref} was dispatched ${Math.max(1, Math.round(since / 1000))} s ago. Dispatch ${name} as well?`),
      h('button', { type: 'button', onclick: () => { fill(page.confirm); assign(incidentId, resourceId, name, true); } }, `Yes, dispatch ${name} too`), ' ',
      h('button', { type: 'button', class: 'secondary', onclick: () => { fill(page.confirm); page.recs.querySelector('button')?.focus(); } }, 'No')));
    page.confirm.querySelector('button').focus();
    return;
  }
  const { responsibilities, actions } = page.assign.read();
  dispatchedAt.set(incidentId, Date.now());
  dispatching += 1;
  try {
    await run(client, { kind: 'assignment.create', incident_id: incidentId, resource_id: resourceId, responsibilities, actions });
  } finally {
    dispatching -= 1;
    releaseRecs();
  }
}

// The timeline and conformance come from the hub (the log), refreshed after events.
let detailTimer = null;
function refreshDetail() {
  clearTimeout(detailTimer);
  detailTimer = setTimeout(async () => {
    const id = current;
    if (!id) return; // a case or plan replaced the incident page meanwhile
    try {
      const d = await api(`/api/incidents/${encodeURIComponent(id)}`);
      if (id !== current || !page) return;
      fill(page.timeline, d.timeline.map((e) => h('li', {}, clock(e.at), ' ', words(e.event.kind), describe(e.event))));
      fill(page.conformance, h('li', {}, 'Verdict: ', words(d.conformance?.verdict)),
        (d.conformance?.steps || []).map((s) => h('li', { class: `conf-${s.status}` }, `${words(s.step)}: ${words(s.status)}`)));
    } catch (e) { console.warn('incident detail', e); }
  }, 250);
}

function describe(e) {
  const bits = [e.status, e.assessment?.priority, e.note?.text, e.reason, e.outcome, e.via && `by ${e.via}`, e.channel && `by ${e.channel}`, e.error].filter(Boolean);
  return bits.length ? ` — ${bits.join(', ')}` : '';
}
