// The exercise debrief page and the debrief as evidence on a support plan, in headless
// Chromium against a real (live) hub. The debrief itself is the hub's in an exercise;
// here `GET /api/exercise/debrief` is answered with a fixture in its shape (the route's
// figures are tested in tests/exercise_debrief.rs and crates/core/tests/debrief.rs),
// so the page's rendering, keyboard use, accessibility and download are tested on
// known data, hostile text included. The download is then attached to the trainee's
// support plan on the real hub, and the plan's page shows it with its score.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { useHub, logIn } from './hub.mjs';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const DESKTOP = { viewport: { width: 1366, height: 768 }, acceptDownloads: true };
const HOSTILE = '<img src=x onerror="window.__pwned=1">';

let users; // username → id on the hub
const { api, ui } = useHub({
  setup: async () => {
    const state = await api.get('/api/state', await api.login('supervisor'));
    users = Object.fromEntries(state.users.map((u) => [u.username, u.id]));
  },
});

/** A debrief in the route's shape: two trainees, one incident. */
function fixture() {
  const op = users.operator;
  const op2 = users.operator2;
  const trainee = (user_id, name, score, penalties, triage) => ({
    user_id, name, score,
    answer: { count: 3, median_secs: 6, worst_secs: 21, over_target: 1 },
    dispatch: { count: 2, median_secs: 50, worst_secs: 203, over_target: 1 },
    triage,
    questions_skipped: 0, violations: [], escalations_missed: 0,
    overrides: [{ incident: 'inc_9', rule: 'required_skills', justification: HOSTILE, by: users.supervisor, at: '2026-03-02T18:05:00Z' }],
    duplicates: { linked: 1, missed: 1 },
    penalties,
  });
  return {
    scenario: 'busy-evening', title: 'A busy evening', started_at: '2026-03-02T18:00:00Z', speed: 20, generated_at: '2026-03-02T18:40:00Z',
    trainees: [
      trainee(op, 'Priya Shah', 78, [
        { rule: 'late_dispatch', points: 5, detail: 'INC-2026-000009 dispatched after 203s (target 120s)' },
        { rule: 'under_triage', points: 10, detail: `INC-2026-000009 (c01) given P3, expected P2 ${HOSTILE}` },
        { rule: 'override', points: 2, detail: 'INC-2026-000009: required_skills waived' },
        { rule: 'duplicate_missed', points: 5, detail: 'contact c02 (a duplicate of c01) went to a new incident' },
      ], { assessed: 1, correct: 0, under: 1, over: 0, items: [{ contact: 'c01', incident: 'inc_9', expected: 'P2', given: 'P3', method: 'manual', why: HOSTILE }] }),
      trainee(op2, 'Tom Becker', 100, [], { assessed: 1, correct: 1, under: 0, over: 0, items: [{ contact: 'c03', incident: 'inc_9', expected: 'P1', given: 'P1', method: 'protocol', rule: 'not breathing', why: 'not breathing' }] }),
    ],
    incidents: [{ id: 'inc_9', reference: 'INC-2026-000009', timeline: [
      { at: '2026-03-02T18:01:00Z', actor: op, kind: 'incident.opened', summary: 'opened as medical_emergency' },
      { at: '2026-03-02T18:04:23Z', actor: op, kind: 'assignment.created', summary: `${HOSTILE} assigned` },
    ] }],
  };
}

/** Answers the debrief route with `body` (filtered by `user_id`, as the hub does). */
async function serveDebrief(page, body) {
  await page.route('**/api/exercise/debrief**', (route) => {
    const url = new URL(route.request().url());
    const only = url.searchParams.get('user_id');
    const d = structuredClone(body);
    if (only) d.trainees = d.trainees.filter((t) => t.user_id === only);
    route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(d) });
  });
}

async function audit(page, where) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const blocking = result.violations.filter((v) => ['serious', 'critical'].includes(v.impact));
  assert.deepEqual(blocking.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), [], `${where}: axe`);
}

test('a live hub: no debrief link in the apps, and the page says there is no exercise', async () => {
  const { context, page } = await ui.open('live', DESKTOP);
  await logIn(page, 'supervisor', '/board');
  await page.waitForSelector('#debrief-link[data-exercise="no"]', { state: 'attached' });
  assert.equal(await page.locator('#debrief-link').isHidden(), true);
  await context.close();
});

test('the supervisor reads every trainee, picks one by keyboard, and downloads the debrief', async () => {
  const { context, page } = await ui.open('debrief', DESKTOP);
  await serveDebrief(page, fixture());
  await logIn(page, 'supervisor', '/debrief');
  await page.locator('section.trainee').nth(1).waitFor();

  const priya = page.locator(`section.trainee[data-user="${users.operator}"]`);
  assert.equal(await priya.locator('.score').textContent(), '78 / 100');
  assert.match(await priya.locator('[data-figure="dispatch"]').textContent(), /median 50 s · worst 3 min 23 s · 1 over target/);
  assert.match(await priya.locator('[data-figure="triage"]').textContent(), /0 of 1 as expected · 1 under-triaged/);
  assert.deepEqual(await priya.locator('table.penalties tbody tr').evaluateAll((rs) => rs.map((r) => r.dataset.rule)),
    ['late_dispatch', 'under_triage', 'override', 'duplicate_missed']);
  assert.equal(await priya.locator('table.triage tbody tr.under').count(), 1);
  assert.equal(await page.locator(`section.trainee[data-user="${users.operator2}"] .score`).textContent(), '100 / 100');
  assert.match(await page.locator('#incidents').textContent(), /INC-2026-000009.*Priya Shah: assignment created/s);
  // Text from the hub is text: the hostile strings are shown, never run.
  assert.equal(await page.locator('#debrief img').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.ok((await priya.textContent()).includes(HOSTILE));
  await audit(page, 'debrief, every trainee');

  // Keyboard only: to the trainee picker, choose the first trainee.
  await page.locator('#trainee').focus();
  await page.keyboard.press('ArrowDown');
  await page.locator('section.trainee').nth(1).waitFor({ state: 'detached' });
  assert.equal(await page.locator('section.trainee').count(), 1);
  assert.equal(await page.locator('section.trainee').getAttribute('data-user'), users.operator);

  // The download: the debrief shown, with one evidence entry per trainee.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download debrief (JSON)' }).click()]);
  const doc = JSON.parse(readFileSync(await download.path(), 'utf8'));
  assert.equal(doc.scenario, 'busy-evening');
  assert.equal(doc.evidence.length, 1);
  const e = doc.evidence[0];
  assert.deepEqual([e.kind, e.trainee_id, e.score, e.started_at], ['exercise_debrief', users.operator, 78, '2026-03-02T18:00:00Z']);
  assert.deepEqual(e.figures.triage, { assessed: 1, correct: 0, under: 1, over: 0 });
  await context.close();

  // The supervisor proposes Priya's support plan, then attaches the download to it.
  const sup = await api.login('supervisor');
  const { data: { plan_id: planId } } = await api.command(sup, { kind: 'support.propose', colleague_id: users.operator, areas: ['intake'], support_type: 'coaching', review_on: '2030-01-31' });
  const c = await ui.open('plan', DESKTOP);
  await logIn(c.page, 'supervisor', '/console');
  await c.page.goto(`/console#plan=${planId}`);
  await c.page.waitForSelector('#conn[data-state="live"]');
  const plan = c.page.locator('.plan-page');
  await plan.getByText('No exercise debrief attached.').waitFor();
  await plan.getByLabel(/Debrief file/).setInputFiles({ name: 'debrief.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(doc)) });
  await plan.getByRole('button', { name: 'Attach exercise debrief' }).click();
  await plan.locator('ul.evidence li[data-score="78"]').waitFor();
  assert.match(await plan.locator('ul.evidence').textContent(), /78 \/ 100 busy-evening exercise of 2026-03-02/);
  await audit(c.page, 'plan page with a debrief');
  // The same file again: refused, and said so.
  await plan.getByLabel(/Debrief file/).setInputFiles({ name: 'debrief.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(doc)) });
  await plan.getByRole('button', { name: 'Attach exercise debrief' }).click();
  await c.page.locator('#errors[data-code="conflict"]').waitFor();
  await c.context.close();
  // Priya (the trainee) sees it on her plan, through the hub.
  const state = await api.get('/api/state', await api.login('operator'));
  const mine = state.plans.find((p) => p.id === planId);
  assert.equal(mine.evidence.length, 1);
  assert.equal(mine.evidence[0].score, 78);
  assert.equal(mine.evidence[0].attached_by, users.supervisor);
});

test('a trainee sees only their own debrief, without the picker', async () => {
  const { context, page } = await ui.open('trainee', DESKTOP);
  const mine = fixture();
  mine.trainees = mine.trainees.filter((t) => t.user_id === users.operator2);
  await serveDebrief(page, mine);
  await logIn(page, 'operator2', '/debrief');
  await page.locator('section.trainee').waitFor();
  assert.equal(await page.locator('#trainee-label').isHidden(), true);
  assert.equal(await page.locator('section.trainee').count(), 1);
  assert.match(await page.locator('section.trainee').textContent(), /No penalties/);
  await audit(page, 'debrief, a trainee');
  await context.close();
});
