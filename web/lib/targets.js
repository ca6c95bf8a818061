// Response-target clocks, as the hub's timers run them (`target_deadline` in
// crates/core/src/engine/timers.rs, which raises `target.breached`): the same starts,
// limits and "met" tests, from the store and the catalogue's types. The console's
// incident list and the board's tiles both read them here. Change the two together.
// "Now" is the hub's clock (`hubNow`: an exercise's runs faster than real time).

import { hubNow } from './exercise.js';

const OPEN = ['new', 'assessed', 'dispatched', 'in_progress'];

/** The priority an incident's clocks run at: its own, else its type's default. */
export function clockPriority(types, i) {
  return i.priority || types[i.type]?.default_priority || null;
}

/**
 * Every target of an open incident not yet met, soonest deadline first, each as
 * `{target, deadline, span}` (ms since the epoch, ms). A breached target stays on the
 * list (over) until it is met, unlike the hub's timer, which fires once.
 */
export function runningTargets(store, types, i) {
  if (!OPEN.includes(i.status)) return [];
  const set = types[i.type]?.targets?.[clockPriority(types, i)];
  if (!set) return [];
  const asg = (i.assignment_ids || []).map((id) => store.assignments[id]).filter(Boolean);
  const firstNotified = asg.length ? Math.min(...asg.map((a) => Date.parse(a.notified_at))) : null;
  const opened = Date.parse(i.opened_at);
  // The dispatch clock starts with the first contact about the incident.
  const received = (i.contact_ids || []).map((c) => store.contacts[c]?.received_at).filter(Boolean).map(Date.parse);
  const clockStart = Math.min(opened, ...received);
  const clocks = [
    ['dispatch', clockStart, set.dispatch_secs, asg.length > 0],
    ['acknowledge', firstNotified, set.acknowledge_secs, asg.some((a) => a.acknowledged_at)],
    ['arrive', firstNotified, set.arrive_secs, asg.some((a) => a.on_scene_at)],
    ['resolve', opened, set.resolve_secs, Boolean(i.resolved_at)],
  ];
  return clocks.filter(([, start, secs, met]) => !met && start != null && secs != null)
    .map(([target, start, secs]) => ({ target, deadline: start + secs * 1000, span: secs * 1000 }))
    .sort((a, b) => a.deadline - b.deadline);
}

/** The target an incident runs against now (the soonest, or the most overdue), or null. */
export function currentTarget(store, types, i) {
  return runningTargets(store, types, i)[0] || null;
}

/** `late` when breached, `near` with 20 % or less of its time left, else `ok`. */
export function clockState(t, now = hubNow()) {
  const left = t.deadline - now;
  if (left < 0) return 'late';
  return left <= t.span * 0.2 ? 'near' : 'ok';
}

/** "2 min 5 s left", "12 min over". */
export function clockWords(t, now = hubNow()) {
  const left = t.deadline - now;
  const s = Math.floor(Math.abs(left) / 1000);
  const span = s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return left < 0 ? `${span} over` : `${span} left`;
}
