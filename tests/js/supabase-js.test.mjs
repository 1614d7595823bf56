// supabase-js, unchanged, pointed at the gateway instead of a Supabase project.
// Run by the stack tests (tests/stack/clients.rs) with GATEWAY_URL, ANON_KEY,
// SERVICE_ROLE_KEY and CUSTOMER_KEY set for the local stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';

const url = process.env.GATEWAY_URL;
// Realtime is not part of the gateway, and Node 20 has no global WebSocket that
// supabase-js could default to; a transport that refuses to connect says so.
class NoRealtime {
  constructor() {
    throw new Error('realtime is not served by payhuk-edge');
  }
}
const options = {
  auth: { persistSession: false, autoRefreshToken: false },
  realtime: { transport: NoRealtime },
};
// A browser sends the gateway's read-your-writes cookie back by itself; Node's fetch
// keeps no cookies, so this one carries the token from a write to the next requests as
// the cookie would (supabase-js takes a custom fetch as an option).
function fetchKeepingConsistency() {
  let token = null;
  return async (input, init = {}) => {
    const headers = new Headers(init.headers);
    if (token) headers.set('x-payhuk-consistency', token);
    const response = await fetch(input, { ...init, headers });
    token = response.headers.get('x-payhuk-consistency') ?? token;
    return response;
  };
}
const anon = createClient(url, process.env.ANON_KEY, options);
const service = createClient(url, process.env.SERVICE_ROLE_KEY, options);
const customer = createClient(url, process.env.ANON_KEY, {
  ...options,
  global: {
    headers: { Authorization: `Bearer ${process.env.CUSTOMER_KEY}` },
    fetch: fetchKeepingConsistency(),
  },
});

test('anon reads the published catalogue with filters, order, range and count', async () => {
  const { data, error, count, status } = await anon
    .from('products')
    .select('id, name, price_minor, currency, published', { count: 'exact' })
    .eq('published', true)
    .gte('price_minor', 1000)
    .order('price_minor', { ascending: false })
    .range(0, 2);
  assert.equal(error, null);
  assert.equal(status, 206, 'a partial range with an exact count, as PostgREST answers it');
  assert.equal(data.length, 3);
  assert.ok(data.every((p) => p.published && p.price_minor >= 1000));
  assert.ok(data[0].price_minor >= data[1].price_minor && data[1].price_minor >= data[2].price_minor);
  assert.ok(count >= 3, `count ${count}`);
});

test('embedded resources and single rows', async () => {
  const { data, error } = await anon
    .from('stores')
    .select('slug, products(name)')
    .eq('slug', 'kofi-crafts')
    .single();
  assert.equal(error, null);
  assert.equal(data.slug, 'kofi-crafts');
  assert.ok(data.products.length >= 3);
});

// place_order's arguments as a client sends them: a key it keeps until it has an
// answer, and the hash of the request the key stands for.
function placeOrderArgs(idempotency_key, items) {
  const request_hash = createHash('sha256').update(JSON.stringify(items)).digest('hex');
  return { idempotency_key, request_hash, items };
}

test('a customer places an order through rpc, once per key, and reads it back', async () => {
  const items = [{ product_id: '44444444-4444-4444-8444-000000000301', quantity: 2 }];
  const args = placeOrderArgs(randomUUID(), items);
  const placed = await customer.rpc('place_order', args);
  assert.equal(placed.error, null);
  assert.equal(placed.data.currency, 'USD');
  assert.equal(placed.data.total_minor, 3800);
  assert.equal(placed.data.replayed, false);

  // A retry after a lost answer gets the same order, not a second one.
  const retried = await customer.rpc('place_order', args);
  assert.equal(retried.error, null);
  assert.equal(retried.data.id, placed.data.id);
  assert.equal(retried.data.replayed, true);

  // create_order alone would skip the key: clients may not call it.
  const direct = await customer.rpc('create_order', { items });
  assert.equal(direct.status, 403);
  assert.equal(direct.error.code, '42501');

  const mine = await customer.from('orders').select('id, total_minor').eq('id', placed.data.id).single();
  assert.equal(mine.error, null);
  assert.equal(mine.data.total_minor, 3800);
});

test('the service role inserts, updates and deletes with return=representation', async () => {
  const inserted = await service
    .from('analytics_events')
    .insert({ name: 'supabase_js', session_id: 'compat' })
    .select('id, name')
    .single();
  assert.equal(inserted.error, null);
  assert.equal(inserted.data.name, 'supabase_js');

  const updated = await service
    .from('analytics_events')
    .update({ path: '/compat' })
    .eq('id', inserted.data.id)
    .select('path')
    .single();
  assert.equal(updated.error, null);
  assert.equal(updated.data.path, '/compat');

  const deleted = await service.from('analytics_events').delete().eq('id', inserted.data.id);
  assert.equal(deleted.error, null);
  assert.equal(deleted.status, 204);
});

test('errors come back as supabase-js errors', async () => {
  const denied = await anon.from('orders').insert({});
  assert.notEqual(denied.error, null);
  assert.equal(denied.status, 401);

  const refused = await customer.rpc('place_order', placeOrderArgs(randomUUID(), []));
  assert.equal(refused.status, 400);
  assert.equal(refused.error.hint, 'invalid_items');

  const forged = createClient(url, 'not.a.jwt', options);
  const unauthorized = await forged.from('products').select('id');
  assert.equal(unauthorized.status, 401);
  assert.equal(unauthorized.error.code, 'PHK401');
});
