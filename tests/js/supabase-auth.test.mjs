// supabase-js's auth client, unchanged, with the gateway as its Supabase URL: /auth/v1
// as GoTrue serves it. Run by the stack tests (tests/stack/clients.rs) with GATEWAY_URL,
// ANON_KEY, PUBLISHABLE_KEY, SECRET_KEY, DEMO_EMAIL and DEMO_PASSWORD set for the local stack.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';

const url = process.env.GATEWAY_URL;
const anonKey = process.env.ANON_KEY;
class NoRealtime {
  constructor() {
    throw new Error('realtime is not served by payhuk-edge');
  }
}
// Node keeps no session storage of its own: each client keeps its session in memory.
const client = (extra = {}) =>
  createClient(url, anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, ...extra },
    realtime: { transport: NoRealtime },
  });
const unique = () => `${process.pid}-${Math.floor(Math.random() * 1e9)}`;

test('sign up, sign in, get the user and its claims through the JWKS, refresh, update, sign out', async () => {
  const email = `supabase-js-${unique()}@payhuk.test`;
  const password = 'a-long-enough-password-1';
  const supabase = client();

  const signedUp = await supabase.auth.signUp({
    email,
    password,
    options: { data: { display_name: 'Ada', lang: 'fr' } },
  });
  assert.equal(signedUp.error, null);
  assert.ok(signedUp.data.session, 'confirmed at once: a session');
  assert.equal(signedUp.data.user.email, email);
  assert.equal(signedUp.data.user.user_metadata.lang, 'fr');

  const again = await client().auth.signUp({ email, password });
  assert.equal(again.error?.code, 'user_already_exists');
  assert.equal(again.error?.status, 422);

  const wrong = await supabase.auth.signInWithPassword({ email, password: 'not-the-password' });
  assert.equal(wrong.error?.code, 'invalid_credentials');
  assert.equal(wrong.error?.status, 400);

  const signedIn = await supabase.auth.signInWithPassword({ email, password });
  assert.equal(signedIn.error, null);
  const session = signedIn.data.session;
  assert.equal(session.user.id, signedUp.data.user.id);

  const { data: got, error: getError } = await supabase.auth.getUser();
  assert.equal(getError, null);
  assert.equal(got.user.id, session.user.id);
  assert.equal(got.user.aud, 'authenticated');

  // getClaims verifies an asymmetric token with WebCrypto and the published JWKS.
  const claims = await supabase.auth.getClaims();
  assert.equal(claims.error, null);
  assert.equal(claims.data.header.alg, 'ES256');
  assert.equal(claims.data.claims.sub, session.user.id);
  assert.equal(claims.data.claims.role, 'authenticated');

  const refreshed = await supabase.auth.refreshSession();
  assert.equal(refreshed.error, null);
  assert.notEqual(refreshed.data.session.refresh_token, session.refresh_token);
  const reused = await client().auth.refreshSession({ refresh_token: session.refresh_token });
  assert.equal(reused.error?.code, 'refresh_token_already_used');

  const updated = await supabase.auth.updateUser({ data: { lang: 'wo', display_name: null } });
  assert.equal(updated.error, null);
  assert.equal(updated.data.user.user_metadata.lang, 'wo');
  assert.equal('display_name' in updated.data.user.user_metadata, false, 'null removes a key');
  const newPassword = 'another-long-password-2';
  assert.equal((await supabase.auth.updateUser({ password: newPassword })).error, null);
  assert.equal(
    (await client().auth.signInWithPassword({ email, password })).error?.code,
    'invalid_credentials',
    'the old password no longer signs in',
  );
  const other = client();
  assert.equal((await other.auth.signInWithPassword({ email, password: newPassword })).error, null);

  // signOut ends every session by default; scope local only this one.
  const local = client();
  await local.auth.signInWithPassword({ email, password: newPassword });
  const { data: localSession } = await local.auth.getSession();
  assert.equal((await local.auth.signOut({ scope: 'local' })).error, null);
  const afterLocal = await client().auth.refreshSession({
    refresh_token: localSession.session.refresh_token,
  });
  assert.equal(afterLocal.error?.code, 'refresh_token_not_found');
  const { data: otherSession } = await other.auth.getSession();
  assert.equal((await supabase.auth.signOut()).error, null);
  const afterGlobal = await client().auth.refreshSession({
    refresh_token: otherSession.session.refresh_token,
  });
  assert.equal(afterGlobal.error?.code, 'refresh_token_not_found', 'global ended the others too');
});

test('the seeded customer signs in and reads only their own orders under RLS', async () => {
  const supabase = client();
  const { data, error } = await supabase.auth.signInWithPassword({
    email: process.env.DEMO_EMAIL,
    password: process.env.DEMO_PASSWORD,
  });
  assert.equal(error, null);
  const orders = await supabase.from('orders').select('id, customer_id').limit(50);
  assert.equal(orders.error, null);
  assert.ok(orders.data.length > 0, 'the demo customer has orders');
  assert.ok(orders.data.every((o) => o.customer_id === data.user.id));
});

// Keeps the gateway's read-your-writes token between calls, as a frontend would.
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

test('a new user\'s ES256 session writes with rpc() and from() under RLS and reads its own writes back', async () => {
  const supabase = client();
  const signedUp = await supabase.auth.signUp({
    email: `supabase-js-order-${unique()}@payhuk.test`,
    password: 'a-long-enough-password-3',
  });
  assert.equal(signedUp.error, null);
  const writer = createClient(url, anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: NoRealtime },
    global: {
      headers: { Authorization: `Bearer ${signedUp.data.session.access_token}` },
      fetch: fetchKeepingConsistency(),
    },
  });
  const placed = await writer.rpc('place_order', {
    idempotency_key: `supabase-js-${unique()}`,
    request_hash: 'ab'.repeat(32),
    items: [{ product_id: '44444444-4444-4444-8444-000000000301', quantity: 1 }],
  });
  assert.equal(placed.error, null);
  assert.equal(placed.data.replayed, false);
  const mine = await writer.from('orders').select('id, customer_id').eq('id', placed.data.id).single();
  assert.equal(mine.error, null, 'the write is read back at once, replicas paused');
  assert.equal(mine.data.customer_id, signedUp.data.user.id);
  const stranger = await client().from('orders').select('id').eq('id', placed.data.id);
  assert.deepEqual(stranger.data, [], 'anon does not see it');

  // A table write through from(): RLS lets a user update their own profile only.
  const renamed = await writer
    .from('profiles')
    .update({ display_name: 'Ada L.' })
    .eq('id', signedUp.data.user.id)
    .select('display_name')
    .single();
  assert.equal(renamed.error, null);
  assert.equal(renamed.data.display_name, 'Ada L.');
  const others = await writer.from('profiles').update({ display_name: 'x' }).neq('id', signedUp.data.user.id).select('id');
  assert.equal(others.error, null);
  assert.deepEqual(others.data, [], 'no other profile is writable');
  const reread = await writer.from('profiles').select('display_name').eq('id', signedUp.data.user.id).single();
  assert.equal(reread.data.display_name, 'Ada L.');
});

test('an expiring session is refreshed by the client before its next request', async () => {
  const supabase = client();
  const { data } = await supabase.auth.signInWithPassword({
    email: process.env.DEMO_EMAIL,
    password: process.env.DEMO_PASSWORD,
  });
  // The same session as if its access token had expired a minute ago: auth-js refreshes
  // it with the refresh token before using it.
  const [header, payload, signature] = data.session.access_token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url'));
  claims.exp = Math.floor(Date.now() / 1000) - 60;
  const expired = [header, Buffer.from(JSON.stringify(claims)).toString('base64url'), signature].join('.');
  const set = await supabase.auth.setSession({
    access_token: expired,
    refresh_token: data.session.refresh_token,
  });
  assert.equal(set.error, null);
  assert.notEqual(set.data.session.access_token, expired);
  assert.notEqual(set.data.session.refresh_token, data.session.refresh_token);
  const orders = await supabase.from('orders').select('id').limit(1);
  assert.equal(orders.error, null, 'the refreshed token reads');
});

test('a session about to expire is refreshed by the client on its own, with no call to refresh', async () => {
  // The session kept where auth-js keeps it (a storage), as a browser would.
  const stored = new Map();
  const storage = {
    getItem: (key) => stored.get(key) ?? null,
    setItem: (key, value) => void stored.set(key, value),
    removeItem: (key) => void stored.delete(key),
  };
  const supabase = client({ persistSession: true, storage });
  const { data, error } = await supabase.auth.signInWithPassword({
    email: process.env.DEMO_EMAIL,
    password: process.env.DEMO_PASSWORD,
  });
  assert.equal(error, null);
  const key = [...stored.keys()].find((k) => k.endsWith('-auth-token'));
  assert.ok(key, `the session is stored: ${[...stored.keys()]}`);
  // Twenty seconds from expiry: inside auth-js's refresh margin, still valid at the edge.
  const session = JSON.parse(stored.get(key));
  session.expires_at = Math.floor(Date.now() / 1000) + 20;
  stored.set(key, JSON.stringify(session));

  const orders = await supabase.from('orders').select('id, customer_id').limit(5);
  assert.equal(orders.error, null);
  assert.ok(orders.data.every((o) => o.customer_id === data.user.id), 'read under RLS as the user');
  const after = JSON.parse(stored.get(key));
  assert.notEqual(after.access_token, data.session.access_token, 'a new access token');
  assert.notEqual(after.refresh_token, data.session.refresh_token, 'the refresh token rotated');
  assert.ok(after.expires_at > session.expires_at + 60, 'a fresh expiry');
  // The rotated-out refresh token is spent.
  const reused = await client().auth.refreshSession({ refresh_token: data.session.refresh_token });
  assert.ok(reused.error, 'the old refresh token no longer works');
});

test('a token signed by another project\'s ES256 key is refused', async () => {
  const keys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
    'sign',
    'verify',
  ]);
  const b64 = (bytes) => Buffer.from(bytes).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const header = b64(JSON.stringify({ alg: 'ES256', kid: 'payhuk-local-es256-1', typ: 'JWT' }));
  const body = b64(
    JSON.stringify({ role: 'authenticated', sub: '22222222-2222-4222-8222-000000000005', aud: 'authenticated', iat: now, exp: now + 600 }),
  );
  const signature = await webcrypto.subtle.sign(
    { name: 'ECDSA', hash: 'SHA-256' },
    keys.privateKey,
    Buffer.from(`${header}.${body}`),
  );
  const forged = `${header}.${body}.${b64(signature)}`;
  const foreign = createClient(url, anonKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: NoRealtime },
    global: { headers: { Authorization: `Bearer ${forged}` } },
  });
  const orders = await foreign.from('orders').select('id').limit(1);
  assert.equal(orders.status, 401);
  const user = await foreign.auth.getUser(forged);
  assert.ok(user.error, 'getUser refuses it too');
});

test('the new API keys: sb_publishable_ acts as anon, sb_secret_ as the service role (not from a browser)', async () => {
  const publishable = createClient(url, process.env.PUBLISHABLE_KEY, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: NoRealtime },
  });
  const products = await publishable.from('products').select('id, published').limit(5);
  assert.equal(products.error, null);
  assert.ok(products.data.length > 0 && products.data.every((p) => p.published), 'anon sees the published catalogue');
  const hidden = await publishable.from('orders').select('id').limit(1);
  assert.equal(hidden.error, null);
  assert.equal(hidden.data.length, 0, 'anon sees no orders');

  // Signed in through a publishable-key client: the user's rows under RLS.
  const { data, error } = await publishable.auth.signInWithPassword({
    email: process.env.DEMO_EMAIL,
    password: process.env.DEMO_PASSWORD,
  });
  assert.equal(error, null);
  const mine = await publishable.from('orders').select('customer_id').limit(20);
  assert.equal(mine.error, null);
  assert.ok(mine.data.length > 0 && mine.data.every((o) => o.customer_id === data.user.id));

  // Writes too: a new user signs up through the publishable key and edits their profile.
  const writer = createClient(url, process.env.PUBLISHABLE_KEY, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: NoRealtime },
  });
  const signedUp = await writer.auth.signUp({
    email: `publishable-${unique()}@payhuk.test`,
    password: 'a-long-enough-password-2',
  });
  assert.equal(signedUp.error, null);
  const renamed = await writer
    .from('profiles')
    .update({ display_name: 'Written through sb_publishable_' })
    .eq('id', signedUp.data.user.id)
    .select('id, display_name');
  assert.equal(renamed.error, null);
  assert.deepEqual(renamed.data, [{ id: signedUp.data.user.id, display_name: 'Written through sb_publishable_' }]);
  const others = await writer
    .from('profiles')
    .update({ display_name: 'not mine' })
    .neq('id', signedUp.data.user.id)
    .select('id');
  assert.deepEqual(others.data, [], 'RLS: no other profile is writable');

  const secret = createClient(url, process.env.SECRET_KEY, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: NoRealtime },
  });
  const all = await secret.from('orders').select('customer_id').limit(200);
  assert.equal(all.error, null);
  assert.ok(new Set(all.data.map((o) => o.customer_id)).size > 1, 'the service role sees every customer');
  const fromBrowser = createClient(url, process.env.SECRET_KEY, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: NoRealtime },
    global: { headers: { Origin: 'http://localhost:8790' } },
  });
  const refused = await fromBrowser.from('orders').select('id').limit(1);
  assert.equal(refused.status, 401);

  const unknown = createClient(url, 'sb_publishable_not_a_key_of_this_project', {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: NoRealtime },
  });
  assert.equal((await unknown.from('products').select('id').limit(1)).status, 401);
});
