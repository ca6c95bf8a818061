// deploy/ as code, checked without running containers: the compose file parses and names
// what the stack needs (two hubs on one Redis with AOF fsync always, a TLS proxy in front
// of both, Prometheus scraping both, Grafana provisioned), every MUSTER_* it sets is a
// setting the hub reads, `promtool check config` passes the Prometheus configuration, the
// Grafana dashboard fits the dashboard schema (deploy/grafana/dashboard.schema.json), and
// every metric its queries name is one a running hub exports.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import Ajv2020 from 'ajv/dist/2020.js';
import { ROOT, useHub } from './hub.mjs';

const DEPLOY = join(ROOT, 'deploy');
const read = (path) => readFileSync(join(DEPLOY, path), 'utf8');
const compose = parse(read('compose.yaml'), { merge: true });
const dashboard = JSON.parse(read('grafana/dashboards/muster.json'));

const { hub } = useHub({ browser: false });

test('the compose file runs two hubs on Redis (AOF, fsync always) behind a TLS proxy', () => {
  const s = compose.services;
  for (const name of ['redis', 'hub1', 'hub2', 'proxy', 'prometheus', 'grafana']) {
    assert.ok(s[name], `service ${name}`);
  }
  const redis = s.redis.command.join(' ');
  assert.match(redis, /--appendonly yes/);
  assert.match(redis, /--appendfsync always/);
  assert.match(redis, /--maxmemory-policy noeviction/);
  for (const h of ['hub1', 'hub2']) {
    const env = s[h].environment;
    assert.equal(env.MUSTER_STORE, 'redis', `${h} on Redis`);
    assert.match(env.MUSTER_REDIS_URL, /^redis:\/\/redis:6379/);
    assert.equal(env.MUSTER_MASTER_KEY_FILE, '/keys/master.key', `${h}: one master key for the log`);
    assert.ok(env.MUSTER_TRUSTED_PROXIES && env.MUSTER_METRICS_FROM, `${h} trusts the proxy and lets Prometheus scrape`);
    assert.deepEqual(s[h].build, { context: '..', dockerfile: 'Dockerfile' });
  }
  assert.equal(s.hub2.depends_on.hub1.condition, 'service_healthy', 'the second hub waits for the first');
  // Every MUSTER_* the stack sets is a setting the hub reads.
  const config = readFileSync(join(ROOT, 'src', 'config.rs'), 'utf8');
  for (const name of Object.keys(s.hub1.environment).filter((k) => k.startsWith('MUSTER_'))) {
    assert.ok(config.includes(`"${name}"`), `${name} is read by src/config.rs`);
  }
  // The proxy: TLS with a certificate made at first start, both hubs behind it.
  const caddyMount = s.proxy.volumes.find((v) => v.endsWith(':/etc/caddy/Caddyfile:ro'));
  assert.ok(caddyMount, 'the Caddyfile is mounted');
  const caddy = read(caddyMount.split(':')[0].replace(/^\.\//, ''));
  assert.match(caddy, /^\s*tls internal$/m, 'a self-signed certificate');
  assert.match(caddy, /reverse_proxy hub1:8080 hub2:8080/);
  assert.match(caddy, /health_uri \/readyz/);
  assert.ok(s.proxy.ports.includes('443:443'));
});

test('Prometheus scrapes both hubs and promtool passes its configuration', (t) => {
  const mount = compose.services.prometheus.volumes.find((v) => v.endsWith(':/etc/prometheus/prometheus.yml:ro'));
  assert.ok(mount);
  const path = join(DEPLOY, mount.split(':')[0]);
  const prometheus = parse(readFileSync(path, 'utf8'));
  const targets = prometheus.scrape_configs.flatMap((c) => c.static_configs.flatMap((sc) => sc.targets));
  assert.deepEqual(targets.sort(), ['hub1:8080', 'hub2:8080']);
  const promtool = spawnSync('promtool', ['check', 'config', path], { encoding: 'utf8' });
  if (promtool.error) {
    assert.notEqual(process.env.CI, 'true', `promtool is missing under CI: ${promtool.error.message}`);
    t.skip('promtool not installed');
    return;
  }
  assert.equal(promtool.status, 0, promtool.stdout + promtool.stderr);
  assert.match(promtool.stdout, /SUCCESS/);
});

test('the Grafana dashboard fits the schema, is provisioned, and shows what it must', () => {
  const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
  const schema = JSON.parse(read('grafana/dashboard.schema.json'));
  const valid = ajv.validate(schema, dashboard);
  assert.ok(valid, ajv.errorsText(ajv.errors));
  // The check can fail.
  assert.equal(ajv.validate(schema, { ...dashboard, panels: [{ id: 1, type: 'stat', title: 'x', gridPos: { h: 1, w: 30, x: 0, y: 0 } }] }), false);
  // Panels do not overlap.
  const cells = new Set();
  for (const p of dashboard.panels) {
    for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
      for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
        assert.ok(x < 24, `${p.title} fits the 24 columns`);
        assert.ok(!cells.has(`${x},${y}`), `${p.title} overlaps another panel at ${x},${y}`);
        cells.add(`${x},${y}`);
      }
    }
  }
  assert.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length, 'panel ids are unique');
  // Provisioning: the datasource the panels name, and the folder the dashboard is in.
  const sources = parse(read('grafana/provisioning/datasources/prometheus.yaml')).datasources;
  const uids = new Set(sources.map((d) => d.uid));
  for (const p of dashboard.panels.filter((p) => p.type !== 'row')) {
    assert.ok(uids.has(p.datasource.uid), `${p.title}: a provisioned datasource`);
  }
  const provider = parse(read('grafana/provisioning/dashboards/muster.yaml')).providers[0];
  const mounts = compose.services.grafana.volumes;
  assert.ok(mounts.includes(`./grafana/dashboards:${provider.options.path}:ro`), 'the dashboards folder is mounted where the provider reads');
  // The figures a duty manager watches, and the hubs' latencies.
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
  for (const m of [
    'muster_contacts_waiting', 'muster_contact_oldest_wait_seconds', 'muster_incidents_open',
    'muster_assignments_unacknowledged', 'muster_target_breaches', 'muster_users_connected',
    'muster_commands_total', 'muster_command_seconds_bucket', 'muster_append_seconds_bucket',
    'muster_delivery_seconds_bucket', 'muster_ws_queue_depth_bucket',
  ]) {
    assert.match(exprs, new RegExp(`\\b${m}\\b`), `the dashboard shows ${m}`);
  }
});

test('every metric the dashboard queries is one the hub exports', async () => {
  const text = await (await fetch(`${hub.url}/metrics`)).text();
  const exported = new Set();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    exported.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_count', '_sum']) exported.add(name + s);
  }
  assert.ok(exported.has('muster_command_seconds_bucket'));
  for (const p of dashboard.panels) {
    for (const t of p.targets ?? []) {
      const names = t.expr.match(/\bmuster_[a-z_]+\b/g) ?? [];
      assert.ok(names.length > 0, `${p.title}: its query names a muster metric`);
      for (const n of names) assert.ok(exported.has(n), `${p.title}: ${n} is exported by the hub`);
    }
  }
});
