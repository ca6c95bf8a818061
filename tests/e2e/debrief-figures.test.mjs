// The independent debrief figures (debrief-figures.mjs) on a hand-made event list:
// the simulator's calls, two trainees, a late dispatch, an under-triage, an over-triage
// and a duplicate linked to the original's incident. No hub needed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { debriefFigures } from './debrief-figures.mjs';

const SIM = 'usr_sim';
const T0 = Date.parse('2026-03-02T18:00:00Z');
let seq = 0;
const ev = (secs, actor, event) => ({ seq: ++seq, at: new Date(T0 + secs * 1000).toISOString(), actor, event });
const received = (s, id) => ev(s, SIM, { kind: 'contact.received', contact: { id, channel: 'phone', summary: 'x' } });

const scenario = [
  { id: 'c01', expected_priority: 'P2' },
  { id: 'c02', expected_priority: 'P1' },
  { id: 'c03', duplicate_of: 'c01' },
];
const log = [
  ev(0, 'system', { kind: 'user.created', user: { id: 'usr_a' } }),
  received(10, 'con_1'),
  ev(14, 'usr_a', { kind: 'contact.taken', contact_id: 'con_1' }),
  ev(20, 'usr_a', { kind: 'incident.opened', incident: { id: 'inc_1' } }),
  ev(20, 'usr_a', { kind: 'contact.linked', contact_id: 'con_1', incident_id: 'inc_1' }),
  ev(30, 'usr_a', { kind: 'incident.assessed', incident_id: 'inc_1', assessment: { priority: 'P3', method: 'manual' } }),
  ev(260, 'usr_a', { kind: 'assignment.created', assignment: { id: 'asg_1', incident_id: 'inc_1' } }),
  received(300, 'con_2'),
  ev(300.9, 'usr_b', { kind: 'contact.taken', contact_id: 'con_2' }),
  ev(305, 'usr_b', { kind: 'incident.opened', incident: { id: 'inc_2' } }),
  ev(305, 'usr_b', { kind: 'contact.linked', contact_id: 'con_2', incident_id: 'inc_2' }),
  ev(306, 'usr_b', { kind: 'incident.assessed', incident_id: 'inc_2', assessment: { priority: null, method: 'manual' } }),
  ev(307, 'usr_b', { kind: 'incident.assessed', incident_id: 'inc_2', assessment: { priority: 'P1', method: 'protocol' } }),
  ev(308, 'usr_a', { kind: 'incident.assessed', incident_id: 'inc_2', assessment: { priority: 'P2', method: 'manual' } }),
  ev(340, 'usr_b', { kind: 'assignment.created', assignment: { id: 'asg_2', incident_id: 'inc_2' } }),
  ev(345, 'usr_b', { kind: 'assignment.created', assignment: { id: 'asg_3', incident_id: 'inc_2' } }),
  received(400, 'con_3'),
  ev(430, 'usr_a', { kind: 'contact.taken', contact_id: 'con_3' }),
  ev(431, 'usr_a', { kind: 'contact.linked', contact_id: 'con_3', incident_id: 'inc_1' }),
];

test('answer and dispatch times and triage per trainee, from the events alone', () => {
  const f = debriefFigures(log, { scenario, simulator: SIM });
  assert.deepEqual(Object.keys(f).sort(), ['usr_a', 'usr_b']);
  // usr_a took con_1 after 4 s and con_3 after 30 s; dispatched inc_1 240 s after opening.
  assert.deepEqual(f.usr_a.answer, { count: 2, median_secs: 4, worst_secs: 30 });
  assert.deepEqual(f.usr_a.dispatch, { count: 1, median_secs: 240, worst_secs: 240 });
  // P3 where P2 was expected; their later P2 on inc_2 is not the first assessment.
  assert.deepEqual(f.usr_a.triage, { assessed: 1, correct: 0, under: 1, over: 0 });
  // usr_b: 0.9 s truncates to 0; the first assessment with a priority counts.
  assert.deepEqual(f.usr_b.answer, { count: 1, median_secs: 0, worst_secs: 0 });
  assert.deepEqual(f.usr_b.dispatch, { count: 1, median_secs: 35, worst_secs: 35 });
  assert.deepEqual(f.usr_b.triage, { assessed: 1, correct: 1, under: 0, over: 0 });
});

test('over-triage, and contacts by anyone but the simulator are not scripted', () => {
  const over = log.map((r) => (r.event.kind === 'incident.assessed' && r.event.incident_id === 'inc_1'
    ? { ...r, event: { ...r.event, assessment: { priority: 'P1', method: 'manual' } } } : r));
  assert.deepEqual(debriefFigures(over, { scenario, simulator: SIM }).usr_a.triage, { assessed: 1, correct: 0, under: 0, over: 1 });
  // With another simulator id nothing is scripted: no triage is judged.
  const f = debriefFigures(log, { scenario, simulator: 'usr_other' });
  assert.equal(f.usr_a.triage.assessed, 0);
  assert.equal(f.usr_a.answer.count, 2);
});
