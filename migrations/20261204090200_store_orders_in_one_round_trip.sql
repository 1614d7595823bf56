-- A store's orders page in one round trip (`cargo xtask bench --wan` counts each route's
-- upstream calls; from Lagos each is an ocean crossing).
--
-- It was two reads sent at once: whether the caller owns the store (a 404 for a store
-- that is not theirs, rather than the caller's own orders there as a customer), and the
-- page. Sent at once they still cost two connections' handshakes. store_orders asks both
-- in one call; stable, so it still runs on the nearest replica.
--
-- The page is newest first on (created_at, id), after the cursor's row when one is given,
-- with the limit inside the query so only one page is read from the index.

create function public.store_orders(store_id uuid, page_size integer,
                                    after_created_at timestamptz default null,
                                    after_id uuid default null)
returns setof public.orders
language plpgsql
stable
set search_path = ''
as $$
begin
  -- As the caller, under row-level security: only the owner sees the store's row.
  if not exists (select from public.stores s
                 where s.id = store_orders.store_id and s.owner_id = (select auth.uid())) then
    raise exception using errcode = 'PT404', message = 'no store of yours has this id',
      hint = 'unknown_store';
  end if;
  if page_size is null or page_size not between 1 and 101 then
    raise exception using errcode = 'PT422', message = 'page_size must be from 1 to 101';
  end if;
  if (after_created_at is null) <> (after_id is null) then
    raise exception using errcode = 'PT422',
      message = 'after_created_at and after_id go together';
  end if;
  return query
    select o.* from public.orders o
    where o.store_id = store_orders.store_id
      and (after_created_at is null
           or o.created_at < after_created_at
           or (o.created_at = after_created_at and o.id < after_id))
    order by o.created_at desc, o.id desc
    limit page_size;
end
$$;

revoke all on function public.store_orders(uuid, integer, timestamptz, uuid) from public, anon;
grant execute on function public.store_orders(uuid, integer, timestamptz, uuid) to authenticated;
