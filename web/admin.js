// The admin app: users (create, edit, link to a resource, disable, re-enable, reset
// the password), resources (register, edit, retire), the teams and skills in use, CSV
// import with a dry run first and export, and the shifts section (another module).
// Every change is one logged command sent over the socket like the other apps; the
// lists are the client store, fed by the socket.
//
// The Shifts section is filled by `./admin-shifts.js` when that module exists: it
// exports `mountShifts(section, ctx)`, called once with the `<section id="shifts">` and
//   ctx = {
//     session,  // the log-in session: { token, user: { id, username, name, role } }
//     store,    // the socket-fed client store (web/lib/store.js): users, resources, …,
//               // live; subscribe to changes with ctx.subscribe(fn)
//     subscribe,// (fn) => unsubscribe: fn(frame) after each event, fn(null) on other changes
//     send,     // (command, { form, busy, conflictField }?) => Promise of the result's
//               // data, or undefined when refused (the refusal is then already shown
//               // next to the form's field, else in the page's alert area). One command
//               // id per call; the button that triggered it is busy until the result.
//     api,      // authenticated GET of the API as JSON
//   }

import { api, apiRaw, currentSession } from './lib/muster.js';
import { h, fill, words, badge, startApp, run, throttleFrame, showError, clearFieldErrors, setBusy } from './lib/ui.js';

const client = startApp(['admin']);
const $ = (id) => document.getElementById(id);
const ROLES = ['field', 'operator', 'supervisor', 'admin'];
let requiredSkills = []; // from the catalogue: what incident types need
let editingUser = null; // the user id the edit and password forms are about
let editingResource = null;

/** The single-shot submit: one command per intent, errors next to the form's fields. */
function send(command, options = {}) {
  return run(client, command, options);
}

const users = () => Object.values(client.store.users).filter((u) => u.role !== 'intake')
  .sort((a, b) => a.username.localeCompare(b.username));
const inService = () => Object.values(client.store.resources).filter((r) => !r.retired)
  .sort((a, b) => a.name.localeCompare(b.name));
const userName = (id) => client.store.users[id]?.username || '';
const resourceName = (id) => client.store.resources[id]?.name || '';

/** `a; b, c` → `['a', 'b', 'c']`. */
function splitSkills(text) {
  return String(text || '').split(/[;,]/).map((s) => s.trim()).filter(Boolean);
}

/** A number from a text field, `undefined` when empty, `NaN` when not a number. */
function number(text) {
  const t = String(text || '').trim();
  return t === '' ? undefined : Number(t);
}

/** Keeps keyboard focus on the same control (by `data-key`) across a redraw. */
function keepingFocus(draw) {
  const key = document.activeElement?.dataset?.key;
  draw();
  if (key) document.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

// ----- users --------------------------------------------------------------------------

function resourceOptions(select, current, forUser) {
  const chosen = current ?? select.value;
  fill(select, h('option', { value: '' }, '— none —'),
    inService().map((r) => {
      const other = r.user_id && r.user_id !== forUser ? ` (carried by ${userName(r.user_id)})` : '';
      return h('option', { value: r.id }, `${r.name} · ${r.team}${other}`);
    }));
  select.value = chosen || '';
}

function renderUsers() {
  fill($('user-list').tBodies[0], users().map((u) => h('tr', { dataset: { user: u.id } },
    h('td', {}, u.username),
    h('td', {}, u.name),
    h('td', {}, words(u.role)),
    h('td', {}, resourceName(u.resource_id)),
    h('td', {}, u.disabled ? badge('disabled') : badge('active')),
    h('td', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', dataset: { key: `edit-${u.id}`, act: 'edit' }, 'aria-label': `Edit ${u.username}` }, 'Edit'),
      h('button', { type: 'button', class: 'secondary', dataset: { key: `pw-${u.id}`, act: 'password' }, 'aria-label': `Reset the password of ${u.username}` }, 'Password'),
      u.id === client.user.id ? null
        : u.disabled
          ? h('button', { type: 'button', dataset: { key: `en-${u.id}`, act: 'enable' }, 'aria-label': `Enable ${u.username}` }, 'Enable')
          : h('button', { type: 'button', class: 'danger', dataset: { key: `dis-${u.id}`, act: 'disable' }, 'aria-label': `Disable ${u.username}` }, 'Disable')),
  )));
  resourceOptions($('user-create').elements.resource_id);
  if (editingUser) resourceOptions($('user-edit').elements.resource_id, undefined, editingUser);
}

function bindUsers() {
  const create = $('user-create');
  create.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = create.elements;
    const command = { kind: 'user.create', username: f.username.value.trim(), role: f.role.value, password: f.password.value };
    if (f.name.value.trim()) command.name = f.name.value.trim();
    if (f.resource_id.value) command.resource_id = f.resource_id.value;
    const data = await send(command, { form: create, conflictField: 'username' });
    if (data) {
      create.reset();
      $('user-list').querySelector(`[data-user="${CSS.escape(data.user_id || '')}"]`)?.scrollIntoView({ block: 'nearest' });
    }
  });

  $('user-list').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-act]');
    if (!b) return;
    const id = b.closest('tr').dataset.user;
    const u = client.store.users[id];
    if (!u) return;
    if (b.dataset.act === 'edit') openUserEdit(u);
    if (b.dataset.act === 'password') openPassword(u);
    if (b.dataset.act === 'disable') send({ kind: 'user.disable', user_id: id });
    if (b.dataset.act === 'enable') send({ kind: 'user.enable', user_id: id });
  });

  const edit = $('user-edit');
  edit.addEventListener('submit', async (e) => {
    e.preventDefault();
    const u = client.store.users[editingUser];
    if (!u) return;
    const f = edit.elements;
    // Only what changed; `resource_id: null` unlinks.
    const command = { kind: 'user.update', user_id: u.id };
    if (f.name.value.trim() !== u.name) command.name = f.name.value.trim();
    if (f.role.value !== u.role) command.role = f.role.value;
    if ((f.resource_id.value || null) !== (u.resource_id || null)) command.resource_id = f.resource_id.value || null;
    if (Object.keys(command).length === 2) {
      showError({ code: 'validation_failed', message: 'name: nothing was changed' }, edit);
      return;
    }
    if (await send(command, { form: edit })) closeForm(edit);
  });

  const pw = $('user-password');
  pw.addEventListener('submit', async (e) => {
    e.preventDefault();
    const data = await send({ kind: 'user.password', user_id: editingUser, password: pw.elements.password.value }, { form: pw });
    if (data) closeForm(pw);
  });
  for (const b of document.querySelectorAll('[data-close]')) b.addEventListener('click', () => closeForm(b.form));
}

function openUserEdit(u) {
  editingUser = u.id;
  $('user-password').hidden = true;
  const edit = $('user-edit');
  clearFieldErrors(edit);
  $('user-edit-title').textContent = `Edit ${u.username}`;
  edit.elements.name.value = u.name;
  edit.elements.role.value = ROLES.includes(u.role) ? u.role : 'operator';
  resourceOptions(edit.elements.resource_id, u.resource_id || '', u.id);
  edit.hidden = false;
  edit.elements.name.focus();
}

function openPassword(u) {
  editingUser = u.id;
  $('user-edit').hidden = true;
  const pw = $('user-password');
  clearFieldErrors(pw);
  $('user-password-title').textContent = `Reset the password of ${u.username}`;
  pw.reset();
  pw.hidden = false;
  pw.elements.password.focus();
}

function closeForm(form) {
  form.hidden = true;
  form.reset();
  const key = form.id.startsWith('user') ? `edit-${editingUser}` : `redit-${editingResource}`;
  document.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

// ----- resources ----------------------------------------------------------------------

function renderResources() {
  fill($('resource-list').tBodies[0], inService().map((r) => h('tr', { dataset: { resource: r.id } },
    h('td', {}, r.name),
    h('td', {}, words(r.resource_type)),
    h('td', {}, r.team),
    h('td', {}, (r.skills || []).join('; ')),
    h('td', {}, badge(r.status)),
    h('td', {}, userName(r.user_id)),
    h('td', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', dataset: { key: `redit-${r.id}`, act: 'edit' }, 'aria-label': `Edit ${r.name}` }, 'Edit'),
      h('button', { type: 'button', class: 'danger', dataset: { key: `retire-${r.id}`, act: 'retire' }, 'aria-label': `Retire ${r.name}` }, 'Retire')),
  )));
}

/** The `resource.register`/`resource.update` fields of a resource form. */
function resourceFields(f) {
  const lat = number(f.lat.value);
  const lon = number(f.lon.value);
  return {
    name: f.name.value.trim(),
    resource_type: f.resource_type.value,
    team: f.team.value.trim(),
    skills: splitSkills(f.skills.value),
    home: lat === undefined && lon === undefined ? undefined : { lat, lon },
  };
}

function bindResources() {
  const create = $('resource-create');
  create.addEventListener('submit', async (e) => {
    e.preventDefault();
    const { home, ...fields } = resourceFields(create.elements);
    if (home && !(Number.isFinite(home.lat) && Number.isFinite(home.lon))) {
      showError({ code: 'validation_failed', message: 'lat: give both latitude and longitude as numbers' }, create);
      return;
    }
    const command = { kind: 'resource.register', ...fields };
    if (home) command.location = { lat: home.lat, lon: home.lon };
    if (await send(command, { form: create })) create.reset();
  });

  $('resource-list').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-act]');
    if (!b) return;
    const r = client.store.resources[b.closest('tr').dataset.resource];
    if (!r) return;
    if (b.dataset.act === 'edit') openResourceEdit(r);
    if (b.dataset.act === 'retire') send({ kind: 'resource.retire', resource_id: r.id });
  });

  const edit = $('resource-edit');
  edit.addEventListener('submit', async (e) => {
    e.preventDefault();
    const r = client.store.resources[editingResource];
    if (!r) return;
    const next = resourceFields(edit.elements);
    if (next.home && !(Number.isFinite(next.home.lat) && Number.isFinite(next.home.lon))) {
      showError({ code: 'validation_failed', message: 'lat: give both latitude and longitude as numbers' }, edit);
      return;
    }
    // Only what changed.
    const command = { kind: 'resource.update', resource_id: r.id };
    for (const k of ['name', 'resource_type', 'team']) if (next[k] !== r[k]) command[k] = next[k];
    if (next.skills.join(';') !== (r.skills || []).join(';')) command.skills = next.skills;
    if (next.home && (next.home.lat !== r.home?.lat || next.home.lon !== r.home?.lon)) command.home = next.home;
    if (Object.keys(command).length === 2) {
      showError({ code: 'validation_failed', message: 'name: nothing was changed' }, edit);
      return;
    }
    if (await send(command, { form: edit })) closeForm(edit);
  });
}

function openResourceEdit(r) {
  editingResource = r.id;
  const edit = $('resource-edit');
  clearFieldErrors(edit);
  $('resource-edit-title').textContent = `Edit ${r.name}`;
  const f = edit.elements;
  f.name.value = r.name;
  f.resource_type.value = r.resource_type;
  f.team.value = r.team;
  f.skills.value = (r.skills || []).join('; ');
  f.lat.value = r.home?.lat ?? '';
  f.lon.value = r.home?.lon ?? '';
  edit.hidden = false;
  f.name.focus();
}

// ----- teams and skills -----------------------------------------------------------------

function counts(values) {
  const m = new Map();
  for (const v of values) m.set(v, (m.get(v) || 0) + 1);
  return [...m].sort((a, b) => a[0].localeCompare(b[0]));
}

function renderTeams() {
  const rs = inService();
  const teams = counts(rs.map((r) => r.team));
  const held = counts(rs.flatMap((r) => r.skills || []));
  const skills = new Map(held);
  for (const s of requiredSkills) if (!skills.has(s)) skills.set(s, 0);
  const sorted = [...skills].sort((a, b) => a[0].localeCompare(b[0]));
  fill($('team-list'), teams.map(([t, n]) => h('li', { dataset: { team: t } }, h('strong', {}, t), ` · ${n} resource${n === 1 ? '' : 's'} `,
    h('button', { type: 'button', class: 'secondary', dataset: { key: `team-${t}`, act: 'rename' }, 'aria-label': `Rename team ${t}` }, 'Rename'))));
  fill($('skill-list'), sorted.map(([s, n]) => h('li', {}, h('strong', {}, s), ` · ${n} resource${n === 1 ? '' : 's'}`,
    requiredSkills.includes(s) ? h('span', { class: 'muted' }, ' (required by an incident type)') : null)));
  fill($('team-options'), teams.map(([t]) => h('option', { value: t })));
  fill($('skill-options'), sorted.map(([s]) => h('option', { value: s })));
}

/** A CSV cell, quoted when it must be. */
function csvCell(v) {
  const s = String(v ?? '');
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * Renaming a team is one intent: every member's `resource.update`, sent as one import
 * (one batch, all or none) of their names, kinds and the new team.
 */
function bindTeams() {
  const form = $('team-rename');
  let renaming = null;
  $('team-list').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-act="rename"]');
    if (!b) return;
    renaming = b.closest('li').dataset.team;
    clearFieldErrors(form);
    $('team-rename-title').textContent = `Rename team ${renaming}`;
    form.elements.team.value = renaming;
    form.hidden = false;
    form.elements.team.focus();
  });
  form.querySelector('[data-close]').addEventListener('click', () => { form.hidden = true; });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const team = form.elements.team.value.trim();
    if (!team || team === renaming) {
      showError({ code: 'validation_failed', message: 'team: give the team a new name' }, form);
      return;
    }
    const members = inService().filter((r) => r.team === renaming);
    const csv = ['name,kind,team', ...members.map((r) => [r.name, r.resource_type, team].map(csvCell).join(','))].join('\n');
    const button = form.querySelector('button[type="submit"]');
    setBusy([form, button], true);
    try {
      const result = await postImport('resources', csv, false);
      if (result.errors.length) {
        showError({ code: 'validation_failed', message: `team: ${result.errors.map((x) => x.message).join('; ')}` }, form);
      } else {
        form.hidden = true;
      }
    } catch (err) {
      showError(err, form);
    } finally {
      setBusy([form, button], false);
    }
  });
}

// ----- import and export -------------------------------------------------------------

let checked = null; // {what, text} of the last dry run without errors

async function postImport(what, text, dryRun) {
  const res = await fetch(`/api/import/${what}${dryRun ? '?dry_run=true' : ''}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${currentSession()?.token}`, 'content-type': 'text/csv' },
    body: text,
  });
  const body = await res.json().catch(() => ({}));
  if (body && Array.isArray(body.errors)) return body;
  const err = new Error(body.error?.message || `import: ${res.status}`);
  err.code = body.error?.code;
  throw err;
}

function showImport(result, dryRun) {
  const { rows, errors, applied } = result;
  const summary = errors.length
    ? `${rows} rows read; ${errors.length} invalid: nothing was applied.`
    : dryRun ? `${rows} rows read, all valid: nothing applied yet. Import applies them.`
      : `${rows} rows read: ${applied} change${applied === 1 ? '' : 's'} applied.`;
  fill($('import-result'), h('p', { dataset: { rows, errors: errors.length, applied } }, summary),
    errors.length ? h('ol', { class: 'import-errors' }, errors.map((e) => h('li', {}, `Line ${e.line}: ${e.message}`))) : null);
}

function bindImport() {
  const form = $('import-form');
  const apply = $('import-apply');
  const read = async () => ({ what: form.elements.what.value, text: await form.elements.file.files[0]?.text() });
  form.addEventListener('change', () => { checked = null; apply.disabled = true; });
  const check = $('import-check');
  // One request per press: the button (and form) are busy until the answer.
  const busy = async (els, fn) => {
    setBusy(els, true);
    try { await fn(); } catch (err) { showError(err, form); } finally { setBusy(els, false); }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    busy([form, check], async () => {
      const { what, text } = await read();
      if (text == null) return;
      const result = await postImport(what, text, true);
      showImport(result, true);
      checked = result.errors.length ? null : { what, text };
      apply.disabled = !checked;
    });
  });
  apply.addEventListener('click', () => {
    if (!checked) return;
    const { what, text } = checked;
    apply.disabled = true;
    busy([form, apply], async () => {
      showImport(await postImport(what, text, false), false);
      checked = null;
    });
  });
  $('export').addEventListener('click', async () => {
    const what = form.elements.what.value;
    try {
      const res = await apiRaw(`/api/import/${what}`, 'text/csv');
      const url = URL.createObjectURL(await res.blob());
      const a = h('a', { href: url, download: `muster-${what}.csv`, hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 1000);
    } catch (err) {
      showError(err);
    }
  });
}

// ----- shifts (another module) ---------------------------------------------------------

async function mountShiftsIfThere() {
  const section = $('shifts');
  let mod;
  try {
    mod = await import('./admin-shifts.js');
  } catch {
    section.append(h('p', { class: 'muted' }, 'Shifts are not available on this hub.'));
    return;
  }
  mod.mountShifts?.(section, {
    session: currentSession(),
    store: client.store,
    subscribe: (fn) => client.subscribe(fn),
    send,
    api,
  });
}

// ----- start -----------------------------------------------------------------------------

if (client) {
  bindUsers();
  bindResources();
  bindImport();
  bindTeams();
  const draw = throttleFrame(() => keepingFocus(() => { renderUsers(); renderResources(); renderTeams(); }));
  client.subscribe((frame) => {
    const kind = frame?.event?.kind || '';
    if (!frame || kind.startsWith('user.') || kind.startsWith('resource.') || kind.startsWith('assignment.')) draw();
  });
  draw();
  api('/api/catalogue').then((c) => {
    requiredSkills = [...new Set((c.types || []).flatMap((t) => t.required_skills || []))].sort();
    draw();
  }).catch(() => {});
  mountShiftsIfThere();
}
