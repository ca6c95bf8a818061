// The landing page: log in, then go where the role works (or back to `?next=`).
import { login, homeFor } from './lib/muster.js';

const form = document.getElementById('login');
const error = document.getElementById('login-error');
const params = new URLSearchParams(location.search);
if (params.get('expired')) {
  error.textContent = 'Your session ended. Log in again; anything you did offline is still queued.';
  error.hidden = false;
}

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  error.hidden = true;
  try {
    const s = await login(form.username.value.trim(), form.password.value);
    const next = params.get('next');
    // Only same-site paths, so a crafted link cannot send the user elsewhere.
    location.assign(next && next.startsWith('/') && !next.startsWith('//') ? next : homeFor(s.user.role));
  } catch (e) {
    error.textContent = e.message;
    error.hidden = false;
  }
});
