// The local store: the objects a user may see, filled from the welcome snapshot and
// kept current by applying events in seq order. Pure data in, data out, so the same
// code serves all three apps and the store can be saved to localStorage as JSON.
//
// `applyEvent` is the hub's fold (`State::apply` in crates/core/src/engine/state.rs) over again, and
// must give the same objects as `GET /api/state`: tests/e2e/fold.test.mjs replays a whole
// log through both and compares them. Change the two together.
//
// Events are facts: a creation event carries what was given (`e.incident` has no status,
// times or lists); the object is built from it and the frame's `at` and `actor`, as the
// hub's `Incident::opened` and its kin do.

const COLLECTIONS = ['contacts', 'incidents', 'resources', 'assignments', 'messages', 'users', 'cases', 'plans', 'improvements', 'alerts', 'shifts'];

/** An empty store. */
export function emptyStore() {
  const s = {};
  for (const c of COLLECTIONS) s[c] = {};
  return s;
}

/** A saved store with every collection present (one saved by an older app may lack some). */
export function complete(saved) {
  return { ...emptyStore(), ...saved };
}

/** A store from a snapshot (`GET /api/state` shape: arrays of objects with ids). */
export function fromSnapshot(snapshot) {
  const s = emptyStore();
  for (const c of COLLECTIONS) {
    for (const item of snapshot[c] || []) s[c][item.id] = item;
  }
  return s;
}

/**
 * Applies one event frame `{seq, at, actor, event}` to the store in place. Unknown
 * kinds change nothing here.
 */
export function applyEvent(s, frame) {
  const e = frame.event;
  const at = frame.at;
  const inc = e.incident_id && s.incidents[e.incident_id];
  const asg = e.assignment_id && s.assignments[e.assignment_id];
  switch (e.kind) {
    case 'contact.received':
      s.contacts[e.contact.id] = { ...e.contact, status: 'queued', received_at: at, received_by: frame.actor };
      break;
    case 'contact.taken': patch(s.contacts[e.contact_id], { status: 'taken', taken_at: at, taken_by: frame.actor }); break;
    case 'contact.linked': link(s, e.contact_id, e.incident_id); break;
    case 'contact.closed': patch(s.contacts[e.contact_id], { status: 'closed', closed_at: at, outcome: e.outcome, note: e.note }); break;
    case 'incident.opened':
      s.incidents[e.incident.id] = {
        ...e.incident, status: 'new', validity: 'unverified', assessments: [], answers: {}, notes: [],
        contact_ids: [], assignment_ids: [], overrides: [], opened_by: frame.actor, opened_at: at, reopened: 0,
      };
      break;
    case 'incident.answered':
      if (inc) {
        inc.answers = { ...inc.answers, ...e.answers };
        // Kept beside the incident so the script can show the live priority and rule.
        inc.suggested = { priority: e.suggested_priority || null, rule: e.rule || null };
      }
      break;
    case 'incident.assessed':
      if (inc) {
        inc.assessments = [...(inc.assessments || []), { ...e.assessment, by: frame.actor, at }];
        inc.validity = e.assessment.validity;
        if (e.assessment.priority) inc.priority = e.assessment.priority;
      }
      break;
    case 'incident.noted': if (inc) inc.notes = [...(inc.notes || []), { text: e.note.text, by: frame.actor, at }]; break;
    case 'incident.status_changed': enter(inc, e.status, at); break;
    case 'incident.resolved': enter(inc, 'resolved', at, { outcome: e.outcome, summary: e.summary }); break;
    case 'incident.closed': enter(inc, 'closed', at); break;
    case 'incident.cancelled': enter(inc, 'cancelled', at, { cancel_reason: e.reason }); break;
    case 'incident.merged': {
      // The duplicate ends cancelled, naming the survivor; the survivor names it.
      enter(inc, 'cancelled', at, { cancel_reason: e.reason, merged_into: e.into });
      const into = s.incidents[e.into];
      if (into && !(into.merged_from || []).includes(e.incident_id)) into.merged_from = [...(into.merged_from || []), e.incident_id];
      break;
    }
    case 'incident.shared': if (inc) inc.shared_with = [...(inc.shared_with || []), e.partner]; break;
    case 'incident.unshared':
      // As the hub: the list goes when it empties.
      if (inc) {
        inc.shared_with = (inc.shared_with || []).filter((p) => p !== e.partner);
        if (!inc.shared_with.length) delete inc.shared_with;
      }
      break;
    case 'incident.reopened':
      // Back to assessed, keeping when it was first assessed; the finish is undone.
      if (inc) {
        patch(inc, { status: 'assessed', reopened: (inc.reopened || 0) + 1 });
        for (const f of ['resolved_at', 'closed_at', 'cancelled_at']) delete inc[f];
      }
      break;
    case 'incident.overridden':
      if (inc) inc.overrides = [...(inc.overrides || []), { rule: e.rule, justification: e.justification, by: frame.actor, at }];
      break;
    case 'resource.registered':
      s.resources[e.resource.id] = {
        ...e.resource, status: 'available', status_at: at,
        ...(e.resource.location ? { location: { ...e.resource.location, at }, home: { ...e.resource.location } } : {}),
      };
      patch(e.resource.user_id && s.users[e.resource.user_id], { resource_id: e.resource.id });
      break;
    case 'resource.status_changed': patch(s.resources[e.resource_id], { status: e.status, status_at: at }); break;
    case 'resource.located':
      // Erased coordinates (null) leave the position as it was.
      if (e.lat != null && e.lon != null) patch(s.resources[e.resource_id], { location: { lat: e.lat, lon: e.lon, at } });
      break;
    case 'assignment.created': {
      const a = { ...e.assignment, actions: e.assignment.actions.map((x) => ({ ...x })), status: 'notified', created_by: frame.actor, notified_at: at };
      s.assignments[a.id] = a;
      const i = s.incidents[a.incident_id];
      if (i && !i.assignment_ids.includes(a.id)) i.assignment_ids.push(a.id);
      break;
    }
    case 'assignment.acknowledged': enter(asg, 'acknowledged', at); break;
    case 'assignment.declined': enter(asg, 'declined', at, { decline_reason: e.reason }); break;
    case 'assignment.progressed':
      enter(asg, e.status, at);
      // Why each action left undone at completion was not done.
      for (const [id, reason] of Object.entries(e.skipped || {})) patch(asg?.actions.find((x) => x.id === id), { skipped: reason });
      break;
    case 'assignment.action_done': {
      const action = asg && asg.actions.find((x) => x.id === e.action_id);
      patch(action, { done_at: at, done_by: frame.actor, note: e.note });
      break;
    }
    case 'assignment.action_undone': {
      // Unticked: not done again, as if never ticked.
      const action = asg && asg.actions.find((x) => x.id === e.action_id);
      if (action) { delete action.done_at; delete action.done_by; delete action.note; }
      break;
    }
    case 'assignment.cancelled': enter(asg, 'cancelled', at, { cancel_reason: e.reason }); break;
    case 'checkin.recorded': patch(asg, { last_checkin_at: at }); break;
    case 'message.broadcast': s.messages[e.message.id] = { ...e.message, sent_by: frame.actor, sent_at: at, acks: {} }; break;
    case 'message.acknowledged': {
      const m = s.messages[e.message_id];
      // The first acknowledgement counts.
      if (m) m.acks = { [e.user_id]: at, ...(m.acks || {}) };
      break;
    }
    case 'user.created': {
      // The account as given (its password is in the hub's credential store, not here).
      const user = { ...e.user, disabled: false };
      s.users[user.id] = user;
      patch(user.resource_id && s.resources[user.resource_id], { user_id: user.id });
      break;
    }
    case 'user.disabled': patch(s.users[e.user_id], { disabled: true }); break;
    case 'user.enabled': patch(s.users[e.user_id], { disabled: false }); break;
    case 'user.updated': {
      // Only what changed is given; `resource_id: null` unlinks.
      const u = s.users[e.user_id];
      if (!u) break;
      if (e.name != null) u.name = e.name;
      if (e.role != null) u.role = e.role;
      if ('resource_id' in e) {
        const old = u.resource_id && s.resources[u.resource_id];
        if (old && old.user_id === u.id) delete old.user_id;
        if (e.resource_id == null) delete u.resource_id;
        else {
          u.resource_id = e.resource_id;
          patch(s.resources[e.resource_id], { user_id: u.id });
        }
      }
      break;
    }
    case 'resource.updated': {
      const r = s.resources[e.resource_id];
      if (!r) break;
      for (const f of ['name', 'resource_type', 'team']) if (e[f] != null) r[f] = e[f];
      if (e.skills != null) r.skills = [...e.skills];
      if (e.home != null) r.home = { ...e.home };
      break;
    }
    // Kept (history names it), left out of the lists by `inService`.
    case 'resource.retired': patch(s.resources[e.resource_id], { retired: true }); break;
    case 'case.opened': s.cases[e.case.id] = { ...e.case, status: 'open', opened_by: frame.actor, opened_at: at }; break;
    case 'case.assigned': patch(s.cases[e.case_id], { status: 'assigned', assigned_to: e.user_id }); break;
    case 'case.responded': patch(s.cases[e.case_id], { status: 'responded', response: e.response, responded_at: at }); break;
    case 'case.closed': patch(s.cases[e.case_id], { status: 'closed', outcome: e.outcome, root_cause: e.root_cause, closed_at: at }); break;
    case 'support.proposed':
      s.plans[e.plan.id] = {
        ...e.plan, status: 'proposed', proposed_by: frame.actor, proposed_at: at,
        notes: (e.plan.notes || []).map((n) => ({ text: n.text, by: frame.actor, at })),
        evidence: [],
      };
      break;
    case 'support.agreed': patch(s.plans[e.plan_id], { status: 'active', agreed_by: frame.actor, agreed_at: at }); break;
    case 'support.noted': {
      const p = s.plans[e.plan_id];
      if (p) p.notes = [...(p.notes || []), { text: e.text, by: frame.actor, at }];
      break;
    }
    case 'support.evidence_attached': {
      const p = s.plans[e.plan_id];
      if (p) p.evidence = [...(p.evidence || []), { ...e.evidence, attached_by: frame.actor, attached_at: at }];
      break;
    }
    case 'support.reviewed': patch(s.plans[e.plan_id], { status: 'reviewed', review_outcome: e.outcome, reviewed_by: frame.actor, reviewed_at: at }); break;
    case 'improvement.raised':
      s.improvements[e.improvement.id] = { ...e.improvement, status: 'open', raised_by: frame.actor, raised_at: at, history: [] };
      break;
    case 'improvement.updated': {
      const i = s.improvements[e.improvement_id];
      if (i) Object.assign(i, { status: e.status, history: [...(i.history || []), { status: e.status, note: e.note, by: frame.actor, at }] });
      break;
    }
    // Alerts the hub holds (`State::raise_alert`): numbered by the raising event's seq.
    case 'assignment.escalated':
    case 'checkin.missed':
    case 'target.breached': {
      const incidentId = e.kind === 'target.breached' ? e.incident_id : asg?.incident_id;
      if (!incidentId) break;
      const id = `alr_${frame.seq}`;
      s.alerts[id] = { id, kind: e.kind, incident_id: incidentId, ...(e.assignment_id ? { assignment_id: e.assignment_id } : {}), raised_at: at, cause: e };
      break;
    }
    case 'privacy.erased':
      for (const r of e.records || []) for (const c of e.categories || []) erase(s, r, c, null);
      break;
    case 'privacy.swept':
      for (const r of e.records || []) erase(s, r, e.category, e.before);
      break;
    // Rosters (`State::apply_roster`): a shift's start and end as the hub recorded them.
    case 'roster.shift_added':
      s.shifts[e.shift_id] = { id: e.shift_id, resource_id: e.resource_id, start: e.start, end: e.end };
      break;
    case 'roster.shift_removed': delete s.shifts[e.shift_id]; break;
    case 'roster.shift_started': if (s.shifts[e.shift_id] && !s.shifts[e.shift_id].started_at) s.shifts[e.shift_id].started_at = at; break;
    case 'roster.shift_ended': if (s.shifts[e.shift_id] && !s.shifts[e.shift_id].ended_at) s.shifts[e.shift_id].ended_at = at; break;
    case 'alert.acknowledged': {
      const a = s.alerts[e.alert_id];
      if (a && !a.acknowledged_at) Object.assign(a, { acknowledged_by: frame.actor, acknowledged_at: at, ...(e.note ? { note: e.note } : {}) });
      break;
    }
    default: break;
  }
}

/** What an erased string reads as (`privacy::ERASED`). */
export const ERASED = '[erased]';

/**
 * Blanks one category of personal data of one record (`{type, id}`), as the hub's
 * fold does (`crates/core/src/privacy/erase.rs`): strings present read `[erased]`,
 * other values go. `before` (a sweep's cutoff) limits staff locations to older points.
 */
function erase(s, record, category, before) {
  const blank = (obj, key) => { if (obj && obj[key] != null && obj[key] !== '') obj[key] = ERASED; };
  const id = record.id;
  switch (`${record.type}/${category}`) {
    case 'contact/caller_details': {
      const c = s.contacts[id];
      if (!c) break;
      for (const k of ['name', 'phone', 'email']) blank(c.caller, k);
      blank(c.location, 'text');
      break;
    }
    case 'contact/free_text':
      blank(s.contacts[id], 'summary');
      blank(s.contacts[id], 'note');
      break;
    case 'incident/free_text': {
      const i = s.incidents[id];
      if (!i) break;
      blank(i, 'description');
      blank(i.location, 'text');
      for (const k of Object.keys(i.answers || {})) i.answers[k] = typeof i.answers[k] === 'string' ? ERASED : null;
      for (const n of i.notes || []) blank(n, 'text');
      blank(i, 'summary');
      break;
    }
    case 'assignment/free_text':
      for (const a of s.assignments[id]?.actions || []) blank(a, 'note');
      break;
    case 'user/staff_details': blank(s.users[id], 'name'); break;
    case 'resource/staff_details':
      blank(s.resources[id], 'email');
      blank(s.resources[id], 'phone');
      break;
    case 'resource/staff_locations': {
      const r = s.resources[id];
      const cut = before && `${before.slice(0, 10)}T00:00:00.000Z`;
      if (r?.location && (!cut || r.location.at < cut)) delete r.location;
      break;
    }
    case 'case/cases': {
      const c = s.cases[id];
      for (const k of ['from', 'text', 'email', 'response', 'root_cause']) blank(c, k);
      break;
    }
    case 'plan/support_plans': {
      const p = s.plans[id];
      for (const n of p?.notes || []) blank(n, 'text');
      blank(p, 'review_outcome');
      for (const x of p?.evidence || []) {
        blank(x, 'summary');
        x.score = null;
        x.figures = null;
      }
      break;
    }
    default: break;
  }
}

/**
 * Moves an incident or assignment to `status`, stamping `<status>_at` only the first
 * time (as `Incident::stamp` and `Assignment::enter` do): a second dispatch after a
 * reopen keeps when the incident was first dispatched. `new` and `notified` have no stamp.
 */
function enter(obj, status, at, fields = {}) {
  if (!obj) return;
  Object.assign(obj, { status, ...fields });
  const stamp = `${status}_at`;
  if (!['new', 'notified'].includes(status) && obj[stamp] == null) obj[stamp] = at;
}

/** Links a contact to an incident, leaving the incident it was linked to before. */
function link(s, contactId, incidentId) {
  const contact = s.contacts[contactId];
  const before = contact?.incident_id && s.incidents[contact.incident_id];
  if (before) before.contact_ids = before.contact_ids.filter((c) => c !== contactId);
  patch(contact, { incident_id: incidentId });
  const inc = s.incidents[incidentId];
  if (inc && !inc.contact_ids.includes(contactId)) inc.contact_ids.push(contactId);
}

/**
 * The incident an event is about when the store does not hold it, else null. A snapshot
 * leaves out incidents that finished before its `closed_since`; when one is touched
 * again (reopened, a contact linked to it) the app fetches it whole.
 */
export function missingIncident(s, frame) {
  const e = frame.event;
  const id = e.incident_id || e.assignment?.incident_id || (e.assignment_id && s.assignments[e.assignment_id]?.incident_id);
  return id && !s.incidents[id] ? id : null;
}

/** An incident fetched whole (`GET /api/incidents/{id}`) into the store, with its assignments. */
export function putIncident(s, detail) {
  const { assignments, timeline, conformance, ...incident } = detail;
  s.incidents[incident.id] = incident;
  for (const a of assignments || []) s.assignments[a.id] = a;
}

function patch(obj, fields) {
  if (obj) Object.assign(obj, fields);
}

/** A resource that is not retired: what the lists show and the desk may send. */
export function inService(r) {
  return Boolean(r) && !r.retired;
}
