// The review page and the case pages in real headless Chromium against a real hub whose
// log is seeded through the API: incidents taken by two operators at two priorities,
// through dispatch, acknowledgement, arrival and resolution, one reassessed up and one
// down, and a complaint closed as upheld. Any console error or page error fails the test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { useHub, logIn, ROOT } from './hub.mjs';
import { seedReview } from './seed.mjs';

const SHOTS = join(ROOT, 'target', 'e2e-screenshots');
const DESKTOP = { viewport: { width: 1366, height: 768 } };

let seeded; // what the seed made: {incidents, byOperator, caseId, …}

const { api, ui } = useHub({
  setup: async () => {
    mkdirSync(SHOTS, { recursive: true });
    seeded = await seedReview(api);
  },
});

function open(name, options = DESKTOP) {
  return ui.open(name, options);
}

// ----- the tests ---------------------------------------------------------------------------

test('the review page charts the seeded log and follows a change of grouping', async () => {
  const { page } = await open('review');
  await logIn(page, 'supervisor', '/review');
  await page.waitForSelector('body[data-loaded="operator"]');

  // One row per operator with the counts the seed made.
  const idOf = (username) => seeded.users.find((u) => u.username === username).id;
  const figure = (group, kpi) => page.locator(`#kpis tr[data-group="${group}"] td[data-kpi="${kpi}"]`).textContent();
  assert.equal(await figure(idOf('operator'), 'contacts'), '3');
  assert.equal(await figure(idOf('operator2'), 'contacts'), '2');
  assert.equal(await figure(idOf('operator'), 'dispatch.count'), '3');
  assert.equal(await figure(idOf('operator'), 'arrive.count'), '3');
  assert.equal(await figure(idOf('operator2'), 'resolve.count'), '2');
  assert.equal(await figure(idOf('operator'), 'complaints'), '1');
  assert.equal(await figure(idOf('operator'), 'upheld_complaints'), '1');
  assert.equal(await figure(idOf('operator'), 'reassessed_up'), '1');
  assert.equal(await figure(idOf('operator2'), 'reassessed_down'), '1');
  assert.equal(await page.locator('#kpis tfoot td[data-kpi="contacts"]').textContent(), '5');
  assert.equal(await page.locator('#triage-table tr[data-method="manual"] td[data-kpi="up"]').textContent(), '1 (50%)');

  // The charts are drawn: uPlot canvases with a real size, one per interval and more.
  const sizes = await page.locator('.uplot canvas').evaluateAll((cs) => cs.map((c) => [c.width, c.height]));
  assert.ok(sizes.length >= 7, `charts drawn: ${sizes.length}`);
  for (const [w, h] of sizes) assert.ok(w > 100 && h > 100, `canvas ${w}×${h}`);
  for (const k of ['answer', 'dispatch', 'acknowledge', 'arrive', 'resolve']) {
    await page.locator(`#chart-${k} .uplot canvas`).waitFor();
  }
  await page.locator('#chart-within .uplot canvas').waitFor();
  await page.locator('#chart-triage .uplot canvas').waitFor();
  // Names, not ids, in the table.
  assert.match(await page.locator('#kpis tbody').textContent(), /\(operator\)|[A-Z][a-z]+ [A-Z]/);
  assert.equal(await page.locator('#findings li').count() > 0, true, 'findings or their empty state');
  await page.screenshot({ path: join(SHOTS, 'review-desktop.png'), fullPage: true });

  // Grouping by priority redraws the table and the charts.
  await page.getByLabel('Group by').selectOption('priority');
  await page.waitForSelector('body[data-loaded="priority"]');
  assert.equal(await page.locator('#kpis tr[data-group="P2"] td[data-kpi="contacts"]').textContent(), '2');
  assert.equal(await page.locator('#kpis tr[data-group="P3"] td[data-kpi="contacts"]').textContent(), '3');
  assert.match(await page.locator('#chart-dispatch .plot').getAttribute('aria-label'), /per priority/);
  assert.equal(await page.locator('#dist .uplot').count(), 5, 'the old charts were replaced, not added to');
});

test('the CSV download carries the same figures', async () => {
  const { page } = await open('review-csv');
  await logIn(page, 'supervisor', '/review');
  await page.waitForSelector('body[data-loaded="operator"]');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
  assert.match(download.suggestedFilename(), /^muster-review-operator-.*\.csv$/);
  const text = await (await import('node:fs/promises')).readFile(await download.path(), 'utf8');
  assert.match(text.split('\n')[0], /^key,contacts,answer_count/);
  assert.equal(text.trim().split('\n').length, 3, 'a header and two operators');
});

test('an operator is told the review is for supervisors', async () => {
  const { page } = await open('review-operator');
  await logIn(page, 'operator', '/review');
  await page.getByRole('heading', { name: 'Supervisors only' }).waitFor();
  assert.equal(await page.locator('#content').isHidden(), true);
});

test('the case page shows the evidence pack with the incident timeline', async () => {
  const { page } = await open('case');
  await logIn(page, 'supervisor', '/console');
  const row = page.locator(`#case-list [data-case="${seeded.caseId}"]`);
  await row.waitFor();
  assert.match(await row.textContent(), /complaint/);
  assert.match(await row.textContent(), /closed/);
  await row.getByRole('button').first().click();
  const pack = page.locator('#page [data-evidence]');
  await pack.locator('.timeline li').first().waitFor();
  const timeline = await pack.locator('.timeline').first().textContent();
  for (const kind of ['incident opened', 'incident assessed', 'assignment created', 'assignment acknowledged', 'incident resolved']) {
    assert.ok(timeline.includes(kind), `the timeline shows ${kind}`);
  }
  assert.match(await page.locator('#page').textContent(), /upheld/);
  assert.match(await page.locator('#page').textContent(), /late dispatch/);
  await page.screenshot({ path: join(SHOTS, 'case-desktop.png') });

  // The printable pack opens in a new tab when the hub makes one; otherwise the tab
  // closes again and the page says why.
  const [tab] = await Promise.all([page.context().waitForEvent('page'), page.getByRole('button', { name: 'Printable evidence pack' }).click()]);
  const opened = await Promise.race([
    // Waiting for the URL fails as soon as the tab closes: that too means "not opened".
    tab.waitForURL(/^blob:/, { timeout: 5000 }).then(() => true, () => false),
    tab.waitForEvent('close', { timeout: 5000 }).then(() => false, () => false),
  ]);
  if (opened) assert.match(await tab.locator('body').textContent(), /INC-/);
  else assert.match(await page.locator('#errors').textContent(), /printable evidence packs/);
});

test('findings in the report can be turned into improvement actions that move through their states', async () => {
  const { page } = await open('review-findings');
  const operator = seeded.users.find((u) => u.username === 'operator');
  // The hub's findings are another piece of work; add one to the real report so the
  // page's handling of them is checked whatever the hub computes.
  const finding = { id: 'fnd-e2e-1', rule: 'operator_dispatch_p90', area: 'resource_selection', by: 'operator', key: operator.id,
    figure: 'dispatch_p90_secs', value: 300, threshold: 180, baseline: 120, samples: 24,
    message: `${operator.name}'s 90th percentile time to dispatch is above 1.5× the team's median` };
  await page.route('**/api/reports/performance?*', async (route) => {
    const res = await route.fetch();
    if (!(res.headers()['content-type'] || '').includes('json')) return route.fulfill({ response: res });
    const body = await res.json();
    body.findings = [finding];
    body.improvements = [{ improvement_id: 'imp-e2e-old', title: 'Earlier action', status: 'done', finding_id: 'fnd-e2e-0',
      figure: 'dispatch_p90_secs', before: 300, after: 200, moved: 'better' }];
    return route.fulfill({ response: res, json: body });
  });
  await logIn(page, 'supervisor', '/review');
  await page.waitForSelector('body[data-loaded="operator"]');
  const item = page.locator('#findings [data-finding="fnd-e2e-1"]');
  assert.match(await item.textContent(), /5\.0 min/);
  assert.match(await item.textContent(), /3\.0 min/);
  // An action from an earlier review says whether its figure moved, in words.
  assert.match(await page.locator('#improvements [data-improvement="imp-e2e-old"]').textContent(), /5\.0 min → 3\.3 min ▼ better/);
  await item.getByRole('button', { name: 'Raise improvement action' }).click();
  await item.getByLabel('Title').fill('Coach on choosing resources');
  assert.equal(await item.getByLabel('Owner').inputValue(), operator.id, 'the operator the finding is about owns it by default');
  await item.getByRole('button', { name: 'Raise action' }).click();
  const action = page.locator('#improvements [data-improvement]').filter({ hasText: 'Coach on choosing resources' });
  await action.waitFor();
  assert.equal(await action.getAttribute('data-status'), 'open');
  await item.getByText('Action raised: Coach on choosing resources (open)').waitFor();
  const id = await action.getAttribute('data-improvement');
  await action.getByRole('button', { name: 'Start' }).click();
  const raised = page.locator(`#improvements [data-improvement="${id}"]`);
  await page.locator(`#improvements [data-improvement="${id}"][data-status="in_progress"]`).waitFor();
  await raised.getByRole('button', { name: 'Mark done' }).click();
  await page.locator(`#improvements [data-improvement="${id}"][data-status="done"]`).waitFor();
});

test('a support plan: proposed, agreed by the colleague alone, unseen by another operator, due on the review page', async () => {
  const { page: sup } = await open('plans-supervisor');
  await logIn(sup, 'supervisor', '/console');
  await sup.getByRole('button', { name: 'Propose support' }).click();
  const operator = seeded.users.find((u) => u.username === 'operator');
  await sup.locator('#np-colleague').selectOption(operator.id);
  const areas = sup.getByRole('group', { name: 'Areas' });
  if (await areas.count()) await areas.getByLabel('resource selection').check();
  else await sup.getByLabel('Areas (comma-separated)').fill('resource_selection');
  const type = sup.getByLabel('Type of support');
  if (await type.evaluate((el) => el.tagName === 'SELECT')) await type.selectOption('coaching'); else await type.fill('coaching');
  const soon = new Date(Date.now() + 7 * 86400000).toISOString().slice(0, 10);
  await sup.getByLabel('Review on').fill(soon);
  await sup.getByRole('button', { name: 'Propose plan' }).click();
  await sup.getByRole('heading', { name: /Support for .* proposed/ }).waitFor();
  const planId = await sup.locator('#plan-list [data-plan]').first().getAttribute('data-plan');

  const { page: op } = await open('plans-operator');
  await logIn(op, 'operator', '/console');
  await op.locator(`#plan-list [data-plan="${planId}"]`).getByRole('button', { name: 'My support plan' }).click();
  await op.getByRole('button', { name: 'I agree to this plan' }).click();
  await op.locator(`#plan-list [data-plan="${planId}"][data-status="active"]`).waitFor();
  await sup.locator(`#plan-list [data-plan="${planId}"][data-status="active"]`).waitFor();
  assert.match(await sup.locator('#page').textContent(), /Agreed.*by /);

  const { page: other } = await open('plans-operator2');
  await logIn(other, 'operator2', '/console');
  await other.locator('#plan-list').getByText('No support plans.').waitFor();
  assert.equal(await other.locator('#plan-list [data-plan]').count(), 0, 'another operator sees no plan');

  await sup.goto('/review');
  await sup.locator(`#plans-due [data-plan="${planId}"]`).waitFor();
  assert.match(await sup.locator(`#plans-due [data-plan="${planId}"]`).textContent(), new RegExp(soon));
});

test('an operator opens a query in the console, answers it and closes it', async () => {
  const { page } = await open('case-operator');
  await logIn(page, 'operator', '/console');
  await page.getByRole('button', { name: 'Open a case' }).click();
  await page.locator('#nc-type').selectOption('query');
  await page.locator('#nc-incident').selectOption(seeded.plan[2].incident);
  await page.locator('#nc-from').fill('Building 3 manager');
  await page.locator('#nc-text').fill('Was an ambulance called?');
  await page.locator('#nc-email').fill('manager@example.org');
  await page.getByRole('button', { name: 'Open case' }).click();
  await page.getByRole('heading', { name: /^Query case_.* open$/ }).waitFor();
  const id = await page.locator('#case-list li.selected').getAttribute('data-case');
  // The address the response is e-mailed to (tests/e2e/gateways.test.mjs sends it).
  assert.match(await page.locator('#page').textContent(), /Reply by e-mail\s*manager@example\.org/);
  await page.locator('#page [data-evidence] .timeline li').first().waitFor();

  await page.getByRole('button', { name: 'Assign' }).click();
  await page.locator(`#case-list [data-case="${id}"][data-status="assigned"]`).waitFor();
  await page.locator('#case-response').fill('No ambulance was needed: the first aider treated them on scene.');
  await page.getByRole('button', { name: 'Send response' }).click();
  await page.locator(`#case-list [data-case="${id}"][data-status="responded"]`).waitFor();
  assert.equal(await page.locator('#case-outcome').inputValue(), 'answered', 'a query is closed as answered');
  await page.getByRole('button', { name: 'Close case' }).click();
  await page.locator(`#case-list [data-case="${id}"][data-status="closed"]`).waitFor();
  assert.match(await page.locator('#page').textContent(), /Outcome\s*answered/);
});
