// A tap on the whole log: a page holding a supervisor's WebSocket that keeps every event
// frame, with the time it arrived, so a browser test can count exactly what its clicks
// caused.

import assert from 'node:assert/strict';

/** Polls `cond` every 25 ms until it holds, or fails naming `what` after `ms`. */
export async function waitFor(cond, what = 'condition', ms = 5000) {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Opens the tap in a page of `ui` with the supervisor token `sup`; `api` sends the
 * barrier broadcasts. Answers `{ seen, barrier, once }`.
 */
export async function openTap(ui, api, sup) {
  const { page: tap } = await ui.open('tap', { viewport: { width: 800, height: 600 } });
  await tap.goto('/');
  await tap.evaluate((token) => new Promise((resolve) => {
    window.frames_ = [];
    const ws = new WebSocket(`ws://${location.host}/ws`);
    ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', token }));
    ws.onmessage = (m) => {
      const f = JSON.parse(m.data);
      if (f.type === 'welcome') resolve();
      if (f.type === 'event') window.frames_.push({ ...f, arrived: Date.now() });
    };
  }), sup);

  /** The event frames seen so far of `kind` matching `pred(event, frame)`. */
  async function seen(kind, pred = () => true) {
    const frames = await tap.evaluate(() => window.frames_);
    return frames.filter((f) => f.event.kind === kind && pred(f.event, f));
  }

  /**
   * Everything sent before now has reached the log and the tap: a command made after
   * the clicks settled, whose event comes after anything they caused.
   */
  async function barrier() {
    const text = `barrier ${Math.random()}`;
    await api.command(sup, { kind: 'message.broadcast', audience: 'all', text });
    await waitFor(async () => (await seen('message.broadcast', (e) => e.message.text === text)).length === 1);
  }

  /**
   * Double-clicks `button`, waits for the intent's event, lets the page settle (the
   * button no longer busy, if it is still there) and passes a barrier: then there must
   * be exactly one event of `kind` matching `pred`.
   */
  async function once(button, kind, pred, label) {
    await button.dblclick({ delay: 40 });
    await waitFor(async () => (await seen(kind, pred)).length >= 1, `${label}: ${kind}`);
    await button.page().waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
    await barrier();
    const got = await seen(kind, pred);
    assert.equal(got.length, 1, `${label}: one ${kind} per double click, got ${got.length}`);
    return got[0];
  }

  return { seen, barrier, once };
}
