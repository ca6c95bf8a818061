// Cases (queries and complaints) and colleague support plans in the console: the lists,
// kept live from the store, and their pages in the console's main area. A case page
// shows the evidence pack from `GET /api/cases/{id}` — each linked incident's timeline
// (who did what when), its conformance and the messages sent — with the actions its
// status allows. A plan page shows who proposed and agreed what, the notes and the
// review. What a user may see is the hub's decision (a colleague sees only their own
// plans); the buttons only offer what the hub's rules allow, and a refusal is shown.

import { api, apiRaw } from './lib/muster.js';
import { h, fill, byTime, clock, badge, words, run, throttleFrame, showError } from './lib/ui.js';
import { hubNow } from './lib/exercise.js';

const CASE_OUTCOMES = { complaint: ['upheld', 'partly_upheld', 'not_upheld'], query: ['answered'] };
const DAY = 86400000;

/**
 * Binds the case and plan lists. `show(root)` puts a page in the console's main area
 * (and forgets the incident that was there); `catalogue()` answers the catalogue.
 */
export function bindCasework(client, { caseList, planList, newCase, newPlan, show, catalogue }) {
  const cx = { client, show, catalogue, caseList, planList, current: null, page: null };
  newCase.addEventListener('click', () => openCaseForm(cx));
  newPlan.textContent = client.user.role === 'supervisor' ? 'Propose support' : 'Ask for support';
  newPlan.addEventListener('click', () => openPlanForm(cx));
  const render = () => {
    renderCases(cx);
    renderPlans(cx);
    cx.page?.update();
  };
  client.subscribe(throttleFrame(render));
  client.subscribe((f) => { if (f && cx.page?.concerns(f.event)) cx.page.refresh(); });
  render();
  return {
    openCase: (id, focus) => selectCase(cx, id, focus),
    openPlan: (id, focus) => selectPlan(cx, id, focus),
    /** The console moved on to an incident: stop following the page. */
    release: () => { cx.current = null; cx.page = null; render(); },
  };
}

const userName = (client, id) => client.store.users[id]?.name || (id === 'intake' ? 'intake gateway' : id || '—');
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);

// ----- cases --------------------------------------------------------------------------------

/** When a response is due: the centre's working days after opening, if it publishes them. */
function respondBy(c, targets) {
  if (!targets?.respond_working_days) return null;
  let t = Date.parse(c.opened_at);
  for (let left = targets.respond_working_days; left > 0;) {
    t += DAY;
    const d = new Date(t).getUTCDay();
    if (d !== 0 && d !== 6) left -= 1;
  }
  return new Date(t);
}

function deadlineText(c, cat) {
  if (c.status === 'closed') return `closed ${c.closed_at?.slice(0, 10) || ''}`;
  const due = c.respond_by || respondBy(c, cat?.case_targets)?.toISOString();
  if (!due) return 'no deadline published';
  const late = c.status !== 'responded' && Date.parse(due) < hubNow();
  return `respond by ${due.slice(0, 10)}${late ? ' (overdue)' : ''}`;
}

function renderCases(cx) {
  const { client, caseList: list } = cx;
  const cases = Object.values(client.store.cases)
    .sort((a, b) => (a.status === 'closed') - (b.status === 'closed') || byTime(b.opened_at, a.opened_at));
  if (!cases.length) return fill(list, h('li', { class: 'muted' }, 'No cases.'));
  fill(list, cases.map((c) => h('li', { class: c.id === cx.current ? 'selected' : '', dataset: { case: c.id, status: c.status } },
    h('button', { type: 'button', class: 'link', onclick: () => selectCase(cx, c.id, true) }, `${words(c.case_type)} from ${c.from}`), ' ',
    badge(c.status), c.outcome ? [' ', badge(c.outcome)] : '',
    h('div', { class: 'muted' }, 'about ', c.incident_ids.map((i) => client.store.incidents[i]?.reference || i).join(', ') || 'no incident',
      ' · ', c.assigned_to ? `with ${userName(client, c.assigned_to)}` : 'unassigned', ' · ', deadlineText(c, cx.catalogue())))));
}

function openCaseForm(cx) {
  const { client } = cx;
  const type = h('select', { id: 'nc-type', name: 'case_type' }, h('option', { value: 'complaint' }, 'Complaint'), h('option', { value: 'query' }, 'Query'));
  const incidents = Object.values(client.store.incidents).sort((a, b) => byTime(b.opened_at, a.opened_at));
  const incident = h('select', { id: 'nc-incident', name: 'incident_id' }, h('option', { value: '' }, 'none'),
    incidents.map((i) => h('option', { value: i.id }, `${i.reference} · ${words(i.type)} · ${i.location?.text || ''}`)));
  const contacts = Object.values(client.store.contacts).filter((c) => ['query', 'complaint'].includes(c.reason) && c.status !== 'closed');
  const contact = h('select', { id: 'nc-contact', name: 'contact_id' }, h('option', { value: '' }, 'none'),
    contacts.map((c) => h('option', { value: c.id }, `${c.caller?.name || c.caller?.phone || 'caller'}: ${c.summary}`)));
  // Older incidents are not in this browser's copy: the caller quotes a reference.
  const reference = h('input', { id: 'nc-incident-ref', 'aria-label': 'Incident reference', placeholder: 'or a reference, e.g. INC-2026-000123' });
  const from = h('input', { id: 'nc-from', name: 'from', required: true, placeholder: 'name or address of who raised it' });
  // Personal data: where the hub e-mails the response when the case is answered.
  const email = h('input', { id: 'nc-email', name: 'email', type: 'email', autocomplete: 'off', placeholder: 'optional: the response is e-mailed here' });
  const text = h('textarea', { id: 'nc-text', name: 'text', rows: 3, required: true });
  cx.current = null;
  cx.page = null;
  cx.show(h('section', { 'aria-labelledby': 'nc-title' }, h('h2', { id: 'nc-title' }, 'Open a case'),
    h('form', { onsubmit: async (e) => {
      e.preventDefault();
      const busy = [e.target, e.submitter]; // busy from here: the reference is looked up first
      const cmd = { kind: 'case.open', case_type: type.value, from: from.value.trim(), text: text.value.trim() };
      if (incident.value) cmd.incident_id = incident.value;
      if (reference.value.trim()) {
        try {
          cmd.incident_id = (await api(`/api/incidents/${encodeURIComponent(reference.value.trim())}`)).id;
        } catch (err) {
          return showError(err);
        }
      }
      if (contact.value) cmd.contact_id = contact.value;
      if (email.value.trim()) cmd.email = email.value.trim();
      const data = await run(client, cmd, { form: e.target, busy });
      if (data?.case_id) selectCase(cx, data.case_id, true);
    } },
    h('div', { class: 'grid2' }, h('label', { for: 'nc-type' }, 'Type', type), h('label', { for: 'nc-from' }, 'From', from),
      h('label', { for: 'nc-incident' }, 'About incident', incident, reference), h('label', { for: 'nc-contact' }, 'From contact', contact),
      h('label', { for: 'nc-email' }, 'Their e-mail address', email)),
    h('label', { for: 'nc-text' }, 'What they said', text),
    h('button', { type: 'submit' }, 'Open case'))));
  type.focus();
}

function selectCase(cx, id, focus) {
  const c = cx.client.store.cases[id];
  if (!c) return;
  cx.current = id;
  cx.page = casePage(cx, c);
  cx.show(cx.page.root, focus);
  cx.page.update();
  cx.page.refresh();
  renderCases(cx);
}

function casePage(cx, c) {
  const { client } = cx;
  const parts = { head: h('div'), state: h('div'), evidence: h('div', { dataset: { evidence: c.id }, 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading the evidence pack…')) };
  const forms = { assign: assignCaseForm(cx, c), respond: respondForm(cx, c), close: closeCaseForm(cx, c) };
  const print = h('button', { type: 'button', class: 'secondary', onclick: () => printable(c.id) }, 'Printable evidence pack');
  const root = h('div', { class: 'case-page' }, parts.head, parts.state, forms.assign, forms.respond, forms.close,
    h('h3', {}, 'Evidence pack ', print), parts.evidence);
  let timer = null;
  return {
    root,
    concerns: (e) => e.case_id === c.id || e.case?.id === c.id || (e.incident_id && cx.client.store.cases[c.id]?.incident_ids.includes(e.incident_id)),
    update() {
      const now = client.store.cases[c.id];
      if (!now) return;
      fill(parts.head, h('h2', {}, `${now.case_type === 'complaint' ? 'Complaint' : 'Query'} ${now.id} `, badge(now.status), now.outcome ? [' ', badge(now.outcome)] : ''),
        h('p', {}, h('strong', {}, now.from), ': ', now.text),
        h('p', { class: 'muted' }, `opened ${now.opened_at.slice(0, 16).replace('T', ' ')} by ${userName(client, now.opened_by)} · `, deadlineText(now, cx.catalogue())));
      fill(parts.state, h('dl', { class: 'facts' },
        h('dt', {}, 'Handler'), h('dd', {}, now.assigned_to ? userName(client, now.assigned_to) : 'unassigned'),
        now.email ? [h('dt', {}, 'Reply by e-mail'), h('dd', {}, now.email)] : null,
        h('dt', {}, 'Response'), h('dd', {}, now.response || '—', now.responded_at ? ` (${now.responded_at.slice(0, 16).replace('T', ' ')})` : ''),
        h('dt', {}, 'Outcome'), h('dd', {}, now.outcome ? words(now.outcome) : '—'),
        h('dt', {}, 'Root cause'), h('dd', {}, now.root_cause ? words(now.root_cause) : '—')));
      forms.assign.hidden = !['open', 'assigned'].includes(now.status);
      forms.respond.hidden = !['open', 'assigned'].includes(now.status);
      forms.close.hidden = now.status !== 'responded';
    },
    refresh() {
      clearTimeout(timer);
      timer = setTimeout(() => loadEvidence(cx, c.id, parts.evidence), 250);
    },
  };
}

function assignCaseForm(cx, c) {
  const { client } = cx;
  const who = h('select', { id: 'case-assignee' }, handlers(client).map((u) => h('option', { value: u.id, selected: u.id === (c.assigned_to || client.user.id) }, `${u.name} (${u.role})`)));
  return h('form', { class: 'inline', onsubmit: (e) => { e.preventDefault(); run(client, { kind: 'case.assign', case_id: c.id, user_id: who.value }); } },
    h('label', { for: 'case-assignee' }, 'Handler', who), h('button', { type: 'submit' }, 'Assign'));
}

function handlers(client) {
  return Object.values(client.store.users).filter((u) => !u.disabled && ['operator', 'supervisor'].includes(u.role))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function respondForm(cx, c) {
  const text = h('textarea', { id: 'case-response', rows: 3, required: true });
  return h('form', { onsubmit: async (e) => {
    e.preventDefault();
    if (await run(cx.client, { kind: 'case.respond', case_id: c.id, response: text.value.trim() }) !== undefined) text.value = '';
  } }, h('label', { for: 'case-response' }, 'Response to the person who raised it', text), h('button', { type: 'submit' }, 'Send response'));
}

function closeCaseForm(cx, c) {
  const outcome = h('select', { id: 'case-outcome' }, CASE_OUTCOMES[c.case_type].map((o) => h('option', { value: o }, words(o))));
  const causes = cx.catalogue()?.root_causes;
  // Without the centre's list in the catalogue the hub's refusal names the allowed causes.
  const cause = causes
    ? h('select', { id: 'case-cause' }, h('option', { value: '' }, 'none'), causes.map((r) => h('option', { value: r }, words(r))))
    : h('input', { id: 'case-cause', placeholder: 'e.g. late_dispatch' });
  return h('form', { onsubmit: (e) => {
    e.preventDefault();
    const cmd = { kind: 'case.close', case_id: c.id, outcome: outcome.value };
    if (cause.value.trim()) cmd.root_cause = cause.value.trim();
    run(cx.client, cmd);
  } }, h('div', { class: 'grid2' }, h('label', { for: 'case-outcome' }, 'Outcome', outcome), h('label', { for: 'case-cause' }, 'Root cause', cause)),
  h('button', { type: 'submit' }, 'Close case'));
}

async function loadEvidence(cx, id, box) {
  try {
    const pack = await api(`/api/cases/${encodeURIComponent(id)}`);
    if (cx.current !== id) return;
    if (!pack.incidents?.length) return fill(box, h('p', { class: 'muted' }, 'No incident is linked to this case.'));
    fill(box, pack.incidents.map((i) => incidentEvidence(cx.client, i)));
  } catch (e) {
    fill(box, h('p', {}, `The evidence pack could not be loaded: ${e.message}`));
  }
}

function incidentEvidence(client, i) {
  const conf = i.conformance || {};
  return h('article', { class: 'evidence', dataset: { incident: i.id } },
    h('h4', {}, `${i.reference} · ${words(i.type)} `, badge(i.status), i.priority ? [' ', badge(i.priority)] : ''),
    h('p', {}, i.description, h('span', { class: 'muted' }, ` · ${i.location?.text || ''}`)),
    h('h5', {}, 'Conformance: ', words(conf.verdict || 'unknown')),
    h('ul', { class: 'plain conformance' }, (conf.steps || []).map((s) => h('li', { class: `conf-${s.status}` }, `${words(s.step)}: ${words(s.status)}`, s.detail ? ` — ${s.detail}` : ''))),
    h('h5', {}, 'Messages sent'),
    (i.messages || []).length ? h('ul', { class: 'plain' }, i.messages.map((m) => h('li', {}, `${clock(m.sent_at)} ${userName(client, m.sent_by)}: ${m.text}`)))
      : h('p', { class: 'muted' }, 'None.'),
    h('h5', {}, 'Timeline: who did what, when'),
    h('ol', { class: 'timeline', dataset: { scrolls: 'Timeline' } }, (i.timeline || []).map((e) => h('li', {},
      h('time', { datetime: e.at }, `${e.at.slice(0, 10)} ${clock(e.at)}`), ' ', userName(client, e.actor), ': ',
      h('strong', {}, words(e.event.kind).replace('.', ' ')), summary(e.event)))));
}

function summary(e) {
  const bits = [e.status, e.assessment?.priority && `priority ${e.assessment.priority}`, e.assessment?.method && `by ${e.assessment.method}`,
    e.note?.text, e.reason, e.outcome, e.summary].filter(Boolean);
  return bits.length ? ` — ${bits.join(', ')}` : '';
}

/** Opens the hub's printable evidence pack (HTML, fetched with the token) in a new tab. */
async function printable(id) {
  // Opened now, while the click still counts as the user's, and filled when it arrives.
  const tab = window.open('', '_blank');
  try {
    const res = await apiRaw(`/api/cases/${encodeURIComponent(id)}?format=html`, 'text/html');
    if (!(res.headers.get('content-type') || '').includes('text/html')) throw Object.assign(new Error('not HTML'), { status: 404 });
    const url = URL.createObjectURL(new Blob([await res.text()], { type: 'text/html' }));
    if (tab) tab.location = url; else window.open(url, '_blank');
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (e) {
    tab?.close();
    showError(e.status === 404
      ? new Error('this hub does not make printable evidence packs yet; the pack on this page is complete')
      : e);
  }
}

// ----- support plans -------------------------------------------------------------------------

function renderPlans(cx) {
  const { client, planList: list } = cx;
  const plans = Object.values(client.store.plans)
    .sort((a, b) => (a.status === 'reviewed') - (b.status === 'reviewed') || a.review_on.localeCompare(b.review_on));
  if (!plans.length) return fill(list, h('li', { class: 'muted' }, 'No support plans.'));
  const today = isoDay(Date.now());
  fill(list, plans.map((p) => h('li', { class: p.id === cx.current ? 'selected' : '', dataset: { plan: p.id, status: p.status } },
    h('button', { type: 'button', class: 'link', onclick: () => selectPlan(cx, p.id, true) },
      p.colleague_id === client.user.id ? 'My support plan' : userName(client, p.colleague_id)), ' ', badge(p.status),
    h('div', { class: 'muted' }, `${words(p.support_type)} · ${p.areas.map(words).join(', ')} · review ${p.review_on}`,
      p.status !== 'reviewed' && p.review_on < today ? h('strong', { class: 'overdue' }, ' (review overdue)') : ''))));
}

function openPlanForm(cx) {
  const { client } = cx;
  const cat = cx.catalogue() || {};
  const supervisor = client.user.role === 'supervisor';
  const colleague = h('select', { id: 'np-colleague', name: 'colleague_id', disabled: !supervisor },
    (supervisor ? handlers(client) : [client.store.users[client.user.id] || { id: client.user.id, name: client.user.name, role: client.user.role }])
      .map((u) => h('option', { value: u.id, selected: u.id === client.user.id }, `${u.name} (${u.role})`)));
  const areaBoxes = (cat.support_areas || []).map((a) => h('label', { class: 'check' }, h('input', { type: 'checkbox', value: a }), ` ${words(a)}`));
  const areasText = !areaBoxes.length && h('input', { id: 'np-areas', name: 'areas', placeholder: 'e.g. intake, monitoring' });
  const type = cat.support_types
    ? h('select', { id: 'np-type', name: 'support_type' }, cat.support_types.map((t) => h('option', { value: t }, words(t))))
    : h('input', { id: 'np-type', name: 'support_type', required: true, placeholder: 'e.g. coaching' });
  const review = h('input', { id: 'np-review', name: 'review_on', type: 'date', required: true, min: isoDay(Date.now()), value: isoDay(Date.now() + 28 * DAY) });
  const notes = h('textarea', { id: 'np-notes', name: 'notes', rows: 2 });
  cx.current = null;
  cx.page = null;
  cx.show(h('section', { 'aria-labelledby': 'np-title' }, h('h2', { id: 'np-title' }, supervisor ? 'Propose support for a colleague' : 'Ask for support'),
    h('p', { class: 'muted' }, 'The plan becomes active only when the colleague agrees to it. Only the two of you and supervisors see it.'),
    h('form', { onsubmit: async (e) => {
      e.preventDefault();
      const areas = areaBoxes.length ? areaBoxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value)
        : areasText.value.split(',').map((a) => a.trim().replaceAll(' ', '_')).filter(Boolean);
      const cmd = { kind: 'support.propose', colleague_id: colleague.value, areas, support_type: type.value.trim(), review_on: review.value };
      if (notes.value.trim()) cmd.notes = notes.value.trim();
      const data = await run(client, cmd, e.target);
      if (data?.plan_id) selectPlan(cx, data.plan_id, true);
    } },
    h('label', { for: 'np-colleague' }, 'Colleague', colleague),
    areaBoxes.length ? h('fieldset', { dataset: { field: 'areas' } }, h('legend', {}, 'Areas'), areaBoxes) : h('label', { for: 'np-areas' }, 'Areas (comma-separated)', areasText),
    h('div', { class: 'grid2' }, h('label', { for: 'np-type' }, 'Type of support', type), h('label', { for: 'np-review' }, 'Review on', review)),
    h('label', { for: 'np-notes' }, 'Notes', notes),
    h('button', { type: 'submit' }, supervisor ? 'Propose plan' : 'Ask'))));
  (supervisor ? colleague : type).focus();
}

function selectPlan(cx, id, focus) {
  const p = cx.client.store.plans[id];
  if (!p) return;
  cx.current = id;
  cx.page = planPage(cx, p);
  cx.show(cx.page.root, focus);
  cx.page.update();
  renderPlans(cx);
}

function planPage(cx, p) {
  const { client } = cx;
  const me = client.user.id;
  const head = h('div');
  const notes = h('ul', { class: 'plain' });
  const agree = h('button', { type: 'button', onclick: () => run(client, { kind: 'support.agree', plan_id: p.id }) }, 'I agree to this plan');
  const note = h('input', { id: 'plan-note', name: 'text', 'aria-label': 'Note' });
  const noteForm = h('form', { onsubmit: async (e) => {
    e.preventDefault();
    if (note.value.trim() && await run(client, { kind: 'support.note', plan_id: p.id, text: note.value.trim() }, e.target) !== undefined) note.value = '';
  } }, note, ' ', h('button', { type: 'submit' }, 'Add note'));
  const outcome = h('input', { id: 'plan-outcome', name: 'outcome', required: true, placeholder: 'e.g. goals met; no further support needed' });
  const reviewForm = h('form', { onsubmit: (e) => { e.preventDefault(); run(client, { kind: 'support.review', plan_id: p.id, outcome: outcome.value.trim() }, e.target); } },
    h('label', { for: 'plan-outcome' }, 'Review outcome', outcome), h('button', { type: 'submit' }, 'Record review'));
  const evidence = h('ul', { class: 'plain evidence' });
  const file = h('input', { id: 'plan-evidence', name: 'file', type: 'file', accept: '.json,application/json' });
  const evidenceForm = h('form', { onsubmit: (e) => { e.preventDefault(); attachEvidence(client, p.id, file, e.target); } },
    h('label', { for: 'plan-evidence' }, 'Debrief file (the JSON downloaded from the debrief page)', file),
    h('button', { type: 'submit' }, 'Attach exercise debrief'));
  const root = h('div', { class: 'plan-page' }, head, agree, h('h3', {}, 'Notes'), notes, noteForm,
    h('h3', {}, 'Exercise debriefs'), evidence, evidenceForm, h('h3', {}, 'Review'), reviewForm);
  return {
    root,
    concerns: () => false, // the store carries everything the page shows
    refresh() {},
    update() {
      const now = client.store.plans[p.id];
      if (!now) return;
      fill(head, h('h2', {}, `Support for ${userName(client, now.colleague_id)} `, badge(now.status)),
        h('dl', { class: 'facts' },
          h('dt', {}, 'Areas'), h('dd', {}, now.areas.map(words).join(', ')),
          h('dt', {}, 'Type of support'), h('dd', {}, words(now.support_type)),
          h('dt', {}, 'Proposed'), h('dd', {}, `by ${userName(client, now.proposed_by)} on ${now.proposed_at.slice(0, 10)}`),
          h('dt', {}, 'Agreed'), h('dd', {}, now.agreed_at ? `by ${userName(client, now.agreed_by)} on ${now.agreed_at.slice(0, 10)} at ${clock(now.agreed_at)}` : 'not yet: the plan is not active until the colleague agrees'),
          h('dt', {}, 'Review on'), h('dd', {}, now.review_on),
          now.review_outcome && [h('dt', {}, 'Review outcome'), h('dd', {}, `${now.review_outcome} (by ${userName(client, now.reviewed_by)})`)]));
      fill(notes, (now.notes || []).length ? now.notes.map((n) => h('li', {}, `${n.at.slice(0, 10)} ${clock(n.at)} ${userName(client, n.by)}: ${n.text}`))
        : h('li', { class: 'muted' }, 'No notes yet.'));
      fill(evidence, (now.evidence || []).length ? now.evidence.map((x) => evidenceItem(client, x))
        : h('li', { class: 'muted' }, 'No exercise debrief attached.'));
      evidenceForm.hidden = now.status === 'reviewed' || client.user.role !== 'supervisor';
      agree.hidden = !(now.status === 'proposed' && now.colleague_id === me);
      noteForm.hidden = now.status === 'reviewed';
      reviewForm.hidden = !(now.status === 'active' && (now.proposed_by === me || client.user.role === 'supervisor'));
    },
  };
}

/** One attached debrief: its score first, then what it covers and who attached it. */
function evidenceItem(client, x) {
  const f = x.figures || {};
  const t = f.triage;
  return h('li', { dataset: { evidence: x.scenario, score: x.score ?? '' } },
    h('strong', {}, x.score == null ? 'score erased' : `${x.score} / 100`), ` ${words(x.scenario)} exercise of ${x.started_at.slice(0, 10)}`,
    x.summary && h('div', {}, x.summary),
    h('div', { class: 'muted' },
      [f.answer && `answered ${f.answer.count}`, f.dispatch && `dispatched ${f.dispatch.count}`,
        t && `triage ${t.correct} of ${t.assessed} as expected (${t.under} under)`,
        f.duplicates && `duplicates ${f.duplicates.linked} linked, ${f.duplicates.missed} missed`].filter(Boolean).join(' · ')),
    h('div', { class: 'muted' }, `attached by ${userName(client, x.attached_by)} on ${x.attached_at.slice(0, 10)}`));
}

/**
 * Reads the debrief file chosen in `input` and attaches the plan colleague's entry: the
 * file is what the debrief page downloads (`evidence: [...]`, one per trainee), or one
 * entry of it.
 */
async function attachEvidence(client, planId, input, form) {
  const plan = client.store.plans[planId];
  const refuse = (message) => showError({ code: 'validation_failed', message: `file: ${message}` }, form);
  const chosen = input.files?.[0];
  if (!chosen) return refuse('choose the debrief file downloaded from the debrief page');
  let doc;
  try {
    doc = JSON.parse(await chosen.text());
  } catch {
    return refuse('this is not a debrief file (it is not JSON)');
  }
  const entries = doc?.kind === 'exercise_debrief' ? [doc] : Array.isArray(doc?.evidence) ? doc.evidence : [];
  if (!entries.length) return refuse('this is not a debrief file (it has no evidence)');
  const mine = entries.find((x) => x.trainee_id === plan.colleague_id);
  if (!mine) return refuse(`this debrief has no figures for ${userName(client, plan.colleague_id)}`);
  const evidence = Object.fromEntries(['kind', 'scenario', 'trainee_id', 'score', 'started_at', 'summary', 'figures'].map((k) => [k, mine[k]]));
  if (await run(client, { kind: 'support.attach_evidence', plan_id: planId, evidence }, form) !== undefined) input.value = '';
}
