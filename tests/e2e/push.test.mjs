// Web Push from the hub to a real push service on loopback, no browser: field users
// subscribe over the WebSocket with keys made here, the hub pushes for a new
// assignment, and the test decrypts the push with http_ece (not the hub's code),
// verifies the VAPID JWT with node's crypto, acknowledges through the payload's
// ack_url, and watches the log record every attempt. A push service answering 410
// loses the subscription; one answering 503 with Retry-After is retried.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { useHub } from './hub.mjs';
import { waitFor } from './tap.mjs';
import { startPushService, newSubscriptionKeys, decryptPush, verifyVapid } from './pushservice.mjs';

let push;
before(async () => {
  push = await startPushService({
    respond: ({ path, count }) => {
      if (path.startsWith('/gone/')) return { status: 410 };
      if (path.startsWith('/busy/') && count === 0) return { status: 503, headers: { 'Retry-After': '1' } };
      return { status: 201 };
    },
  });
});
after(() => push?.close());

const { hub, api } = useHub({ browser: false, env: { MUSTER_PUSH_ALLOW_HTTP: '1', MUSTER_PUSH_CONTACT: 'mailto:control@muster.test' } });

/**
 * A WebSocket client small enough to read (node 20 has no WebSocket without a flag):
 * the upgrade, masked text frames out, unmasked frames in, pongs. Answers
 * `{ events, command(cmd), close }`; `events` holds every event frame's event.
 */
async function openSocket(token) {
  const { hostname, port } = new URL(hub.url);
  const sock = connect(Number(port), hostname);
  await new Promise((ok, fail) => { sock.once('connect', ok); sock.once('error', fail); });
  sock.write(`GET /ws HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
    + `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
  const send = (opcode, payload) => {
    const data = Buffer.from(payload);
    const mask = randomBytes(4);
    const head = data.length < 126 ? Buffer.from([0x80 | opcode, 0x80 | data.length])
      : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 126]), Buffer.from([data.length >> 8, data.length & 255])]);
    sock.write(Buffer.concat([head, mask, data.map((b, i) => b ^ mask[i % 4])]));
  };
  const events = [];
  const results = new Map();
  let welcome;
  const welcomed = new Promise((ok) => { welcome = ok; });
  let buf = Buffer.alloc(0);
  let upgraded = false;
  sock.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    if (!upgraded) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      assert.match(buf.subarray(0, end).toString(), /^HTTP\/1\.1 101/);
      buf = buf.subarray(end + 4);
      upgraded = true;
      send(1, JSON.stringify({ type: 'hello', token }));
    }
    for (;;) {
      if (buf.length < 2) return;
      const opcode = buf[0] & 15;
      let len = buf[1] & 127;
      let at = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); at = 4; }
      if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); at = 10; }
      if (buf.length < at + len) return;
      const payload = buf.subarray(at, at + len);
      buf = buf.subarray(at + len);
      if (opcode === 9) send(10, payload);
      if (opcode !== 1) continue;
      const frame = JSON.parse(payload.toString());
      if (frame.type === 'welcome') welcome();
      if (frame.type === 'event') events.push(frame.event);
      if (frame.type === 'result') results.get(frame.id)?.(frame);
    }
  });
  await welcomed;
  let next = 0;
  return {
    events,
    command(command) {
      const id = `push-e2e-${++next}-${Math.random().toString(36).slice(2)}`;
      const result = new Promise((ok) => results.set(id, ok));
      send(1, JSON.stringify({ type: 'command', id, command }));
      return result;
    },
    close() { sock.destroy(); },
  };
}

/** `fetch` of the hub answering `{ status, headers, body }` whatever the status. */
async function call(method, path, token, body) {
  const res = await fetch(path.startsWith('http') ? path : hub.url + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

async function must(token, command) {
  const r = await api.command(token, command);
  assert.ok(r.ok, `${command.kind}: ${JSON.stringify(r.error)}`);
  return r.data;
}

/** Opens a P2 medical emergency at `place` and assigns `username`'s resource to it. */
async function dispatchTo(username, place) {
  const op = await api.login('operator');
  const state = await api.get('/api/state', op);
  const user = state.users.find((u) => u.username === username);
  const { incident_id } = await must(op, { kind: 'incident.open', contact_id: null, type: 'medical_emergency',
    description: 'Person collapsed, breathing', location: { text: place } });
  await must(op, { kind: 'incident.assess', incident_id, validity: 'verified', priority: 'P2', method: 'manual', reason: 'caller is with them' });
  const { assignment_id } = await must(op, { kind: 'assignment.create', incident_id, resource_id: user.resource_id,
    responsibilities: 'Reach the casualty and give first aid' });
  return { op, user, incident_id, assignment_id };
}

/** The incident's timeline events of `kind` for `assignment_id`, as the desk sees them. */
async function timeline(op, incidentId, kind, pred = () => true) {
  const detail = await api.get(`/api/incidents/${incidentId}`, op);
  return detail.timeline.filter((t) => (t.event ?? t).kind === kind && pred(t.event ?? t, t));
}

async function subscribe(ws, endpoint, keys) {
  const r = await ws.command({ kind: 'push.subscribe', endpoint, keys: { p256dh: keys.p256dh, auth: keys.auth } });
  assert.ok(r.ok, `push.subscribe: ${JSON.stringify(r.error)}`);
  await waitFor(() => ws.events.some((e) => e.kind === 'push.subscribed' && e.endpoint === endpoint), 'push.subscribed');
}

test('a new assignment is pushed encrypted and VAPID-signed, and its ack link acknowledges it once', async () => {
  const { body: { public_key: publicKey } } = await call('GET', '/api/push/key');
  assert.equal(Buffer.from(publicKey, 'base64url').length, 65);

  const field = await api.login('field1');
  const ws = await openSocket(field);
  const keys = newSubscriptionKeys();
  const endpoint = `${push.url}/ok/field1`;
  await subscribe(ws, endpoint, keys);
  const subscribed = ws.events.find((e) => e.kind === 'push.subscribed');
  assert.equal(subscribed.session, undefined, 'the session tag never reaches a client');

  const { op, user, incident_id, assignment_id } = await dispatchTo('field1', 'Civic Centre, main entrance');
  const got = await push.waitFor((r) => r.path === '/ok/field1');
  assert.equal(got.method, 'POST');
  assert.equal(got.headers['content-encoding'], 'aes128gcm');
  assert.ok(Number(got.headers.ttl) > 0, `TTL: ${got.headers.ttl}`);
  assert.equal(got.headers.urgency, 'high');
  assert.equal(got.headers.topic, assignment_id);
  const claims = verifyVapid(got.headers.authorization, publicKey, push.url);
  assert.equal(claims.sub, 'mailto:control@muster.test');

  const payload = decryptPush(got.body, keys);
  assert.equal(payload.kind, 'assignment');
  assert.equal(payload.assignment_id, assignment_id);
  assert.equal(payload.incident_id, incident_id);
  assert.equal(payload.tag, assignment_id);
  assert.equal(payload.url, '/field');
  assert.equal(payload.priority, 'P2');
  assert.equal(payload.incident_type, 'medical_emergency');
  assert.match(payload.title, /P2/);
  assert.match(payload.title, /Medical emergency/);
  assert.match(payload.body, /Civic Centre, main entrance/);
  assert.match(payload.body, /Reach the casualty/);
  assert.match(payload.reference, /^INC-/);
  assert.ok(payload.ack_url.startsWith(`${hub.url}/api/push/ack/`), payload.ack_url);
  assert.ok(!payload.ack_url.includes(assignment_id), 'the token is opaque');
  assert.ok(Date.parse(payload.ack_expires_at) > Date.now(), payload.ack_expires_at);

  // The attempt is in the incident's timeline with the push service's status.
  await waitFor(async () => (await timeline(op, incident_id, 'notification.sent', (e) => e.channel === 'push')).length === 1, 'notification.sent');
  const [sent] = await timeline(op, incident_id, 'notification.sent', (e) => e.channel === 'push');
  assert.deepEqual([sent.event.assignment_id, sent.event.status, sent.event.level], [assignment_id, 'HTTP 201', 0]);

  // Only the hub's link may say "push".
  const claimed = await call('POST', '/api/commands', field, { id: 'claim-push', command: { kind: 'assignment.acknowledge', assignment_id, via: 'push' } });
  assert.equal(claimed.status, 422);

  assert.equal((await call('GET', payload.ack_url)).status, 405);
  const garbled = await call('POST', `${hub.url}/api/push/ack/AAAA.BBBB`);
  assert.deepEqual([garbled.status, garbled.body.error.code], [404, 'not_found']);
  const ack = await call('POST', payload.ack_url);
  assert.equal(ack.status, 200);
  assert.deepEqual(ack.body, { assignment_id, status: 'acknowledged' });
  assert.equal(ack.headers.get('cache-control'), 'no-store');
  const again = await call('POST', payload.ack_url);
  assert.deepEqual([again.status, again.body.error.code], [409, 'invalid_transition']);

  const acks = await timeline(op, incident_id, 'assignment.acknowledged');
  assert.equal(acks.length, 1, 'acknowledged once');
  assert.equal((acks[0].event ?? acks[0]).via, 'push');
  assert.equal(acks[0].actor, user.id, 'as the unit\'s own user');
  ws.close();
});

test('a push service answering 410 loses the subscription; the attempt is recorded as failed', async () => {
  const field = await api.login('field2');
  const ws = await openSocket(field);
  const endpoint = `${push.url}/gone/field2`;
  await subscribe(ws, endpoint, newSubscriptionKeys());
  const { op, incident_id } = await dispatchTo('field2', 'Library, reading room');
  await push.waitFor((r) => r.path === '/gone/field2');
  await waitFor(() => ws.events.some((e) => e.kind === 'push.unsubscribed' && e.endpoint === endpoint), 'push.unsubscribed');
  const gone = ws.events.find((e) => e.kind === 'push.unsubscribed');
  assert.equal(gone.reason, 'gone');
  await waitFor(async () => (await timeline(op, incident_id, 'notification.failed')).length === 1, 'notification.failed');
  const [failed] = await timeline(op, incident_id, 'notification.failed');
  const e = failed.event ?? failed;
  assert.equal(e.channel, 'push');
  assert.match(e.error, /HTTP 410/);
  assert.ok(!e.error.includes('/gone/'), 'the endpoint (a capability) is not in the log');
  ws.close();
});

test('a push service answering 503 with Retry-After is retried after it, then the push is sent', async () => {
  const field = await api.login('field3');
  const ws = await openSocket(field);
  await subscribe(ws, `${push.url}/busy/field3`, newSubscriptionKeys());
  const { op, incident_id } = await dispatchTo('field3', 'Market square');
  await waitFor(() => push.received.filter((r) => r.path === '/busy/field3').length === 2, 'a retry', 10000);
  const [first, second] = push.received.filter((r) => r.path === '/busy/field3');
  assert.deepEqual([first.status, second.status], [503, 201]);
  assert.ok(second.at - first.at >= 900, `Retry-After: 1 honoured (${second.at - first.at} ms)`);
  await waitFor(async () => (await timeline(op, incident_id, 'notification.sent')).length === 1, 'notification.sent');
  const failed = await timeline(op, incident_id, 'notification.failed');
  assert.equal(failed.length, 1, 'the first attempt is recorded too');
  assert.match((failed[0].event ?? failed[0]).error, /HTTP 503; retrying/);
  ws.close();
});

test('a sixth subscription replaces the oldest, and log-out removes its session\'s', async () => {
  const first = await api.login('field4');
  const ws = await openSocket(first);
  for (let i = 1; i <= 5; i += 1) await subscribe(ws, `${push.url}/many/${i}`, newSubscriptionKeys());
  assert.equal(ws.events.filter((e) => e.kind === 'push.unsubscribed').length, 0);
  await subscribe(ws, `${push.url}/many/6`, newSubscriptionKeys());
  await waitFor(() => ws.events.some((e) => e.kind === 'push.unsubscribed'), 'the oldest replaced');
  const replaced = ws.events.filter((e) => e.kind === 'push.unsubscribed');
  assert.deepEqual(replaced.map((e) => [e.endpoint, e.reason]), [[`${push.url}/many/1`, 'replaced']]);

  // Another session (another phone) subscribes over HTTP, then logs out.
  const second = await api.login('field4');
  const r = await call('POST', '/api/commands', second, { id: 'sub-2', command: { kind: 'push.subscribe',
    endpoint: `${push.url}/many/other`, keys: (({ p256dh, auth }) => ({ p256dh, auth }))(newSubscriptionKeys()) } });
  assert.equal(r.status, 200);
  assert.equal((await call('POST', '/api/logout', second)).status, 200);
  await waitFor(() => ws.events.some((e) => e.kind === 'push.unsubscribed' && e.reason === 'logged_out'), 'logged_out');
  const removed = ws.events.filter((e) => e.kind === 'push.unsubscribed').map((e) => [e.endpoint, e.reason]);
  assert.deepEqual(removed, [
    [`${push.url}/many/1`, 'replaced'],
    // The other phone's was a sixth too.
    [`${push.url}/many/2`, 'replaced'],
    [`${push.url}/many/other`, 'logged_out'],
  ], 'only the session that logged out lost its subscription');
  ws.close();
});

test('an endpoint that is not a push service is refused when the phone subscribes', async () => {
  const token = await api.login('field5');
  const keys = (({ p256dh, auth }) => ({ p256dh, auth }))(newSubscriptionKeys());
  // The hub posts to whatever endpoint it keeps: an internal service must never be one.
  for (const endpoint of ['https://10.0.0.1/admin', 'https://fcm.googleapis.com.evil.example/x', 'http://192.168.1.1/']) {
    const r = await call('POST', '/api/commands', token, { id: `bad-${endpoint}`, command: { kind: 'push.subscribe', endpoint, keys } });
    assert.equal(r.status, 422, endpoint);
    assert.equal(r.body.error.code, 'validation_failed', endpoint);
    assert.match(r.body.error.message, /^endpoint: .*(push\.allowed_hosts|only https)/, endpoint);
  }
});
