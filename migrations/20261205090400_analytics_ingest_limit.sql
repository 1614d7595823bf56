-- Anonymous analytics ingest, limited per client (security review): the gateway wrote
-- any number of events from anyone, as the service role, to the primary. Events are now
-- stored by ingest_analytics_events, which counts them per client address in one-minute
-- windows in the same transaction: over the limit nothing is stored and the caller gets
-- the seconds to the next window. One round trip, as before.
--
-- The counters are unlogged: they cost no WAL on a path as busy as this one, and after a
-- crash or a failover they start again from zero, which only forgives a minute.

create unlogged table payhuk_meta.analytics_ingest_windows (
  client text not null,
  window_start timestamptz not null,
  events integer not null check (events > 0),
  primary key (client, window_start)
);
create index analytics_ingest_windows_start on payhuk_meta.analytics_ingest_windows (window_start);

-- Returns {"stored": n} or, over the limit, {"retry_after": seconds}. An event naming
-- an unknown store fails the whole batch (23503) and counts nothing.
create function public.ingest_analytics_events(client text, events jsonb, per_minute integer,
                                               p_now timestamptz default pg_catalog.now())
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_window timestamptz := pg_catalog.date_trunc('minute', p_now);
  v_count integer := pg_catalog.jsonb_array_length(events);
  v_stored integer;
begin
  if v_count not between 1 and per_minute then
    raise exception using errcode = 'PT400', message = 'a batch holds 1 event up to the per-minute limit',
      hint = 'invalid_events';
  end if;
  insert into payhuk_meta.analytics_ingest_windows as w (client, window_start, events)
  values (ingest_analytics_events.client, v_window, v_count)
  on conflict on constraint analytics_ingest_windows_pkey do update set events = w.events + excluded.events
   where w.events + excluded.events <= ingest_analytics_events.per_minute;
  if not found then
    return pg_catalog.jsonb_build_object('retry_after',
      pg_catalog.ceil(extract(epoch from (v_window + interval '1 minute' - p_now)))::integer);
  end if;
  insert into public.analytics_events (name, session_id, path, props, store_id)
  select e.name, e.session_id, e.path, coalesce(e.props, '{}'::jsonb), e.store_id
    from pg_catalog.jsonb_to_recordset(events)
         as e(name text, session_id text, path text, props jsonb, store_id uuid);
  get diagnostics v_stored = row_count;
  return pg_catalog.jsonb_build_object('stored', v_stored);
end
$$;
revoke all on function public.ingest_analytics_events(text, jsonb, integer, timestamptz)
  from public, anon, authenticated;
grant execute on function public.ingest_analytics_events(text, jsonb, integer, timestamptz) to service_role;

-- Windows are kept two minutes, then purged by the cron with the rest.
create or replace function public.purge_expired(p_now timestamptz default pg_catalog.now(),
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
  v_windows integer;
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
  delete from payhuk_meta.analytics_ingest_windows w
   where w.ctid = any (array(select a.ctid from payhuk_meta.analytics_ingest_windows a
                              where a.window_start < p_now - interval '2 minutes' limit p_batch));
  get diagnostics v_windows = row_count;
  return pg_catalog.jsonb_build_object('idempotency_keys', v_keys, 'refresh_tokens', v_tokens,
                                       'login_failures', v_failures, 'analytics_windows', v_windows);
end
$$;
