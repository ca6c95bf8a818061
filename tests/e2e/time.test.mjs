// The apps order records by time. The hub spells whole seconds `…:18Z` and others
// `…:18.250Z`; as strings those sort wrongly (`.` before `Z`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byTime } from '../../web/lib/ui.js';

test('timestamps sort by the instant, whichever way the hub spelled them', () => {
  const times = ['2026-12-06T10:00:18.250Z', '2026-12-06T10:00:18Z', '2026-12-06T10:00:17.999Z', '2026-12-06T10:00:18.000Z'];
  const sorted = [...times].sort(byTime);
  assert.deepEqual(sorted.map((t) => Date.parse(t)), [17999, 18000, 18000, 18250].map((ms) => Date.parse('2026-12-06T10:00:00Z') + ms));
  assert.equal(['2026-12-06T10:00:18Z', '2026-12-06T10:00:18.250Z'].sort()[0], '2026-12-06T10:00:18.250Z', 'as strings the later time sorts first');
});

test("under an exercise the apps' clocks follow the hub's scaled clock, else the browser's", async () => {
  const { hubNow, useHubClock } = await import('../../web/lib/exercise.js');
  const { age } = await import('../../web/lib/ui.js');
  const { clockWords } = await import('../../web/lib/targets.js');
  const real = Date.parse('2026-12-06T10:00:10Z');
  assert.equal(hubNow(real), real, 'live: the browser clock');
  // Started at 10:00:00 at ×20: ten real seconds later the hub's clock says 10:03:20.
  useHubClock({ started_at: '2026-12-06T10:00:00.000Z', speed: 20 });
  try {
    assert.equal(hubNow(real), Date.parse('2026-12-06T10:03:20Z'));
    assert.equal(age('2026-12-06T10:00:00Z', hubNow(real)), '3 min 20 s');
    assert.equal(clockWords({ deadline: Date.parse('2026-12-06T10:05:00Z') }, hubNow(real)), '1 min 40 s left');
    // The defaults read the hub's clock: a contact received on it just now is 0 s old,
    // where the browser's clock would make it minutes in the future.
    const justNow = new Date(hubNow()).toISOString();
    assert.match(age(justNow), /^[01] s$/);
  } finally {
    useHubClock(null);
  }
  assert.equal(hubNow(real), real, 'back on the browser clock');
});
