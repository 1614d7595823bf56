-- Retention at pinned instants: what purge_expired removes and what it keeps, around
-- the month boundary 2026-02-01 00:00 UTC.
begin;
set local timezone = 'UTC';
select plan(10);

insert into public.idempotency_keys (scope, key, request_hash, created_at, expires_at) values
  ('tap-retention', 'old', repeat('a', 64), '2026-01-30 23:59:59+00', '2026-01-31 23:59:59+00'),
  ('tap-retention', 'new', repeat('b', 64), '2026-01-31 00:00:01+00', '2026-02-01 00:00:01+00');
insert into payhuk_auth.refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at) values
  (repeat('1', 64), gen_random_uuid(), '22222222-2222-4222-8222-000000000001', '2026-01-01', '2026-01-30 23:59:59+00'),
  (repeat('2', 64), gen_random_uuid(), '22222222-2222-4222-8222-000000000001', '2026-01-01', '2026-01-31 00:00:01+00');
insert into payhuk_auth.login_failures (key, failed_at) values
  ('account:tap-retention@payhuk.test', '2026-01-30 23:59:59+00'),
  ('account:tap-retention@payhuk.test', '2026-01-31 00:00:01+00');

set local role service_role;
select is(public.purge_expired('2026-02-01 00:00:00+00'),
  '{"idempotency_keys": 1, "refresh_tokens": 1, "login_failures": 1, "analytics_windows": 0}'::jsonb,
  'at the month boundary: one of each is past keeping');
select is(public.purge_expired('2026-02-01 00:00:00+00'),
  '{"idempotency_keys": 0, "refresh_tokens": 0, "login_failures": 0, "analytics_windows": 0}'::jsonb, 'and only once');
reset role;
select is((select array_agg(key) from public.idempotency_keys where scope = 'tap-retention'), '{new}',
  'an idempotency key is kept until it expires');
select is((select count(*)::int from payhuk_auth.refresh_tokens where token_hash = repeat('2', 64)), 1,
  'a refresh token is kept a day past its expiry');
select is((select count(*)::int from payhuk_auth.login_failures where key = 'account:tap-retention@payhuk.test'), 1,
  'a login failure is kept for the longest lockout window');

insert into payhuk_auth.login_failures (key, failed_at)
select 'client:tap-retention', '2026-01-15 12:00:00+00' from generate_series(1, 3);
set local role service_role;
select is((public.purge_expired('2026-02-01 00:00:00+00', 2) ->> 'login_failures')::int, 2,
  'batches are bounded');
select is((public.purge_expired('2026-02-01 00:00:00+00', 2) ->> 'login_failures')::int, 1,
  'and the next run takes the rest');
reset role;

select has_index('payhuk_auth', 'login_failures', 'login_failures_failed_at', 'login failures are purged by an index');
select has_index('payhuk_auth', 'refresh_tokens', 'refresh_tokens_expires_at', 'refresh tokens are purged by an index');
set local role authenticated;
select throws_ok($$ select public.purge_expired() $$, '42501', null, 'clients cannot purge');

select * from finish();
rollback;
