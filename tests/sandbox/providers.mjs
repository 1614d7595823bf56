// The payment providers' sandbox, for tests only: FedaPay, Moneroo, PayDunya and
// CinetPay as their published APIs describe them, each under its own prefix
// (`/fedapay/v1/...`, `/moneroo/v1/...`, `/paydunya/api/v1/...`, `/cinetpay/v2/...`),
// with a checkout page per payment and notifications signed as each provider signs
// them (FedaPay's header with FedaPay's own SDK).
//
//   node tests/sandbox/providers.mjs        (SANDBOX_PORT, <PROVIDER>_<CREDENTIAL>,
//                                            FEDAPAY_WEBHOOK_URL, MONEROO_WEBHOOK_URL)
//
// The customer at a checkout page: `POST <checkout url>` `{"outcome": "approved" |
// "declined" | "cancelled"}` settles the payment, notifies the merchant and answers
// `{state, notified}` (`notified`: the merchant's HTTP status, or null when it could not
// be reached). Tests steer the rest through `/_control`:
//
//   GET  /_control/health
//   GET  /_control/<provider>/<ref>            the payment as the sandbox holds it
//   POST /_control/<provider>/<ref>/settle     {outcome, notify = true, amount?}
//                                              (amount: what the customer paid instead,
//                                              in the provider's units)
//   POST /_control/<provider>/<ref>/notify     delivers the last notification again
//
// `<ref>` is the reference the merchant holds: FedaPay's transaction id, Moneroo's
// payment id, PayDunya's invoice token, CinetPay's transaction_id.

import crypto from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const { Webhook: FedaPayWebhook } = require('fedapay');

const OUTCOMES = ['approved', 'declined', 'cancelled'];

class HttpError extends Error {
  constructor(status, body) {
    super(`HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

const hmacHex = (secret, text) => crypto.createHmac('sha256', secret).update(text).digest('hex');
const randomId = (bytes = 12) => crypto.randomBytes(bytes).toString('hex');
const nowIso = () => new Date().toISOString();

function needEnv(env, name) {
  const value = env[name];
  if (!value) throw new Error(`the sandbox needs ${name} in its environment`);
  return value;
}

/** Minor units per currency, as the gateway's amount table has them. */
const DECIMALS = { XOF: 0, XAF: 0, EUR: 2, USD: 2, GHS: 2, NGN: 2 };

/** Flattens `{a: {b: 1}}` into PHP-style form keys: `data[a][b]=1`. */
function phpForm(prefix, value, out = new URLSearchParams()) {
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) phpForm(`${prefix}[${k}]`, v, out);
  } else if (value !== undefined && value !== null) {
    out.append(prefix, String(value));
  }
  return out;
}

// ---------------------------------------------------------------------------------
// FedaPay: https://docs.fedapay.com/api-reference/transactions/create, webhooks signed
// `X-FEDAPAY-SIGNATURE: t=..,s=..` (FedaPay's SDK's own helper builds the header).

function fedapay(env, base) {
  const secretKey = needEnv(env, 'FEDAPAY_SECRET_KEY');
  const webhookSecret = needEnv(env, 'FEDAPAY_WEBHOOK_SECRET');
  const webhookUrl = env.FEDAPAY_WEBHOOK_URL;
  let nextId = 100000 + Math.floor(Math.random() * 100000);
  const states = { approved: 'approved', declined: 'declined', cancelled: 'canceled' };

  const authorize = (req) => {
    if (req.headers.authorization !== `Bearer ${secretKey}`) {
      throw new HttpError(401, { message: 'Clé API invalide', errors: {} });
    }
  };
  const wrap = (p) => ({ 'v1/transaction': entity(p) });
  const entity = (p) => ({
    klass: 'v1/transaction',
    id: Number(p.ref),
    reference: `trx_${p.token.slice(0, 10)}`,
    amount: p.amount,
    description: p.body.description,
    callback_url: p.body.callback_url,
    status: p.state,
    currency_id: 1,
    custom_metadata: p.body.custom_metadata ?? null,
    created_at: p.created_at,
    updated_at: p.updated_at,
    approved_at: p.state === 'approved' ? p.updated_at : null,
  });

  return {
    name: 'fedapay',
    async api(req, path, body, store) {
      authorize(req);
      if (req.method === 'POST' && path === '/v1/transactions') {
        const problems = {};
        if (!Number.isInteger(body.amount) || body.amount <= 0) problems.amount = ['doit être un entier positif'];
        if (body.currency?.iso !== 'XOF') problems.currency = ['seul XOF est accepté'];
        if (!body.description) problems.description = ['est requis'];
        if (Object.keys(problems).length) {
          throw new HttpError(400, { message: 'La validation a échoué', errors: problems });
        }
        const p = store.add({
          ref: String(nextId++),
          token: randomId(16),
          amount: body.amount,
          currency: 'XOF',
          state: 'pending',
          body,
        });
        return [201, wrap(p)];
      }
      let m = path.match(/^\/v1\/transactions\/(\d+)\/token$/);
      if (req.method === 'POST' && m) {
        const p = store.get(m[1]);
        return [200, { token: p.token, url: `${base}/checkout/${p.token}` }];
      }
      m = path.match(/^\/v1\/transactions\/(\d+)$/);
      if (req.method === 'GET' && m) return [200, wrap(store.get(m[1]))];
      return null;
    },
    settle(p, outcome) {
      p.state = states[outcome];
    },
    notification(p) {
      if (!webhookUrl) return null;
      const payload = JSON.stringify({
        name: `transaction.${p.state}`,
        object: 'transaction',
        entity: entity(p),
        account: { id: 1, name: 'Payhuk (sandbox)', timezone: 'UTC' },
      });
      return () => ({
        url: webhookUrl,
        headers: {
          'content-type': 'application/json',
          'x-fedapay-signature': FedaPayWebhook.generateTestHeaderString({
            payload,
            secret: webhookSecret,
          }),
        },
        body: payload,
      });
    },
  };
}

// ---------------------------------------------------------------------------------
// Moneroo: https://docs.moneroo.io/payments/standard-integration, verify at
// /v1/payments/{id}/verify, webhooks `X-Moneroo-Signature` = HMAC-SHA256 of the raw
// body, partial (the merchant is told to ask the API).

function moneroo(env, base) {
  const secretKey = needEnv(env, 'MONEROO_SECRET_KEY');
  const webhookSecret = needEnv(env, 'MONEROO_WEBHOOK_SECRET');
  const webhookUrl = env.MONEROO_WEBHOOK_URL;
  const currencies = ['XOF', 'XAF', 'USD', 'GHS', 'NGN', 'EUR'];
  const states = { approved: 'success', declined: 'failed', cancelled: 'cancelled' };

  const data = (p) => ({
    id: p.ref,
    status: p.state,
    is_processed: p.state !== 'initiated',
    amount: p.amount,
    currency: { name: p.currency, symbol: p.currency, code: p.currency, decimals: DECIMALS[p.currency] },
    description: p.body.description,
    return_url: p.body.return_url,
    metadata: p.body.metadata ?? {},
    customer: p.body.customer,
    initiated_at: p.created_at,
    processed_at: p.state === 'initiated' ? null : p.updated_at,
  });

  return {
    name: 'moneroo',
    async api(req, path, body, store) {
      if (req.headers.authorization !== `Bearer ${secretKey}`) {
        throw new HttpError(401, { message: 'Unauthenticated.', data: null, errors: null });
      }
      if (req.method === 'POST' && path === '/v1/payments/initialize') {
        const errors = {};
        if (!Number.isInteger(body.amount) || body.amount <= 0) errors.amount = ['The amount must be an integer.'];
        if (!currencies.includes(body.currency)) errors.currency = ['The selected currency is invalid.'];
        for (const field of ['email', 'first_name', 'last_name']) {
          if (!body.customer?.[field]) errors[`customer.${field}`] = [`The customer.${field} field is required.`];
        }
        if (!body.return_url) errors.return_url = ['The return url field is required.'];
        for (const [k, v] of Object.entries(body.metadata ?? {})) {
          if (typeof v !== 'string') errors[`metadata.${k}`] = ['Metadata values must be strings.'];
        }
        if (Object.keys(errors).length) {
          throw new HttpError(422, { message: 'The given data was invalid.', data: null, errors });
        }
        const ref = `py_${randomId(8)}`;
        const p = store.add({ ref, token: ref, amount: body.amount, currency: body.currency, state: 'initiated', body });
        return [201, {
          message: 'Transaction initialized successfully',
          data: { id: ref, checkout_url: `${base}/checkout/${ref}` },
          errors: null,
        }];
      }
      const m = path.match(/^\/v1\/payments\/([\w-]+)\/verify$/);
      if (req.method === 'GET' && m) {
        return [200, { message: 'Payment transaction fetched successfully', data: data(store.get(m[1])), errors: null }];
      }
      return null;
    },
    settle(p, outcome) {
      p.state = states[outcome];
    },
    notification(p) {
      if (!webhookUrl) return null;
      // Partial, as Moneroo's example: no metadata, amount in major units.
      const payload = JSON.stringify({
        event: `payment.${p.state}`,
        data: { id: p.ref, amount: p.amount, currency: p.currency, status: p.state },
      });
      return () => ({
        url: webhookUrl,
        headers: { 'content-type': 'application/json', 'x-moneroo-signature': hmacHex(webhookSecret, payload) },
        body: payload,
      });
    },
  };
}

// ---------------------------------------------------------------------------------
// PayDunya: https://developers.paydunya.com/doc/FR/http_json and the `paydunya` npm
// SDK (lib/checkout-invoice.js): create, confirm/{token}; the IPN is a form post of
// `data[...]` with `data[hash]` = SHA-512 of the master key.

function paydunya(env, base) {
  const keys = {
    'paydunya-master-key': needEnv(env, 'PAYDUNYA_MASTER_KEY'),
    'paydunya-private-key': needEnv(env, 'PAYDUNYA_PRIVATE_KEY'),
    'paydunya-token': needEnv(env, 'PAYDUNYA_TOKEN'),
  };
  const hash = crypto.createHash('sha512').update(keys['paydunya-master-key']).digest('hex');
  const states = { approved: 'completed', declined: 'failed', cancelled: 'cancelled' };

  const confirmation = (p) => ({
    response_code: '00',
    response_text: 'Transaction Found',
    hash,
    invoice: {
      token: p.ref,
      total_amount: p.amount,
      description: p.body.invoice?.description ?? '',
      items: p.body.invoice?.items ?? {},
      taxes: p.body.invoice?.taxes ?? {},
    },
    custom_data: p.body.custom_data ?? {},
    actions: p.body.actions ?? {},
    mode: 'test',
    status: p.state,
    fail_reason: p.state === 'failed' ? 'Paiement refusé par l’opérateur' : '',
    customer: p.state === 'completed'
      ? { name: p.body.invoice?.customer?.name ?? 'Client', phone: '770000000', email: p.body.invoice?.customer?.email ?? '' }
      : {},
    receipt_url: p.state === 'completed' ? `${base}/receipt/${p.ref}.pdf` : '',
  });

  return {
    name: 'paydunya',
    async api(req, path, body, store) {
      for (const [header, value] of Object.entries(keys)) {
        if (req.headers[header] !== value) {
          return [200, { response_code: '1001', response_text: 'Les clés API fournies sont invalides' }];
        }
      }
      if (req.method === 'POST' && path === '/api/v1/checkout-invoice/create') {
        const total = body.invoice?.total_amount;
        if (!Number.isInteger(total) || total <= 0) {
          return [200, { response_code: '4002', response_text: 'Le montant total de la facture est invalide' }];
        }
        if (!body.store?.name) {
          return [200, { response_code: '4002', response_text: 'Le nom de la boutique est requis' }];
        }
        const ref = `test_${randomId(10)}`;
        const p = store.add({ ref, token: ref, amount: total, currency: 'XOF', state: 'pending', body });
        return [200, {
          response_code: '00',
          response_text: `${base}/checkout/${ref}`,
          description: 'Checkout Invoice Created',
          token: p.ref,
        }];
      }
      const m = path.match(/^\/api\/v1\/checkout-invoice\/confirm\/([\w-]+)$/);
      if (req.method === 'GET' && m) {
        const p = store.find(m[1]);
        if (!p) return [200, { response_code: '1004', response_text: 'Facture introuvable' }];
        return [200, confirmation(p)];
      }
      return null;
    },
    settle(p, outcome) {
      p.state = states[outcome];
    },
    notification(p) {
      const url = p.body.actions?.callback_url;
      if (!url) return null;
      const body = phpForm('data', confirmation(p)).toString();
      return () => ({ url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    },
  };
}

// ---------------------------------------------------------------------------------
// CinetPay: https://docs.cinetpay.com/api/1.0-en/checkout/initialisation,
// .../checkout/verification, .../checkout/notification and .../checkout/hmac (the
// `x-token` over the concatenated form fields, in the documented order).

const CINETPAY_TOKEN_FIELDS = [
  'cpm_site_id', 'cpm_trans_id', 'cpm_trans_date', 'cpm_amount', 'cpm_currency', 'signature',
  'payment_method', 'cel_phone_num', 'cpm_phone_prefixe', 'cpm_language', 'cpm_version',
  'cpm_payment_config', 'cpm_page_action', 'cpm_custom', 'cpm_designation', 'cpm_error_message',
];

function cinetpay(env, base) {
  const apikey = needEnv(env, 'CINETPAY_API_KEY');
  const siteId = needEnv(env, 'CINETPAY_SITE_ID');
  const secretKey = needEnv(env, 'CINETPAY_SECRET_KEY');
  const currencies = ['XOF', 'XAF', 'CDF', 'GNF', 'USD'];

  const cinetDate = (iso) => iso.slice(0, 19).replace('T', ' ');
  const check = (p) => {
    const data = {
      amount: String(p.amount),
      currency: p.currency,
      status: p.state,
      payment_method: p.state === 'ACCEPTED' ? 'OMCIV2' : null,
      description: p.body.description,
      metadata: p.body.metadata ?? null,
      operator_id: p.state === 'ACCEPTED' ? `MP${p.ref.slice(0, 8)}` : null,
      payment_date: p.state === 'ACCEPTED' ? cinetDate(p.updated_at) : '',
      fund_availability_date: '',
    };
    switch (p.state) {
      case 'ACCEPTED': return { code: '00', message: 'SUCCES', data };
      case 'REFUSED': return { code: '600', message: 'PAYMENT_FAILED', data };
      case 'CANCELED': return { code: '627', message: 'TRANSACTION_CANCEL', data };
      default: return { code: '662', message: 'WAITING_CUSTOMER_PAYMENT', data };
    }
  };

  return {
    name: 'cinetpay',
    async api(req, path, body, store) {
      if (req.method !== 'POST') return null;
      if (body.apikey !== apikey || String(body.site_id) !== siteId) {
        return [403, { code: '609', message: 'AUTH_NOT_FOUND', description: 'apikey ou site_id incorrect' }];
      }
      if (path === '/v2/payment') {
        const missing = ['transaction_id', 'amount', 'currency', 'description', 'notify_url', 'return_url', 'channels']
          .filter((f) => body[f] === undefined || body[f] === null || body[f] === '');
        if (missing.length) {
          return [400, { code: '608', message: 'MINIMUM_REQUIRED_FIELDS', description: `requis : ${missing.join(', ')}` }];
        }
        if (!currencies.includes(body.currency)) {
          return [400, { code: '608', message: 'MINIMUM_REQUIRED_FIELDS', description: 'devise non supportée' }];
        }
        if (!Number.isInteger(body.amount) || body.amount <= 0 || body.amount % 5 !== 0) {
          return [400, { code: '608', message: 'MINIMUM_REQUIRED_FIELDS', description: 'le montant doit être un multiple de 5' }];
        }
        if (store.find(String(body.transaction_id))) {
          return [400, { code: '624', message: 'An error occurred while processing the request', description: 'transaction_id déjà utilisé' }];
        }
        const token = randomId(24);
        store.add({ ref: String(body.transaction_id), token, amount: body.amount, currency: body.currency, state: 'WAITING_FOR_CUSTOMER', body });
        return [200, {
          code: '201',
          message: 'CREATED',
          description: 'Transaction created with success',
          data: { payment_token: token, payment_url: `${base}/checkout/${token}` },
          api_response_id: randomId(8),
        }];
      }
      if (path === '/v2/payment/check') {
        const p = body.transaction_id
          ? store.find(String(body.transaction_id))
          : store.byToken(String(body.token ?? ''));
        if (!p) return [404, { code: '627', message: 'TRANSACTION_NOT_FOUND', description: 'transaction introuvable' }];
        return [200, { ...check(p), api_response_id: randomId(8) }];
      }
      return null;
    },
    settle(p, outcome) {
      p.state = { approved: 'ACCEPTED', declined: 'REFUSED', cancelled: 'CANCELED' }[outcome];
    },
    notification(p) {
      const url = p.body.notify_url;
      if (!url) return null;
      const fields = {
        cpm_site_id: siteId,
        cpm_trans_id: p.ref,
        cpm_trans_date: cinetDate(p.updated_at),
        cpm_amount: String(p.amount),
        cpm_currency: p.currency,
        signature: randomId(16),
        payment_method: 'OMCIV2',
        cel_phone_num: '0700000000',
        cpm_phone_prefixe: '225',
        cpm_language: p.body.lang ?? 'fr',
        cpm_version: 'V4',
        cpm_payment_config: 'SINGLE',
        cpm_page_action: 'PAYMENT',
        cpm_custom: p.body.metadata ?? '',
        cpm_designation: p.body.description ?? '',
        cpm_error_message: p.state === 'ACCEPTED' ? 'SUCCES' : p.state,
      };
      const token = hmacHex(secretKey, CINETPAY_TOKEN_FIELDS.map((f) => fields[f]).join(''));
      const body = new URLSearchParams(fields).toString();
      return () => ({ url, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-token': token }, body });
    },
  };
}

// ---------------------------------------------------------------------------------

/** One provider's payments, by the merchant's reference and by checkout token. */
class Store {
  constructor(provider) {
    this.provider = provider;
    this.payments = new Map();
  }

  add(fields) {
    const at = nowIso();
    const p = { ...fields, created_at: at, updated_at: at, deliveries: [], last: null };
    this.payments.set(p.ref, p);
    return p;
  }

  find(ref) {
    return this.payments.get(ref);
  }

  get(ref) {
    const p = this.find(ref);
    if (!p) throw new HttpError(404, { message: `${this.provider}: no payment ${ref}` });
    return p;
  }

  byToken(token) {
    for (const p of this.payments.values()) if (p.token === token) return p;
    return undefined;
  }
}

async function deliver(p) {
  if (!p.last) return { notified: null, error: 'this payment has no notification to send' };
  const { url, headers, body } = p.last();
  try {
    const reply = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(15000) });
    const text = await reply.text();
    p.deliveries.push({ at: nowIso(), status: reply.status, body: text.slice(0, 500) });
    return { notified: reply.status, reply: text.slice(0, 500) };
  } catch (e) {
    p.deliveries.push({ at: nowIso(), status: null, error: String(e) });
    return { notified: null, error: String(e) };
  }
}

async function settle(provider, p, outcome, notify, amount) {
  if (!OUTCOMES.includes(outcome)) {
    throw new HttpError(400, { message: `outcome must be one of ${OUTCOMES.join(', ')}` });
  }
  if (amount !== undefined) {
    // The customer paid another amount (a provider's bug, or a tampered page).
    if (typeof amount !== 'number' || !(amount > 0)) {
      throw new HttpError(400, { message: 'amount must be a positive number, in the provider\'s units' });
    }
    p.amount = amount;
  }
  provider.settle(p, outcome);
  p.updated_at = nowIso();
  p.last = provider.notification(p);
  const delivery = notify ? await deliver(p) : { notified: null };
  return { state: p.state, return_url: p.body.return_url ?? p.body.callback_url ?? p.body.actions?.return_url, ...delivery };
}

function checkoutPage(providerName, p) {
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const buttons = OUTCOMES.map((o) => `<button name="outcome" value="${o}">${o}</button>`).join(' ');
  return `<!doctype html><meta charset="utf-8"><title>${esc(providerName)} sandbox</title>
<h1>${esc(providerName)} (sandbox)</h1>
<p>${esc(p.amount)} ${esc(p.currency)}: ${esc(p.state)}</p>
<form method="post">${buttons}</form>`;
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const raw = Buffer.concat(chunks).toString('utf8');
  const type = req.headers['content-type'] ?? '';
  if (!raw) return {};
  if (type.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(raw));
  try {
    return JSON.parse(raw);
  } catch {
    throw new HttpError(400, { message: 'the body is not JSON' });
  }
}

function send(res, status, body, type = 'application/json') {
  const text = type === 'application/json' ? JSON.stringify(body) : body;
  res.writeHead(status, { 'content-type': `${type}; charset=utf-8` });
  res.end(text);
}

/**
 * Starts the sandbox. `env` holds the credentials (as the gateway's `<PROVIDER>_<NAME>`)
 * and the account-level webhook URLs. Resolves to `{url, server, close}`.
 */
export async function start({ port = 0, host = '127.0.0.1', env = process.env } = {}) {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(port, host, resolve));
  const url = `http://${host}:${server.address().port}`;
  const providers = new Map(
    [fedapay, moneroo, paydunya, cinetpay].map((make) => {
      const name = make.name;
      return [name, { ...make(env, `${url}/${name}`), store: new Store(name) }];
    }),
  );

  server.on('request', async (req, res) => {
    const path = new URL(req.url, url).pathname;
    try {
      const body = await readBody(req);
      const [, first, ...rest] = path.split('/');
      if (first === '_control') {
        if (rest[0] === 'health') return send(res, 200, { ok: true, providers: [...providers.keys()] });
        const provider = providers.get(rest[0]);
        if (!provider || !rest[1]) throw new HttpError(404, { message: `no control route ${path}` });
        const p = provider.store.get(decodeURIComponent(rest[1]));
        if (req.method === 'GET' && rest.length === 2) {
          const { last, ...shown } = p;
          return send(res, 200, shown);
        }
        if (req.method === 'POST' && rest[2] === 'settle') {
          return send(res, 200, await settle(provider, p, body.outcome, body.notify !== false, body.amount));
        }
        if (req.method === 'POST' && rest[2] === 'notify') return send(res, 200, await deliver(p));
        throw new HttpError(404, { message: `no control route ${req.method} ${path}` });
      }
      const provider = providers.get(first);
      if (!provider) throw new HttpError(404, { message: `no provider at ${path}` });
      const sub = `/${rest.join('/')}`;
      const page = sub.match(/^\/checkout\/([\w-]+)$/);
      if (page) {
        const p = provider.store.byToken(page[1]);
        if (!p) throw new HttpError(404, { message: `${first}: no checkout ${page[1]}` });
        if (req.method === 'GET') return send(res, 200, checkoutPage(first, p), 'text/html');
        return send(res, 200, await settle(provider, p, body.outcome, true));
      }
      const answer = await provider.api(req, sub, body, provider.store);
      if (!answer) throw new HttpError(404, { message: `${first}: no route ${req.method} ${sub}` });
      send(res, answer[0], answer[1]);
    } catch (e) {
      if (e instanceof HttpError) return send(res, e.status, e.body);
      console.error(e);
      send(res, 500, { message: String(e) });
    }
  });

  console.log(`payment providers' sandbox on ${url}: ${[...providers.keys()].join(', ')}`);
  return { url, server, close: () => new Promise((resolve) => server.close(resolve)) };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  start({ port: Number(process.env.SANDBOX_PORT ?? 8820) }).catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
