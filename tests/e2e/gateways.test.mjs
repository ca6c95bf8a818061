// The hub's real gateways against real servers on loopback (no browser): the webhook
// (Standard Webhooks signatures, retries under one webhook-id, extra headers) to an
// HTTPS server whose certificate a test CA signed, trusted through
// MUSTER_NOTIFY_CA_FILE; and e-mail over SMTP with STARTTLS and AUTH to a real SMTP
// server (smtp-server), for the ladder's e-mail rung and a complainant's reply.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import http from 'node:http';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { startHub, apiFor, ROOT } from './hub.mjs';
import { waitFor } from './tap.mjs';

const SECRET = `whsec_${crypto.randomBytes(32).toString('base64')}`;
const PROVIDER_TOKEN = 'Bearer provider-token-123';
const SMTP_USER = 'muster';
const SMTP_PASSWORD = 'smtp-password-456';
const FROM = 'control@example.org';
const BACKOFF_MS = 200;

let certs; // the temp dir with ca.pem, leaf.pem, leaf.key
let gateway; // the HTTPS server standing in for an SMS provider
let smtp; // the SMTP server
let hub; // with the CA file
let api;
let centreDir;

/** A test CA and a leaf for 127.0.0.1 / localhost it signed, made by the openssl CLI. */
function makeCerts() {
  const dir = mkdtempSync(join(tmpdir(), 'muster-certs-'));
  const ssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Muster test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ssl('req', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'leaf.ext'), [
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature',
    'extendedKeyUsage=serverAuth',
  ].join('\n'));
  ssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem',
    '-days', '2', '-extfile', 'leaf.ext');
  return { dir, ca: join(dir, 'ca.pem'), key: readFileSync(join(dir, 'leaf.key')), cert: readFileSync(join(dir, 'leaf.pem')) };
}

/**
 * The provider's webhook endpoint: keeps every request; for each new `webhook-id` it
 * answers 503 with `Retry-After: 1`, then 503, then 200.
 */
async function startGateway({ key, cert }) {
  const received = [];
  const server = https.createServer({ key, cert }, (req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const entry = { at: Date.now(), path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(entry);
      const n = received.filter((r) => r.headers['webhook-id'] === req.headers['webhook-id']).length;
      if (n === 1) res.writeHead(503, { 'retry-after': '1' }).end('busy');
      else if (n === 2) res.writeHead(503).end('still busy');
      else res.writeHead(200, { 'content-type': 'application/json' }).end('{"queued":true}');
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { url: `https://127.0.0.1:${server.address().port}/sms/send?account=ac_1`, received, close: () => new Promise((ok) => server.close(ok)) };
}

/** A real SMTP server on loopback: STARTTLS with the leaf, AUTH required (and only over TLS). */
async function startSmtp({ key, cert }) {
  const mails = [];
  const logins = [];
  const server = new SMTPServer({
    key,
    cert,
    logger: false,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth(auth, session, done) {
      logins.push({ username: auth.username, password: auth.password, secure: session.secure });
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) done(null, { user: auth.username });
      else done(new Error('Invalid username or password'));
    },
    onData(stream, session, done) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const [head, ...rest] = raw.split('\r\n\r\n');
        const header = (name) => head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')
          .find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))?.slice(name.length + 1).trim();
        mails.push({
          user: session.user,
          secure: session.secure,
          mailFrom: session.envelope.mailFrom.address,
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          from: header('From'),
          to: header('To'),
          subject: header('Subject'),
          body: rest.join('\r\n\r\n'),
        });
        done();
      });
    },
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { port: server.server.address().port, mails, logins, close: () => new Promise((ok) => server.close(ok)) };
}

/**
 * A minimal WebSocket client (node 20 has none built in) for the hub's event stream:
 * `events` fills with every event frame's `event` after the welcome.
 */
async function tapEvents(url, token) {
  const events = [];
  const key = crypto.randomBytes(16).toString('base64');
  const socket = await new Promise((ok, fail) => {
    const req = http.request(url.replace(/^http/, 'http') + '/ws', {
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': '13' },
    });
    req.on('upgrade', (_res, s) => ok(s));
    req.on('response', (res) => fail(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', fail);
    req.end();
  });
  const send = (opcode, payload) => {
    const mask = crypto.randomBytes(4);
    const len = payload.length;
    const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len])
      : Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff]);
    const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
    socket.write(Buffer.concat([head, mask, masked]));
  };
  let buf = Buffer.alloc(0);
  let welcomed;
  const welcome = new Promise((ok) => (welcomed = ok));
  socket.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (buf.length < 2) return;
      const opcode = buf[0] & 0x0f;
      let len = buf[1] & 0x7f;
      let at = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); at = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); at = 10; }
      if (buf.length < at + len) return;
      const payload = buf.subarray(at, at + len);
      buf = buf.subarray(at + len);
      if (opcode === 9) send(10, payload);
      if (opcode !== 1) continue;
      const frame = JSON.parse(payload.toString('utf8'));
      if (frame.type === 'welcome') welcomed();
      if (frame.type === 'event') events.push(frame.event);
    }
  });
  send(1, Buffer.from(JSON.stringify({ type: 'hello', token })));
  await welcome;
  return { events, close: () => socket.destroy() };
}

/**
 * The shipped procedures with the urgent ladder (a P1 medical emergency's) replaced by
 * two quick rungs: SMS after 1 s, e-mail after 2 s.
 */
function quickGatewayLadder(toml) {
  const start = toml.indexOf('id = "urgent"');
  assert.ok(start >= 0, 'the urgent escalation policy was found');
  const end = toml.indexOf('[[escalation_policies]]', start);
  const ladder = [
    'id = "urgent"',
    'description = "Test: SMS after 1 s, e-mail after 2 s."',
    '[[escalation_policies.steps]]', 'after_secs = 1', 'action = "alternative_channel"', 'channel = "sms"',
    '[[escalation_policies.steps]]', 'after_secs = 2', 'action = "alternative_channel"', 'channel = "email"',
    '', '',
  ].join('\n');
  return toml.slice(0, start) + ladder + toml.slice(end);
}

/** Environment for a hub that talks to the test's gateway and SMTP server. */
function gatewayEnv({ withCa }) {
  return {
    MUSTER_CENTRE: join(centreDir, 'centre.toml'),
    MUSTER_WEBHOOK_URL: gateway.url,
    MUSTER_WEBHOOK_SECRET: SECRET,
    MUSTER_WEBHOOK_HEADERS: `Authorization: ${PROVIDER_TOKEN}; X-Provider-Account: ac_1`,
    MUSTER_WEBHOOK_BACKOFF_MS: String(BACKOFF_MS),
    MUSTER_NOTIFY_CA_FILE: withCa ? certs.ca : '',
    MUSTER_SMTP_HOST: '127.0.0.1',
    MUSTER_SMTP_PORT: String(smtp.port),
    MUSTER_SMTP_TLS: 'starttls',
    MUSTER_SMTP_USERNAME: SMTP_USER,
    MUSTER_SMTP_PASSWORD: SMTP_PASSWORD,
    MUSTER_SMTP_FROM: `Muster control <${FROM}>`,
  };
}

async function must(api, token, command) {
  const r = await api.command(token, command);
  assert.ok(r.ok, `${command.kind}: ${JSON.stringify(r.error)}`);
  return r.data;
}

/** A P1 medical emergency assigned to a free first-aider with a log-in and a phone. */
async function assignedP1(api, op, where) {
  const { data: { contact_id: contact } } = await api.intake({ channel: 'phone', caller: { name: 'A caller' },
    location: { text: where }, summary: `Person collapsed at ${where}` });
  await must(api, op, { kind: 'contact.take', contact_id: contact });
  const { incident_id: incident } = await must(api, op, { kind: 'incident.open', contact_id: contact, type: 'medical_emergency',
    description: 'Person collapsed', location: { text: where } });
  await must(api, op, { kind: 'incident.assess', incident_id: incident, validity: 'verified', priority: 'P1', method: 'manual', reason: 'not breathing normally' });
  const state = await api.get('/api/state', op);
  const resource = state.resources.find((r) => r.status === 'available' && r.user_id && r.phone && r.email && r.skills.includes('first_aid'));
  assert.ok(resource, 'a free first-aider with a phone and an e-mail address');
  const { assignment_id: assignment } = await must(api, op, { kind: 'assignment.create', incident_id: incident, resource_id: resource.id });
  const reference = (await api.get('/api/state', op)).incidents.find((i) => i.id === incident).reference;
  return { incident, assignment, resource, reference };
}

/** Whether `header` (space-separated `v1,<base64>` signatures) holds the Standard Webhooks signature of the request. */
function signatureValid(req) {
  const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
  const signed = `${req.headers['webhook-id']}.${req.headers['webhook-timestamp']}.${req.body}`;
  const expected = crypto.createHmac('sha256', key).update(signed).digest();
  return req.headers['webhook-signature'].split(' ').some((s) => {
    const [version, sig] = s.split(',');
    const got = Buffer.from(sig ?? '', 'base64');
    return version === 'v1' && got.length === expected.length && crypto.timingSafeEqual(got, expected);
  });
}

before(async () => {
  certs = makeCerts();
  gateway = await startGateway(certs);
  smtp = await startSmtp(certs);
  centreDir = mkdtempSync(join(tmpdir(), 'muster-centre-'));
  writeFileSync(join(centreDir, 'centre.toml'), quickGatewayLadder(readFileSync(join(ROOT, 'config', 'centre.toml'), 'utf8')));
  hub = await startHub({ env: gatewayEnv({ withCa: true }) });
  api = apiFor(hub.url);
});

after(async () => {
  await hub?.stop();
  await gateway?.close();
  await smtp?.close();
  if (certs) rmSync(certs.dir, { recursive: true, force: true });
  if (centreDir) rmSync(centreDir, { recursive: true, force: true });
});

test('the SMS rung is a signed webhook over TLS, retried under one webhook-id; the e-mail rung goes by SMTP', async () => {
  const op = await api.login('operator');
  const tap = await tapEvents(hub.url, await api.login('supervisor'));
  try {
    const before = gateway.received.length;
    const { assignment, resource, reference } = await assignedP1(api, op, 'Library, ground floor');
    const mine = (kind, channel) => tap.events.filter((e) => e.kind === kind && e.assignment_id === assignment && e.channel === channel);

    // SMS: 503 (Retry-After: 1), 503, 200 → three attempts, one notification.sent.
    await waitFor(() => mine('notification.sent', 'sms').length === 1, 'notification.sent for the SMS rung', 15000);
    const posts = gateway.received.slice(before);
    assert.equal(posts.length, 3, 'three attempts');
    const id = posts[0].headers['webhook-id'];
    assert.match(id, new RegExp(`^msg_${assignment}_1_\\d{13}$`), 'msg_<assignment>_<level>_<assigned at, ms>');
    for (const post of posts) {
      assert.equal(post.headers['webhook-id'], id, 'the same webhook-id on every retry');
      assert.equal(post.path, '/sms/send?account=ac_1');
      assert.equal(post.headers['content-type'], 'application/json');
      assert.equal(post.headers.authorization, PROVIDER_TOKEN, 'the provider\'s extra header');
      assert.equal(post.headers['x-provider-account'], 'ac_1');
      const ts = Number(post.headers['webhook-timestamp']);
      assert.ok(Math.abs(ts - post.at / 1000) < 5, `webhook-timestamp ${ts} is the attempt's time in unix seconds`);
      assert.ok(signatureValid(post), 'the Standard Webhooks signature verifies with the secret');
      const body = JSON.parse(post.body);
      assert.equal(body.assignment_id, assignment);
      assert.equal(body.channel, 'sms');
      assert.equal(body.level, 1);
      assert.equal(body.to_phone, resource.phone);
      assert.equal(body.to_email, resource.email);
      assert.match(body.text, new RegExp(`please acknowledge ${reference}`));
    }
    // A tampered body does not verify: the check above can fail.
    assert.equal(signatureValid({ ...posts[0], body: posts[0].body.replace('sms', 'SMS') }), false);
    const gap1 = posts[1].at - posts[0].at;
    const gap2 = posts[2].at - posts[1].at;
    assert.ok(gap1 >= 950, `the first retry waited for Retry-After: 1 (${gap1} ms)`);
    assert.ok(gap2 >= 2 * BACKOFF_MS - 50 && gap2 < 950, `the second retry waited the doubled backoff (${gap2} ms)`);
    const [sent] = mine('notification.sent', 'sms');
    assert.equal(sent.status, 'HTTP 200');
    assert.equal(sent.attempts, 3);
    assert.equal(sent.level, 1);

    // E-mail: the resource's address, over STARTTLS, logged in.
    await waitFor(() => mine('notification.sent', 'email').length === 1 || mine('notification.failed', 'email').length === 1,
      'the e-mail rung recorded', 15000);
    assert.deepEqual(mine('notification.failed', 'email'), []);
    const mail = smtp.mails.find((m) => m.rcptTo.includes(resource.email));
    assert.ok(mail, `an e-mail to ${resource.email}`);
    assert.equal(mail.secure, true, 'sent after STARTTLS');
    assert.equal(mail.user, SMTP_USER, 'the hub logged in');
    assert.equal(mail.mailFrom, FROM);
    assert.equal(mail.from, `"Muster control" <${FROM}>`);
    assert.equal(mail.to, resource.email);
    assert.equal(mail.subject, `Muster: please acknowledge ${reference}`);
    assert.match(mail.body, /please acknowledge/);
    assert.equal(mine('notification.sent', 'email')[0].status, 'SMTP 250');
    assert.ok(smtp.logins.every((l) => l.secure), 'credentials only ever sent over TLS');

    // Each rung's outcome is recorded once, and no failure besides.
    assert.equal(mine('notification.sent', 'sms').length, 1);
    assert.deepEqual(tap.events.filter((e) => e.kind === 'notification.failed' && e.assignment_id === assignment), []);
  } finally {
    tap.close();
  }
});

test('a case answered with an e-mail address is e-mailed to the complainant, and the outcome recorded', async () => {
  const sup = await api.login('supervisor');
  const tap = await tapEvents(hub.url, sup);
  try {
    const email = 'complainant@example.org';
    const { case_id: caseId } = await must(api, sup, { kind: 'case.open', case_type: 'complaint', from: 'Sam Jones',
      text: 'Nobody called me back.', email });
    const response = 'We are sorry: the call-back was missed. We have changed the rota.';
    await must(api, sup, { kind: 'case.respond', case_id: caseId, response });
    const about = (kind) => tap.events.filter((e) => e.kind === kind && e.case_id === caseId);
    await waitFor(() => about('notification.sent').length + about('notification.failed').length > 0, 'the reply recorded', 15000);
    assert.deepEqual(about('notification.failed'), []);
    const [sent] = about('notification.sent');
    assert.equal(sent.channel, 'email');
    assert.equal(sent.status, 'SMTP 250');
    assert.equal(sent.assignment_id, undefined);
    const mail = smtp.mails.find((m) => m.rcptTo.includes(email));
    assert.ok(mail, 'an e-mail to the complainant');
    assert.equal(mail.secure, true);
    assert.equal(mail.user, SMTP_USER);
    assert.equal(mail.to, email);
    assert.equal(mail.subject, `Your complaint (${caseId}): our response`);
    assert.match(mail.body.replace(/=\r\n/g, ''), /We are sorry: the call-back was missed/);

    // A case without an address is not e-mailed.
    const { case_id: quiet } = await must(api, sup, { kind: 'case.open', case_type: 'query', from: 'Pat', text: 'When will the lift be fixed?' });
    await must(api, sup, { kind: 'case.respond', case_id: quiet, response: 'Next week.' });
    const { case_id: marker } = await must(api, sup, { kind: 'case.open', case_type: 'query', from: 'Lee', text: 'A question', email: 'lee@example.org' });
    await must(api, sup, { kind: 'case.respond', case_id: marker, response: 'An answer.' });
    await waitFor(() => tap.events.some((e) => e.kind === 'notification.sent' && e.case_id === marker), 'the later reply recorded', 15000);
    assert.deepEqual(tap.events.filter((e) => e.kind.startsWith('notification.') && e.case_id === quiet), []);
  } finally {
    tap.close();
  }
});

test('without the CA file the same gateway is refused, as a certificate problem, and not retried', async () => {
  const untrusting = await startHub({ env: gatewayEnv({ withCa: false }) });
  try {
    const api2 = apiFor(untrusting.url);
    const tap = await tapEvents(untrusting.url, await api2.login('supervisor'));
    try {
      const before = gateway.received.length;
      const { assignment } = await assignedP1(api2, await api2.login('operator'), 'Town hall steps');
      const failed = () => tap.events.filter((e) => e.kind === 'notification.failed' && e.assignment_id === assignment && e.channel === 'sms');
      await waitFor(() => failed().length === 1, 'notification.failed for the SMS rung', 15000);
      const [event] = failed();
      assert.match(event.error, /certificate/i, event.error);
      assert.match(event.error, /127\.0\.0\.1:\d+/, 'names the gateway by host and port');
      assert.doesNotMatch(event.error, /account=ac_1|sms\/send/, 'never its path or query');
      assert.equal(event.attempts, 1, 'a certificate problem is not retried');
      assert.equal(gateway.received.length, before, 'no request reached the gateway');
      assert.deepEqual(tap.events.filter((e) => e.kind === 'notification.sent' && e.assignment_id === assignment && e.channel === 'sms'), []);
    } finally {
      tap.close();
    }
  } finally {
    await untrusting.stop();
  }
});
