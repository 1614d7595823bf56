// The Payhuk demo storefront: plain DOM and fetch, no build step.
//
// It talks to the gateway only with fetch, cross-origin when the gateway lives
// elsewhere. The gateway is <meta name="payhuk-gateway"> when set, else `?gateway=<url>`
// on a page served from this machine (localhost, 127.0.0.1: a link must not be able to
// point a deployed sign-in form at another server), else this page's own origin (in
// production Vercel rewrites /api/* to the gateway).
//
// Read-your-writes: every call sends credentials, so the gateway's HttpOnly
// `payhuk_consistency` cookie comes back by itself; the `x-payhuk-consistency` response
// header is also kept and sent back on later reads, for browsers that drop the cookie.

const SESSION_KEY = 'payhuk.session';
const TOKEN_KEY = 'payhuk.consistency';
const LOCALE = document.documentElement.lang || 'en';

const $ = (id) => document.getElementById(id);

/** The gateway's base URL, without a trailing slash. */
export function resolveGateway(search, metaContent, origin) {
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(new URL(origin).hostname);
  const asked = local ? new URLSearchParams(search).get('gateway') : null;
  const raw = (metaContent.trim() || asked || '').trim();
  if (!raw) return origin;
  const url = new URL(raw, origin);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`the gateway must be an http(s) URL, not ${raw}`);
  }
  return (url.origin + url.pathname).replace(/\/+$/, '');
}

/** `price_minor` in `currency` as text: XOF has no minor units, EUR and USD have two. */
export function formatMoney(amountMinor, currency) {
  const format = new Intl.NumberFormat(LOCALE, { style: 'currency', currency });
  const digits = format.resolvedOptions().maximumFractionDigits;
  return format.format(amountMinor / 10 ** digits);
}

/** A gateway error answer (`{code, message, details, hint}`) as an exception. */
class ApiError extends Error {
  constructor(response, body) {
    const problem = body && typeof body === 'object' ? body : {};
    super(problem.message || (typeof body === 'string' && body) || response.statusText || 'request failed');
    this.name = 'ApiError';
    this.status = response.status;
    this.code = problem.code ?? null;
    this.details = problem.details ?? null;
    this.hint = problem.hint ?? null;
    this.url = response.url;
  }
}

/** fetch rejected: the gateway is unreachable, or CORS refused this origin. */
class NetworkError extends Error {
  constructor(url, cause) {
    super(`${cause.name}: ${cause.message}`);
    this.name = 'NetworkError';
    this.url = url;
  }
}

// ---- state ---------------------------------------------------------------------

let gateway;
const catalogue = new Map(); // product id -> product
const cart = { storeId: null, lines: new Map(), idempotencyKey: null };
let ordersCursor = null;

function loadSession() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY));
  } catch {
    return null;
  }
}

function saveSession(session) {
  if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(SESSION_KEY);
}

// ---- the one way to call the gateway -------------------------------------------

async function api(path, { method = 'GET', body, headers = {}, auth = true } = {}) {
  const url = gateway + path;
  const session = auth ? loadSession() : null;
  const read = method === 'GET' || method === 'HEAD';
  const h = new Headers(headers);
  h.set('accept', 'application/json');
  if (body !== undefined) h.set('content-type', 'application/json');
  if (session) h.set('authorization', `Bearer ${session.access_token}`);
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (read && token) h.set('x-payhuk-consistency', token);

  let response;
  try {
    response = await fetch(url, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'include',
      // The signed-in caller's reads must never come from the browser's HTTP cache.
      cache: session || token ? 'no-store' : 'default',
    });
  } catch (err) {
    throw new NetworkError(url, err);
  }
  const fresh = response.headers.get('x-payhuk-consistency');
  if (fresh) sessionStorage.setItem(TOKEN_KEY, fresh);
  if (response.status === 401 && session) {
    // The access token is no longer accepted: forget it, so signing in again is offered.
    saveSession(null);
    renderSignedOut();
  }

  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) throw new ApiError(response, data);
  return {
    data,
    status: response.status,
    upstream: response.headers.get('x-payhuk-upstream'),
    region: response.headers.get('x-payhuk-region'),
  };
}

// ---- errors: always visible ----------------------------------------------------

function showError(err) {
  const box = $('error');
  box.replaceChildren();
  let kind = 'internal';
  let text = String(err && err.message ? err.message : err);
  if (err instanceof ApiError) {
    kind = 'api';
    text = `${err.status}${err.code ? ` ${err.code}` : ''}: ${err.message}`;
    box.dataset.status = String(err.status);
    box.dataset.code = err.code ?? '';
    const extra = [];
    if (err.details) extra.push(`details: ${typeof err.details === 'string' ? err.details : JSON.stringify(err.details)}`);
    if (err.hint) extra.push(`hint: ${err.hint}`);
    box.append(el('strong', {}, text), ...extra.map((line) => el('div', { className: 'muted' }, line)));
  } else if (err instanceof NetworkError) {
    kind = 'network';
    text = `Network error calling ${err.url}: ${err.message}. The gateway is unreachable or does not allow this origin (${location.origin}) by CORS.`;
    box.append(el('strong', {}, text));
  } else {
    box.append(el('strong', {}, text));
  }
  box.dataset.kind = kind;
  box.hidden = false;
  console.warn('[storefront]', text);
}

function clearError() {
  const box = $('error');
  box.hidden = true;
  box.replaceChildren();
  delete box.dataset.kind;
  delete box.dataset.status;
  delete box.dataset.code;
}

/** Runs a user action: clears the last error, shows this one's, disables `button` meanwhile. */
async function action(button, work) {
  clearError();
  if (button) button.disabled = true;
  try {
    await work();
  } catch (err) {
    showError(err);
  } finally {
    if (button) button.disabled = false;
  }
}

// ---- DOM helpers ---------------------------------------------------------------

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'on') for (const [event, fn] of Object.entries(value)) node.addEventListener(event, fn);
    else node[key] = value;
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function showServedBy(node, { upstream, region }) {
  node.dataset.upstream = upstream ?? '';
  node.dataset.region = region ?? '';
  node.textContent = `${upstream ?? 'unknown upstream'} (edge ${region ?? 'unknown'})`;
}

// ---- products ------------------------------------------------------------------

async function loadProducts() {
  const list = $('products');
  list.dataset.state = 'loading';
  try {
    const answer = await api('/api/v1/products?limit=50', { auth: false });
    showServedBy($('served-by'), answer);
    for (const product of answer.data.items) catalogue.set(product.id, product);
    list.replaceChildren(...answer.data.items.map(productCard));
    list.dataset.state = 'ready';
  } catch (err) {
    list.dataset.state = 'error';
    throw err;
  }
}

function productCard(product) {
  const soldOut = product.stock === 0;
  return el(
    'li',
    { className: 'card', dataset: { testid: 'product', productId: product.id, kind: product.kind, storeId: product.store_id } },
    el('h3', { dataset: { testid: 'product-name' } }, product.name),
    el('p', { className: 'muted' }, product.description ?? ''),
    el('p', {},
      el('span', {
        className: 'price',
        dataset: { testid: 'product-price', amountMinor: String(product.price_minor), currency: product.currency },
      }, formatMoney(product.price_minor, product.currency)),
      ' ',
      el('span', { className: 'tag', dataset: { testid: 'product-kind' } }, product.kind),
    ),
    el('button', {
      type: 'button',
      disabled: soldOut,
      textContent: soldOut ? 'Sold out' : 'Add to cart',
      dataset: { testid: 'add-to-cart' },
      on: { click: () => addToCart(product) },
    }),
  );
}

// ---- cart and checkout ---------------------------------------------------------

function addToCart(product) {
  clearError();
  if (cart.storeId && cart.storeId !== product.store_id) {
    // One order is one store: a product from another store starts a new cart.
    cart.lines.clear();
  }
  cart.storeId = product.store_id;
  const line = cart.lines.get(product.id) ?? { product, quantity: 0 };
  line.quantity = Math.min(line.quantity + 1, 1000);
  cart.lines.set(product.id, line);
  cart.idempotencyKey = null; // another cart is another order
  renderCart();
}

function renderCart() {
  const lines = [...cart.lines.values()];
  $('cart').replaceChildren(
    ...lines.map(({ product, quantity }) =>
      el('li', { dataset: { testid: 'cart-line', productId: product.id, quantity: String(quantity) } },
        `${product.name} × ${quantity} = ${formatMoney(product.price_minor * quantity, product.currency)} `,
        el('button', {
          type: 'button',
          textContent: 'Remove',
          dataset: { testid: 'cart-remove' },
          on: { click: () => { cart.lines.delete(product.id); cart.idempotencyKey = null; renderCart(); } },
        }),
      ),
    ),
  );
  if (cart.lines.size === 0) cart.storeId = null;
  $('cart-empty').hidden = cart.lines.size > 0;
  $('place-order').disabled = cart.lines.size === 0;
}

async function placeOrder() {
  if (!loadSession()) throw new Error('Sign in to place an order.');
  const items = [...cart.lines.values()].map(({ product, quantity }) => ({ product_id: product.id, quantity }));
  // Kept until the order is placed: retrying after a network failure cannot order twice.
  cart.idempotencyKey ??= crypto.randomUUID();
  const placed = await api('/api/v1/orders', {
    method: 'POST',
    body: { items },
    headers: { 'Idempotency-Key': cart.idempotencyKey },
  });
  const orderId = placed.data.id;
  cart.lines.clear();
  cart.idempotencyKey = null;
  renderCart();
  const last = $('last-order');
  last.dataset.orderId = orderId;
  last.textContent = `Order ${orderId} placed (written on ${placed.upstream ?? 'unknown upstream'}).`;
  last.hidden = false;
  // Read-your-writes: the list comes from a read, which must already show the order.
  await loadOrders({ expect: orderId });
}

// ---- account -------------------------------------------------------------------

async function signIn(form) {
  const data = new FormData(form);
  const answer = await api('/api/v1/auth/login', {
    method: 'POST',
    auth: false,
    body: { email: String(data.get('email')).trim(), password: String(data.get('password')) },
  });
  saveSession(answer.data);
  form.reset();
  await showAccount();
}

async function signOut() {
  const session = loadSession();
  saveSession(null);
  renderSignedOut();
  if (session?.refresh_token) {
    await api('/api/v1/auth/logout', { method: 'POST', auth: false, body: { refresh_token: session.refresh_token } });
  }
}

function renderSignedOut() {
  const who = $('whoami');
  who.textContent = 'Not signed in.';
  who.dataset.email = '';
  $('logout').hidden = true;
  $('login-form').hidden = false;
  $('orders').replaceChildren();
  $('orders-more').hidden = true;
  showServedBy($('orders-served-by'), {});
}

async function showAccount() {
  const me = await api('/api/v1/auth/me');
  const who = $('whoami');
  who.dataset.email = me.data.email;
  who.textContent = `Signed in as ${me.data.display_name ?? me.data.email} (${me.data.email})`;
  $('logout').hidden = false;
  $('login-form').hidden = true;
  await loadOrders();
}

// ---- orders and downloads ------------------------------------------------------

async function loadOrders({ more = false, expect = null } = {}) {
  const query = more && ordersCursor ? `?cursor=${encodeURIComponent(ordersCursor)}` : '';
  const answer = await api(`/api/v1/orders${query}`);
  showServedBy($('orders-served-by'), answer);
  const orders = answer.data.items;
  await describeProducts(orders.flatMap((o) => (o.order_items ?? []).map((i) => i.product_id)));
  const rows = orders.map((o) => orderRow(o, o.id === expect));
  if (more) $('orders').append(...rows);
  else $('orders').replaceChildren(...rows);
  ordersCursor = answer.data.next_cursor ?? null;
  $('orders-more').hidden = !ordersCursor;
  if (expect && !orders.some((o) => o.id === expect)) {
    throw new Error(`Read-your-writes broken: order ${expect} is missing from the orders read from ${answer.upstream}.`);
  }
}

/** Puts every product the orders name into the catalogue (unpublished ones may be missing). */
async function describeProducts(ids) {
  const missing = [...new Set(ids)].filter((id) => !catalogue.has(id));
  const found = await Promise.allSettled(missing.map((id) => api(`/api/v1/products/${id}`, { auth: false })));
  for (const result of found) {
    if (result.status === 'fulfilled') catalogue.set(result.value.data.id, result.value.data);
    else if (!(result.reason instanceof ApiError && result.reason.status === 404)) throw result.reason;
  }
}

function orderRow(order, isNew) {
  const paid = order.status === 'paid' || order.status === 'fulfilled';
  const items = (order.order_items ?? []).map((item) => {
    const product = catalogue.get(item.product_id);
    const canDownload = paid && product?.kind === 'digital';
    const li = el('li', { dataset: { testid: 'order-item', productId: item.product_id } },
      `${product?.name ?? item.product_id} × ${item.quantity} `);
    if (canDownload) {
      const button = el('button', { type: 'button', textContent: 'Get download link', dataset: { testid: 'download-button', productId: item.product_id } });
      button.addEventListener('click', () => action(button, () => downloadLink(order.id, item.product_id, li)));
      li.append(button);
    }
    return li;
  });
  return el('tr', {
      className: isNew ? 'new' : '',
      dataset: { testid: 'order', orderId: order.id, status: order.status, totalMinor: String(order.total_minor), currency: order.currency },
    },
    el('td', {}, el('code', { dataset: { testid: 'order-id' } }, order.id)),
    el('td', { dataset: { testid: 'order-status' } }, order.status),
    el('td', { dataset: { testid: 'order-total' } }, formatMoney(order.total_minor, order.currency)),
    el('td', {}, el('ul', { className: 'items' }, ...items)),
  );
}

async function downloadLink(orderId, productId, where) {
  const answer = await api('/api/v1/downloads/links', { method: 'POST', body: { order_id: orderId, product_id: productId } });
  const href = new URL(answer.data.url, gateway + '/').href;
  where.querySelector('[data-testid="download-link"]')?.remove();
  const expires = new Date(answer.data.expires_at * 1000).toLocaleString(LOCALE);
  where.append(el('a', {
    href,
    textContent: `Download (until ${expires}, ${answer.data.max_downloads} downloads)`,
    rel: 'noopener',
    dataset: { testid: 'download-link' },
  }));
}

// ---- start ---------------------------------------------------------------------

function start() {
  window.addEventListener('unhandledrejection', (event) => showError(event.reason));
  try {
    const meta = document.querySelector('meta[name="payhuk-gateway"]')?.content ?? '';
    gateway = resolveGateway(location.search, meta, location.origin);
  } catch (err) {
    gateway = location.origin;
    showError(err);
  }
  $('gateway').textContent = gateway;

  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    action(event.submitter, () => signIn(form));
  });
  $('logout').addEventListener('click', (event) => action(event.currentTarget, signOut));
  $('place-order').addEventListener('click', (event) => action(event.currentTarget, placeOrder).then(renderCart));
  $('orders-more').addEventListener('click', (event) => action(event.currentTarget, () => loadOrders({ more: true })));
  renderCart();

  loadProducts()
    .then(() => (loadSession() ? showAccount() : undefined))
    .catch(showError);
}

start();
