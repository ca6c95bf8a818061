// The exercise debrief (`GET /api/exercise/debrief`): each trainee's score, figures,
// penalties, triage decisions and incident timelines. A supervisor (or an admin) picks a
// trainee or sees all; anyone else sees their own. "Download debrief (JSON)" saves what
// is shown, with an `evidence` entry per trainee for their support plan (PROTOCOL.md,
// `support.attach_evidence`). Every string from the hub is rendered as text (`h`).

import { api, homeFor } from './lib/muster.js';
import { h, fill, words, clock, startApp, showError } from './lib/ui.js';

const client = startApp();
const $ = (id) => document.getElementById(id);
let shown = null; // the debrief on show
let names = {}; // user id → name, from every trainee the supervisor has seen

const seesAll = () => ['supervisor', 'admin'].includes(client.user.role);
const secs = (s) => (s == null ? '—' : s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`);
const who = (id) => names[id] || id;

async function load() {
  const user = $('trainee').value;
  $('status').textContent = 'Loading…';
  try {
    const d = await api(`/api/exercise/debrief${user ? `?${new URLSearchParams({ user_id: user })}` : ''}`);
    shown = d;
    for (const t of d.trainees) names[t.user_id] = t.name;
    if (seesAll() && !user) fillTrainees(d.trainees);
    render(d);
    $('status').textContent = `Debrief made at ${clock(d.generated_at)}: ${d.trainees.length} trainee${d.trainees.length === 1 ? '' : 's'}, ${d.incidents.length} incident${d.incidents.length === 1 ? '' : 's'}.`;
  } catch (e) {
    $('status').textContent = /no exercise/.test(e.message)
      ? 'This hub is not running an exercise, so there is no debrief.'
      : 'The debrief could not be loaded.';
    showError(e);
  }
}

function fillTrainees(trainees) {
  const sel = $('trainee');
  const keep = sel.value;
  fill(sel, h('option', { value: '' }, 'All trainees'),
    trainees.map((t) => h('option', { value: t.user_id }, t.name)));
  sel.value = keep;
}

function render(d) {
  fill($('exercise'), `Scenario: ${d.title || d.scenario} · started ${new Date(d.started_at).toLocaleString()} · speed ×${d.speed}`);
  fill($('trainees'), d.trainees.length
    ? d.trainees.map(trainee)
    : h('section', { class: 'panel' }, h('p', { class: 'muted' }, 'No figures yet: nobody has handled a call in this exercise.')));
  fill($('incidents'), d.incidents.length ? d.incidents.map(timeline) : h('p', { class: 'muted' }, 'No incidents.'));
}

function band(score) {
  return score >= 85 ? 'score-high' : score >= 60 ? 'score-mid' : 'score-low';
}

function trainee(t) {
  const id = `t-${t.user_id}`;
  const tr = t.triage;
  return h('section', { class: 'panel trainee', 'aria-labelledby': id, dataset: { user: t.user_id } },
    h('h2', { id }, t.name, h('span', { class: `score ${band(t.score)}`, dataset: { score: t.score } }, `${t.score} / 100`)),
    h('dl', { class: 'figures' },
      h('dt', {}, 'Time to answer'), h('dd', { dataset: { figure: 'answer' } }, interval(t.answer)),
      h('dt', {}, 'Time to dispatch'), h('dd', { dataset: { figure: 'dispatch' } }, interval(t.dispatch)),
      h('dt', {}, 'Triage'), h('dd', { dataset: { figure: 'triage' } }, `${tr.correct} of ${tr.assessed} as expected · ${tr.under} under-triaged · ${tr.over} over-triaged`),
      h('dt', {}, 'Questions skipped'), h('dd', {}, String(t.questions_skipped)),
      h('dt', {}, 'Escalations missed'), h('dd', {}, String(t.escalations_missed)),
      h('dt', {}, 'Duplicate calls'), h('dd', {}, `${t.duplicates.linked} linked · ${t.duplicates.missed} missed`),
      h('dt', {}, 'Procedure steps missing'), h('dd', {}, String(t.violations.length)),
      h('dt', {}, 'Overrides'), h('dd', {}, String(t.overrides.length))),
    penalties(t),
    tr.items.length > 0 && triageTable(tr.items),
    t.overrides.length > 0 && h('div', {},
      h('h3', {}, 'Overrides'),
      h('ul', {}, t.overrides.map((o) => h('li', {}, `${reference(o.incident)}: ${words(o.rule)} waived by ${who(o.by)} — “${o.justification}”`)))),
    t.violations.length > 0 && h('div', {},
      h('h3', {}, 'Procedure steps missing'),
      h('ul', {}, t.violations.map((v) => h('li', {}, `${reference(v.incident)}: ${words(v.step)}`)))));
}

function interval(i) {
  if (!i.count) return 'none';
  return `${i.count} · median ${secs(i.median_secs)} · worst ${secs(i.worst_secs)} · ${i.over_target} over target`;
}

function penalties(t) {
  if (!t.penalties.length) return h('p', { class: 'muted' }, 'No penalties: everything as the procedure asks.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'penalties' },
    h('caption', {}, 'Where the points went'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Rule'), h('th', { scope: 'col' }, 'Points'), h('th', { scope: 'col' }, 'Detail'))),
    h('tbody', {}, t.penalties.map((p) => h('tr', { dataset: { rule: p.rule } },
      h('td', {}, words(p.rule)), h('td', { class: 'num' }, `−${p.points}`), h('td', {}, p.detail))))));
}

function triageTable(items) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'triage' },
    h('caption', {}, 'Triage decisions'),
    h('thead', {}, h('tr', {}, ['Call', 'Incident', 'Expected', 'Given', 'Method (rule)', 'Why the scenario expects it'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, items.map((i) => {
      const cls = i.given > i.expected ? 'under' : i.given < i.expected ? 'over' : '';
      return h('tr', { class: cls },
        h('td', {}, i.contact, cls && h('span', { class: 'sr-only' }, ` (${cls}-triage)`)),
        h('td', {}, reference(i.incident)),
        h('td', {}, i.expected), h('td', {}, i.given),
        h('td', {}, words(i.method), i.rule ? ` (${i.rule})` : ''),
        h('td', {}, i.why));
    }))));
}

function reference(incidentId) {
  return shown?.incidents.find((i) => i.id === incidentId)?.reference || incidentId;
}

function timeline(i) {
  return h('div', { class: 'incident', dataset: { incident: i.id } },
    h('h3', {}, i.reference),
    h('ol', { class: 'timeline' }, i.timeline.map((e) => h('li', {},
      h('time', { datetime: e.at }, clock(e.at)), ` ${who(e.actor)}: ${words(e.kind).replace('.', ' ')}`, e.summary ? ` — ${e.summary}` : ''))));
}

/** What the trainee's support plan takes as evidence (`support.attach_evidence`). */
export function evidenceOf(d, t) {
  return {
    kind: 'exercise_debrief',
    scenario: d.scenario,
    trainee_id: t.user_id,
    score: t.score,
    started_at: d.started_at,
    summary: `${d.title || d.scenario}: ${t.score}/100 (${t.penalties.length} penalt${t.penalties.length === 1 ? 'y' : 'ies'})`,
    figures: {
      answer: t.answer,
      dispatch: t.dispatch,
      triage: { assessed: t.triage.assessed, correct: t.triage.correct, under: t.triage.under, over: t.triage.over },
      questions_skipped: t.questions_skipped,
      violations: t.violations.length,
      overrides: t.overrides.length,
      escalations_missed: t.escalations_missed,
      duplicates: t.duplicates,
    },
  };
}

function download() {
  if (!shown) return;
  const doc = { ...shown, evidence: shown.trainees.map((t) => evidenceOf(shown, t)) };
  const blob = new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' });
  const one = shown.trainees.length === 1 ? `-${shown.trainees[0].name.replace(/[^\w-]+/g, '-')}` : '';
  const a = h('a', { href: URL.createObjectURL(blob), download: `debrief-${shown.scenario}${one}.json` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

if (client) {
  $('home-link').href = homeFor(client.user.role);
  if (seesAll()) $('trainee-label').hidden = false;
  $('trainee').addEventListener('change', load);
  $('refresh').addEventListener('click', load);
  $('download').addEventListener('click', download);
  load();
}
