// The debrief's figures computed again, independently of the hub, from an exercise
// log's events as the WebSocket carries them (`{seq, at, actor, event: {kind, …}}`, in
// seq order). The browser test of an exercise compares these with what
// `GET /api/exercise/debrief` says; the rules are docs/EXERCISES.md's:
//
// - the n-th `contact.received` whose actor is the simulator is the scenario's n-th
//   contact (in the order it plays them); a contact's incident is its first link's;
// - answer: each contact's received → taken, for whoever took it;
// - dispatch: each incident's opened → first `assignment.created`, for whoever made it;
// - triage: each incident's first `incident.assessed` with a priority, for whoever made
//   it, against the `expected_priority` of the first scenario contact linked to it
//   (P1 is the most urgent: a larger number is under-triage).
//
// Times are whole seconds, truncated; a median is the nearest-rank one.

/**
 * Per trainee (user id): `{answer: {count, median_secs, worst_secs}, dispatch: {…},
 * triage: {assessed, correct, under, over}}`. `scenario`: the contacts in the order
 * the simulator makes them, each `{id, expected_priority?}`; `simulator`: its user id.
 */
export function debriefFigures(records, { scenario, simulator }) {
  const ms = (iso) => Date.parse(iso);
  const secs = (from, to) => Math.trunc((ms(to) - ms(from)) / 1000);
  const scripted = new Map(); // contact id → scenario contact
  const received = new Map(); // contact id → at
  const firstLink = new Map(); // contact id → incident id
  const opened = new Map(); // incident id → at
  const firstAssignment = new Map(); // incident id → {at, actor}
  const firstAssessment = new Map(); // incident id → {priority, actor}
  const taken = []; // {actor, secs}
  for (const { at, actor, event: e } of records) {
    switch (e.kind) {
      case 'contact.received':
        received.set(e.contact.id, at);
        if (actor === simulator && scripted.size < scenario.length) scripted.set(e.contact.id, scenario[scripted.size]);
        break;
      case 'contact.taken':
        if (received.has(e.contact_id)) taken.push({ actor, secs: secs(received.get(e.contact_id), at) });
        break;
      case 'contact.linked':
        if (!firstLink.has(e.contact_id)) firstLink.set(e.contact_id, e.incident_id);
        break;
      case 'incident.opened':
        opened.set(e.incident.id, at);
        break;
      case 'assignment.created':
        if (!firstAssignment.has(e.assignment.incident_id)) firstAssignment.set(e.assignment.incident_id, { at, actor });
        break;
      case 'incident.assessed':
        if (e.assessment.priority && !firstAssessment.has(e.incident_id)) {
          firstAssessment.set(e.incident_id, { priority: e.assessment.priority, actor });
        }
        break;
      default: break;
    }
  }
  const out = {};
  const of = (user) => (out[user] ||= { answer: [], dispatch: [], triage: { assessed: 0, correct: 0, under: 0, over: 0 } });
  for (const t of taken) if (t.actor !== simulator) of(t.actor).answer.push(t.secs);
  for (const [incident, a] of firstAssignment) {
    if (opened.has(incident) && a.actor !== simulator) of(a.actor).dispatch.push(secs(opened.get(incident), a.at));
  }
  // The scenario contact each incident answers: the first scripted contact linked to it.
  const incidentScript = new Map();
  for (const [contact, sc] of scripted) {
    const incident = firstLink.get(contact);
    if (incident && !incidentScript.has(incident)) incidentScript.set(incident, sc);
  }
  for (const [incident, a] of firstAssessment) {
    const expected = incidentScript.get(incident)?.expected_priority;
    if (!expected || a.actor === simulator) continue;
    const t = of(a.actor).triage;
    t.assessed += 1;
    const given = Number(a.priority.slice(1));
    const want = Number(expected.slice(1));
    if (given === want) t.correct += 1;
    else if (given > want) t.under += 1;
    else t.over += 1;
  }
  for (const f of Object.values(out)) {
    f.answer = interval(f.answer);
    f.dispatch = interval(f.dispatch);
  }
  return out;
}

function interval(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  return {
    count: n,
    median_secs: n ? sorted[Math.max(1, Math.ceil(n / 2)) - 1] : null,
    worst_secs: n ? sorted[n - 1] : null,
  };
}
