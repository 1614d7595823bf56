-- Two more routes in one round trip (`cargo xtask bench --wan` counts each route's
-- upstream calls; from Lagos each is an ocean crossing).
--
-- Signup was two sequential calls to the primary: the account, then its first session.
-- auth_signup_session does both in one transaction.
--
-- The sales report was two reads: whether the caller owns the store (a 404 for a store
-- that is not theirs, rather than an empty report), then the report. store_sales asks
-- both in one call; stable, so it still runs on the nearest replica.

create function public.auth_signup_session(email text, password text, display_name text,
                                           store jsonb, token_hash text, ttl_seconds integer)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_account jsonb := public.auth_signup(email, password, display_name, store);
begin
  return public.auth_start_session((v_account ->> 'user_id')::uuid, email, token_hash, ttl_seconds);
end
$$;

revoke all on function public.auth_signup_session(text, text, text, jsonb, text, integer)
  from public, anon, authenticated;
grant execute on function public.auth_signup_session(text, text, text, jsonb, text, integer)
  to service_role;

create function public.store_sales(store_id uuid, from_at timestamptz, to_at timestamptz,
                                   granularity text)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  -- As the caller, under row-level security: only the owner sees the store's row.
  if not exists (select from public.stores s
                 where s.id = store_sales.store_id and s.owner_id = (select auth.uid())) then
    raise exception using errcode = 'PT404', message = 'no store of yours has this id',
      hint = 'unknown_store';
  end if;
  return public.sales_report(store_id, from_at, to_at, granularity);
end
$$;

revoke all on function public.store_sales(uuid, timestamptz, timestamptz, text) from public, anon;
grant execute on function public.store_sales(uuid, timestamptz, timestamptz, text) to authenticated;
