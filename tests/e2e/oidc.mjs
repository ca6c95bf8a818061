// A real OpenID Connect provider for the single sign-on tests: `oidc-provider` (an
// OpenID Certified implementation) on loopback, on its own port, with one confidential
// client whose redirect URI is the hub's callback and PKCE required, the test's
// accounts (claims read at each sign-in, so a test can take a group away), and a tiny
// sign-in page of its own (the library's development pages load web fonts from the
// internet; this one loads nothing).

import http from 'node:http';
import Provider from 'oidc-provider';

/** A free loopback port (for a hub whose URL the provider must know before it starts). */
export async function freePort() {
  const s = http.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(uid, message = '') {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test provider: sign in</title></head>
<body><main><h1>Test provider</h1>${message ? `<p role="alert">${escape(message)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Provider username <input name="login" autocomplete="username" required autofocus></label>
<label>Provider password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in at provider</button>
</form>
<form method="post" action="/interaction/${escape(uid)}/cancel"><button type="submit">Cancel</button></form>
</main></body></html>`;
}

async function formBody(req) {
  let raw = '';
  for await (const chunk of req) raw += chunk;
  return new URLSearchParams(raw);
}

/**
 * Starts the provider. `accounts`: login → claims (`name`, `preferred_username`,
 * `email`, `groups`), read at every sign-in. Answers `{ issuer, clientId,
 * clientSecret, accounts, stop() }`.
 */
export async function startProvider({ redirectUri, accounts, clientId = 'muster-e2e', clientSecret = 'e2e-client-secret-0123456789' }) {
  const server = http.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email'], groups: ['groups'] },
    // The scopes' claims go into the ID token itself (the hub reads the role from it).
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['e2e-cookie-signing-key'] },
    ttl: { Interaction: 600, Grant: 3600, Session: 3600, AccessToken: 600, IdToken: 600, AuthorizationCode: 60 },
    async findAccount(ctx, id) {
      if (!accounts[id]) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...accounts[id] }) };
    },
    // A first-party client: every scope it asks for is granted, no consent page.
    async loadExistingGrant(ctx) {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
      if (grantId) {
        const found = await oidc.provider.Grant.find(grantId);
        if (found) return found;
      }
      const grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
      grant.addOIDCScope([...oidc.requestParamScopes].join(' '));
      await grant.save();
      return grant;
    },
  });
  const callback = provider.callback();
  server.on('request', async (req, res) => {
    if (req.url === '/favicon.ico') {
      res.writeHead(204);
      return res.end();
    }
    const m = /^\/interaction\/([^/?]+)(?:\/(login|cancel))?/.exec(req.url);
    if (!m) return callback(req, res);
    try {
      const [, uid, action] = m;
      if (req.method === 'GET') {
        await provider.interactionDetails(req, res);
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        return res.end(page(uid));
      }
      const body = await formBody(req);
      if (action === 'cancel') {
        return await provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the person cancelled' }, { mergeWithLastSubmission: false });
      }
      const login = body.get('login') || '';
      if (!accounts[login]) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(page(uid, `no account ${login}`));
      }
      return await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e?.message || e));
    }
  });
  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    stop: () => new Promise((r) => { server.closeAllConnections?.(); server.close(r); }),
  };
}
