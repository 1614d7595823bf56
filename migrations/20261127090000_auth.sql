-- Accounts for the gateway's auth service (/api/v1/auth/*). Passwords are hashed here
-- with pgcrypto's bcrypt, never in the worker; refresh tokens are stored as SHA-256
-- hashes, rotated on every use, and a reused one revokes its whole family; failed
-- logins are counted per account and per client for lockout.
-- Everything lives in payhuk_auth, which the API roles cannot reach; the gateway uses
-- these functions as service_role.

create schema if not exists extensions;
create extension if not exists pgcrypto with schema extensions;

create schema if not exists payhuk_auth;
revoke all on schema payhuk_auth from public;

create table payhuk_auth.credentials (
  user_id uuid primary key references public.profiles (id) on delete cascade,
  password_hash text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table payhuk_auth.refresh_tokens (
  token_hash text primary key check (token_hash ~ '^[0-9a-f]{64}$'),
  family_id uuid not null,
  user_id uuid not null references public.profiles (id) on delete cascade,
  issued_at timestamptz not null default now(),
  expires_at timestamptz not null,
  -- Set when the token was exchanged for its successor; presenting it again is reuse.
  used_at timestamptz,
  revoked_at timestamptz
);
create index refresh_tokens_family on payhuk_auth.refresh_tokens (family_id);
create index refresh_tokens_user on payhuk_auth.refresh_tokens (user_id);

create table payhuk_auth.login_failures (
  -- 'account:<email>' or 'client:<address>'
  key text not null,
  failed_at timestamptz not null default now()
);
create index login_failures_key on payhuk_auth.login_failures (key, failed_at);

-- The account and its stores, as the gateway puts them in tokens and /me.
create function payhuk_auth.account(p_user_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'user_id', p.id,
    'email', p.email,
    'display_name', p.display_name,
    'stores', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                          'id', s.id, 'name', s.name, 'slug', s.slug) order by s.created_at)
                        from public.stores s where s.owner_id = p.id), '[]'::jsonb))
  from public.profiles p where p.id = p_user_id
$$;

-- Signup: the profile, its credentials and, for a merchant, a store; one transaction.
create function public.auth_signup(email text, password text, display_name text default null, store jsonb default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_email text := pg_catalog.lower(pg_catalog.btrim(email));
  v_user uuid := pg_catalog.gen_random_uuid();
begin
  if v_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' or pg_catalog.length(v_email) > 254 then
    raise exception using errcode = 'PT422', message = 'email is not an email address', hint = 'invalid_email';
  end if;
  if pg_catalog.octet_length(password) not between 8 and 72 then
    raise exception using errcode = 'PT422', message = 'password must be 8 to 72 bytes', hint = 'invalid_password';
  end if;
  begin
    insert into public.profiles (id, email, display_name) values (v_user, v_email, display_name);
  exception when unique_violation then
    raise exception using errcode = 'PT409', message = 'an account with this email exists', hint = 'email_taken';
  end;
  insert into payhuk_auth.credentials (user_id, password_hash)
  values (v_user, extensions.crypt(password, extensions.gen_salt('bf', 10)));
  if store is not null then
    begin
      insert into public.stores (owner_id, name, slug, default_currency)
      values (v_user, store ->> 'name', store ->> 'slug', coalesce(store ->> 'default_currency', 'XOF'));
    exception
      when unique_violation then
        raise exception using errcode = 'PT409', message = 'a store with this slug exists', hint = 'slug_taken';
      when check_violation or not_null_violation or foreign_key_violation then
        raise exception using errcode = 'PT422', message = 'the store is not valid', detail = sqlerrm,
          hint = 'invalid_store';
    end;
  end if;
  return payhuk_auth.account(v_user);
end
$$;

-- Checks a password; stable, so it runs on the nearest replica. Answers
-- {"status": "ok", "account": ...}, {"status": "wrong_password"} or
-- {"status": "unknown_email"} (the gateway asks the primary again then: the account
-- may be too new for this replica). An unknown email costs a bcrypt round like a
-- known one, so timing does not tell which emails exist.
create function public.auth_check_password(email text, password text)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_user uuid;
  v_hash text;
begin
  select c.user_id, c.password_hash into v_user, v_hash
    from public.profiles p join payhuk_auth.credentials c on c.user_id = p.id
   where p.email = pg_catalog.lower(pg_catalog.btrim(auth_check_password.email));
  if v_hash is null then
    perform extensions.crypt(auth_check_password.password, extensions.gen_salt('bf', 10));
    return '{"status": "unknown_email"}'::jsonb;
  end if;
  if extensions.crypt(auth_check_password.password, v_hash) <> v_hash then
    return '{"status": "wrong_password"}'::jsonb;
  end if;
  return pg_catalog.jsonb_build_object('status', 'ok', 'account', payhuk_auth.account(v_user));
end
$$;

-- Seconds a login must wait: 0 unless the account or the client failed too often
-- within the window, then until enough failures leave it. Stable (replica).
create function public.auth_login_wait(email text, client text, window_seconds integer,
                                       account_limit integer, client_limit integer)
returns integer
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(max(wait), 0)::integer from (
    select pg_catalog.ceil(extract(epoch from (f.failed_at + pg_catalog.make_interval(secs => window_seconds)
                                                 - pg_catalog.now())))::integer as wait
      from (select key, failed_at,
                   pg_catalog.row_number() over (partition by key order by failed_at desc) as newest_first,
                   case when key like 'account:%' then account_limit else client_limit end as lim
              from payhuk_auth.login_failures
             where key in ('account:' || pg_catalog.lower(pg_catalog.btrim(email)), 'client:' || client)
               and failed_at > pg_catalog.now() - pg_catalog.make_interval(secs => window_seconds)) f
     where f.newest_first = f.lim
  ) waits
$$;

-- A failed login: counted for the account and the client.
create function public.auth_login_failed(email text, client text)
returns void
language sql
security definer
set search_path = ''
as $$
  insert into payhuk_auth.login_failures (key)
  values ('account:' || pg_catalog.lower(pg_catalog.btrim(email))), ('client:' || client);
  delete from payhuk_auth.login_failures where failed_at < pg_catalog.now() - interval '1 day';
$$;

-- A successful login: the account's failures are forgiven and a session (a new token
-- family) starts.
create function public.auth_start_session(user_id uuid, email text, token_hash text, ttl_seconds integer)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from payhuk_auth.login_failures where key = 'account:' || pg_catalog.lower(pg_catalog.btrim(email));
  insert into payhuk_auth.refresh_tokens (token_hash, family_id, user_id, expires_at)
  values (token_hash, pg_catalog.gen_random_uuid(), user_id,
          pg_catalog.now() + pg_catalog.make_interval(secs => ttl_seconds));
  return payhuk_auth.account(user_id);
end
$$;

-- Exchanges a refresh token for its successor. Returns {"status": "ok", "account": ..}
-- or {"status": "reused" | "invalid" | "expired"}. A reused token revokes its whole
-- family (the revocation commits: this function reports rather than raises).
create function public.auth_rotate_refresh(old_hash text, new_hash text, ttl_seconds integer)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_token payhuk_auth.refresh_tokens;
begin
  select * into v_token from payhuk_auth.refresh_tokens where token_hash = old_hash for update;
  if not found or v_token.revoked_at is not null then
    return pg_catalog.jsonb_build_object('status', 'invalid');
  end if;
  if v_token.used_at is not null then
    update payhuk_auth.refresh_tokens set revoked_at = pg_catalog.now()
     where family_id = v_token.family_id and revoked_at is null;
    return pg_catalog.jsonb_build_object('status', 'reused');
  end if;
  if v_token.expires_at <= pg_catalog.now() then
    return pg_catalog.jsonb_build_object('status', 'expired');
  end if;
  update payhuk_auth.refresh_tokens set used_at = pg_catalog.now() where token_hash = old_hash;
  insert into payhuk_auth.refresh_tokens (token_hash, family_id, user_id, expires_at)
  values (new_hash, v_token.family_id, v_token.user_id,
          pg_catalog.now() + pg_catalog.make_interval(secs => ttl_seconds));
  return pg_catalog.jsonb_build_object('status', 'ok', 'account', payhuk_auth.account(v_token.user_id));
end
$$;

-- Logout: the token's family is revoked. Returns how many tokens that revoked.
create function public.auth_logout(token_hash text)
returns integer
language sql
security definer
set search_path = ''
as $$
  with revoked as (
    update payhuk_auth.refresh_tokens set revoked_at = pg_catalog.now()
     where family_id = (select family_id from payhuk_auth.refresh_tokens t where t.token_hash = auth_logout.token_hash)
       and revoked_at is null
    returning 1)
  select count(*)::integer from revoked
$$;

-- /me: the account of a user id the gateway took from a verified token. Stable.
create function public.auth_account(user_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$ select payhuk_auth.account(user_id) $$;

revoke all on function
  public.auth_signup(text, text, text, jsonb),
  public.auth_check_password(text, text),
  public.auth_login_wait(text, text, integer, integer, integer),
  public.auth_login_failed(text, text),
  public.auth_start_session(uuid, text, text, integer),
  public.auth_rotate_refresh(text, text, integer),
  public.auth_logout(text),
  public.auth_account(uuid)
from public, anon, authenticated;
grant execute on function
  public.auth_signup(text, text, text, jsonb),
  public.auth_check_password(text, text),
  public.auth_login_wait(text, text, integer, integer, integer),
  public.auth_login_failed(text, text),
  public.auth_start_session(uuid, text, text, integer),
  public.auth_rotate_refresh(text, text, integer),
  public.auth_logout(text),
  public.auth_account(uuid)
to service_role;
