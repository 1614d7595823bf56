-- Read-your-writes: the standby-side check, corrected.
--
-- The first version asked pg_visible_in_snapshot(xid, pg_current_snapshot()) on the
-- standby. That is wrong in recovery: a standby keeps the transactions it knows to be
-- running in the snapshot's subxip list (it cannot tell top-level transactions from
-- subtransactions), and pg_current_snapshot() carries only xip, which is then empty. So
-- a transaction not yet replayed, but older than one that was, looked visible: the
-- soak (`cargo xtask soak`) read its own new order back as 404 a few times in a
-- thousand, and a direct check on a standby under write load found it in about one
-- check in ten.
--
-- Now: an id at or beyond the snapshot's xmax was not replayed; below it, the commit
-- log decides (committed or aborted: replayed, nothing left to wait for; in progress:
-- not yet). Ids older than the commit log still keeps are long settled. Replay marks
-- the commit log just before it drops the transaction from the running set, so the
-- request's own query (a later statement, with a later snapshot) sees the write.

create or replace function public.payhuk_pre_request()
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_min_xids text;
  v_xmax xid8;
begin
  if pg_catalog.pg_is_in_recovery() then
    v_min_xids := pg_catalog.current_setting('request.headers', true)::json ->> 'x-payhuk-min-xid';
    if coalesce(v_min_xids, '') = '' then
      return;
    end if;
    if v_min_xids !~ '^[0-9]{1,20}(,[0-9]{1,20}){0,7}$' then
      raise exception using errcode = 'PT400',
        message = 'x-payhuk-min-xid must list up to 8 transaction ids', hint = 'bad_min_xid';
    end if;
    v_xmax := pg_catalog.pg_snapshot_xmax(pg_catalog.pg_current_snapshot());
    if exists (select from pg_catalog.unnest(pg_catalog.string_to_array(v_min_xids, ',')) as x
               where case
                       -- Checked first: pg_xact_status() refuses ids this node has not seen.
                       when x::xid8 >= v_xmax then true
                       else coalesce(pg_catalog.pg_xact_status(x::xid8), 'committed')
                            not in ('committed', 'aborted')
                     end) then
      raise exception using errcode = 'PT425',
        message = 'this replica has not replayed your last write yet', hint = 'replica_behind';
    end if;
  elsif pg_catalog.current_setting('transaction_read_only') = 'off' then
    perform pg_catalog.set_config('response.headers',
      pg_catalog.json_build_array(
        pg_catalog.json_build_object('x-payhuk-xid', pg_catalog.pg_current_xact_id()::text))::text,
      true);
  end if;
end
$$;
