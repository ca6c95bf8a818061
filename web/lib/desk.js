// Pieces the console and the board share: the broadcast composer (with who has
// acknowledged) and the supervisor's direct guidance shown prominently.

import { h, fill, byTime, clock, run, throttleFrame } from './ui.js';
import { userKey } from './muster.js';

/** The broadcast form in `form`, the sender's messages in `list`. */
export function bindBroadcast(client, form, list, currentIncident = () => null) {
  const audience = h('select', { id: 'bc-audience', name: 'audience' });
  const text = h('textarea', { id: 'bc-text', name: 'text', rows: 2, required: true });
  const ack = h('input', { type: 'checkbox', id: 'bc-ack' });
  fill(form, h('label', { for: 'bc-audience' }, 'To'), audience,
    h('label', { for: 'bc-text' }, 'Message'), text,
    h('label', { for: 'bc-ack' }, ack, ' Requires acknowledgement'),
    h('button', { type: 'submit' }, 'Send broadcast'));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!text.value.trim()) return;
    const ok = await run(client, { kind: 'message.broadcast', audience: audience.value, text: text.value.trim(), requires_ack: ack.checked }, form);
    if (ok !== undefined) text.value = '';
  });
  const render = () => {
    const chosen = audience.value;
    const teams = [...new Set(Object.values(client.store.resources).filter((r) => !r.retired).map((r) => r.team))].sort();
    const inc = currentIncident();
    const people = Object.values(client.store.users).filter((u) => u.role === 'field' && !u.disabled)
      .sort((a, b) => a.name.localeCompare(b.name));
    // "All field staff" first: the people who acknowledge from their phones.
    fill(audience, h('option', { value: 'field' }, 'All field staff'),
      h('option', { value: 'all' }, 'Everyone (desks too)'),
      inc && h('option', { value: `incident:${inc}` }, `Responders to ${client.store.incidents[inc]?.reference || inc}`),
      teams.map((t) => h('option', { value: `team:${t}` }, `Team ${t}`)),
      people.length > 0 && h('optgroup', { label: 'One person' }, people.map((u) => h('option', { value: `user:${u.id}` }, u.name))));
    if ([...audience.options].some((o) => o.value === chosen)) audience.value = chosen;
    const mine = Object.values(client.store.messages).filter((m) => m.sent_by === client.user.id)
      .sort((a, b) => byTime(b.sent_at, a.sent_at)).slice(0, 8);
    fill(list, mine.map((m) => h('li', { dataset: { message: m.id } }, clock(m.sent_at), ` to ${audienceLabel(client.store, m.audience)}: `, m.text,
      m.requires_ack ? acks(client.store, m) : '')));
  };
  client.subscribe(throttleFrame(render));
  render();
}

/** Who a message went to, in words: names, never ids. */
export function audienceLabel(store, audience) {
  const [scope, id] = String(audience).split(/:(.*)/s);
  switch (scope) {
    case 'all': return 'everyone';
    case 'field': return 'all field staff';
    case 'team': return `team ${id}`;
    case 'incident': return `responders to ${store.incidents[id]?.reference || 'an incident'}`;
    case 'resource': return store.resources[id]?.name || 'a resource';
    case 'user': return store.users[id]?.name || 'one person';
    default: return String(audience);
  }
}

/** "n of m acknowledged", then each recipient by name: acknowledged (when) or waiting. */
function acks(store, m) {
  const got = m.acks || {};
  const recipients = [...(m.recipients || [])].sort((a, b) => (got[a] ? 1 : 0) - (got[b] ? 1 : 0)
    || (store.users[a]?.name || a).localeCompare(store.users[b]?.name || b));
  const done = recipients.filter((u) => got[u]).length;
  return h('div', { class: 'acks' },
    h('div', { class: 'muted', dataset: { count: '' } }, `acknowledged by ${done} of ${recipients.length}`),
    h('ul', { class: 'plain ack-list', 'aria-label': 'Who has acknowledged' }, recipients.map((u) =>
      h('li', { dataset: { user: u, acked: String(!!got[u]) } }, store.users[u]?.name || 'Someone',
        got[u] ? ` — acknowledged ${clock(got[u])}` : ' — waiting'))));
}

/**
 * Broadcasts addressed to this desk user (not direct guidance, which has its own
 * banner): information-only ones can be dismissed (remembered in this browser), ones
 * asking for acknowledgement have an Acknowledge button until acknowledged.
 */
export function bindInbox(client, box) {
  const me = client.user.id;
  const dismissed = dismissals(me);
  const render = () => {
    const open = Object.values(client.store.messages)
      .filter((m) => (m.recipients || []).includes(me) && m.sent_by !== me && !m.audience.startsWith('user:'))
      .filter((m) => (m.requires_ack ? !(m.acks || {})[me] : !dismissed.has(m.id)))
      .sort((a, b) => byTime(b.sent_at, a.sent_at));
    box.hidden = open.length === 0;
    fill(box, open.map((m) => h('div', { class: 'msg', dataset: { message: m.id } },
      h('span', {}, clock(m.sent_at), ` from ${client.store.users[m.sent_by]?.name || 'control'}: `), m.text, ' ',
      m.requires_ack
        ? h('button', { type: 'button', onclick: (e) => run(client, { kind: 'message.acknowledge', message_id: m.id }, { busy: [e.currentTarget] }) }, 'Acknowledge')
        : h('button', { type: 'button', class: 'secondary', onclick: () => {
          dismissed.add(m.id);
          render();
        } }, 'Dismiss'))));
  };
  client.subscribe(throttleFrame(render));
  render();
}

/**
 * The information-only messages this user dismissed in this browser: a set whose
 * `add` is remembered (under a `muster.` key, so log-out forgets it).
 */
export function dismissals(userId) {
  const key = userKey(userId, 'dismissed');
  let ids = [];
  try { ids = JSON.parse(localStorage.getItem(key) || '[]'); } catch { ids = []; }
  const set = new Set(ids);
  const add = set.add.bind(set);
  set.add = (id) => {
    add(id);
    try { localStorage.setItem(key, JSON.stringify([...set].slice(-200))); } catch { /* full: kept for this page only */ }
    return set;
  };
  return set;
}

/** Direct messages to this user from someone else, as a banner with Acknowledge. */
export function bindGuidance(client, box) {
  const render = () => {
    const me = client.user.id;
    const open = Object.values(client.store.messages)
      .filter((m) => m.audience === `user:${me}` && m.sent_by !== me && !(m.acks || {})[me])
      .sort((a, b) => byTime(a.sent_at, b.sent_at));
    fill(box, open.map((m) => h('div', { class: 'guidance', role: 'alert', dataset: { message: m.id } }, m.text, ' ',
      h('button', { type: 'button', onclick: () => run(client, { kind: 'message.acknowledge', message_id: m.id }) }, 'Acknowledge guidance'))));
  };
  client.subscribe(throttleFrame(render));
  render();
}
