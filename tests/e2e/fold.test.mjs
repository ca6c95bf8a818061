// One fold: the web client's store (`web/lib/store.js`), fed every event a supervisor's
// socket receives, must hold exactly what the hub's own fold (`GET /api/state`) holds.
//
// The hub starts on a generated year (`muster-load gen-log`, through the real engine), and
// the test then drives over the socket what that log lacks: a reopen, a second
// dispatch and a decline of the reopened incident, a cancel, a merge, a contact moved to
// another incident, a message acknowledged, a case, a support plan and an improvement action
// through their lifecycles, and erasures of personal data. The events come to the store exactly as the apps
// get them: a `hello` with `resume_from: 0` replays the whole log (the resume window is
// widened to reach back to the generated year), then the live events follow.
// The snapshot window is widened too, so `GET /api/state` holds every item and the
// two sides can be compared whole.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { useHub } from './hub.mjs';
import { emptyStore, applyEvent } from '../../web/lib/store.js';

// The collections the client keeps (store.js COLLECTIONS), as `GET /api/state` names them.
const COLLECTIONS = ['contacts', 'incidents', 'resources', 'assignments', 'messages', 'users', 'cases', 'plans', 'improvements', 'alerts', 'shifts'];
// Fields the client adds for its own display and the hub does not hold.
const CLIENT_ONLY = { incidents: ['suggested'] };
const YEARS = 4;

const { hub, api } = useHub({
  browser: false,
  genLogEvents: 3000,
  env: {
    MUSTER_RESUME_WINDOW_SECS: String(YEARS * 366 * 86400),
    MUSTER_SNAPSHOT_CLOSED_HOURS: String(YEARS * 366 * 24),
  },
});

test('the client store folds the whole log to what GET /api/state holds', async () => {
  const token = await api.login('supervisor');
  const ws = await Socket.open(hub.url);
  const store = emptyStore();
  ws.onEvent = (frame) => applyEvent(store, frame);
  try {
    ws.send({ type: 'hello', token, resume_from: 0 });
    const welcome = await ws.welcome();
    assert.equal(welcome.resumed, true, 'the whole log is replayed, not a snapshot');
    // Every result comes after the events before it, so the backlog is in by the first.
    await driveWhatTheLogLacks(ws, await api.get('/api/state', token));
    assert.ok(ws.events >= 3000, `the generated log came through (${ws.events} events)`);
    const server = await settled(ws, token);

    const problems = [];
    for (const c of COLLECTIONS) {
      const ours = normalised(c, store[c]);
      const theirs = normalised(c, Object.fromEntries(server[c].map((x) => [x.id, x])));
      assert.ok(Object.keys(theirs).length > 0, `the hub holds some ${c}`);
      assert.deepEqual(Object.keys(ours).sort(), Object.keys(theirs).sort(), `the same ${c}`);
      for (const id of Object.keys(theirs)) {
        const fields = differingFields(ours[id], theirs[id]);
        if (fields.length) problems.push(`${c}/${id}: ${fields.map((f) => `${f} ${JSON.stringify(ours[id][f])} ≠ hub ${JSON.stringify(theirs[id][f])}`).join('; ')}`);
      }
    }
    assert.deepEqual(problems, [], 'the client folds every object as the hub does');
  } finally {
    ws.close();
  }
});

/**
 * Commands whose events the generated log has none of, each on the state as the hub
 * sent it: they are where the client's fold went its own way before.
 */
async function driveWhatTheLogLacks(ws, state) {
  const closed = state.incidents.filter((i) => i.status === 'closed');
  assert.ok(closed.length >= 2, 'the generated log has closed incidents');
  const [x, y] = closed;
  const available = state.resources.find((r) => r.status === 'available');
  assert.ok(available, 'a resource is available');

  // Reopen: the hub clears resolved_at and closed_at and counts the reopen.
  await ws.command({ kind: 'incident.reopen', incident_id: x.id, reason: 'the caller rang back' });
  // A second dispatch and its decline: dispatched_at and assessed_at keep their first times.
  await ws.command({ kind: 'incident.override', incident_id: x.id, rule: 'required_skills', justification: 'nearest unit' });
  const created = await ws.command({ kind: 'assignment.create', incident_id: x.id, resource_id: available.id });
  await ws.command({ kind: 'assignment.decline', assignment_id: created.data.assignment_id, reason: 'off the road' });
  // Resolve again after the reopen: a fresh resolved_at.
  await ws.command({ kind: 'incident.resolve', incident_id: x.id, outcome: 'advice given', summary: 'sorted on the second call' });
  // A contact moved to another incident leaves the first one's contact list.
  await ws.command({ kind: 'incident.reopen', incident_id: y.id, reason: 'more to do' });
  const contact = await ws.command({ kind: 'contact.receive', channel: 'phone', summary: 'about the flooding' });
  await ws.command({ kind: 'contact.link', contact_id: contact.data.contact_id, incident_id: x.id });
  await ws.command({ kind: 'contact.link', contact_id: contact.data.contact_id, incident_id: y.id });
  // Cancel: the reason is kept.
  await ws.command({ kind: 'incident.cancel', incident_id: y.id, reason: 'the caller withdrew' });
  // Shared with two partner centres, then one unshared: shared_with keeps the other;
  // unsharing the last leaves no list at all (as the hub serialises it).
  await ws.command({ kind: 'incident.share', incident_id: x.id, partner: 'county-fire' });
  await ws.command({ kind: 'incident.share', incident_id: x.id, partner: 'police' });
  await ws.command({ kind: 'incident.unshare', incident_id: x.id, partner: 'county-fire' });
  await ws.command({ kind: 'incident.share', incident_id: y.id, partner: 'police' });
  await ws.command({ kind: 'incident.unshare', incident_id: y.id, partner: 'police' });
  // Merge: the duplicate ends cancelled with merged_into and its caller moves to the
  // survivor, which names it in merged_from.
  const first = await ws.command({ kind: 'incident.open', type: x.type, description: 'a first report', location: { text: 'the quay' } });
  const again = await ws.command({ kind: 'contact.receive', channel: 'phone', summary: 'the same again' });
  const second = await ws.command({ kind: 'incident.open', contact_id: again.data.contact_id, type: x.type, description: 'a second report', location: { text: 'the quay' } });
  await ws.command({ kind: 'incident.merge', incident_id: second.data.incident_id, into: first.data.incident_id, reason: 'the same event' });
  // A message acknowledged by one of its recipients (over HTTP; the event still reaches
  // this socket before the next result on it).
  const sent = await ws.command({ kind: 'message.broadcast', audience: 'all', text: 'Shift change at 19:00', requires_ack: true });
  const r = await api.command(await api.login('operator'), { kind: 'message.acknowledge', message_id: sent.data.message_id });
  assert.ok(r.ok, JSON.stringify(r.error));
  const { caseId, planId } = await driveCasework(ws, state, x);
  await driveRoster(ws, state);
  // Erasures (over HTTP, as an admin; overriding the holds of the incidents still
  // open): a caller, a complainant, a support plan and a member of field staff, so
  // every category's blanking is compared.
  const admin = await api.login('admin');
  await driveAdministration(admin, state);
  const field2 = state.users.find((u) => u.username === 'field2').id;
  for (const subject_id of [`caller:${again.data.contact_id}`, `caller:${contact.data.contact_id}`, `complainant:${caseId}`, `plan:${planId}`, `staff:${field2}`]) {
    const erased = await api.command(admin, { kind: 'privacy.erase', subject_id, reason: 'the fold test', override: true, justification: 'a test centre' });
    assert.ok(erased.ok, JSON.stringify(erased.error));
  }
  // The generated year's timers raised alerts and its supervisors acknowledged them,
  // so both halves of an alert's fold are compared; and one more with a note.
  assert.ok(state.alerts.some((a) => a.acknowledged_at), 'the generated log acknowledged alerts');
  const open = state.alerts.find((a) => !a.acknowledged_at);
  if (open) await ws.command({ kind: 'alert.acknowledge', alert_id: open.id, note: 'seen' });
}

/**
 * The admin's changes (issue 20), over HTTP: a user disabled and enabled again, renamed,
 * linked to a resource and unlinked; a field user moved to a new resource (both
 * resources' links follow); a resource updated in every field; one retired.
 */
async function driveAdministration(admin, state) {
  const must = async (command) => {
    const r = await api.command(admin, command);
    assert.ok(r.ok, `${command.kind}: ${JSON.stringify(r.error)}`);
    return r.data;
  };
  const op2 = state.users.find((u) => u.username === 'operator2').id;
  await must({ kind: 'user.disable', user_id: op2 });
  await must({ kind: 'user.enable', user_id: op2 });
  await must({ kind: 'user.update', user_id: op2, name: 'Operator Two' });
  const desk = await must({ kind: 'resource.register', name: 'Desk Radio', resource_type: 'person', team: 'control' });
  await must({ kind: 'user.update', user_id: op2, resource_id: desk.resource_id });
  await must({ kind: 'user.update', user_id: op2, resource_id: null });
  const van = await must({ kind: 'resource.register', name: 'Spare Van', resource_type: 'vehicle', team: 'north', skills: ['driving'], location: { lat: 51.5, lon: -0.1 } });
  const field3 = state.users.find((u) => u.username === 'field3').id;
  await must({ kind: 'user.update', user_id: field3, resource_id: van.resource_id });
  await must({ kind: 'resource.update', resource_id: van.resource_id, name: 'Spare Team', resource_type: 'team', team: 'south', skills: ['driving', 'first_aid'], home: { lat: 51.6, lon: -0.2 } });
  const bike = await must({ kind: 'resource.register', name: 'Old Bike', resource_type: 'person', team: 'north' });
  await must({ kind: 'resource.retire', resource_id: bike.resource_id });
}

/** Cases, support plans and improvement actions, which a short generated log lacks. */
async function driveCasework(ws, state, incident) {
  const me = state.users.find((u) => u.username === 'supervisor').id;
  const colleague = state.users.find((u) => u.username === 'operator').id;
  const c = await ws.command({ kind: 'case.open', case_type: 'complaint', incident_id: incident.id, from: 'A neighbour', text: 'Nobody came for an hour.' });
  const caseId = c.data.case_id;
  await ws.command({ kind: 'case.assign', case_id: caseId, user_id: me });
  await ws.command({ kind: 'case.respond', case_id: caseId, response: 'We are sorry; the first unit was diverted.' });
  await ws.command({ kind: 'case.close', case_id: caseId, outcome: 'partly_upheld', root_cause: 'late_arrival' });

  const p = await ws.command({ kind: 'support.propose', colleague_id: colleague, areas: ['monitoring'], support_type: 'coaching', review_on: '2030-01-31' });
  const planId = p.data.plan_id;
  const agreed = await api.command(await api.login('operator'), { kind: 'support.agree', plan_id: planId });
  assert.ok(agreed.ok, JSON.stringify(agreed.error));
  await ws.command({ kind: 'support.note', plan_id: planId, text: 'first week went well' });
  // Evidence from an exercise's debrief (as the debrief page downloads it).
  const evidence = { kind: 'exercise_debrief', scenario: 'busy-evening', trainee_id: colleague, score: 82, started_at: '2026-03-02T18:00:00Z', summary: 'Busy evening: 82/100', figures: { answer: { count: 9, median_secs: 7 }, duplicates: { linked: 3, missed: 1 } } };
  const attached = await ws.command({ kind: 'support.attach_evidence', plan_id: planId, evidence });
  assert.ok(attached.ok, JSON.stringify(attached.error));
  await ws.command({ kind: 'support.review', plan_id: planId, outcome: 'no further support needed' });

  const i = await ws.command({ kind: 'improvement.raise', title: 'Check diversions', finding: 'free text', owner_id: me, due_on: '2030-02-28', plan_id: planId });
  await ws.command({ kind: 'improvement.update', improvement_id: i.data.improvement_id, status: 'in_progress', note: 'started' });
  return { caseId, planId };
}

/**
 * Rosters, which the generated log has none of: a shift under way (the hub starts it on
 * its next tick), one to come, and one added then removed.
 */
async function driveRoster(ws, state) {
  const [a, b] = state.resources;
  const at = (minutes) => new Date(Date.now() + minutes * 60000).toISOString();
  await ws.command({ kind: 'roster.add', resource_id: a.id, start: at(-60), end: at(60) });
  await ws.command({ kind: 'roster.add', resource_id: b.id, start: at(120), end: at(600) });
  const gone = await ws.command({ kind: 'roster.add', resource_id: b.id, start: at(600), end: at(700) });
  await ws.command({ kind: 'roster.remove', shift_id: gone.data.shift_id });
  // The start is recorded within a tick: wait for it, so both sides fold it.
  const deadline = Date.now() + 10000;
  const token = await api.login('supervisor');
  while (!(await api.get('/api/state', token)).shifts.some((s) => s.started_at)) {
    assert.ok(Date.now() < deadline, 'the hub started the shift under way');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * `GET /api/state` at a seq the store has reached. The hub's timers may append events at
 * any time, so: send a command, whose result comes after every earlier event on this
 * socket, and take the state if nothing was appended after it; else again.
 */
async function settled(ws, token) {
  const deadline = Date.now() + 30000;
  for (let n = 1; Date.now() < deadline; n++) {
    const r = await ws.command({ kind: 'message.broadcast', audience: 'all', text: `sync ${n}` });
    const state = await api.get('/api/state', token);
    if (state.seq === r.seq) return state;
  }
  throw new Error('the hub kept appending events for 30 s');
}

/**
 * A collection keyed by id, with the client's own fields and null fields dropped, and
 * every time as its instant (frames say `…:18.000Z` where the hub's objects say `…:18Z`).
 */
function normalised(collection, byId) {
  const drop = CLIENT_ONLY[collection] || [];
  const clean = (k, v) => {
    if (v === null || drop.includes(k)) return undefined;
    if (typeof v === 'string' && TIME.test(v)) return new Date(v).toISOString();
    return v;
  };
  const out = {};
  for (const [id, item] of Object.entries(byId)) out[id] = JSON.parse(JSON.stringify(item, clean));
  return out;
}

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/** The top-level fields of two objects that differ, sorted. */
function differingFields(a, b) {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.filter((k) => {
    try {
      assert.deepEqual(a[k], b[k]);
      return false;
    } catch {
      return true;
    }
  });
}

/**
 * A WebSocket client just big enough for this test (node 20 has none built in): text
 * frames, the server's pings answered, no fragmentation (the hub sends whole frames).
 */
class Socket {
  static open(url) {
    return new Promise((ok, fail) => {
      const req = request(`${url}/ws`, {
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
          'Sec-WebSocket-Version': '13',
        },
      });
      req.on('upgrade', (_res, socket, head) => ok(new Socket(socket, head)));
      req.on('response', (res) => fail(new Error(`no upgrade: ${res.statusCode}`)));
      req.on('error', fail);
      req.end();
    });
  }

  constructor(socket, head) {
    this.socket = socket;
    this.buf = head;
    this.events = 0;
    this.onEvent = () => {};
    this.waiting = new Map(); // command id or 'welcome' → resolve
    this.failed = null;
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.read();
    });
    socket.on('close', () => this.fail(new Error('the hub closed the socket')));
  }

  read() {
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) [len, off] = b.length < 4 ? [Infinity, 4] : [b.readUInt16BE(2), 4];
      else if (len === 127) [len, off] = b.length < 10 ? [Infinity, 10] : [Number(b.readBigUInt64BE(2)), 10];
      if (b.length < off + len) return;
      const [fin, op, payload] = [b[0] & 0x80, b[0] & 0x0f, b.subarray(off, off + len)];
      this.buf = b.subarray(off + len);
      if (!fin) return this.fail(new Error('a fragmented frame'));
      if (op === 1) this.frame(JSON.parse(payload.toString('utf8')));
      else if (op === 9) this.write(0xa, payload);
      else if (op === 8) return this.fail(new Error(`closed: ${payload.subarray(2).toString('utf8')}`));
    }
  }

  frame(f) {
    if (f.type === 'event') {
      this.events += 1;
      this.onEvent(f);
    } else if (f.type === 'welcome') {
      this.settle('welcome', f);
    } else if (f.type === 'result') {
      this.settle(f.id, f);
    }
  }

  settle(key, value) {
    const w = this.waiting.get(key);
    this.waiting.delete(key);
    w?.(value);
  }

  fail(error) {
    this.failed ??= error;
    for (const key of this.waiting.keys()) this.settle(key, error);
  }

  wait(key) {
    return new Promise((ok, fail) => {
      if (this.failed) return fail(this.failed);
      const timer = setTimeout(() => fail(new Error(`no ${key} within 30 s`)), 30000);
      this.waiting.set(key, (v) => {
        clearTimeout(timer);
        v instanceof Error ? fail(v) : ok(v);
      });
    });
  }

  welcome() {
    return this.wait('welcome');
  }

  /** Sends a command and waits for its result, which must be a success. */
  async command(command) {
    const id = `fold-${randomBytes(6).toString('hex')}`;
    const result = this.wait(id);
    this.send({ type: 'command', id, command });
    const r = await result;
    assert.ok(r.ok, `${command.kind}: ${JSON.stringify(r.error)}`);
    return r;
  }

  send(value) {
    this.write(0x1, Buffer.from(JSON.stringify(value)));
  }

  write(op, payload) {
    const mask = randomBytes(4);
    const len = payload.length;
    const head = len < 126 ? Buffer.from([0x80 | op, 0x80 | len]) : Buffer.from([0x80 | op, 0x80 | 126, len >> 8, len & 0xff]);
    const body = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]));
    this.socket.write(Buffer.concat([head, mask, body]));
  }

  close() {
    this.socket.removeAllListeners('close');
    this.socket.destroy();
  }
}
