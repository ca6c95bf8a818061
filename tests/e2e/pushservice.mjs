// A real Web Push service for the tests, on loopback: it stores every POST the hub
// makes (path, headers, body) and answers as the test says. With it, the subscription
// side of a browser: keys (`newSubscriptionKeys`), decryption of a push with another
// RFC 8291 implementation than the hub's (`decryptPush`, by the http_ece package) and
// the VAPID check (`verifyVapid`, RFC 8292, by node's crypto).

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createECDH, createPublicKey, randomBytes, verify } from 'node:crypto';
import ece from 'http_ece';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/**
 * Starts the push service. `respond({ path, headers, count })` (optional) answers each
 * POST: `{ status, headers }`; `count` is how many POSTs that path had before. The
 * default is `201 Created`. Answers `{ url, received, waitFor(pred, ms), close }`;
 * `received` holds `{ path, headers, body, status, at }` in arrival order.
 */
export async function startPushService({ respond } = {}) {
  const received = [];
  const counts = new Map();
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const path = req.url;
      const count = counts.get(path) ?? 0;
      counts.set(path, count + 1);
      const answer = (req.method === 'POST' && respond?.({ path, headers: req.headers, count })) || { status: req.method === 'POST' ? 201 : 405 };
      received.push({ method: req.method, path, headers: req.headers, body: Buffer.concat(chunks), status: answer.status, at: Date.now() });
      res.writeHead(answer.status, answer.headers ?? {});
      res.end();
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    received,
    /** The first stored request matching `pred`, waiting for it up to `ms`. */
    async waitFor(pred, ms = 10000) {
      const until = Date.now() + ms;
      for (;;) {
        const hit = received.find(pred);
        if (hit) return hit;
        if (Date.now() > until) throw new Error(`the push service got no matching request in ${ms} ms (got ${received.length})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => new Promise((ok) => { server.closeAllConnections?.(); server.close(ok); }),
  };
}

/**
 * A browser's subscription keys: a P-256 key pair (the private half stays here) and 16
 * random auth bytes. `p256dh` and `auth` are what `push.subscribe` carries.
 */
export function newSubscriptionKeys() {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const auth = randomBytes(16);
  return { ecdh, p256dh: b64url(ecdh.getPublicKey()), auth: b64url(auth) };
}

/** Decrypts an `aes128gcm` push body for `keys` (RFC 8291) and parses its JSON. */
export function decryptPush(body, keys) {
  const plain = ece.decrypt(body, { version: 'aes128gcm', privateKey: keys.ecdh, authSecret: keys.auth });
  return JSON.parse(plain.toString('utf8'));
}

/**
 * Checks `Authorization: vapid t=<jwt>, k=<key>` (RFC 8292): `k` is the hub's public
 * key, the JWT is ES256 and verifies with it, `aud` is `audience`, `exp` is in the
 * future and at most 24 h away, `sub` is a mailto: or https: contact. Answers the claims.
 */
export function verifyVapid(authorization, publicKey, audience) {
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization ?? '');
  assert.ok(m, `a VAPID authorization header: ${authorization}`);
  const [, jwt, k] = m;
  assert.equal(k, publicKey, 'k is the hub\'s public key');
  const [h, c, s] = jwt.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  assert.equal(header.alg, 'ES256');
  const raw = Buffer.from(publicKey, 'base64url');
  assert.equal(raw.length, 65);
  const key = createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: b64url(raw.subarray(1, 33)), y: b64url(raw.subarray(33, 65)) },
    format: 'jwk',
  });
  const ok = verify('sha256', Buffer.from(`${h}.${c}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
  assert.ok(ok, 'the JWT\'s ES256 signature verifies with k');
  const claims = JSON.parse(Buffer.from(c, 'base64url'));
  assert.equal(claims.aud, audience);
  const now = Date.now() / 1000;
  assert.ok(claims.exp > now && claims.exp <= now + 24 * 3600, `exp within 24 h: ${claims.exp}`);
  assert.match(claims.sub, /^(mailto:|https:\/\/)/);
  return claims;
}
