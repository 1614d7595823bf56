-- The auth functions: who may call them, how passwords and refresh tokens are kept,
-- rotation and reuse, lockout arithmetic.
begin;
-- Counts calls to C functions too (crypt(), below); from the start, since a function's
-- call site decides whether it is counted when first run.
set local track_functions = 'all';
select plan(33);

select ok(not has_schema_privilege('anon', 'payhuk_auth', 'usage')
          and not has_schema_privilege('authenticated', 'payhuk_auth', 'usage'),
  'API roles cannot reach credentials or refresh tokens');
select ok(
  (select bool_and(has_function_privilege('service_role', p.oid, 'execute')
                   and not has_function_privilege('anon', p.oid, 'execute')
                   and not has_function_privilege('authenticated', p.oid, 'execute'))
     from pg_proc p where p.pronamespace = 'public'::regnamespace and p.proname like 'auth\_%'),
  'every auth_* function is for the service role only');
select ok(has_function_privilege('authenticated', 'public.place_order(text, text, jsonb)', 'execute')
          and not has_function_privilege('anon', 'public.place_order(text, text, jsonb)', 'execute'),
  'place_order is for signed-in users');

select lives_ok($$ select public.auth_signup('Tap.User@Payhuk.test', 'tap password 1', 'Tap', null) $$, 'signup');
select is((select email from public.profiles where email = 'tap.user@payhuk.test'), 'tap.user@payhuk.test',
  'emails are stored lowercase');
select ok((select password_hash like '$2a$10$%' from payhuk_auth.credentials c
             join public.profiles p on p.id = c.user_id where p.email = 'tap.user@payhuk.test'),
  'the password is kept as a bcrypt hash');
select throws_ok($$ select public.auth_signup('tap.user@payhuk.test', 'tap password 2') $$,
  'PT409', 'an account with this email exists', 'one account per email');
select throws_ok($$ select public.auth_signup('tap2@payhuk.test', 'short') $$, 'PT422', null, 'short passwords are refused');

select is(public.auth_check_password('TAP.user@payhuk.test', 'tap password 1') ->> 'status', 'ok', 'the right password');
select is(public.auth_check_password('tap.user@payhuk.test', 'tap password 0') ->> 'status', 'wrong_password', 'a wrong one');
select is(public.auth_check_password('nobody@payhuk.test', 'tap password 1') ->> 'status', 'unknown_email', 'an unknown email');

-- Refresh tokens: one rotation, then reuse of the first revokes the family.
select public.auth_start_session((select id from public.profiles where email = 'tap.user@payhuk.test'),
  'tap.user@payhuk.test', repeat('a', 64), 3600);
select is(public.auth_rotate_refresh(repeat('a', 64), repeat('b', 64), 3600) ->> 'status', 'ok', 'a fresh token rotates');
select is(public.auth_rotate_refresh(repeat('a', 64), repeat('c', 64), 3600) ->> 'status', 'reused', 'the used one is reuse');
select is(public.auth_rotate_refresh(repeat('b', 64), repeat('d', 64), 3600) ->> 'status', 'invalid',
  'and its successor was revoked with the family');

-- Lockout: the third failure in a 60 s window with a limit of 3 makes the account wait.
select public.auth_login_failed('lock@payhuk.test', '192.0.2.1') from generate_series(1, 2);
select is(public.auth_login_wait('lock@payhuk.test', '192.0.2.1', 60, 3, 100), 0, 'two failures: no wait');
select public.auth_login_failed('lock@payhuk.test', '192.0.2.1');
select ok(public.auth_login_wait('lock@payhuk.test', '192.0.2.1', 60, 3, 100) between 59 and 60,
  'three: wait until the oldest leaves the window');

-- auth_login, one call: a wrong password is recorded and refused, a right one starts a
-- session (and clears the account's failures), a locked-out one waits unchecked.
select is(public.auth_login('tap.user@payhuk.test', 'tap password 0', '192.0.2.9', 60, 3, 100, repeat('e', 64), 3600),
  '{"status": "refused"}'::jsonb, 'auth_login: a wrong password is refused');
select is((select count(*)::integer from payhuk_auth.login_failures where key in ('account:tap.user@payhuk.test', 'client:192.0.2.9')),
  2, 'and counted for the account and the client');
select is(public.auth_login('Tap.User@payhuk.test', 'tap password 1', '192.0.2.9', 60, 3, 100, repeat('f', 64), 3600)
            #>> '{account,email}', 'tap.user@payhuk.test', 'the right one starts a session');
select is(public.auth_login('lock@payhuk.test', 'whatever1', '192.0.2.1', 60, 3, 100, repeat('g', 64), 3600) ->> 'status',
  'wait', 'a locked-out account waits, its password unchecked');

-- Signup and its first session in one call.
select is(public.auth_signup_session('One.Trip@payhuk.test', 'tap password 3', 'One Trip', null, repeat('9', 64), 3600)
            ->> 'email', 'one.trip@payhuk.test', 'auth_signup_session: the account');
select is((select t.user_id from payhuk_auth.refresh_tokens t where t.token_hash = repeat('9', 64)),
  (select id from public.profiles where email = 'one.trip@payhuk.test'), 'and its session, in the same call');

-- GoTrue's needs: metadata at signup, a session id per session, updating the user,
-- ending sessions by scope.
create temp table meta_user as
select public.auth_signup_session('meta@payhuk.test', 'tap password 4', null, null, repeat('7', 64), 3600,
                                  '{"lang": "fr", "theme": "dark"}') as v;
select is((select v -> 'user_metadata' from meta_user), '{"lang": "fr", "theme": "dark"}'::jsonb,
  'signup keeps the metadata');
select ok((select v ? 'session_id' and v ->> 'session_id' is not null from meta_user), 'and names its session');
select is(public.auth_update_user((select (v ->> 'user_id')::uuid from meta_user), null, '{"lang": "wo", "theme": null}')
            -> 'user_metadata', '{"lang": "wo"}'::jsonb, 'an update merges, null removes a key');
select public.auth_update_user((select (v ->> 'user_id')::uuid from meta_user), 'tap password 5', null);
select is(public.auth_check_password('meta@payhuk.test', 'tap password 5') ->> 'status', 'ok', 'a new password signs in');
select is(public.auth_check_password('meta@payhuk.test', 'tap password 4') ->> 'status', 'wrong_password', 'the old one no longer');
select throws_ok($$ select public.auth_update_user((select (v ->> 'user_id')::uuid from meta_user), 'short', null) $$,
  'PT422', 'password must be 8 to 72 bytes', 'a short password is refused');
-- Two more sessions; "others" ends them, not the first.
select public.auth_start_session((select (v ->> 'user_id')::uuid from meta_user), 'meta@payhuk.test', repeat('5', 64), 3600);
select public.auth_start_session((select (v ->> 'user_id')::uuid from meta_user), 'meta@payhuk.test', repeat('6', 64), 3600);
select is(public.auth_end_sessions((select (v ->> 'user_id')::uuid from meta_user),
                                   (select (v ->> 'session_id')::uuid from meta_user), 'others'),
  2, 'others: every session but this one');
select is(public.auth_rotate_refresh(repeat('7', 64), repeat('8', 64), 3600) ->> 'status', 'ok',
  'this one still refreshes');

-- An unknown email costs the same work as a known one: one bcrypt of the same cost.
-- Counted, not timed: the calls to crypt() in this transaction (track_functions).
create function pg_temp.crypt_calls() returns bigint language sql as $$
  select coalesce(sum(pg_stat_get_xact_function_calls(p.oid)), 0)
    from pg_proc p where p.proname = 'crypt' and p.pronamespace = 'extensions'::regnamespace
$$;
create temp table crypt_count as select pg_temp.crypt_calls() as before;
select public.auth_check_password('tap.user@payhuk.test', 'tap password 0');
update crypt_count set before = pg_temp.crypt_calls() - before;
select is((select before from crypt_count), 1::bigint, 'a known email: one bcrypt');
update crypt_count set before = pg_temp.crypt_calls();
select public.auth_check_password('nobody.at.all@payhuk.test', 'tap password 0');
select is(pg_temp.crypt_calls() - (select before from crypt_count), 1::bigint, 'an unknown email: one bcrypt too');
select ok((select bool_and(password_hash like '$2a$10$%') from payhuk_auth.credentials),
  'at the cost the unknown email''s is made with (bf, 10)');

select * from finish();
rollback;
