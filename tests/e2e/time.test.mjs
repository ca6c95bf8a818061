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
