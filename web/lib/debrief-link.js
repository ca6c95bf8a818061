// Shows the header's "Debrief" link (`#debrief-link`) when the hub runs an exercise,
// as the banner learns it (`GET /api/mode`, which every hub answers, so a live hub's
// apps log no refused request). The link says what it found in `data-exercise`
// (`yes`, `no`). Offline (the field app opened from its cache) nothing is asked: the
// link stays hidden.

import { currentSession } from './muster.js';
import { fetchExercise } from './exercise.js';

const link = document.getElementById('debrief-link');
if (link && currentSession()) {
  fetchExercise().then((ex) => {
    link.hidden = !ex;
    link.dataset.exercise = ex ? 'yes' : 'no';
  });
}
