-- What /auth/v1 (GoTrue's API, as supabase-js calls it) needs beyond /api/v1/auth; one
-- implementation serves both:
--
-- * user metadata (`options.data` at signup, `data` in PUT /user), kept with the
--   credentials, outside the API roles' reach, and in the account's JSON;
-- * the account's times (created, updated, last sign-in) for GoTrue's User shape;
-- * a session id in every session's account: the refresh token family, which access
--   tokens carry as `session_id` so that POST /logout?scope=local|global|others can end
--   this session, all of them, or all but this one;
-- * changing the password or the metadata (PUT /user).

alter table payhuk_auth.credentials
  add column user_metadata jsonb not null default '{}'::jsonb
    check (pg_catalog.jsonb_typeof(user_metadata) = 'object'
           and pg_catalog.octet_length(user_metadata::text) <= 16384),
  add column last_sign_in_at timestamptz;

create or replace function payhuk_auth.account(p_user_id uuid)
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
                        from public.stores s where s.owner_id = p.id), '[]'::jsonb),
    'created_at', p.created_at,
    'updated_at', coalesce(c.updated_at, p.created_at),
    'last_sign_in_at', c.last_sign_in_at,
    'user_metadata', coalesce(c.user_metadata, '{}'::jsonb))
  from public.profiles p
  left join payhuk_auth.credentials c on c.user_id = p.id
  where p.id = p_user_id
$$;

create or replace function public.auth_start_session(user_id uuid, email text, token_hash text, ttl_seconds integer)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_family uuid := pg_catalog.gen_random_uuid();
begin
  delete from payhuk_auth.login_failures where key = 'account:' || pg_catalog.lower(pg_catalog.btrim(email));
  insert into payhuk_auth.refresh_tokens (token_hash, family_id, user_id, expires_at)
  values (token_hash, v_family, user_id,
          pg_catalog.now() + pg_catalog.make_interval(secs => ttl_seconds));
  update payhuk_auth.credentials c set last_sign_in_at = pg_catalog.now()
   where c.user_id = auth_start_session.user_id;
  return payhuk_auth.account(user_id) || pg_catalog.jsonb_build_object('session_id', v_family);
end
$$;

create or replace function public.auth_rotate_refresh(old_hash text, new_hash text, ttl_seconds integer)
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
  return pg_catalog.jsonb_build_object('status', 'ok', 'account',
    payhuk_auth.account(v_token.user_id) || pg_catalog.jsonb_build_object('session_id', v_token.family_id));
end
$$;

-- Signup with the metadata the client sent (GoTrue's `data`), in the same transaction.
drop function public.auth_signup_session(text, text, text, jsonb, text, integer);
create function public.auth_signup_session(email text, password text, display_name text,
                                           store jsonb, token_hash text, ttl_seconds integer,
                                           user_metadata jsonb default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_account jsonb := public.auth_signup(email, password, display_name, store);
begin
  if auth_signup_session.user_metadata is not null then
    if pg_catalog.jsonb_typeof(auth_signup_session.user_metadata) <> 'object' then
      raise exception using errcode = 'PT422', message = 'data must be an object', hint = 'invalid_metadata';
    end if;
    update payhuk_auth.credentials c set user_metadata = auth_signup_session.user_metadata
     where c.user_id = (v_account ->> 'user_id')::uuid;
  end if;
  return public.auth_start_session((v_account ->> 'user_id')::uuid, email, token_hash, ttl_seconds);
end
$$;

-- PUT /user: a new password (bcrypt, as at signup) and/or metadata merged into the
-- user's (a key set to null is removed, as GoTrue does). Null leaves a part alone.
create function public.auth_update_user(user_id uuid, password text default null,
                                        user_metadata jsonb default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
begin
  if auth_update_user.password is not null
     and pg_catalog.octet_length(auth_update_user.password) not between 8 and 72 then
    raise exception using errcode = 'PT422', message = 'password must be 8 to 72 bytes', hint = 'invalid_password';
  end if;
  if auth_update_user.user_metadata is not null
     and pg_catalog.jsonb_typeof(auth_update_user.user_metadata) <> 'object' then
    raise exception using errcode = 'PT422', message = 'data must be an object', hint = 'invalid_metadata';
  end if;
  update payhuk_auth.credentials c
     set password_hash = case when auth_update_user.password is null then c.password_hash
                              else extensions.crypt(auth_update_user.password,
                                                    extensions.gen_salt('bf', 10)) end,
         user_metadata = case when auth_update_user.user_metadata is null then c.user_metadata
                              else pg_catalog.jsonb_strip_nulls(
                                     c.user_metadata || auth_update_user.user_metadata) end,
         updated_at = pg_catalog.now()
   where c.user_id = auth_update_user.user_id;
  if not found then
    raise exception using errcode = 'PT404', message = 'no such user', hint = 'user_not_found';
  end if;
  return payhuk_auth.account(user_id);
end
$$;

-- POST /logout?scope=: `local` ends the session `session_id`, `global` every session of
-- the user, `others` every one but `session_id`. Returns how many tokens that revoked.
create function public.auth_end_sessions(user_id uuid, session_id uuid, scope text)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_revoked integer;
begin
  if scope not in ('local', 'global', 'others') then
    raise exception using errcode = 'PT422', message = 'scope is local, global or others', hint = 'invalid_scope';
  end if;
  update payhuk_auth.refresh_tokens t set revoked_at = pg_catalog.now()
   where t.user_id = auth_end_sessions.user_id
     and t.revoked_at is null
     and case scope
           when 'global' then true
           when 'local' then t.family_id = session_id
           else t.family_id is distinct from session_id
         end;
  get diagnostics v_revoked = row_count;
  return v_revoked;
end
$$;

revoke all on function
  public.auth_signup_session(text, text, text, jsonb, text, integer, jsonb),
  public.auth_update_user(uuid, text, jsonb),
  public.auth_end_sessions(uuid, uuid, text)
from public, anon, authenticated;
grant execute on function
  public.auth_signup_session(text, text, text, jsonb, text, integer, jsonb),
  public.auth_update_user(uuid, text, jsonb),
  public.auth_end_sessions(uuid, uuid, text)
to service_role;
