// The API documents a running hub serves, checked by published validators:
// `GET /api/openapi.json` by an OpenAPI 3.1 schema validator, `GET /api/asyncapi.json`
// by the AsyncAPI parser (3.0). Then real traffic against them: every frame a
// supervisor's socket receives while replaying a generated year and sending commands
// must fit its AsyncAPI message, and `GET /api/state` must fit its OpenAPI response.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Parser } from '@asyncapi/parser';
import Ajv from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { useHub } from './hub.mjs';
import { Socket } from './wsclient.mjs';

const { hub, api } = useHub({
  browser: false,
  genLogEvents: 1500,
  env: { MUSTER_RESUME_WINDOW_SECS: String(3 * 366 * 86400) },
});

async function document(path) {
  // No session: the documents hold no data.
  const res = await fetch(hub.url + path);
  assert.equal(res.status, 200, `${path} without a session`);
  assert.match(res.headers.get('content-type'), /^application\/json/);
  return res.json();
}

test('GET /api/openapi.json is a valid OpenAPI 3.1 document', async () => {
  const doc = await document('/api/openapi.json');
  assert.equal(doc.openapi, '3.1.0');
  const validator = new Validator();
  const res = await validator.validate(structuredClone(doc));
  assert.deepEqual(res.errors ?? [], [], 'the OpenAPI validator finds no error');
  assert.equal(res.valid, true);
  assert.equal(validator.version, '3.1');
  // The session scheme and the error codes are there.
  assert.deepEqual(doc.components.securitySchemes.session, {
    type: 'http', scheme: 'bearer', description: 'The session token from POST /api/login.',
  });
  assert.ok(doc.paths['/api/commands'].post.responses['422']['x-muster-codes'].includes('procedure_violation'));
});

test('GET /api/asyncapi.json is a valid AsyncAPI 3.0 document', async () => {
  const doc = await document('/api/asyncapi.json');
  assert.equal(doc.asyncapi, '3.0.0');
  const parser = new Parser();
  const { document: parsed, diagnostics } = await parser.parse(JSON.stringify(doc));
  const errors = diagnostics.filter((d) => d.severity === 0).map((d) => `${d.path.join('/')}: ${d.message}`);
  assert.deepEqual(errors, [], 'the AsyncAPI parser finds no error');
  assert.ok(parsed, 'the document parsed');
  assert.equal(parsed.version(), '3.0.0');
  const names = parsed.allMessages().all().map((m) => m.id());
  for (const m of ['hello', 'welcome', 'result', 'ping', 'pong', 'command.incident.open', 'event.incident.opened']) {
    assert.ok(names.includes(m), `message ${m}`);
  }
});

test('real frames and GET /api/state fit the documents', async () => {
  const asyncapi = await document('/api/asyncapi.json');
  const openapi = await document('/api/openapi.json');

  // AsyncAPI's schemas are draft-07: one Ajv holds them all, so $refs resolve.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  numberFormats(ajv);
  ajv.addSchema({ components: asyncapi.components }, 'asyncapi');
  const frame = (name) => ajv.compile({ $ref: `asyncapi#/components/messages/${name}/payload` });
  const check = {
    welcome: frame('welcome'),
    result: frame('result'),
    pong: frame('pong'),
  };
  const eventChecks = new Map();
  const eventCheck = (kind) => {
    if (!eventChecks.has(kind)) {
      assert.ok(asyncapi.components.messages[`event.${kind}`], `the document has event.${kind}`);
      eventChecks.set(kind, frame(`event.${kind}`));
    }
    return eventChecks.get(kind);
  };
  const problems = [];
  const seenKinds = new Set();
  const validate = (f) => {
    const v = f.type === 'event' ? (seenKinds.add(f.event.kind), eventCheck(f.event.kind)) : check[f.type];
    assert.ok(v, `a frame type the document has: ${f.type}`);
    if (!v(f)) problems.push(`${f.type} ${f.event?.kind ?? f.id ?? ''}: ${ajv.errorsText(v.errors)}`);
  };

  const token = await api.login('supervisor');
  const ws = await Socket.open(hub.url, validate);
  try {
    ws.send({ type: 'hello', token, resume_from: 0 });
    const welcome = await ws.next('welcome');
    assert.equal(welcome.resumed, true);
    // A command done and one refused, each with its result frame.
    const state = await api.get('/api/state', token);
    ws.send({ type: 'command', id: 'd-1', command: { kind: 'message.broadcast', audience: 'all', text: 'API documents check', requires_ack: false } });
    const done = await ws.next('d-1');
    assert.equal(done.ok, true, JSON.stringify(done));
    ws.send({ type: 'command', id: 'd-2', command: { kind: 'incident.close', incident_id: 'inc_nope' } });
    const refused = await ws.next('d-2');
    assert.equal(refused.ok, false);
    ws.send({ type: 'ping' });
    await ws.next('pong');
    assert.ok(ws.frames > 1000, `the generated year came through (${ws.frames} frames)`);
    assert.ok(seenKinds.size >= 10, `many event kinds checked: ${[...seenKinds].join(', ')}`);
    assert.deepEqual(problems.slice(0, 20), [], 'every frame fits its AsyncAPI message');
    // The check can fail: an event without its fields, or with a field of the wrong type.
    const opened = eventCheck('incident.opened');
    assert.equal(opened({ type: 'event', seq: 1, at: '2026-12-01T00:00:00Z', actor: 'usr_1', event: { kind: 'incident.opened' } }), false);
    const taken = eventCheck('contact.taken');
    assert.equal(taken({ type: 'event', seq: 1, at: '2026-12-01T00:00:00Z', actor: 'usr_1', event: { kind: 'contact.taken', contact_id: 7 } }), false);
    assert.equal(taken({ type: 'event', seq: 1, at: '2026-12-01T00:00:00Z', actor: 'usr_1', event: { kind: 'contact.taken', contact_id: 'con_7' } }), true);

    // A fresh welcome carries the snapshot, as GET /api/state.
    const fresh = await Socket.open(hub.url, validate);
    fresh.send({ type: 'hello', token });
    const snap = await fresh.next('welcome');
    assert.equal(snap.resumed, false);
    fresh.close();
    assert.deepEqual(problems, [], 'the fresh welcome fits');

    // GET /api/state against the OpenAPI response schema (JSON Schema 2020-12).
    const ajv20 = new Ajv2020({ strict: false, allErrors: true });
    addFormats(ajv20);
    numberFormats(ajv20);
    ajv20.addSchema({ components: openapi.components }, 'openapi');
    const stateSchema = openapi.paths['/api/state'].get.responses['200'].content['application/json'].schema;
    const fits = ajv20.compile({ $ref: `openapi${stateSchema.$ref}` });
    assert.ok(fits(state), ajv20.errorsText(fits.errors));
    // The check can fail: a state with a wrongly typed field does not fit.
    assert.equal(fits({ ...state, incidents: [{ id: 42 }] }), false);
  } finally {
    ws.close();
  }
});

/** The integer formats schemars writes (`uint32`, …), checked as such. */
function numberFormats(ajv) {
  const whole = (min) => ({ type: 'number', validate: (x) => Number.isInteger(x) && x >= min });
  for (const f of ['uint', 'uint8', 'uint16', 'uint32', 'uint64']) ajv.addFormat(f, whole(0));
  for (const f of ['int', 'int8', 'int16', 'int32', 'int64']) ajv.addFormat(f, whole(-Infinity));
  for (const f of ['float', 'double']) ajv.addFormat(f, { type: 'number', validate: () => true });
}
