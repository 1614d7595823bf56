-- Retention for what nothing removed (security review): idempotency keys past their
-- day, refresh tokens a day past their expiry, and login failures older than the
-- longest lockout window (LOGIN_FAILURE_WINDOW_SECONDS is at most a day). The cron runs
-- purge_expired() with partition maintenance, in bounded batches, through indexes.

create index login_failures_failed_at on payhuk_auth.login_failures (failed_at);
create index refresh_tokens_expires_at on payhuk_auth.refresh_tokens (expires_at);

-- A failed login no longer sweeps the table on every call (its old cleanup had no index
-- to use: `(key, failed_at)` cannot serve `failed_at` alone); the cron does it.
create or replace function public.auth_login_failed(email text, client text)
returns void
language sql
security definer
set search_path = ''
as $$
  insert into payhuk_auth.login_failures (key)
  values ('account:' || pg_catalog.lower(pg_catalog.btrim(email))), ('client:' || client);
$$;

-- Deletes at most p_batch rows of each kind that are past keeping at p_now; returns
-- how many of each. Run again while any count equals p_batch.
create function public.purge_expired(p_now timestamptz default pg_catalog.now(),
                                     p_batch integer default 10000)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_keys integer;
  v_tokens integer;
  v_failures integer;
begin
  delete from public.idempotency_keys k
   where k.ctid = any (array(select i.ctid from public.idempotency_keys i
                              where i.expires_at < p_now limit p_batch));
  get diagnostics v_keys = row_count;
  delete from payhuk_auth.refresh_tokens t
   where t.ctid = any (array(select r.ctid from payhuk_auth.refresh_tokens r
                              where r.expires_at < p_now - interval '1 day' limit p_batch));
  get diagnostics v_tokens = row_count;
  delete from payhuk_auth.login_failures f
   where f.ctid = any (array(select l.ctid from payhuk_auth.login_failures l
                              where l.failed_at < p_now - interval '1 day' limit p_batch));
  get diagnostics v_failures = row_count;
  return pg_catalog.jsonb_build_object('idempotency_keys', v_keys, 'refresh_tokens', v_tokens,
                                       'login_failures', v_failures);
end
$$;
revoke all on function public.purge_expired(timestamptz, integer) from public, anon, authenticated, service_role;
grant execute on function public.purge_expired(timestamptz, integer) to service_role;
