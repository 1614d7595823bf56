-- Request ids in PostgreSQL's own log lines.
--
-- The gateway gives every request an id and sends it upstream in `x-request-id` (and in
-- the user agent, which PostgREST's access log carries). PostgreSQL's lines of a request
-- (its errors with their DETAIL, HINT, CONTEXT and STATEMENT lines, slow statements)
-- said nothing of it. Now the pre-request hook puts the id into `application_name` for
-- the request's transaction (set_config(..., true); PostgREST 12 runs each request in
-- one transaction, so the connection's own name, "PostgREST 12...", comes back at its
-- end), and `log_line_prefix` prints it with %a (xtask/src/pg.rs):
--   2026-12-05 23:40:01.123 UTC [8639] authenticator@postgres payhuk-edge request-id=abc123 ERROR:  ...
-- The same string is in pg_stat_activity while the request runs.
--
-- Only an id of 1 to 128 ASCII letters, digits and `._:-` is taken (what the gateway
-- accepts from its callers or makes); anything else is ignored, never refused.
-- application_name holds at most 63 bytes (NAMEDATALEN - 1; PostgreSQL would cut it with
-- a NOTICE to the client), which leaves 40 for the id: a longer id is written as its
-- first 31 characters, `~`, and the first 8 hex digits of its SHA-256 (`~` is not an id
-- character, so this form never reads as another request's id). `cargo xtask logs
-- --request <id>` searches for the same form.
--
-- The headers are now parsed once, at the top, for both branches; otherwise the hook is
-- that of migration 20261204090000, unchanged.

create or replace function public.payhuk_pre_request()
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_headers json;
  v_request_id text;
  v_min_xids text;
  v_max_wait text;
  v_started timestamptz;
  v_until timestamptz;
begin
  -- '' rather than null once request.headers was set earlier in the session.
  v_headers := nullif(pg_catalog.current_setting('request.headers', true), '')::json;
  v_request_id := v_headers ->> 'x-request-id';
  if v_request_id ~ '^[A-Za-z0-9._:-]{1,128}$' then
    if pg_catalog.length(v_request_id) > 40 then
      v_request_id := pg_catalog.left(v_request_id, 31) || '~' || pg_catalog.left(
        pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(v_request_id, 'UTF8')), 'hex'), 8);
    end if;
    perform pg_catalog.set_config('application_name', 'payhuk-edge request-id=' || v_request_id, true);
  end if;

  if pg_catalog.pg_is_in_recovery() then
    v_min_xids := v_headers ->> 'x-payhuk-min-xid';
    if coalesce(v_min_xids, '') = '' then
      return;
    end if;
    if v_min_xids !~ '^[0-9]{1,20}(,[0-9]{1,20}){0,7}$' then
      raise exception using errcode = 'PT400',
        message = 'x-payhuk-min-xid must list up to 8 transaction ids', hint = 'bad_min_xid';
    end if;
    v_max_wait := coalesce(v_headers ->> 'x-payhuk-max-wait-ms', '0');
    if v_max_wait !~ '^[0-9]{1,4}$' or v_max_wait::int > 1000 then
      raise exception using errcode = 'PT400',
        message = 'x-payhuk-max-wait-ms must be a number of milliseconds from 0 to 1000',
        hint = 'bad_max_wait';
    end if;
    v_started := pg_catalog.clock_timestamp();
    v_until := v_started + pg_catalog.make_interval(secs => v_max_wait::int / 1000.0);
    -- Not replayed: an id at or beyond the snapshot's xmax, or below it and still in
    -- progress in the commit log (pg_xact_status() refuses ids this node has not seen,
    -- so xmax is checked first).
    while exists (
      select from pg_catalog.unnest(pg_catalog.string_to_array(v_min_xids, ',')) as x
      where case
              when x::xid8 >= pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot()) then true
              else coalesce(pg_catalog.pg_xact_status(x::xid8), 'committed')
                   not in ('committed', 'aborted')
            end) loop
      if pg_catalog.clock_timestamp() >= v_until then
        raise exception using errcode = 'PT425',
          message = 'this replica has not replayed your last write yet', hint = 'replica_behind';
      end if;
      perform pg_catalog.pg_sleep(0.005);
    end loop;
    if v_max_wait::int > 0 then
      perform pg_catalog.set_config('response.headers',
        pg_catalog.json_build_array(
          pg_catalog.json_build_object('x-payhuk-replica-wait-ms',
            pg_catalog.round(extract(epoch from pg_catalog.clock_timestamp() - v_started) * 1000)::text))::text,
        true);
    end if;
  elsif pg_catalog.current_setting('transaction_read_only') = 'off' then
    perform pg_catalog.set_config('response.headers',
      pg_catalog.json_build_array(
        pg_catalog.json_build_object('x-payhuk-xid', pg_catalog.pg_current_xact_id()::text))::text,
      true);
  end if;
end
$$;

comment on function public.payhuk_pre_request() is
  'PostgREST db-pre-request hook: write transaction ids out, replica freshness checks in, the request id into application_name.';
