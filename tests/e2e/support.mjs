// Shared by the browser tests: Debian's Chromium through playwright-core, one fresh
// context per page, console and network recorded, a full-page screenshot per test.
//
// Environment (set by tests/stack/browser.rs): GATEWAY_URL, STATUS_TOKEN, STOREFRONT_URL,
// DISALLOWED_STOREFRONT_URL, ARTIFACTS_DIR; CHROMIUM overrides the browser binary;
// EXPECT_ROLE_CHANGE (status-history.test.mjs) names a region a failover drill promoted.
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const TIMEOUT_MS = 15_000;

function required(name, fallback) {
  const value = process.env[name] ?? fallback;
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

export const GATEWAY_URL = required('GATEWAY_URL', 'http://localhost:8787').replace(/\/+$/, '');
export const STOREFRONT_URL = required('STOREFRONT_URL', 'http://localhost:8790/');
export const DISALLOWED_STOREFRONT_URL = required('DISALLOWED_STOREFRONT_URL', 'http://127.0.0.1:8790/');
/** The operators' token: `/health`'s details and the status page's. */
export const STATUS_TOKEN = required('STATUS_TOKEN');
export const ARTIFACTS_DIR = process.env.ARTIFACTS_DIR ?? join(tmpdir(), 'payhuk-e2e');

/** The storefront at `base`, told to use the gateway. */
export function storefrontAt(base) {
  const url = new URL(base);
  url.searchParams.set('gateway', GATEWAY_URL);
  return url.href;
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    timeout: TIMEOUT_MS,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A page in a context of its own, with what it logged and fetched:
 * `console` ({type, text}), `errors` (uncaught exceptions), `requests` (Playwright
 * Request objects), `failed` ({url, failure}).
 */
export async function openPage(browser) {
  const context = await browser.newContext({ locale: 'en-US', timezoneId: 'UTC' });
  context.setDefaultTimeout(TIMEOUT_MS);
  context.setDefaultNavigationTimeout(TIMEOUT_MS);
  const page = await context.newPage();
  const seen = { console: [], errors: [], requests: [], failed: [] };
  page.on('console', (msg) => seen.console.push({ type: msg.type(), text: msg.text() }));
  page.on('pageerror', (err) => seen.errors.push(String(err)));
  page.on('request', (request) => seen.requests.push(request));
  page.on('requestfailed', (request) => seen.failed.push({ url: request.url(), failure: request.failure()?.errorText }));
  return { context, page, seen };
}

/** `ARTIFACTS_DIR/<test name>.png`, full page; never hides the test's own failure. */
export async function screenshot(page, testName) {
  try {
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    const file = testName.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
    await page.screenshot({ path: join(ARTIFACTS_DIR, `${file}.png`), fullPage: true, timeout: TIMEOUT_MS });
  } catch (err) {
    console.error(`screenshot for "${testName}" failed: ${err}`);
  }
}

/** The gateway's own /health with its details, asked from Node (no browser, no CORS). */
export async function health() {
  const response = await fetch(`${GATEWAY_URL}/health`, {
    headers: { authorization: `Bearer ${STATUS_TOKEN}` },
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`/health answered ${response.status}`);
  return response.json();
}

/** The WCAG 2.0/2.1 A and AA rules: what `auditAccessibility` holds a page to. */
export const WCAG_AA_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

let axeSource;

/**
 * axe-core's audit of the page as it is now, WCAG 2.1 A and AA rules: its violations as
 * `{id, impact, help, nodes: [{target, summary}]}`, empty when none, for
 * `assert.deepEqual(violations, [], ...)`. axe's source goes in through
 * `page.evaluate` (a CDP evaluation, which the page's content security policy does not
 * govern, unlike `addScriptTag`), so the page under test keeps its own policy.
 */
export async function auditAccessibility(page) {
  axeSource ??= readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async (tags) => {
    const result = await globalThis.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.map(String), summary: n.failureSummary })),
    }));
  }, WCAG_AA_TAGS);
  return violations;
}

/** Violations from `auditAccessibility` as lines a failing assertion can show. */
export function describeViolations(violations) {
  return violations
    .map((v) => `${v.id} (${v.impact}): ${v.help}\n` + v.nodes.map((n) => `    ${n.target.join(' ')}: ${n.summary ?? ''}`.replace(/\n/g, ' ')).join('\n'))
    .join('\n');
}
