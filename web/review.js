// The review page (supervisors): the KPIs of a period as a table and charts, weekly
// trends, reassessed priorities per triage method, the findings the hub computed with
// the figures that triggered them, improvement actions raised from them, and the support
// plans due for review. Reports come from `GET /api/reports/performance`; actions and
// plans are live from the WebSocket like the other apps.

import { api, apiRaw } from './lib/muster.js';
import { h, fill, words, badge, startApp, run, throttleFrame, showError } from './lib/ui.js';
import { barChart, lineChart, figure, fitOnResize, duration, percent } from './lib/charts.js';

const client = startApp();
const $ = (id) => document.getElementById(id);
const INTERVALS = [
  ['answer', 'Time to answer'],
  ['dispatch', 'Time to dispatch'],
  ['acknowledge', 'Time to acknowledge'],
  ['arrive', 'Time to arrive'],
  ['resolve', 'Time to resolve'],
];
const DAY = 86400000;
const MAX_WEEKS = 60; // a year and a bit: one report request each
const WEEKS_AT_ONCE = 3;
const DUE_WITHIN_DAYS = 14;
const charts = []; // live uPlot instances, destroyed before each redraw
let catalogue = { types: [] };
let report = null; // the report on show
let weeks = []; // [{start, report}] for the trend
// Names of operators and plans come from the store: draw once the first snapshot is in
// (or after a few seconds without one, with ids for names).
const live = client && new Promise((resolve) => {
  const stop = client.subscribe(() => { if (client.state === 'live') { stop(); resolve(); } });
  if (client.state === 'live') resolve();
  setTimeout(resolve, 3000);
});

// ----- filters ----------------------------------------------------------------------------

const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);

function setPreset(days) {
  const today = Date.parse(isoDay(Date.now()));
  $('to').value = isoDay(today);
  $('from').value = isoDay(today - (days - 1) * DAY);
}

function bindFilters() {
  $('filters').addEventListener('submit', (e) => { e.preventDefault(); load(); });
  for (const b of document.querySelectorAll('[data-days]')) {
    b.addEventListener('click', () => { setPreset(Number(b.dataset.days)); load(); });
  }
  $('by').addEventListener('change', load);
  $('trend-interval').addEventListener('change', renderTrend);
  $('csv').addEventListener('click', downloadCsv);
}

function period() {
  return { from: $('from').value, to: $('to').value, by: $('by').value };
}

function reportPath({ from, to, by }) {
  return `/api/reports/performance?${new URLSearchParams({ from, to, by })}`;
}

// ----- loading ----------------------------------------------------------------------------

let loading = 0; // only the newest load may draw

async function load() {
  const p = period();
  if (!p.from || !p.to || p.to < p.from) {
    $('status').textContent = 'Choose a period whose end is on or after its start.';
    return;
  }
  const mine = ++loading;
  $('status').textContent = 'Loading…';
  try {
    const [r, w] = await Promise.all([api(reportPath(p)), loadWeeks(p), live]);
    if (mine !== loading) return;
    report = r;
    weeks = w;
    renderReport();
    const contacts = r.groups.reduce((n, g) => n + g.contacts, 0);
    $('status').textContent = `${p.from} to ${p.to} by ${words(p.by)}: ${r.groups.length} groups, ${contacts} contacts.`;
    document.body.dataset.loaded = p.by;
  } catch (e) {
    if (mine !== loading) return;
    $('status').textContent = `The report could not be loaded: ${e.message}`;
  }
}

/**
 * One report per week of the period (the last week may be short), a few at a time:
 * each one reads the whole log on the hub, so a year's trend must not ask for 53 at once.
 */
async function loadWeeks({ from, to, by }) {
  const starts = [];
  for (let d = Date.parse(from); d <= Date.parse(to) && starts.length < MAX_WEEKS; d += 7 * DAY) starts.push(d);
  const out = new Array(starts.length);
  let next = 0;
  const worker = async () => {
    while (next < starts.length) {
      const i = next++;
      const end = Math.min(starts[i] + 6 * DAY, Date.parse(to));
      out[i] = { start: starts[i], report: await api(reportPath({ from: isoDay(starts[i]), to: isoDay(end), by })) };
    }
  };
  await Promise.all(Array.from({ length: WEEKS_AT_ONCE }, worker));
  return out;
}

async function downloadCsv() {
  const p = period();
  try {
    const res = await apiRaw(reportPath(p), 'text/csv');
    const url = URL.createObjectURL(await res.blob());
    const a = h('a', { href: url, download: `muster-review-${p.by}-${p.from}-to-${p.to}.csv`, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  } catch (e) {
    showError(e);
  }
}

// ----- the report --------------------------------------------------------------------------

/** A group's key as people say it: an operator's name, a type's name, "none" as words. */
function groupName(key) {
  const by = report?.by;
  if (by === 'operator') return client.store.users[key]?.name || key;
  if (by === 'type') return catalogue.types.find((t) => t.id === key)?.name || words(key);
  if (by === 'team') return key; // typed by people: shown as typed, underscores and all
  return words(key);
}

function renderReport() {
  for (const c of charts.splice(0)) c.destroy();
  renderTable();
  renderDistributions();
  renderWithin();
  renderTriage();
  renderTrend();
  renderFindings();
  renderLive();
}

function renderTable() {
  const groups = report.groups;
  const head = h('thead', {},
    h('tr', {}, h('th', { scope: 'col', rowspan: 2 }, groupHeading()), h('th', { scope: 'col', rowspan: 2 }, 'Contacts'),
      INTERVALS.map(([, label]) => h('th', { scope: 'colgroup', colspan: 4 }, label)),
      h('th', { scope: 'col', rowspan: 2 }, 'Priority raised'), h('th', { scope: 'col', rowspan: 2 }, 'Priority lowered'),
      h('th', { scope: 'col', rowspan: 2 }, 'Missed check-ins'), h('th', { scope: 'col', rowspan: 2 }, 'Escalations'),
      h('th', { scope: 'col', rowspan: 2 }, 'Overrides'), h('th', { scope: 'col', rowspan: 2 }, 'Complaints'),
      h('th', { scope: 'col', rowspan: 2 }, 'Upheld')),
    h('tr', {}, INTERVALS.flatMap(() => ['n', 'median', 'p90', 'in target'].map((x) => h('th', { scope: 'col' }, x)))));
  const rows = groups.map((g) => h('tr', { dataset: { group: g.key } },
    h('th', { scope: 'row' }, groupName(g.key)), cell('contacts', g.contacts),
    INTERVALS.flatMap(([k]) => intervalCells(k, g.intervals[k])),
    cell('reassessed_up', sumTriage(g, 'up')), cell('reassessed_down', sumTriage(g, 'down')),
    cell('missed_checkins', g.missed_checkins), cell('escalations', g.escalations), cell('overrides', g.overrides),
    cell('complaints', g.complaints), cell('upheld_complaints', g.upheld_complaints)));
  const total = (f) => groups.reduce((n, g) => n + f(g), 0);
  const foot = groups.length > 1 && h('tfoot', {}, h('tr', { dataset: { group: '' } },
    h('th', { scope: 'row' }, 'All groups'), cell('contacts', total((g) => g.contacts)),
    INTERVALS.flatMap(([k]) => [cell(`${k}.count`, total((g) => g.intervals[k].count)), h('td', { colspan: 3, class: 'muted' }, '')]),
    cell('reassessed_up', total((g) => sumTriage(g, 'up'))), cell('reassessed_down', total((g) => sumTriage(g, 'down'))),
    cell('missed_checkins', total((g) => g.missed_checkins)), cell('escalations', total((g) => g.escalations)),
    cell('overrides', total((g) => g.overrides)), cell('complaints', total((g) => g.complaints)),
    cell('upheld_complaints', total((g) => g.upheld_complaints))));
  const empty = !groups.length && h('tbody', {}, h('tr', {}, h('td', { colspan: 29, class: 'muted' }, 'Nothing happened in this period.')));
  fill($('kpis'), h('caption', { class: 'sr-only' }, 'Key figures per group'), head, h('tbody', {}, rows), foot, empty);
}

function groupHeading() {
  return { operator: 'Operator', team: 'Team', type: 'Incident type', priority: 'Priority', channel: 'Channel' }[report.by] || 'Group';
}

function cell(kpi, value, text = value) {
  return h('td', { dataset: { kpi }, class: 'num' }, text);
}

function intervalCells(k, s) {
  return [cell(`${k}.count`, s.count), cell(`${k}.median`, s.median_secs, duration(s.median_secs)),
    cell(`${k}.p90`, s.p90_secs, duration(s.p90_secs)), cell(`${k}.within`, s.within_target, percent(s.within_target))];
}

function sumTriage(g, field) {
  return Object.values(g.reassessed || {}).reduce((n, r) => n + (r[field] || 0), 0);
}

function renderDistributions() {
  const box = fill($('dist'));
  if (!report.groups.length) return box.append(h('p', { class: 'muted' }, 'No intervals to chart in this period.'));
  const labels = report.groups.map((g) => groupName(g.key));
  for (const [k, label] of INTERVALS) {
    const holder = figure(box, { id: `chart-${k}`, caption: label, label: `${label}: median and 90th percentile per ${words(report.by)}; the figures are in the table above` });
    charts.push(barChart(holder, {
      labels,
      series: [
        { label: 'median', values: report.groups.map((g) => g.intervals[k].median_secs) },
        { label: '90th percentile', values: report.groups.map((g) => g.intervals[k].p90_secs) },
      ],
      format: duration,
      height: 180,
    }));
  }
}

function renderWithin() {
  const box = fill($('within'));
  if (!report.groups.length) return box.append(h('p', { class: 'muted' }, 'Nothing to chart.'));
  const holder = figure(box, { id: 'chart-within', caption: `Share of intervals within the procedure's target, per ${words(report.by)}` });
  charts.push(barChart(holder, {
    labels: report.groups.map((g) => groupName(g.key)),
    series: INTERVALS.map(([k, label]) => ({ label: label.replace('Time to ', ''), values: report.groups.map((g) => g.intervals[k].within_target) })),
    format: (v) => percent(v),
    max: 1,
  }));
}

function renderTriage() {
  const methods = {};
  for (const g of report.groups) {
    for (const [m, r] of Object.entries(g.reassessed || {})) {
      const t = methods[m] || (methods[m] = { assessed: 0, up: 0, down: 0 });
      t.assessed += r.assessed; t.up += r.up; t.down += r.down;
    }
  }
  const names = Object.keys(methods).sort();
  const box = fill($('triage'));
  fill($('triage-table'), h('caption', { class: 'sr-only' }, 'Reassessed priorities by triage method'),
    h('thead', {}, h('tr', {}, ['Method', 'First prioritised', 'Raised (under-triage)', 'Lowered (over-triage)'].map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, names.length ? names.map((m) => h('tr', { dataset: { method: m } }, h('th', { scope: 'row' }, words(m)),
      cell('assessed', methods[m].assessed), cell('up', methods[m].up, rate(methods[m].up, methods[m].assessed)),
      cell('down', methods[m].down, rate(methods[m].down, methods[m].assessed))))
      : h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No priorities were set in this period.'))));
  if (!names.length) return;
  const holder = figure(box, { id: 'chart-triage', caption: 'Priorities raised and lowered later, by the method that set the first one' });
  charts.push(barChart(holder, {
    labels: names.map(words),
    series: [{ label: 'raised (under-triage)', values: names.map((m) => methods[m].up) },
      { label: 'lowered (over-triage)', values: names.map((m) => methods[m].down) }],
    format: (v) => String(Math.round(v * 10) / 10),
    height: 180,
  }));
}

function rate(n, of) {
  return of ? `${n} (${Math.round((n / of) * 100)}%)` : String(n);
}

function renderTrend() {
  if (!report) return;
  const old = charts.findIndex((c) => c.root.parentElement?.parentElement?.id === 'chart-trend');
  if (old >= 0) charts.splice(old, 1)[0].destroy();
  const box = fill($('trend'));
  const k = $('trend-interval').value;
  const label = $('trend-interval').selectedOptions[0].textContent;
  if (weeks.length < 2) return box.append(h('p', { class: 'muted' }, 'Choose a period of two weeks or more to see a trend.'));
  const totals = new Map();
  for (const w of weeks) for (const g of w.report.groups) totals.set(g.key, (totals.get(g.key) || 0) + g.intervals[k].count);
  const keys = [...totals.keys()].filter((key) => totals.get(key) > 0).sort((a, b) => totals.get(b) - totals.get(a)).slice(0, 8);
  if (!keys.length) return box.append(h('p', { class: 'muted' }, `No ${label.toLowerCase()} measured in this period.`));
  const holder = figure(box, { id: 'chart-trend', caption: `${label}, weekly median per ${words(report.by)}` });
  charts.push(lineChart(holder, {
    x: weeks.map((w) => w.start / 1000),
    series: keys.map((key) => ({
      label: groupName(key),
      values: weeks.map((w) => w.report.groups.find((g) => g.key === key)?.intervals[k].median_secs ?? null),
    })),
    format: duration,
  }));
}

// ----- findings and improvement actions -----------------------------------------------------

/** `dispatch_p90_secs` → "dispatch 90th percentile". */
const figureLabel = (name) => words(String(name).replace(/_secs$/, '')).replace(/\bp90\b/, '90th percentile');

const describeFigure = (figureName, v) => {
  if (v == null) return '—';
  if (/secs/.test(figureName)) return duration(v);
  if (/rate|share|within/.test(figureName)) return percent(v);
  return String(v);
};

function renderFindings() {
  const findings = report.findings;
  if (!Array.isArray(findings)) {
    return fill($('findings'), h('li', { class: 'muted' }, 'This hub does not compute findings yet.'));
  }
  if (!findings.length) return fill($('findings'), h('li', { class: 'muted' }, 'No findings for this period: every rule held.'));
  fill($('findings'), findings.map((f) => h('li', { dataset: { finding: f.id } },
    h('strong', {}, f.message),
    h('div', { class: 'muted' }, `rule ${f.rule} · area ${words(f.area)} · ${words(f.by)} ${f.by === 'operator' ? groupNameBy('operator', f.key) : words(f.key)}`),
    h('dl', { class: 'figures' },
      h('dt', {}, figureLabel(f.figure)), h('dd', {}, describeFigure(f.figure, f.value)),
      h('dt', {}, 'threshold'), h('dd', {}, describeFigure(f.figure, f.threshold)),
      f.baseline != null && [h('dt', {}, 'baseline'), h('dd', {}, describeFigure(f.figure, f.baseline))],
      h('dt', {}, 'samples'), h('dd', {}, f.samples)),
    h('p', { class: 'raised' }),
    raiseForm(f))));
}

function groupNameBy(by, key) {
  return by === 'operator' ? client.store.users[key]?.name || key : words(key);
}

/** The "Raise improvement action" form of a finding, behind a button that opens it. */
function raiseForm(f) {
  const uid = `raise-${f.id}`;
  const title = h('input', { id: `${uid}-title`, name: 'title', required: true, value: f.message.slice(0, 120) });
  const owner = h('select', { id: `${uid}-owner`, name: 'owner_id', required: true }, ownerOptions(f));
  const due = h('input', { id: `${uid}-due`, name: 'due_on', type: 'date', required: true, value: isoDay(Date.now() + 30 * DAY), min: isoDay(Date.now()) });
  // The centre's areas when the catalogue lists them; else the finding's own, as an id.
  const areas = catalogue.support_areas || (f.area ? [String(f.area).trim().replaceAll(' ', '_')] : []);
  const boxes = areas.map((a) => h('label', { class: 'check' }, h('input', { type: 'checkbox', value: a, checked: words(a) === words(String(f.area).replaceAll(' ', '_')) }), ` ${words(a)}`));
  const plans = Object.values(client.store.plans).filter((p) => p.status !== 'reviewed');
  const plan = h('select', { id: `${uid}-plan` }, h('option', { value: '' }, 'none'),
    plans.map((p) => h('option', { value: p.id }, `${userName(p.colleague_id)}: ${p.areas.map(words).join(', ')}`)));
  const form = h('form', { class: 'raise', hidden: true, 'aria-label': `Raise an improvement action for: ${f.message}`, onsubmit: async (e) => {
    e.preventDefault();
    const cmd = { kind: 'improvement.raise', title: title.value.trim(), finding: f.id, owner_id: owner.value, due_on: due.value,
      areas: boxes.map((b) => b.querySelector('input')).filter((i) => i.checked).map((i) => i.value) };
    if (plan.value) cmd.plan_id = plan.value;
    if (await run(client, cmd, form) !== undefined) { form.hidden = true; toggle.setAttribute('aria-expanded', 'false'); }
  } },
  h('label', { for: title.id }, 'Title', title),
  h('div', { class: 'grid2' }, h('label', { for: owner.id }, 'Owner', owner), h('label', { for: due.id }, 'Due on', due)),
  boxes.length > 0 && h('fieldset', {}, h('legend', {}, 'Areas'), boxes),
  h('label', { for: plan.id }, 'Link to a support plan (optional)', plan),
  h('button', { type: 'submit' }, 'Raise action'));
  const toggle = h('button', { type: 'button', class: 'secondary', 'aria-expanded': 'false', onclick: () => {
    form.hidden = !form.hidden;
    if (!owner.options.length) fill(owner, ownerOptions(f));
    toggle.setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) title.focus();
  } }, 'Raise improvement action');
  return h('div', {}, toggle, form);
}

/** Who may own an action: the operator the finding is about, by default, else me. */
function ownerOptions(f) {
  const chosen = f.by === 'operator' && client.store.users[f.key] ? f.key : client.user.id;
  return people().map((u) => h('option', { value: u.id, selected: u.id === chosen }, `${u.name} (${u.role})`));
}

function people() {
  return Object.values(client.store.users).filter((u) => !u.disabled && ['operator', 'supervisor'].includes(u.role))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function userName(id) {
  return client.store.users[id]?.name || id;
}

/** The parts kept live from the store: actions, which findings have one, plans due. */
function renderLive() {
  if (!report) return;
  renderImprovements();
  for (const li of document.querySelectorAll('#findings [data-finding]')) {
    const raised = Object.values(client.store.improvements).filter((i) => i.finding === li.dataset.finding);
    fill(li.querySelector('.raised'), raised.length ? `Action raised: ${raised.map((i) => `${i.title} (${words(i.status)})`).join('; ')}` : '');
  }
  renderPlansDue();
}

const NEXT = { open: [['in_progress', 'Start']], in_progress: [['done', 'Mark done'], ['dropped', 'Drop']], done: [], dropped: [] };
const MOVED = { better: '▼ better', worse: '▲ worse', unchanged: '= unchanged', unknown: '? not measured yet' };

function renderImprovements() {
  const fromReport = new Map((report.improvements || []).map((i) => [i.improvement_id, i]));
  const live = Object.values(client.store.improvements);
  const ids = [...new Set([...live.map((i) => i.id), ...fromReport.keys()])];
  if (!ids.length) return fill($('improvements'), h('li', { class: 'muted' }, 'No improvement actions yet. Raise one from a finding.'));
  const box = $('improvements');
  // Keep an entry whose note someone is typing; redraw the rest.
  const typing = box.contains(document.activeElement) ? document.activeElement.closest('[data-improvement]')?.dataset.improvement : null;
  const items = ids.map((id) => {
    if (id === typing) return box.querySelector(`[data-improvement="${id}"]`);
    return improvementItem(client.store.improvements[id], fromReport.get(id), id);
  });
  fill(box, items);
}

function improvementItem(i, r, id) {
  const status = i?.status || r?.status;
  const note = h('input', { 'aria-label': 'Note (optional)', placeholder: 'note (optional)' });
  return h('li', { dataset: { improvement: id, status } },
    h('strong', {}, i?.title || r?.title), ' ', badge(status),
    i && h('div', { class: 'muted' }, `owner ${userName(i.owner_id)} · due ${i.due_on}`, i.areas?.length ? ` · ${i.areas.map(words).join(', ')}` : ''),
    r && h('div', { class: `moved moved-${r.moved}` }, `${figureLabel(r.figure)}: ${describeFigure(r.figure, r.before)} → ${describeFigure(r.figure, r.after)} `,
      h('strong', {}, MOVED[r.moved] || words(r.moved))),
    i && (NEXT[status] || []).length > 0 && h('div', { class: 'actions' }, note, ' ',
      NEXT[status].map(([to, label]) => h('button', { type: 'button', class: to === 'dropped' ? 'secondary' : '', onclick: () => {
        const cmd = { kind: 'improvement.update', improvement_id: id, status: to };
        if (note.value.trim()) cmd.note = note.value.trim();
        run(client, cmd);
      } }, label))));
}

function renderPlansDue() {
  const horizon = isoDay(Date.now() + DUE_WITHIN_DAYS * DAY);
  const today = isoDay(Date.now());
  const due = Object.values(client.store.plans).filter((p) => p.status !== 'reviewed' && p.review_on <= horizon)
    .sort((a, b) => a.review_on.localeCompare(b.review_on));
  if (!due.length) return fill($('plans-due'), h('li', { class: 'muted' }, `No support plan is due for review in the next ${DUE_WITHIN_DAYS} days.`));
  fill($('plans-due'), due.map((p) => h('li', { dataset: { plan: p.id } },
    h('a', { href: `/console#plan=${encodeURIComponent(p.id)}` }, userName(p.colleague_id)), ' ', badge(p.status),
    ` ${words(p.support_type)} in ${p.areas.map(words).join(', ')} · review on ${p.review_on} `,
    p.review_on < today ? h('strong', { class: 'overdue' }, 'overdue') : p.review_on === today ? h('strong', {}, 'due today') : '')));
}

// ----- start (last, so every binding above exists) ------------------------------------

if (client && client.user.role !== 'supervisor') {
  $('denied').hidden = false;
} else if (client) {
  $('content').hidden = false;
  setPreset(30);
  bindFilters();
  fitOnResize(charts);
  api('/api/catalogue').then((c) => { catalogue = c; }).catch((e) => console.warn('catalogue', e));
  client.subscribe(throttleFrame(renderLive));
  load();
}
