-- Read-your-writes: a standby may wait a little for the client's write instead of
-- refusing at once.
--
-- Until now a standby that had not replayed a token's transaction refused (425) and the
-- gateway sent the read on to the next node: one more round trip, across an ocean from
-- a far city. When replay is only a few milliseconds behind, waiting for it costs less
-- (Cloudflare D1's sessions and LiteFS make replicas wait). The gateway says how long
-- in `x-payhuk-max-wait-ms` (0 to 1000; absent or 0: refuse at once, as before), about
-- what forwarding would cost. The standby asks its commit log again every few
-- milliseconds until the write is there or the time is up, and says how long it waited
-- in `x-payhuk-replica-wait-ms` so the gateway can count the paths taken.
--
-- The check itself is unchanged (migration 20261129090000). Each loop turn is a new
-- statement with a new snapshot, and the request's own query after this hook sees what
-- replay made visible.

create or replace function public.payhuk_pre_request()
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_headers json;
  v_min_xids text;
  v_max_wait text;
  v_started timestamptz;
  v_until timestamptz;
begin
  if pg_catalog.pg_is_in_recovery() then
    v_headers := pg_catalog.current_setting('request.headers', true)::json;
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
