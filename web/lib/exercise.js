// Exercise mode's banner: under `muster exercise` every page shows, at its top, a
// permanent EXERCISE banner (not dismissible; role="status") naming the scenario and
// the speed, and the tab's title starts with "EXERCISE". It asks GET /api/mode, which
// every hub answers (`{mode: "live"}` shows nothing; GET /api/exercise would be a 404
// there) and which needs no session, so the log-in page shows the banner too. muster.js calls this once on every
// page that imports it (every app), so a new page gets the banner by importing it.
//
// The hub's clock runs `speed` times faster than real time under an exercise, so the
// apps' running clocks (how long a contact has waited, a target's countdown, the next
// check-in) read `hubNow()`, which follows it once the banner has learnt the exercise.

const RECHECK_MS = 15000;

/** The exercise whose clock the page follows, or null (live: the browser's clock). */
let hubClock = null;

/**
 * The hub's clock at the browser's `real` time (ms): under an exercise,
 * `started_at + (real − started_at) × speed` (the hub's scaled clock started at
 * `started_at` in real time too); the browser's clock otherwise.
 */
export function hubNow(real = Date.now()) {
  if (!hubClock) return real;
  const start = Date.parse(hubClock.started_at);
  const speed = Number(hubClock.speed);
  if (!Number.isFinite(start) || !(speed > 0)) return real;
  return start + (real - start) * speed;
}

/** Follows `ex`'s clock (`{started_at, speed}` of GET /api/mode), or the browser's for null. */
export function useHubClock(ex) {
  hubClock = ex ? { started_at: ex.started_at, speed: ex.speed } : null;
}

/** The banner's text for `{title, status, speed}`. */
export function bannerText(ex) {
  const speed = Number(ex.speed) === 1 ? 'real time' : `speed ×${ex.speed}`;
  const ended = ex.status === 'ended' ? ' (ended)' : '';
  return `EXERCISE${ended} — ${ex.title} (${speed})`;
}

/** The exercise this hub runs (`GET /api/mode`), or null: live, offline or unreachable. */
export async function fetchExercise() {
  // Offline (the field app from its cache): asking would only log a failed request.
  if (navigator.onLine === false) return null;
  try {
    const res = await fetch('/api/mode', { cache: 'no-store' });
    if (!res.ok) return null;
    return (await res.json()).exercise ?? null;
  } catch {
    return null;
  }
}

function render(ex) {
  let banner = document.getElementById('exercise-banner');
  if (!banner) {
    banner = document.createElement('aside');
    banner.id = 'exercise-banner';
    banner.className = 'exercise-banner';
    banner.setAttribute('aria-label', 'Exercise');
    const text = document.createElement('p');
    text.setAttribute('role', 'status');
    banner.append(text);
    document.body.prepend(banner);
    document.documentElement.classList.add('exercise');
  }
  banner.dataset.status = ex.status;
  banner.dataset.scenario = ex.scenario;
  banner.firstElementChild.textContent = bannerText(ex);
  prefixTitle();
}

/** "EXERCISE | <the app's title>", kept when an app changes its title (a count of new tasks). */
function prefixTitle() {
  if (!document.title.startsWith('EXERCISE')) document.title = `EXERCISE | ${document.title}`;
}

function keepTitlePrefixed() {
  let el = document.querySelector('title');
  if (!el) {
    el = document.createElement('title');
    document.head.append(el);
  }
  new MutationObserver(prefixTitle).observe(el, { childList: true, characterData: true, subtree: true });
}

let started = false;

/** Shows the banner when this hub runs an exercise, and keeps it current. */
export async function exerciseBanner() {
  if (started || typeof document === 'undefined') return;
  started = true;
  if (navigator.onLine === false) {
    addEventListener('online', () => { started = false; exerciseBanner(); }, { once: true });
    return;
  }
  const ex = await fetchExercise();
  if (!ex) return;
  useHubClock(ex);
  render(ex);
  keepTitlePrefixed();
  setInterval(async () => {
    const now = await fetchExercise();
    if (now) render(now);
  }, RECHECK_MS);
}
