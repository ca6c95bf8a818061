// The Shifts section of /admin: each resource's shifts to come and under way, a form to
// add one (resource, start, end: `roster.add`) and a Remove button on each
// (`roster.remove`). Shifts that ended stay on record and are not listed. Every change
// is one command through `ctx.send`, whose refusals show next to the form's field (an
// overlap, a `conflict`, next to the start). Text only, keyboard operable.
//
// Mounted by admin.js: `mountShifts(section, ctx)` with ctx = { session, store,
// subscribe, send, api } (see admin.js). `ctx.store` is read afresh on every render,
// so a getter that answers the client's current store keeps it right across
// reconnections. Returns `{ render }` for a caller that has no `subscribe`.

import { h, fill } from './lib/ui.js';

/** `2026-03-02T09:00` in the browser's time zone → RFC 3339 UTC. */
function fromLocal(value) {
  const t = new Date(value);
  return Number.isNaN(t.getTime()) ? null : t.toISOString();
}

/** A shift's time as the admin reads it (the browser's time zone). */
function when(iso) {
  return new Date(iso).toLocaleString([], { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
}

let mounted = 0;

export function mountShifts(section, ctx) {
  const n = ++mounted;
  const id = (name) => `shifts-${n}-${name}`;
  const store = () => ctx.store || {};
  const resources = () => Object.values(store().resources || {}).filter((r) => !r.retired)
    .sort((a, b) => a.name.localeCompare(b.name));
  const nameOf = (rid) => store().resources?.[rid]?.name || rid;

  const form = h('form', { class: 'admin-form', id: id('add'), 'aria-labelledby': id('add-title'), autocomplete: 'off' },
    h('h3', { id: id('add-title') }, 'Add a shift'),
    h('label', { for: id('resource') }, 'Resource'),
    h('select', { id: id('resource'), name: 'resource_id', required: true }),
    h('label', { for: id('start') }, 'Start'),
    h('input', { id: id('start'), name: 'start', type: 'datetime-local', required: true }),
    h('label', { for: id('end') }, 'End'),
    h('input', { id: id('end'), name: 'end', type: 'datetime-local', required: true }),
    h('p', { class: 'muted', id: id('hint') }, 'Times are in this browser\'s time zone. A shift is at most 24 hours; one resource\'s shifts may not overlap.'),
    h('button', { type: 'submit' }, 'Add shift'));
  const list = h('table', { id: id('list'), class: 'shift-list' },
    h('caption', {}, 'Shifts to come and under way, by resource'),
    h('thead', {}, h('tr', {}, ['Resource', 'Start', 'End', 'Now', ''].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}));
  const empty = h('p', { class: 'muted', hidden: true }, 'No shifts to come.');
  section.append(form, list, empty);

  function renderResources() {
    const select = form.elements.resource_id;
    const chosen = select.value;
    fill(select, h('option', { value: '' }, '— choose —'),
      resources().map((r) => h('option', { value: r.id }, `${r.name} · ${r.team}`)));
    select.value = chosen && store().resources?.[chosen] ? chosen : '';
  }

  function renderList() {
    const now = Date.now();
    const shifts = Object.values(store().shifts || {})
      .filter((s) => !s.ended_at && Date.parse(s.end) > now)
      .sort((a, b) => nameOf(a.resource_id).localeCompare(nameOf(b.resource_id)) || Date.parse(a.start) - Date.parse(b.start));
    const focused = document.activeElement?.dataset?.shift;
    fill(list.tBodies[0], shifts.map((s) => {
      const label = `${nameOf(s.resource_id)}, ${when(s.start)} to ${when(s.end)}`;
      return h('tr', { dataset: { shift: s.id, resource: s.resource_id } },
        h('td', {}, nameOf(s.resource_id)),
        h('td', {}, h('time', { datetime: s.start }, when(s.start))),
        h('td', {}, h('time', { datetime: s.end }, when(s.end))),
        h('td', {}, Date.parse(s.start) <= now ? 'on shift' : 'to come'),
        h('td', { class: 'actions' },
          h('button', { type: 'button', class: 'danger', dataset: { shift: s.id }, 'aria-label': `Remove the shift of ${label}` }, 'Remove')));
    }));
    list.hidden = shifts.length === 0;
    empty.hidden = shifts.length > 0;
    if (focused) list.querySelector(`button[data-shift="${CSS.escape(focused)}"]`)?.focus();
  }

  function render() {
    renderResources();
    renderList();
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = form.elements;
    const start = fromLocal(f.start.value);
    const end = fromLocal(f.end.value);
    if (!f.resource_id.value || !start || !end) {
      form.reportValidity();
      return;
    }
    const button = form.querySelector('button[type="submit"]');
    const data = await ctx.send({ kind: 'roster.add', resource_id: f.resource_id.value, start, end },
      { form, busy: [button], conflictField: 'start' });
    if (data) {
      f.start.value = '';
      f.end.value = '';
      f.start.focus();
      render();
    }
  });

  list.addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-shift]');
    if (!b) return;
    const data = await ctx.send({ kind: 'roster.remove', shift_id: b.dataset.shift }, { busy: [b] });
    if (data) {
      render();
      form.elements.resource_id.focus();
    }
  });

  ctx.subscribe?.((frame) => {
    const kind = frame?.event?.kind || '';
    if (!frame || kind.startsWith('roster.') || kind.startsWith('resource.')) render();
  });
  // A shift passing its end leaves the list even when no event says so yet.
  setInterval(renderList, 60_000);
  render();
  return { render };
}
