-- What Supabase's platform provides before any project migration runs, recreated for
-- the local stack so migrations apply here exactly as they would on Supabase.
-- Runs as the superuser on every `cargo xtask up`; idempotent.
-- :authenticator_password and :replicator_password are psql variables.

do $$
begin
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'replicator') then
    create role replicator login replication;
  end if;
end
$$;

alter role authenticator with password :'authenticator_password';
alter role replicator with password :'replicator_password';
alter role postgres with password :'superuser_password';
grant anon, authenticated, service_role to authenticator;

-- Supabase's auth helpers read the claims PostgREST puts in request.jwt.claims.
create schema if not exists auth;
grant usage on schema auth to anon, authenticated, service_role;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

create or replace function auth.uid() returns uuid
language sql stable
as $$
  select nullif(auth.jwt() ->> 'sub', '')::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select auth.jwt() ->> 'role'
$$;

-- Supabase's default privileges on public: RLS, not grants, decides who sees rows.
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
