// Shows the header's "Debrief" link (`#debrief-link`) when the hub runs an exercise:
// `GET /api/exercise` answers 200. A live hub answers 404 `not_an_exercise`; a hub
// without that route (404 `not_found`) is asked for the debrief itself instead.

import { currentSession } from './muster.js';

async function exerciseRunning() {
  const token = currentSession()?.token;
  if (!token) return false;
  for (const path of ['/api/exercise', '/api/exercise/debrief']) {
    const res = await fetch(path, { headers: { authorization: `Bearer ${token}` } }).catch(() => null);
    if (!res) return false;
    if (res.ok) return true;
    const body = await res.json().catch(() => ({}));
    if (body.error?.code !== 'not_found') return false;
  }
  return false;
}

const link = document.getElementById('debrief-link');
if (link) exerciseRunning().then((yes) => { link.hidden = !yes; });
