// The operators' /status page's last hour (GET /status/history, operators only): its
// charts, events and routes in headless Chromium under the page's strict content
// security policy, and axe-core's WCAG 2.1 AA audit of the page before and after sign-in.
//
// EXPECT_ROLE_CHANGE=<region>: after a failover drill promoted <region>, the promotion
// must be marked on the timeline; unset, that test is reported as skipped.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  GATEWAY_URL,
  STATUS_TOKEN,
  TIMEOUT_MS,
  auditAccessibility,
  describeViolations,
  launch,
  openPage,
  screenshot,
} from './support.mjs';

const CHARTS = ['lag-seconds', 'lag-bytes', 'latency', 'requests', 'error-rate', 'p50', 'p99'];
const EXPECT_ROLE_CHANGE = process.env.EXPECT_ROLE_CHANGE?.trim() || '';
let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

async function signIn(page) {
  await page.fill('#operator-token', STATUS_TOKEN);
  await page.click('#operator button[type="submit"]');
  await page.waitForSelector('#view[data-details="true"]', { timeout: TIMEOUT_MS });
  await page.waitForSelector('#history[data-loaded="true"]', { timeout: TIMEOUT_MS });
}

async function assertAccessible(page, when) {
  const violations = await auditAccessibility(page);
  assert.deepEqual(violations, [], `axe (WCAG 2.1 AA) ${when}:\n${describeViolations(violations)}`);
}

/**
 * The charts' own colours against the page's background, which axe leaves "to review"
 * (it cannot tell what is behind SVG text): text at least 4.5:1, lines and markers at
 * least 3:1 (WCAG 2.1 1.4.3 and 1.4.11). Returns what falls short.
 */
function chartContrast(page) {
  return page.evaluate(() => {
    const rgb = (color) => (color.match(/[\d.]+/g) || []).slice(0, 3).map(Number);
    const luminance = (c) => {
      const [r, g, b] = c.map((v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4));
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const ratio = (a, b) => {
      const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
      return (hi + 0.05) / (lo + 0.05);
    };
    const background = getComputedStyle(document.body).backgroundColor;
    const short = new Set();
    const check = (selector, property, minimum) => {
      for (const node of document.querySelectorAll(selector)) {
        const color = getComputedStyle(node)[property];
        const r = ratio(rgb(color), rgb(background));
        if (!(r >= minimum)) short.add(`${selector}: ${property} ${color} on ${background} is ${r.toFixed(2)}:1, under ${minimum}:1`);
      }
    };
    check('svg[data-chart] text', 'fill', 4.5);
    check('svg[data-chart] path.series, svg[data-chart] g.event line, #legend line', 'stroke', 3);
    check('svg[data-chart] circle.point', 'fill', 3);
    return [...short];
  });
}

/**
 * Console errors and uncaught exceptions: a CSP violation is a console error. `refused`:
 * the test gave a wrong token on purpose, so Chromium's own "Failed to load resource ...
 * 401" lines are expected.
 */
function assertQuiet(seen, { refused = false } = {}) {
  assert.deepEqual(seen.errors, [], 'no uncaught exception');
  const expected = (m) => refused && /Failed to load resource: the server responded with a status of 401/.test(m.text);
  assert.deepEqual(seen.console.filter((m) => m.type === 'error' && !expected(m)), [], 'no console errors (a CSP violation is one)');
}

test('status page history: charts, routes and the accessibility audit', { timeout: 90_000 }, async (t) => {
  const { context, page, seen } = await openPage(browser);
  try {
    await page.goto(`${GATEWAY_URL}/status`);
    await page.waitForSelector('#status[data-loaded="true"]');
    // Public view: the history is for operators only, and is not shown.
    assert.equal(await page.locator('#history').isHidden(), true);
    await assertAccessible(page, 'before sign-in');

    await signIn(page);
    assert.equal(await page.locator('#history').isVisible(), true);
    assert.equal(await page.locator('#error').isHidden(), true, await page.locator('#error').textContent());

    // Each chart is an image with a name and a description, and draws a line for every
    // region it has data for (the page's own /health polls make probes and requests,
    // so every chart has some within a few polls).
    await page.waitForFunction(
      (ids) => ids.every((id) => document.querySelector(`svg[data-chart="${id}"] path.series[data-region]`)),
      CHARTS,
      { timeout: 30_000 },
    ).catch(() => {});
    const regions = await page.$$eval('tr[data-region]', (rows) => rows.map((r) => r.dataset.region));
    for (const id of CHARTS) {
      const chart = page.locator(`svg[data-chart="${id}"]`);
      assert.equal(await chart.count(), 1, `chart ${id}`);
      assert.equal(await chart.getAttribute('role'), 'img', `chart ${id} role`);
      const name = await chart.evaluate((svg) =>
        (svg.getAttribute('aria-labelledby') || '').split(/\s+/).map((id) => document.getElementById(id)?.textContent ?? '').join(' ').trim(),
      );
      assert.ok(name.length > 0, `chart ${id} has an accessible name`);
      assert.match(await chart.locator('desc').textContent(), /UTC/, `chart ${id} describes its window`);
      const lines = await chart.locator('path.series[data-region]').evaluateAll((paths) =>
        paths.map((p) => ({ region: p.dataset.region, d: p.getAttribute('d') ?? '' })),
      );
      assert.ok(lines.length > 0, `chart ${id} draws at least one region's line`);
      for (const line of lines) {
        assert.match(line.d, /^M[\d.]+ [\d.]+/, `chart ${id}: ${line.region}'s path`);
        const known = id === 'lag-seconds' || id === 'lag-bytes' || id === 'latency' ? regions : [...regions, 'edge'];
        assert.ok(known.includes(line.region), `chart ${id}: ${line.region} is one of ${known}`);
      }
      // Each line is named where it ends, not by colour alone.
      const labels = await chart.locator('text.end-label').allTextContents();
      assert.deepEqual(labels.sort(), lines.map((l) => l.region).sort(), `chart ${id} labels its lines`);
      // The x axis is the last hour in UTC.
      const ticks = await chart.locator('text.tick').allTextContents();
      assert.ok(ticks.some((t) => /^\d\d:\d0$/.test(t)), `chart ${id} has HH:MM ticks: ${ticks}`);
    }
    assert.ok((await page.locator('#legend li').count()) > 0, 'a text legend of the regions');

    // The routes table: route, requests, errors, p50, p99.
    const routes = await page.$$eval('#routes tr[data-route]', (rows) =>
      rows.map((row) => Object.fromEntries([...row.querySelectorAll('td[data-field]')].map((td) => [td.dataset.field, td.textContent.trim()]))),
    );
    assert.ok(routes.length > 0, 'the routes table has rows');
    for (const route of routes) {
      assert.match(route.route, /^[A-Z]+ \S+/, 'a method and a route');
      for (const field of ['requests', 'errors', 'p50', 'p99']) assert.match(route[field], /^\d+$/, `${route.route} ${field}`);
    }
    // Events are listed as text too, each with its UTC time.
    for (const item of await page.$$eval('#events li', (items) =>
      items.map((li) => ({ kind: li.dataset.kind, region: li.dataset.region, time: li.querySelector('time')?.dateTime ?? '' })),
    )) {
      assert.ok(['role', 'unreachable', 'reachable'].includes(item.kind), item.kind);
      assert.match(item.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, `${item.region} ${item.kind}`);
    }

    await assertAccessible(page, 'signed in, light');
    assert.deepEqual(await chartContrast(page), [], 'chart colours, light');
    await page.emulateMedia({ colorScheme: 'dark' });
    await assertAccessible(page, 'signed in, dark');
    assert.deepEqual(await chartContrast(page), [], 'chart colours, dark');
    await screenshot(page, `${t.name} (dark)`);
    await page.emulateMedia({ colorScheme: 'light' });

    // Forgetting the token hides the operators' history again; a wrong token gets none,
    // and the error area says why.
    await page.click('#forget');
    await page.waitForSelector('#history[data-loaded="false"]', { state: 'attached', timeout: TIMEOUT_MS });
    assert.equal(await page.locator('#history').isHidden(), true);
    await page.fill('#operator-token', 'payhuk_not_the_status_token_000000000');
    await page.click('#operator button[type="submit"]');
    await page.waitForFunction(() => /\/status\/history: HTTP 401/.test(document.getElementById('error').textContent), null, { timeout: TIMEOUT_MS });
    assert.match(await page.locator('#error').textContent(), /\/status\/history: HTTP 401.*operator token was refused/);
    assert.equal(await page.locator('#history').isHidden(), true);
    assert.equal(await page.locator('svg[data-chart] path.series').count(), 0, 'nothing of the last hour is left on the page');
    await page.click('#forget');
    await page.waitForSelector('#error', { state: 'hidden', timeout: TIMEOUT_MS });
    await signIn(page);
    assert.equal(await page.locator('#error').isHidden(), true);
    assertQuiet(seen, { refused: true });
  } finally {
    await screenshot(page, t.name);
    await context.close();
  }
});

test('a failover drill\'s role change is marked on the timeline', { timeout: 120_000 }, async (t) => {
  if (!EXPECT_ROLE_CHANGE) {
    t.skip('EXPECT_ROLE_CHANGE is not set: there is a promotion to look for only after a failover drill (set it to the promoted region, e.g. sfo1)');
    return;
  }
  const region = EXPECT_ROLE_CHANGE;
  const { context, page, seen } = await openPage(browser);
  try {
    await page.goto(`${GATEWAY_URL}/status`);
    await page.waitForSelector('#status[data-loaded="true"]');
    await signIn(page);
    const marker = `g.event[data-kind="role"][data-region="${region}"][data-to="primary"]`;
    // The page refreshes its history every 5 s: the promotion shows within a minute.
    await page.waitForFunction(
      ([sel, r]) =>
        document.querySelectorAll('svg[data-chart]').length > 0 &&
        [...document.querySelectorAll('svg[data-chart]')].every((svg) => svg.querySelector(sel)) &&
        document.querySelector(`#events li[data-kind="role"][data-region="${r}"][data-to="primary"]`),
      [marker, region],
      { timeout: 60_000 },
    ).catch(async (err) => {
      const listed = await page.$$eval('#events li', (items) => items.map((li) => li.textContent.trim()));
      assert.fail(`no promotion of ${region} to primary on every chart and in #events within 60 s (${err.message.split('\n')[0]}); events listed: ${JSON.stringify(listed)}`);
    });
    for (const svg of await page.locator('svg[data-chart]').all()) {
      const chart = await svg.getAttribute('data-chart');
      const found = await svg.locator(marker).evaluateAll((groups) =>
        groups.map((g) => {
          const plot = g.ownerSVGElement.querySelector('[data-plot]').getBoundingClientRect();
          const line = g.querySelector('line').getBoundingClientRect();
          return {
            x: line.left + line.width / 2,
            left: plot.left,
            right: plot.right,
            label: g.querySelector('text')?.textContent ?? '',
            title: g.querySelector('title')?.textContent ?? '',
          };
        }),
      );
      assert.ok(found.length >= 1, `${chart}: a marker for ${region}'s promotion`);
      for (const m of found) {
        assert.ok(m.x >= m.left - 0.5 && m.x <= m.right + 0.5, `${chart}: marker at ${m.x} inside the plot [${m.left}, ${m.right}]`);
        assert.equal(m.label, `${region} \u2192 primary`, `${chart}: the marker's visible label`);
        assert.match(m.title, new RegExp(`${region} changed role: .* \u2192 primary at \\d\\d:\\d\\d:\\d\\d UTC`), `${chart}: the marker's title`);
      }
    }
    const item = page.locator(`#events li[data-kind="role"][data-region="${region}"][data-to="primary"]`).first();
    assert.match(await item.textContent(), new RegExp(`^\\d\\d:\\d\\d:\\d\\d UTC .*${region} changed role: .* \u2192 primary$`));
    assert.match(await item.locator('time').getAttribute('datetime'), /Z$/);
    await page.locator(marker).first().scrollIntoViewIfNeeded();
    await screenshot(page, `failover ${region} promoted on the status timeline`);
    assertQuiet(seen);
  } finally {
    await context.close();
  }
});
