// /metrics of a busy hub (a generated year, sockets open, commands going through them):
// the WebSocket figures (delivery latency, queue depth, users connected by role) are
// counted, and the whole exposition passes `promtool check metrics`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { useHub } from './hub.mjs';
import { Socket } from './wsclient.mjs';

const { hub, api } = useHub({ browser: false, genLogEvents: 600 });

async function metrics() {
  const res = await fetch(`${hub.url}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

function value(text, series) {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  assert.ok(line, `${series} is on /metrics`);
  return Number(line.slice(series.length + 1));
}

test('a busy hub counts deliveries, queue depth and users by role, and promtool passes it', async (t) => {
  const before = await metrics();
  const delivered = value(before, 'muster_delivery_seconds_count');
  const supervisor = await api.login('supervisor');
  const operator = await api.login('operator');
  const sockets = [];
  try {
    for (const token of [supervisor, supervisor, operator]) {
      const ws = await Socket.open(hub.url, () => {});
      ws.send({ type: 'hello', token });
      await ws.next('welcome');
      sockets.push(ws);
    }
    const [ws] = sockets;
    for (let i = 0; i < 20; i++) {
      ws.send({ type: 'command', id: `m-${i}`, command: { kind: 'message.broadcast', audience: 'all', text: `metrics ${i}`, requires_ack: false } });
    }
    for (let i = 0; i < 20; i++) assert.equal((await ws.next(`m-${i}`)).ok, true);
    const text = await metrics();
    // Each result follows its events on this socket, so they were all written.
    assert.ok(value(text, 'muster_delivery_seconds_count') >= delivered + 1, 'deliveries observed');
    assert.ok(value(text, 'muster_ws_queue_depth_count') >= 1, 'queue depth observed');
    assert.equal(value(text, 'muster_users_connected{role="supervisor"}'), 1, 'two sockets, one supervisor');
    assert.equal(value(text, 'muster_users_connected{role="operator"}'), 1);
    assert.equal(value(text, 'muster_connections'), 3);
    assert.equal(value(text, 'muster_commands_total{kind="message.broadcast",outcome="accepted"}'), 20);

    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (promtool.error) {
      assert.notEqual(process.env.CI, 'true', `promtool is missing under CI: ${promtool.error.message}`);
      t.skip('promtool not installed');
      return;
    }
    assert.equal(`${promtool.stdout}${promtool.stderr}`, '', 'promtool finds nothing to say');
    assert.equal(promtool.status, 0);
  } finally {
    for (const ws of sockets) ws.close();
  }
});
