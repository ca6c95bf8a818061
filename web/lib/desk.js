// Pieces the console and the board share: the broadcast composer (with who has
// acknowledged) and the supervisor's direct guidance shown prominently.

import { h, fill, byTime, clock, run, throttleFrame } from './ui.js';

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
    const teams = [...new Set(Object.values(client.store.resources).map((r) => r.team))].sort();
    const inc = currentIncident();
    fill(audience, h('option', { value: 'all' }, 'Everyone'),
      inc && h('option', { value: `incident:${inc}` }, `Responders to ${client.store.incidents[inc]?.reference || inc}`),
      teams.map((t) => h('option', { value: `team:${t}` }, `Team ${t}`)));
    if ([...audience.options].some((o) => o.value === chosen)) audience.value = chosen;
    const mine = Object.values(client.store.messages).filter((m) => m.sent_by === client.user.id)
      .sort((a, b) => byTime(b.sent_at, a.sent_at)).slice(0, 8);
    fill(list, mine.map((m) => h('li', { dataset: { message: m.id } }, clock(m.sent_at), ` to ${m.audience}: `, m.text,
      m.requires_ack ? h('div', { class: 'muted' }, `acknowledged by ${Object.keys(m.acks || {}).length} of ${(m.recipients || []).length}`) : '')));
  };
  client.subscribe(throttleFrame(render));
  render();
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
