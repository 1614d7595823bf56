// The demo storefront in headless Chromium, calling the gateway cross-origin: the
// browser, not the test, enforces CORS, sends the credentials and the same-site
// read-your-writes cookie.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DISALLOWED_STOREFRONT_URL,
  GATEWAY_URL,
  STOREFRONT_URL,
  TIMEOUT_MS,
  health,
  launch,
  openPage,
  screenshot,
  storefrontAt,
} from './support.mjs';

const PASSWORD = 'payhuk-demo-password';
const AMINATA = 'aminata@payhuk.test';
const PAID_ORDER = '77777777-7777-4777-8777-000000000001';
const GUIDE = '44444444-4444-4444-8444-000000000101';
const GUIDE_NAME = "Guide du e-commerce en Afrique de l'Ouest";
const PUBLISHED = [
  GUIDE_NAME,
  'Formation Mobile Money pour marchands',
  'Audit de boutique (1 h)',
  'Kente scarf',
  'Carved wooden bowl',
  'Beaded necklace',
  'Bolga basket (sold out)',
  'Lightroom presets pack',
  'Art print A3',
];
const DRAFT = 'Modeles de factures (brouillon)';
const UPSTREAM = /^(primary|replica):(iad1|sfo1|fra1)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const GATEWAY_ORIGIN = new URL(GATEWAY_URL).origin;
const CORS_MESSAGE = /CORS|Access-Control|cross-origin/i;

let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

const product = (page, name) => page.locator('[data-testid="product"]', { has: page.getByText(name, { exact: true }) });
const apiRequests = (seen) => seen.requests.filter((r) => new URL(r.url()).pathname.startsWith('/api/v1/'));

async function signIn(page) {
  await page.getByTestId('login-email').fill(AMINATA);
  await page.getByTestId('login-password').fill(PASSWORD);
  await page.getByTestId('login-submit').click();
  await page.waitForSelector(`[data-testid="whoami"][data-email="${AMINATA}"]`);
}

test('storefront: list, sign in, order, read it back at once, get a download link (cross-origin)', { timeout: 90_000 }, async (t) => {
  const { context, page, seen } = await openPage(browser);
  try {
    await page.goto(storefrontAt(STOREFRONT_URL));
    assert.notEqual(new URL(page.url()).origin, GATEWAY_ORIGIN, 'the storefront is on another origin');
    assert.equal(await page.getByTestId('gateway').textContent(), GATEWAY_URL);

    // The catalogue: published products only, with prices in their currency's units.
    await page.waitForSelector('[data-testid="products"][data-state="ready"]', { state: 'attached' });
    const names = await page.getByTestId('product-name').allTextContents();
    for (const name of PUBLISHED) assert.ok(names.includes(name), `${name} is listed`);
    assert.ok(!names.includes(DRAFT), 'an unpublished product is not listed');
    assert.equal(await product(page, 'Kente scarf').getByTestId('product-price').textContent(), '€45.00');
    assert.equal(await product(page, 'Kente scarf').getByTestId('product-kind').textContent(), 'physical');
    const guidePrice = product(page, GUIDE_NAME).getByTestId('product-price');
    assert.equal(await guidePrice.getAttribute('data-currency'), 'XOF');
    assert.match(await guidePrice.textContent(), /^F\s?CFA\s5,000$/, 'XOF has no minor units');
    assert.equal(await product(page, 'Bolga basket (sold out)').getByTestId('add-to-cart').isDisabled(), true);
    const servedBy = page.getByTestId('served-by');
    assert.match(await servedBy.getAttribute('data-upstream'), UPSTREAM);
    assert.match(await servedBy.getAttribute('data-region'), /^(iad1|sfo1|fra1)$/);
    assert.match(await servedBy.textContent(), /^(primary|replica):\w+ \(edge \w+\)$/);

    await signIn(page);
    assert.equal(await page.getByTestId('whoami').textContent(), `Signed in as Aminata Sow (${AMINATA})`);

    // Two of the guide, one order.
    await product(page, GUIDE_NAME).getByTestId('add-to-cart').click();
    await product(page, GUIDE_NAME).getByTestId('add-to-cart').click();
    await page.waitForSelector(`[data-testid="cart-line"][data-product-id="${GUIDE}"][data-quantity="2"]`);
    await page.getByTestId('place-order').click();
    await page.waitForSelector('[data-testid="last-order"]:not([data-order-id=""])');
    const orderId = await page.getByTestId('last-order').getAttribute('data-order-id');
    assert.match(orderId, UUID);

    // Read-your-writes: the list is a read, and it already has the order, first.
    const row = page.locator(`[data-testid="order"][data-order-id="${orderId}"]`);
    await row.waitFor();
    assert.equal(await page.getByTestId('order').first().getAttribute('data-order-id'), orderId);
    assert.equal(await row.getAttribute('data-status'), 'pending');
    assert.equal(await row.getAttribute('data-total-minor'), '10000');
    assert.equal(await row.getAttribute('data-currency'), 'XOF');
    assert.equal(await row.getByTestId('order-id').textContent(), orderId);
    assert.equal(await row.getByTestId('download-button').count(), 0, 'nothing to download before payment');
    const ordersRead = page.getByTestId('orders-served-by');
    const readUpstream = await ordersRead.getAttribute('data-upstream');
    assert.match(readUpstream, UPSTREAM);
    const report = await health();
    const replicas = report.regions.filter((r) => r.role === 'replica');
    if (replicas.length > 0 && replicas.every((r) => r.replication?.replay_paused)) {
      // Every replica is behind the write: only the primary can have served the read.
      const primary = report.regions.find((r) => r.role === 'primary');
      assert.equal(readUpstream, `primary:${primary.region}`);
    }

    // The order and its read-back: the key, then the token (header and cookie).
    const placed = apiRequests(seen).find((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/api/v1/orders');
    assert.ok(placed, 'the order was POSTed');
    assert.match((await placed.allHeaders())['idempotency-key'], UUID);
    const token = (await (await placed.response()).allHeaders())['x-payhuk-consistency'];
    assert.ok(token, 'the write answered a consistency token');
    const readBack = apiRequests(seen).find(
      (r) => r.method() === 'GET' && new URL(r.url()).pathname === '/api/v1/orders' && seen.requests.indexOf(r) > seen.requests.indexOf(placed),
    );
    assert.ok(readBack, 'the orders were read after the write');
    assert.equal((await readBack.allHeaders())['x-payhuk-consistency'], token);
    const cookies = await context.cookies(GATEWAY_URL);
    assert.ok(cookies.some((c) => c.name === 'payhuk_consistency' && c.httpOnly), JSON.stringify(cookies.map((c) => c.name)));

    // A download link for the guide in her paid seeded order (older pages on demand).
    const paid = page.locator(`[data-testid="order"][data-order-id="${PAID_ORDER}"]`);
    for (let i = 0; i < 20 && (await paid.count()) === 0; i++) {
      const more = page.getByTestId('orders-more');
      assert.equal(await more.isVisible(), true, `order ${PAID_ORDER} is in her orders`);
      const rows = await page.getByTestId('order').count();
      await more.click();
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid="order"]').length > n, rows, { timeout: TIMEOUT_MS });
    }
    assert.equal(await paid.getAttribute('data-status'), 'paid');
    await paid.locator(`[data-testid="download-button"][data-product-id="${GUIDE}"]`).click();
    const link = paid.locator(`[data-testid="order-item"][data-product-id="${GUIDE}"] [data-testid="download-link"]`);
    await link.waitFor();
    const href = await link.getAttribute('href');
    assert.ok(href.startsWith(`${GATEWAY_URL}/api/v1/downloads/`), href);
    // The link works: one download, redirected to the file.
    const download = await fetch(href, { redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
    assert.equal(download.status, 302);
    assert.equal(download.headers.get('location'), 'https://storage.payhuk.test/awa/guide-ecommerce.pdf');

    // Every API call went to the gateway, cross-origin, and none failed.
    const calls = apiRequests(seen);
    assert.ok(calls.length >= 6, `${calls.length} API calls`);
    for (const request of calls) {
      assert.equal(new URL(request.url()).origin, GATEWAY_ORIGIN, request.url());
      const response = await request.response();
      assert.ok(response && response.status() < 400, `${request.method()} ${request.url()} -> ${response?.status()}`);
    }
    const paths = calls.map((r) => `${r.method()} ${new URL(r.url()).pathname}`);
    for (const expected of ['GET /api/v1/products', 'POST /api/v1/auth/login', 'GET /api/v1/auth/me', 'POST /api/v1/orders', 'GET /api/v1/orders', 'POST /api/v1/downloads/links']) {
      assert.ok(paths.includes(expected), `${expected} in ${paths.join(', ')}`);
    }
    assert.equal(await page.getByTestId('error').isHidden(), true, await page.getByTestId('error').textContent());
    assert.deepEqual(seen.failed, []);
    assert.deepEqual(seen.errors, []);
    assert.deepEqual(seen.console.filter((m) => m.type === 'error' || CORS_MESSAGE.test(m.text)), []);
  } finally {
    await screenshot(page, t.name);
    await context.close();
  }
});

test('CORS: the browser refuses the gateway to an origin it does not allow', { timeout: 60_000 }, async (t) => {
  const { context, page, seen } = await openPage(browser);
  const disallowedOrigin = new URL(DISALLOWED_STOREFRONT_URL).origin;
  try {
    await page.goto(storefrontAt(DISALLOWED_STOREFRONT_URL));
    await page.waitForSelector('[data-testid="products"][data-state="error"]', { state: 'attached' });
    const error = page.getByTestId('error');
    assert.equal(await error.isVisible(), true);
    assert.equal(await error.getAttribute('data-kind'), 'network');
    const text = await error.textContent();
    assert.ok(text.includes(`${GATEWAY_URL}/api/v1/products`), text);
    assert.match(text, /TypeError: Failed to fetch/);
    assert.equal(await page.getByTestId('product').count(), 0);

    // The page's own fetches reject with a TypeError, simple or preflighted alike.
    const outcomes = await page.evaluate(async (gateway) => {
      const attempt = async (url, init) => {
        try {
          const r = await fetch(url, init);
          return { status: r.status };
        } catch (err) {
          return { name: err.name, message: err.message };
        }
      };
      return {
        simple: await attempt(`${gateway}/api/v1/products`, { credentials: 'include' }),
        preflighted: await attempt(`${gateway}/api/v1/auth/login`, {
          method: 'POST',
          credentials: 'include',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'aminata@payhuk.test', password: 'payhuk-demo-password' }),
        }),
      };
    }, GATEWAY_URL);
    assert.deepEqual(outcomes.simple, { name: 'TypeError', message: 'Failed to fetch' });
    assert.deepEqual(outcomes.preflighted, { name: 'TypeError', message: 'Failed to fetch' });
    // Chromium says why: CORS, for this origin.
    const cors = seen.console.filter((m) => m.type === 'error' && /CORS policy/.test(m.text));
    assert.ok(cors.length >= 1, JSON.stringify(seen.console));
    assert.ok(cors.every((m) => m.text.includes(`from origin '${disallowedOrigin}'`)), JSON.stringify(cors));

    // It is the gateway's answer, not an outage: it runs, and grants nothing to this origin.
    const direct = await fetch(`${GATEWAY_URL}/api/v1/products?limit=1`, {
      headers: { origin: disallowedOrigin },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    assert.equal(direct.status, 200);
    assert.equal(direct.headers.get('access-control-allow-origin'), null);
  } finally {
    await screenshot(page, t.name);
    await context.close();
  }
});

test('CORS: preflighted calls with credentials work from the allowed origin', { timeout: 60_000 }, async (t) => {
  const { context, page, seen } = await openPage(browser);
  try {
    await page.goto(storefrontAt(STOREFRONT_URL));
    await page.waitForSelector('[data-testid="products"][data-state="ready"]', { state: 'attached' });
    const result = await page.evaluate(
      async ({ gateway, email, password }) => {
        // JSON body: preflighted.
        const login = await fetch(`${gateway}/api/v1/auth/login`, {
          method: 'POST',
          credentials: 'include',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email, password }),
        });
        const session = await login.json();
        // Authorization header: preflighted.
        const me = await fetch(`${gateway}/api/v1/auth/me`, {
          credentials: 'include',
          headers: { authorization: `Bearer ${session.access_token}`, 'x-payhuk-consistency': 'not-a-token' },
        });
        return {
          login: login.status,
          me: me.status,
          email: (await me.json()).email,
          // Readable only if the gateway exposes them.
          region: me.headers.get('x-payhuk-region'),
          upstream: me.headers.get('x-payhuk-upstream'),
          timing: me.headers.get('server-timing'),
        };
      },
      { gateway: GATEWAY_URL, email: AMINATA, password: PASSWORD },
    );
    assert.equal(result.login, 200);
    assert.equal(result.me, 200);
    assert.equal(result.email, AMINATA);
    assert.match(result.region, /^(iad1|sfo1|fra1)$/);
    assert.match(result.upstream, UPSTREAM);
    assert.match(result.timing, /upstream;desc="(primary|replica):\w+";dur=/);

    // The preflight itself, as the gateway answers it to this origin.
    const origin = new URL(STOREFRONT_URL).origin;
    const preflight = await fetch(`${GATEWAY_URL}/api/v1/orders`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, idempotency-key',
      },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    assert.ok(preflight.status === 204 || preflight.status === 200, `preflight ${preflight.status}`);
    assert.equal(preflight.headers.get('access-control-allow-origin'), origin);
    assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
    assert.deepEqual(seen.errors, []);
    assert.deepEqual(seen.console.filter((m) => m.type === 'error' || CORS_MESSAGE.test(m.text)), []);
  } finally {
    await screenshot(page, t.name);
    await context.close();
  }
});

// Layout shifts not caused by the user, summed over the whole load (at least the page's
// CLS, which takes the worst 5 s window of them): the seed's target is CLS < 0.1.
const RECORD_LAYOUT_SHIFTS = () => {
  window.__layoutShift = 0;
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (!entry.hadRecentInput) window.__layoutShift += entry.value;
    }
  }).observe({ type: 'layout-shift', buffered: true });
};

test('storefront: the page does not shift while the catalogue loads (CLS < 0.1)', { timeout: 60_000 }, async (t) => {
  const { context, page } = await openPage(browser);
  try {
    await page.addInitScript(RECORD_LAYOUT_SHIFTS);
    await page.goto(storefrontAt(STOREFRONT_URL));
    await page.waitForSelector('[data-testid="products"][data-state="ready"]', { state: 'attached' });
    // Shifts are reported after the frame that made them: give them two frames and more.
    await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
    await page.waitForTimeout(500);
    const shifted = await page.evaluate(() => window.__layoutShift);
    t.diagnostic(`layout shift while loading: ${shifted.toFixed(3)}`);
    assert.ok(shifted < 0.1, `layout shift while loading: ${shifted.toFixed(3)} (target < 0.1)`);
  } finally {
    await screenshot(page, t.name);
    await context.close();
  }
});
