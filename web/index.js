// The landing page: log in, then go where the role works (or back to `?next=`).
import { login, homeFor } from './lib/muster.js';

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
