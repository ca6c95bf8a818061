// Loud until acknowledged: while the field app is open (on screen or in a background
// tab), a task waiting for this person's acknowledgement sounds an alert, vibrates where
// the phone can, and marks the tab (title and favicon), again every few seconds, until
// every waiting task is acknowledged or declined. Seeing the page does not stop it:
// only answering does. The sound is made with WebAudio (no media file); browsers let a
// page play sound only after a touch or key press, so the first one unlocks it.

const EVERY_MS = 4000;
const VIBRATION = [500, 200, 500, 200, 500];
const ALERT_ICON = '/favicon-alert.svg';

/** The alarm of this page: `update(waiting)` with the ids waiting, `now()` to ring at once. */
export function alarm() {
  const icon = document.querySelector('link[rel="icon"]');
  const quiet = { title: document.title, icon: icon?.getAttribute('href') };
  let audio = null;
  let timer = null;
  let waiting = new Set();

  const unlock = () => {
    try {
      if (!audio) {
        audio = new AudioContext();
        // Some phones (iOS Safari) unlock only on a sound started inside the touch itself.
        const silence = audio.createBufferSource();
        silence.buffer = audio.createBuffer(1, 1, audio.sampleRate);
        silence.connect(audio.destination);
        silence.start(0);
      }
      if (audio.state === 'suspended') audio.resume().catch(() => {});
    } catch { /* no WebAudio: vibration and the tab marks remain */ }
  };
  for (const type of ['pointerdown', 'keydown', 'touchend']) addEventListener(type, unlock, { capture: true, passive: true });

  /** Three rising tones, twice: loud enough to notice, short enough not to mask speech. */
  function sound() {
    if (!audio || audio.state !== 'running') return;
    const t0 = audio.currentTime + 0.02;
    [880, 1175, 1568, 880, 1175, 1568].forEach((hz, i) => {
      const at = t0 + i * 0.2 + (i >= 3 ? 0.25 : 0);
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = 'square';
      osc.frequency.value = hz;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.35, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.17);
      osc.connect(gain).connect(audio.destination);
      osc.start(at);
      osc.stop(at + 0.18);
    });
  }

  function ring() {
    sound();
    // Browsers refuse vibration (and complain) until the person has touched the page.
    if (navigator.vibrate && navigator.userActivation?.hasBeenActive !== false) navigator.vibrate(VIBRATION);
  }

  function mark() {
    const n = waiting.size;
    document.title = `● ${n === 1 ? 'New task' : `${n} new tasks`} — Muster field`;
    icon?.setAttribute('href', ALERT_ICON);
    document.documentElement.dataset.alarm = 'on';
  }

  function stop() {
    clearInterval(timer);
    timer = null;
    document.title = quiet.title;
    if (quiet.icon) icon?.setAttribute('href', quiet.icon);
    delete document.documentElement.dataset.alarm;
  }

  return {
    /** The assignments waiting now: rings at once for any new one, stops when none is left. */
    update(ids) {
      const fresh = [...ids].some((id) => !waiting.has(id));
      waiting = new Set(ids);
      if (!waiting.size) return stop();
      mark();
      if (fresh || !timer) {
        clearInterval(timer);
        ring();
        timer = setInterval(ring, EVERY_MS);
      }
    },
    /** Rings now (a renotify from the escalation ladder) if anything is waiting. */
    now() {
      if (!waiting.size) return;
      clearInterval(timer);
      ring();
      timer = setInterval(ring, EVERY_MS);
    },
  };
}
