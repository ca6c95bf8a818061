// Shows the header's "Debrief" link (`#debrief-link`) when the hub runs an exercise
// (`GET /api/catalogue` says `exercise: true`). Asking the catalogue, which every hub
// answers, keeps a live hub's apps free of refused requests. The link says what it
// found in `data-exercise` (`yes`, `no`).

import { api, currentSession } from './muster.js';

const link = document.getElementById('debrief-link');
// Offline (the field app opened from its cache) nothing is asked: the link stays hidden.
if (link && currentSession() && navigator.onLine !== false) {
  api('/api/catalogue')
    .then((c) => { link.hidden = !c.exercise; link.dataset.exercise = c.exercise ? 'yes' : 'no'; })
    .catch(() => { link.dataset.exercise = 'no'; });
}
