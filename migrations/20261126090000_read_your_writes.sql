-- Read-your-writes without an extra round trip (see src/consistency/mod.rs).
--
-- payhuk_pre_request() is PostgREST's db-pre-request hook: it runs first in every API
-- request's own transaction.
--   On the primary, in a read-write transaction: takes the transaction id and returns
--     it to the gateway in the response header x-payhuk-xid.
--   On a standby, when the gateway sends x-payhuk-min-xid (the client's recent
--     writes): refuses the request with HTTP 425 unless every one of those
--     transactions is visible in the standby's snapshot, i.e. replayed. The gateway
--     then asks the next target.

create function public.payhuk_pre_request()
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_min_xids text;
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
    if exists (select from pg_catalog.unnest(pg_catalog.string_to_array(v_min_xids, ',')) as x
               where not pg_catalog.pg_visible_in_snapshot(x::xid8, pg_catalog.pg_current_snapshot())) then
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

comment on function public.payhuk_pre_request() is
  'PostgREST db-pre-request hook: write transaction ids out, replica freshness checks in.';

revoke all on function public.payhuk_pre_request() from public;
grant execute on function public.payhuk_pre_request() to anon, authenticated, service_role;

-- PostgREST reads its in-database configuration from the authenticator role (Supabase
-- documents the same statement for pre-request hooks).
alter role authenticator set pgrst.db_pre_request to 'public.payhuk_pre_request';
notify pgrst, 'reload config';
