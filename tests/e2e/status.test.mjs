// The operators' /status page in headless Chromium: same origin as the gateway, under
// its strict content security policy (a wrong script hash would leave the table empty
// and log a violation).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { GATEWAY_URL, STATUS_TOKEN, TIMEOUT_MS, health, launch, openPage, screenshot } from './support.mjs';

const REGIONS = ['fra1', 'iad1', 'sfo1'];
let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

/** What the page shows for each region, by `data-field`. */
function readRows(page) {
  return page.$$eval('tr[data-region]', (rows) =>
    rows.map((row) => {
      const fields = { region: row.dataset.region, healthy: row.dataset.healthy };
      for (const td of row.querySelectorAll('td[data-field]')) fields[td.dataset.field] = td.textContent.trim();
      return fields;
    }),
  );
}

/** Gives the page the operator token and waits for the details. */
async function signIn(page) {
  await page.fill('#operator-token', STATUS_TOKEN);
  await page.click('#operator button[type="submit"]');
  await page.waitForSelector('#view[data-details="true"]', { timeout: TIMEOUT_MS });
}

test('status page without a token shows each region\'s status and nothing inside', { timeout: 60_000 }, async (t) => {
  const { context, page, seen } = await openPage(browser);
  try {
    await page.goto(`${GATEWAY_URL}/status`);
    await page.waitForSelector('#status[data-loaded="true"]');
    assert.equal(await page.locator('#view').getAttribute('data-details'), 'false');
    // Replay is paused on both replicas for these tests (tests/stack/browser.rs): they
    // show as degraded, the primary as healthy, as the public report says. /health comes
    // from the gateway's last probe round, which may predate the pause: the page's next
    // polls catch up.
    await page.waitForFunction(
      () => ['sfo1', 'fra1'].every((r) => document.querySelector(`tr[data-region="${r}"]`)?.dataset.healthy === 'false'),
      null,
      { timeout: TIMEOUT_MS },
    );
    const rows = await readRows(page);
    assert.deepEqual(rows.map((r) => r.region).sort(), REGIONS);
    const response = await fetch(`${GATEWAY_URL}/health`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    const report = await response.json();
    assert.equal(report.details, false);
    for (const row of rows) {
      const reported = report.regions.find((r) => r.region === row.region);
      assert.deepEqual(Object.keys(reported).sort(), ['region', 'status'], row.region);
      assert.equal(row.state, reported.status === 'ok' ? 'healthy' : reported.status, row.region);
      assert.equal(row.healthy, String(reported.status === 'ok'), row.region);
      for (const field of ['role', 'lag-seconds', 'lag-bytes', 'latency', 'lsn', 'error']) {
        assert.equal(row[field], '-', `${row.region} ${field}`);
      }
    }
    assert.equal(rows.find((r) => r.region === 'iad1').state, 'healthy');
    assert.equal(rows.find((r) => r.region === 'fra1').state, 'degraded');
    // A wrong token is refused, and says so.
    await page.fill('#operator-token', 'payhuk_not_the_status_token_000000000');
    await page.click('#operator button[type="submit"]');
    await page.waitForSelector('#status[data-stale="true"]', { timeout: TIMEOUT_MS });
    assert.match(await page.locator('#error').textContent(), /HTTP 401.*operator token was refused/);
    await page.click('#forget');
    await page.waitForSelector('#status[data-stale="false"]', { timeout: TIMEOUT_MS });
    assert.deepEqual(seen.errors, []);
  } finally {
    await screenshot(page, t.name);
    await context.close();
  }
});

test('status page shows every region, its role and lag, and the serving edge', { timeout: 60_000 }, async (t) => {
  const { context, page, seen } = await openPage(browser);
  try {
    const response = await page.goto(`${GATEWAY_URL}/status`);
    assert.equal(response.status(), 200);
    const headers = response.headers();
    assert.equal(headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(headers['cache-control'], 'no-store');
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.match(headers['content-security-policy'], /default-src 'none'/);
    assert.match(headers['content-security-policy'], /script-src 'sha256-[A-Za-z0-9+/]+=*'/);

    await page.waitForSelector('#status[data-loaded="true"]');
    await signIn(page);
    const report = await health();
    const rows = await readRows(page);
    assert.deepEqual(rows.map((r) => r.region).sort(), REGIONS);

    const byRegion = Object.fromEntries(rows.map((r) => [r.region, r]));
    assert.equal(byRegion.iad1.role, 'primary');
    assert.equal(byRegion.sfo1.role, 'replica');
    assert.equal(byRegion.fra1.role, 'replica');
    // The primary has no replication lag to show; replicas show numbers.
    assert.equal(byRegion.iad1['lag-seconds'], '-');
    assert.equal(byRegion.iad1['lag-bytes'], '-');
    for (const code of ['sfo1', 'fra1']) {
      const row = byRegion[code];
      assert.match(row['lag-seconds'], /^\d+\.\d{3}$/, `${code} lag seconds`);
      assert.match(row['lag-bytes'], /^\d+$/, `${code} lag bytes`);
      assert.ok(Number.isFinite(Number(row['lag-seconds'])) && Number(row['lag-seconds']) >= 0);
    }
    for (const row of rows) {
      assert.equal(row.reachable, 'yes', row.region);
      assert.match(row.latency, /^\d+$/, `${row.region} latency`);
      assert.match(row.lsn, /^[0-9A-F]+\/[0-9A-F]+$/, `${row.region} lsn`);
      assert.equal(row.error, '-', `${row.region} error`);
      // The same verdict as the gateway's own report, asked independently.
      const reported = report.regions.find((r) => r.region === row.region);
      assert.equal(row.role, reported.role, row.region);
      const paused = reported.replication?.replay_paused ?? false;
      assert.equal(row.state === 'replay paused', paused, `${row.region}: ${row.state}`);
    }

    const overall = await page.locator('#overall');
    assert.equal(await overall.textContent(), report.status);
    assert.equal(await overall.getAttribute('data-status'), report.status);

    const servedBy = page.locator('#served-by');
    assert.match(await servedBy.textContent(), /^(iad1|sfo1|fra1)$/);
    assert.equal(await servedBy.textContent(), headers['x-payhuk-region']);
    assert.equal(await servedBy.getAttribute('data-region'), headers['x-payhuk-region']);
    assert.notEqual(await page.locator('#refreshed-at').textContent(), 'never');
    assert.equal(await page.locator('#error').isHidden(), true);

    assert.deepEqual(seen.errors, []);
    assert.deepEqual(seen.console.filter((m) => m.type === 'error'), [], 'no console errors (a CSP violation is one)');
  } finally {
    await screenshot(page, t.name);
    await context.close();
  }
});

test('status page keeps the last data, marked stale, while /health fails', { timeout: 60_000 }, async (t) => {
  const { context, page } = await openPage(browser);
  try {
    await page.goto(`${GATEWAY_URL}/status`);
    await page.waitForSelector('#status[data-loaded="true"]');
    await page.route('**/health', (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/json',
        body: JSON.stringify({ code: 'PHK503', message: 'injected by the test', details: null, hint: null }),
      }),
    );
    // The next poll (every 5 s) fails.
    await page.waitForSelector('#status[data-stale="true"]', { timeout: TIMEOUT_MS });
    const error = page.locator('#error');
    assert.equal(await error.isVisible(), true);
    assert.match(await error.textContent(), /HTTP 503: injected by the test/);
    assert.match(await error.textContent(), /stale/);
    assert.equal(await page.locator('tr[data-region]').count(), 3, 'the last data stays');
    await screenshot(page, `${t.name} (stale)`);

    await page.unroute('**/health');
    await page.waitForSelector('#status[data-stale="false"]', { timeout: TIMEOUT_MS });
    assert.equal(await error.isHidden(), true);
  } finally {
    await screenshot(page, t.name);
    await context.close();
  }
});
