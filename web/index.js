// The landing page: log in, then go where the role works (or back to `?next=`).
import { login, homeFor, exchangeSso } from './lib/muster.js';
import { settings } from './lib/settings.js';

const form = document.getElementById('login');
const error = document.getElementById('login-error');
const params = new URLSearchParams(location.search);
if (params.get('expired')) {
  const unsent = Number(params.get('unsent')) || 0;
  error.textContent = unsent
    ? `Your session ended. Log in again; ${unsent} ${unsent === 1 ? 'command' : 'commands'} made offline ${unsent === 1 ? 'was' : 'were'} not sent, so make ${unsent === 1 ? 'it' : 'them'} again.`
    : 'Your session ended. Log in again.';
  error.hidden = false;
}

/**
 * Where `?next=` may send the user: only a page on this origin, as an absolute URL;
 * else null. `new URL`
 * resolves it as the browser would (`/\host`, a tab in `/%09/host`, `javascript:`),
 * so what is checked is what would be visited.
 */
export function sameOrigin(next) {
  if (!next) return null;
  try {
    const url = new URL(next, location.origin);
    // `//…` is no page of the apps, and would read as another host if used as a path.
    if (url.origin !== location.origin || url.pathname.startsWith('//')) return null;
    return `${location.origin}${url.pathname}${url.search}${url.hash}`;
  } catch {
    return null;
  }
}

const button = form.querySelector('button[type=submit]');

// ----- single sign-on ------------------------------------------------------------

/** What the log-in page says for each `#sso_error=` the callback sends back. */
export const SSO_ERRORS = {
  denied: 'Sign-in was cancelled or refused at your organisation\'s sign-in page. Try again.',
  state: 'That sign-in has expired or was already used. Sign in again.',
  provider_unavailable: 'Your organisation\'s sign-in service cannot be reached just now. Try again in a moment; if it goes on, tell your administrator.',
  failed: 'Sign-in could not be completed: the answer from your organisation\'s sign-in service could not be verified. Try again; if it goes on, tell your administrator.',
  busy: 'Too many sign-ins were started from your network and not finished. Wait a few minutes, then try again.',
  no_role: 'Your account has no role in Muster. Ask your Muster administrator to add you to the group for your role (operators, supervisors or admins), then sign in again.',
  disabled: 'Your Muster account is disabled: your organisation no longer gives you a Muster role. Ask your Muster administrator.',
  field: 'Field accounts are set up by your Muster administrator, with the resource you carry. Ask them to create yours.',
  role_changed: 'Your role at your organisation has changed and Muster could not update your account just now. Try again in a minute, or ask your Muster administrator.',
};

const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.has('sso') || fragment.has('sso_error')) {
  // The one-time code leaves the address bar (and the history) at once.
  history.replaceState(null, '', `${location.pathname}${location.search}`);
}
if (fragment.has('sso_error')) {
  error.textContent = SSO_ERRORS[fragment.get('sso_error')] || SSO_ERRORS.failed;
  error.hidden = false;
} else if (fragment.has('sso')) {
  exchangeSso(fragment.get('sso'))
    .then(({ session, next }) => location.assign(sameOrigin(next) || sameOrigin(params.get('next')) || homeFor(session.user.role)))
    .catch((e) => {
      error.textContent = e.message;
      error.hidden = false;
    });
}

/** A button (a link: Enter opens it) per provider, and the password form folded away when local passwords are off. */
async function showProviders() {
  const [providers, s] = await Promise.all([
    fetch('/api/auth/providers').then((r) => (r.ok ? r.json() : [])).catch(() => []),
    settings(),
  ]);
  const list = document.getElementById('sso-providers');
  const next = sameOrigin(params.get('next'));
  for (const p of providers) {
    const a = document.createElement('a');
    a.href = `/auth/oidc/${encodeURIComponent(p.id)}/login${next ? `?next=${encodeURIComponent(new URL(next).pathname)}` : ''}`;
    a.textContent = p.name;
    a.dataset.provider = p.id;
    const li = document.createElement('li');
    li.append(a);
    list.append(li);
  }
  document.getElementById('sso').hidden = providers.length === 0;
  if (s.local_passwords === false) {
    // Only break-glass accounts still log in with a password: behind a disclosure.
    const details = document.createElement('details');
    details.id = 'break-glass';
    const summary = document.createElement('summary');
    summary.textContent = 'Break-glass log-in (local account)';
    form.before(details);
    details.append(summary, form);
    form.username.removeAttribute('autofocus');
  }
}
showProviders();

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  // One log-in at a time: the button stays busy until the hub has answered.
  if (button.disabled) return;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  error.hidden = true;
  const waiting = () => {
    error.textContent = 'The hub is busy with other log-ins; trying again…';
    error.hidden = false;
  };
  try {
    const s = await login(form.username.value.trim(), form.password.value, waiting);
    location.assign(sameOrigin(params.get('next')) || homeFor(s.user.role));
  } catch (e) {
    error.textContent = e.message;
    error.hidden = false;
    button.disabled = false;
    button.removeAttribute('aria-busy');
  }
});
