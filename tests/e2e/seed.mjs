// A log for the review page, made through the real API (see seedReview).

import assert from 'node:assert/strict';
import { setTimeout as pause } from 'node:timers/promises';


/** A command that must succeed; answers its data. */
async function must(api, token, command) {
  const r = await api.command(token, command);
  assert.ok(r.ok, `${command.kind}: ${JSON.stringify(r.error)}`);
  return r.data;
}

// The hub's clock is the wall clock, so intervals are made measurable by short real
// pauses between the steps (not to wait for anything: every step awaits its result).
const STEP = 400;

/**
 * Five incidents: operator takes three, operator2 two; P2 and P3; methods protocol and
 * manual; one raised P3→P2 (under-triage) and one lowered P2→P3 (over-triage). Each goes
 * contact → taken → opened → assessed → assigned → acknowledged → en route → on scene →
 * actions done → resolved → closed. Then a complaint on the first is closed upheld.
 */
export async function seedReview(api) {
  const plan = [
    { op: 'operator', channel: 'phone', priority: 'P2', method: 'protocol' },
    { op: 'operator', channel: 'sms', priority: 'P3', method: 'manual', then: 'P2' },
    { op: 'operator', channel: 'phone', priority: 'P3', method: 'manual' },
    { op: 'operator2', channel: 'web', priority: 'P2', method: 'protocol', then: 'P3' },
    { op: 'operator2', channel: 'phone', priority: 'P3', method: 'protocol' },
  ];
  const tokens = { operator: await api.login('operator'), operator2: await api.login('operator2') };
  const state = await api.get('/api/state', tokens.operator);
  const free = state.resources.filter((r) => r.status === 'available' && r.user_id && r.skills.includes('first_aid'));
  assert.ok(free.length >= plan.length, 'enough free first-aiders with a log-in');
  const userOf = (r) => state.users.find((u) => u.id === r.user_id).username;

  for (const [n, p] of plan.entries()) {
    p.contact = (await api.intake({ channel: p.channel, caller: { name: `Caller ${n + 1}` }, location: { text: `Building ${n + 1}, main hall` },
      summary: `Person unwell in building ${n + 1}` })).data.contact_id;
  }
  for (const p of plan) {
    await pause(STEP);
    const t = tokens[p.op];
    await must(api, t, { kind: 'contact.take', contact_id: p.contact });
    p.incident = (await must(api, t, { kind: 'incident.open', contact_id: p.contact, type: 'medical_emergency',
      description: 'Person unwell, conscious and breathing', location: { text: 'Main hall' } })).incident_id;
    // The call script's required questions first: assessing by protocol needs them.
    await must(api, t, { kind: 'incident.answer', incident_id: p.incident,
      answers: { breathing: true, conscious: true, bleeding: 'none', casualties: 1 } });
    await must(api, t, { kind: 'incident.assess', incident_id: p.incident, validity: 'verified', priority: p.priority, method: p.method, reason: 'caller is with them' });
    if (p.then) await must(api, t, { kind: 'incident.assess', incident_id: p.incident, validity: 'verified', priority: p.then, method: p.method, reason: 'new information' });
  }
  for (const [n, p] of plan.entries()) {
    await pause(STEP / 2);
    p.resource = free[n];
    p.assignment = (await must(api, tokens[p.op], { kind: 'assignment.create', incident_id: p.incident, resource_id: p.resource.id,
      actions: [{ text: 'Report the outcome to control', required: true }] })).assignment_id;
  }
  for (const p of plan) p.field = await api.login(userOf(p.resource));
  for (const p of [...plan].reverse()) {
    await pause(STEP / 2);
    await must(api, p.field, { kind: 'assignment.acknowledge', assignment_id: p.assignment });
    await must(api, p.field, { kind: 'assignment.progress', assignment_id: p.assignment, status: 'en_route' });
  }
  for (const p of plan) {
    await pause(STEP / 2);
    await must(api, p.field, { kind: 'assignment.progress', assignment_id: p.assignment, status: 'on_scene' });
    const detail = await api.get(`/api/incidents/${p.incident}`, tokens[p.op]);
    const asg = detail.assignments.find((a) => a.id === p.assignment);
    for (const a of asg.actions) await must(api, p.field, { kind: 'assignment.action_done', assignment_id: p.assignment, action_id: a.id });
    await must(api, p.field, { kind: 'assignment.progress', assignment_id: p.assignment, status: 'completed' });
  }
  for (const p of plan) {
    await pause(STEP / 2);
    await must(api, tokens[p.op], { kind: 'incident.resolve', incident_id: p.incident, outcome: 'treated_on_scene', summary: 'recovered' });
    await must(api, tokens[p.op], { kind: 'incident.close', incident_id: p.incident });
  }

  const sup = await api.login('supervisor');
  const caseId = (await must(api, sup, { kind: 'case.open', case_type: 'complaint', incident_id: plan[0].incident,
    from: 'Caller 1', text: 'The first aider took too long to arrive' })).case_id;
  await must(api, sup, { kind: 'case.assign', case_id: caseId, user_id: state.users.find((u) => u.username === 'supervisor').id });
  await must(api, sup, { kind: 'case.respond', case_id: caseId, response: 'We are sorry: the dispatch took longer than our target.' });
  await must(api, sup, { kind: 'case.close', case_id: caseId, outcome: 'upheld', root_cause: 'late_dispatch' });
  return { plan, caseId, users: state.users };
}
