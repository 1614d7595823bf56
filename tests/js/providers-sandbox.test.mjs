// The payment sandbox (tests/sandbox/providers.mjs) against the providers' own SDKs,
// where they publish one on npm: FedaPay's `fedapay` (transactions, tokens, and its
// Webhook.constructEvent verifying the sandbox's signed notification) and PayDunya's
// `paydunya` (checkout invoice create and confirm). Moneroo and CinetPay publish no
// official npm SDK: their notifications are checked against their documented
// signatures, computed here independently. Run by tests/stack/payments.rs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import { start } from '../sandbox/providers.mjs';

const require = createRequire(import.meta.url);
const { FedaPay, Transaction, Webhook } = require('fedapay');
const paydunya = require('paydunya');

const env = {
  FEDAPAY_SECRET_KEY: 'sk_sandbox_conformance',
  FEDAPAY_WEBHOOK_SECRET: 'wh_sandbox_conformance',
  MONEROO_SECRET_KEY: 'moneroo_conformance',
  MONEROO_WEBHOOK_SECRET: 'moneroo_wh_conformance',
  PAYDUNYA_MASTER_KEY: 'wQzk9ZwR-Qq9m-0hD0-zpud-je5coGC3FHKW',
  PAYDUNYA_PRIVATE_KEY: 'test_private_conformance',
  PAYDUNYA_TOKEN: 'conformance_token',
  CINETPAY_API_KEY: 'cinetpay_conformance_key',
  CINETPAY_SITE_ID: '445160',
  CINETPAY_SECRET_KEY: 'cinetpay_conformance_secret',
};

// The merchant's notification endpoint: keeps every delivery, raw.
const received = [];
let merchant;
let merchantUrl;
let sandbox;

before(async () => {
  merchant = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise((resolve) => merchant.listen(0, '127.0.0.1', resolve));
  merchantUrl = `http://127.0.0.1:${merchant.address().port}`;
  sandbox = await start({
    port: 0,
    env: { ...env, FEDAPAY_WEBHOOK_URL: `${merchantUrl}/fedapay`, MONEROO_WEBHOOK_URL: `${merchantUrl}/moneroo` },
  });
});

after(async () => {
  await sandbox.close();
  await new Promise((resolve) => merchant.close(resolve));
});

const lastTo = (path) => received.filter((r) => r.path === path).at(-1);

async function pay(checkoutUrl, outcome) {
  const reply = await fetch(checkoutUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ outcome }),
  });
  assert.equal(reply.status, 200);
  return reply.json();
}

async function json(path, body, headers = {}) {
  const reply = await fetch(`${sandbox.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: reply.status, body: await reply.json() };
}

test('FedaPay: the SDK creates, tokenizes and retrieves; its Webhook verifies the notification', async () => {
  FedaPay.setApiKey(env.FEDAPAY_SECRET_KEY);
  FedaPay.setApiBase(`${sandbox.url}/fedapay`);
  const created = await Transaction.create({
    description: 'Conformance order',
    amount: 5000,
    currency: { iso: 'XOF' },
    callback_url: 'https://shop.payhuk.test/orders/1',
    custom_metadata: { payhuk_payment_id: '0193a5c0-0000-7000-8000-000000000001' },
  });
  assert.ok(created.id, 'the SDK read the created transaction');
  assert.equal(created.status, 'pending');
  const token = await created.generateToken();
  assert.ok(token.url.startsWith(`${sandbox.url}/fedapay/checkout/`), token.url);

  const paid = await pay(token.url, 'approved');
  assert.equal(paid.notified, 200);
  const note = lastTo('/fedapay');
  const event = Webhook.constructEvent(note.body, note.headers['x-fedapay-signature'], env.FEDAPAY_WEBHOOK_SECRET);
  assert.equal(event.name, 'transaction.approved');
  assert.equal(event.entity.id, created.id);
  assert.equal(event.entity.custom_metadata.payhuk_payment_id, '0193a5c0-0000-7000-8000-000000000001');
  assert.throws(
    () => Webhook.constructEvent(note.body, note.headers['x-fedapay-signature'], 'wh_someone_else'),
    'a different secret does not verify',
  );
  assert.throws(() => Webhook.constructEvent(note.body.replace('5000', '50'), note.headers['x-fedapay-signature'], env.FEDAPAY_WEBHOOK_SECRET));

  const retrieved = await Transaction.retrieve(created.id);
  assert.equal(retrieved.status, 'approved');

  FedaPay.setApiKey('sk_sandbox_wrong');
  await assert.rejects(Transaction.retrieve(created.id), 'a wrong key is refused');
});

test('PayDunya: the SDK creates and confirms a checkout invoice; the IPN carries the master key hash', async () => {
  const setup = new paydunya.Setup({
    masterKey: env.PAYDUNYA_MASTER_KEY,
    privateKey: env.PAYDUNYA_PRIVATE_KEY,
    publicKey: 'test_public_unused',
    token: env.PAYDUNYA_TOKEN,
    mode: 'test',
  });
  assert.equal(setup.baseURL, 'https://app.paydunya.com/sandbox-api/v1');
  setup.baseURL = `${sandbox.url}/paydunya/api/v1`; // the only change: where the API is
  const store = new paydunya.Store({
    name: 'Payhuk',
    callbackURL: `${merchantUrl}/paydunya`,
    returnURL: 'https://shop.payhuk.test/orders/1',
  });
  const invoice = new paydunya.CheckoutInvoice(setup, store);
  invoice.totalAmount = 5000;
  invoice.description = 'Conformance order';
  invoice.addCustomData('payhuk_payment_id', '0193a5c0-0000-7000-8000-000000000002');
  await invoice.create(); // create, then confirm: the SDK reads both replies
  assert.ok(invoice.token);
  assert.ok(invoice.url.startsWith(`${sandbox.url}/paydunya/checkout/`), invoice.url);
  assert.equal(invoice.status, 'pending');

  const paid = await pay(invoice.url, 'approved');
  assert.equal(paid.notified, 200, JSON.stringify(paid));
  const note = lastTo('/paydunya');
  assert.equal(note.headers['content-type'], 'application/x-www-form-urlencoded');
  const form = new URLSearchParams(note.body);
  assert.equal(form.get('data[hash]'), crypto.createHash('sha512').update(env.PAYDUNYA_MASTER_KEY).digest('hex'));
  assert.equal(form.get('data[status]'), 'completed');
  assert.equal(form.get('data[invoice][token]'), invoice.token);
  assert.equal(form.get('data[invoice][total_amount]'), '5000');
  assert.equal(form.get('data[custom_data][payhuk_payment_id]'), '0193a5c0-0000-7000-8000-000000000002');

  await invoice.confirm();
  assert.equal(invoice.status, 'completed');
  assert.equal(invoice.customData.payhuk_payment_id, '0193a5c0-0000-7000-8000-000000000002');

  const wrongKeys = new paydunya.Setup({ masterKey: 'x', privateKey: 'y', token: 'z', mode: 'test' });
  wrongKeys.baseURL = setup.baseURL;
  await assert.rejects(new paydunya.CheckoutInvoice(wrongKeys, store).confirm(invoice.token));
});

test('Moneroo: initialize, verify, and a notification signed over its raw body', async () => {
  const auth = { authorization: `Bearer ${env.MONEROO_SECRET_KEY}` };
  const initialized = await json('/moneroo/v1/payments/initialize', {
    amount: 45,
    currency: 'EUR',
    description: 'Conformance order',
    return_url: 'https://shop.payhuk.test/orders/1',
    customer: { email: 'ada@payhuk.test', first_name: 'Ada', last_name: 'Lovelace' },
    metadata: { payhuk_payment_id: '0193a5c0-0000-7000-8000-000000000003' },
  }, auth);
  assert.equal(initialized.status, 201, JSON.stringify(initialized.body));
  const { id, checkout_url: checkoutUrl } = initialized.body.data;
  const refused = await json('/moneroo/v1/payments/initialize', { amount: 12.5, currency: 'EUR' }, auth);
  assert.equal(refused.status, 422);
  assert.ok(refused.body.errors.amount && refused.body.errors['customer.email']);

  const paid = await pay(checkoutUrl, 'approved');
  assert.equal(paid.notified, 200);
  const note = lastTo('/moneroo');
  const expected = crypto.createHmac('sha256', env.MONEROO_WEBHOOK_SECRET).update(note.body).digest('hex');
  assert.equal(note.headers['x-moneroo-signature'], expected);
  const event = JSON.parse(note.body);
  assert.equal(event.event, 'payment.success');
  assert.equal(event.data.id, id);
  assert.equal(event.data.metadata, undefined, 'partial, as Moneroo documents it');

  const verified = await json(`/moneroo/v1/payments/${id}/verify`, undefined, auth);
  assert.equal(verified.body.data.status, 'success');
  assert.equal(verified.body.data.amount, 45);
  assert.equal(verified.body.data.currency.code, 'EUR');
  assert.equal((await json(`/moneroo/v1/payments/${id}/verify`, undefined, {})).status, 401);
});

test('CinetPay: init, check, and an x-token over the documented fields in order', async () => {
  const keys = { apikey: env.CINETPAY_API_KEY, site_id: env.CINETPAY_SITE_ID };
  const transactionId = crypto.randomUUID();
  const init = {
    ...keys,
    transaction_id: transactionId,
    amount: 5000,
    currency: 'XOF',
    description: 'Conformance order',
    notify_url: `${merchantUrl}/cinetpay`,
    return_url: 'https://shop.payhuk.test/orders/1',
    channels: 'ALL',
    metadata: transactionId,
  };
  assert.equal((await json('/cinetpay/v2/payment', { ...init, transaction_id: 'x', amount: 5001 })).body.code, '608');
  const created = await json('/cinetpay/v2/payment', init);
  assert.equal(created.body.code, '201', JSON.stringify(created.body));
  assert.equal((await json('/cinetpay/v2/payment', init)).body.code, '624', 'a transaction_id once');
  const waiting = await json('/cinetpay/v2/payment/check', { ...keys, transaction_id: transactionId });
  assert.equal(waiting.body.code, '662');

  const paid = await pay(created.body.data.payment_url, 'approved');
  assert.equal(paid.notified, 200);
  const note = lastTo('/cinetpay');
  const form = new URLSearchParams(note.body);
  const order = ['cpm_site_id', 'cpm_trans_id', 'cpm_trans_date', 'cpm_amount', 'cpm_currency', 'signature',
    'payment_method', 'cel_phone_num', 'cpm_phone_prefixe', 'cpm_language', 'cpm_version', 'cpm_payment_config',
    'cpm_page_action', 'cpm_custom', 'cpm_designation', 'cpm_error_message'];
  const token = crypto.createHmac('sha256', env.CINETPAY_SECRET_KEY)
    .update(order.map((f) => form.get(f) ?? '').join(''))
    .digest('hex');
  assert.equal(note.headers['x-token'], token);
  assert.equal(form.get('cpm_trans_id'), transactionId);
  assert.equal(form.get('cpm_site_id'), env.CINETPAY_SITE_ID);

  const accepted = await json('/cinetpay/v2/payment/check', { ...keys, transaction_id: transactionId });
  assert.equal(accepted.body.code, '00');
  assert.equal(accepted.body.data.status, 'ACCEPTED');
  assert.equal(accepted.body.data.amount, '5000');
  assert.equal((await json('/cinetpay/v2/payment/check', { ...keys, apikey: 'no' })).body.code, '609');
});

test('control: settle without notifying, then deliver, and the same notification again', async () => {
  const auth = { authorization: `Bearer ${env.MONEROO_SECRET_KEY}` };
  const initialized = await json('/moneroo/v1/payments/initialize', {
    amount: 5000,
    currency: 'XOF',
    description: 'Conformance order',
    return_url: 'https://shop.payhuk.test/orders/1',
    customer: { email: 'ada@payhuk.test', first_name: 'Ada', last_name: 'Lovelace' },
  }, auth);
  const id = initialized.body.data.id;
  const before = received.length;
  const settled = await json(`/_control/moneroo/${id}/settle`, { outcome: 'declined', notify: false });
  assert.equal(settled.body.state, 'failed');
  assert.equal(received.length, before, 'nothing sent');
  assert.equal((await json(`/_control/moneroo/${id}`)).body.state, 'failed');
  const first = await json(`/_control/moneroo/${id}/notify`, {});
  const second = await json(`/_control/moneroo/${id}/notify`, {});
  assert.equal(first.body.notified, 200);
  assert.equal(second.body.notified, 200);
  assert.equal(received.at(-1).body, received.at(-2).body, 'a redelivery is the same event');
  assert.equal((await json('/_control/moneroo/nope')).status, 404);
  assert.equal((await json(`/_control/moneroo/${id}/settle`, { outcome: 'maybe' })).status, 400);
});
