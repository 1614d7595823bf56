-- What Supabase's platform provides before a project's migrations run: the API roles,
-- the auth helpers RLS policies call, and the default grants on public. On Supabase
-- all of it exists and every statement here is a no-op; on a plain PostgreSQL 15 it
-- makes the following migrations apply unchanged.

do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  -- PostgREST logs in as authenticator and switches to the JWT's role.
  if not exists (select from pg_catalog.pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
    grant anon, authenticated, service_role to authenticator;
  end if;
end
$$;

-- Supabase's auth helpers read the claims PostgREST sets for each request.
do $$
begin
  if not exists (select from pg_catalog.pg_namespace where nspname = 'auth') then
    create schema auth;
    grant usage on schema auth to anon, authenticated, service_role;
  end if;
  if not exists (select from pg_catalog.pg_proc
                 where proname = 'jwt' and pronamespace = 'auth'::regnamespace) then
    create function auth.jwt() returns jsonb
    language sql stable
    as $f$
      select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
      )::jsonb
    $f$;
  end if;
  if not exists (select from pg_catalog.pg_proc
                 where proname = 'uid' and pronamespace = 'auth'::regnamespace) then
    create function auth.uid() returns uuid
    language sql stable
    as $f$ select nullif(auth.jwt() ->> 'sub', '')::uuid $f$;
  end if;
  if not exists (select from pg_catalog.pg_proc
                 where proname = 'role' and pronamespace = 'auth'::regnamespace) then
    create function auth.role() returns text
    language sql stable
    as $f$ select auth.jwt() ->> 'role' $f$;
  end if;
end
$$;

-- Supabase's defaults on public: grants are broad and row-level security decides.
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
