-- Access that was wider than the API it serves (security review):
--
-- 1. A merchant could update a shipment to point at another store's order, or set its
--    status directly (skipping add_shipment_event and its log). The update policy now
--    checks the order's store as the insert policy does, and only the carrier and the
--    tracking number are updatable by a client; the status moves through events.
-- 2. grant_download took the link's lifetime and download count from its caller and was
--    executable by `authenticated`: through /rest/v1/rpc/grant_download a customer chose
--    their own limits. It is now the service role's only, naming the customer it acts
--    for; the gateway calls it with DOWNLOAD_LINK_TTL_SECONDS and DOWNLOAD_MAX_COUNT
--    after authenticating the customer.
-- 3. Supabase's default privileges grant TRUNCATE to anon and authenticated, and
--    TRUNCATE ignores row-level security: revoked, now and for tables to come.

drop policy shipments_merchant_update on public.shipments;
create policy shipments_merchant_update on public.shipments for update to authenticated
  using (store_id in (select public.my_store_ids()))
  with check (store_id in (select public.my_store_ids())
              and exists (select from public.orders o
                          where o.id = order_id and o.created_at = order_created_at
                            and o.store_id = shipments.store_id));
revoke update on public.shipments from anon, authenticated;
grant update (carrier, tracking_number) on public.shipments to authenticated;

drop function public.grant_download(uuid, uuid, integer, integer);
create function public.grant_download(customer_id uuid, order_id uuid, product_id uuid,
                                      ttl_seconds integer, max_downloads integer)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_order public.orders;
  v_file uuid;
  v_grant public.download_grants;
begin
  if ttl_seconds not between 60 and 604800 or max_downloads not between 1 and 1000 then
    raise exception using errcode = 'PT400', message = 'download limits out of range',
      detail = pg_catalog.format('ttl_seconds %s, max_downloads %s', ttl_seconds, max_downloads),
      hint = 'invalid_limits';
  end if;
  select * into v_order from public.orders o
   where o.id = grant_download.order_id and o.customer_id = grant_download.customer_id;
  if not found then
    raise exception using errcode = 'PT404', message = 'no such order of yours', hint = 'unknown_order';
  end if;
  if v_order.status not in ('paid', 'fulfilled') then
    raise exception using errcode = 'PT409', message = 'the order is not paid', detail = v_order.status,
      hint = 'order_not_paid';
  end if;
  select f.id into v_file
    from public.order_items i
    join public.products p on p.id = i.product_id and p.kind = 'digital'
    join public.product_files f on f.product_id = p.id
   where i.order_id = v_order.id and i.order_created_at = v_order.created_at
     and i.product_id = grant_download.product_id
   order by f.created_at desc
   limit 1;
  if v_file is null then
    raise exception using errcode = 'PT404', message = 'this order has no file to download for that product',
      hint = 'nothing_to_download';
  end if;
  insert into public.download_grants (order_id, order_created_at, product_file_id, customer_id, store_id,
                                      max_downloads, expires_at)
  values (v_order.id, v_order.created_at, v_file, v_order.customer_id, v_order.store_id,
          grant_download.max_downloads, pg_catalog.now() + pg_catalog.make_interval(secs => grant_download.ttl_seconds))
  returning * into v_grant;
  return pg_catalog.to_jsonb(v_grant);
end
$$;
revoke all on function public.grant_download(uuid, uuid, uuid, integer, integer)
  from public, anon, authenticated, service_role;
grant execute on function public.grant_download(uuid, uuid, uuid, integer, integer) to service_role;

revoke truncate on all tables in schema public from anon, authenticated;
alter default privileges in schema public revoke truncate on tables from anon, authenticated;
