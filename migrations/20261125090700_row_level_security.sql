-- Row-level security on every table PostgREST exposes. Roles as on Supabase:
--   anon           no JWT user: reads the public catalogue only;
--   authenticated  a signed-in user (JWT `sub`): a customer sees their own orders,
--                  payments, shipments and downloads; a merchant (owner of a store)
--                  manages that store's products, shipping and shipments and sees its
--                  orders, payments, downloads and analytics;
--   service_role   the gateway's internal role: BYPASSRLS, sees and writes everything.
-- No policy means no access: writes to orders, payments, logs, downloads and
-- analytics go through SQL functions or the service role, never straight from a client.
--
-- `(select auth.uid())` is evaluated once per statement, not once per row.

-- The stores the current user owns.
create function public.my_store_ids()
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select id from public.stores where owner_id = (select auth.uid())
$$;
revoke all on function public.my_store_ids() from public, anon;
grant execute on function public.my_store_ids() to authenticated, service_role;

alter table public.currencies enable row level security;
alter table public.regions enable row level security;
alter table public.profiles enable row level security;
alter table public.stores enable row level security;
alter table public.products enable row level security;
alter table public.product_files enable row level security;
alter table public.shipping_zones enable row level security;
alter table public.shipping_rates enable row level security;
alter table public.orders enable row level security;
alter table public.order_items enable row level security;
alter table public.payments enable row level security;
alter table public.transaction_logs enable row level security;
alter table public.shipments enable row level security;
alter table public.shipment_events enable row level security;
alter table public.digital_downloads enable row level security;
alter table public.analytics_events enable row level security;
alter table public.idempotency_keys enable row level security;

-- Reference data and the public catalogue.
create policy currencies_read on public.currencies for select to anon, authenticated using (true);
create policy regions_read on public.regions for select to anon, authenticated using (true);
create policy stores_read on public.stores for select to anon, authenticated using (true);
create policy products_read_published on public.products for select to anon, authenticated
  using (published);
create policy shipping_zones_read on public.shipping_zones for select to anon, authenticated using (true);
create policy shipping_rates_read on public.shipping_rates for select to anon, authenticated using (true);

-- A user's own profile.
create policy profiles_own_read on public.profiles for select to authenticated
  using (id = (select auth.uid()));
create policy profiles_own_insert on public.profiles for insert to authenticated
  with check (id = (select auth.uid()));
create policy profiles_own_update on public.profiles for update to authenticated
  using (id = (select auth.uid())) with check (id = (select auth.uid()));

-- Merchants: their stores and what belongs to them.
create policy stores_owner_insert on public.stores for insert to authenticated
  with check (owner_id = (select auth.uid()));
create policy stores_owner_update on public.stores for update to authenticated
  using (owner_id = (select auth.uid())) with check (owner_id = (select auth.uid()));
create policy stores_owner_delete on public.stores for delete to authenticated
  using (owner_id = (select auth.uid()));

create policy products_merchant_read on public.products for select to authenticated
  using (store_id in (select public.my_store_ids()));
create policy products_merchant_insert on public.products for insert to authenticated
  with check (store_id in (select public.my_store_ids()));
create policy products_merchant_update on public.products for update to authenticated
  using (store_id in (select public.my_store_ids()))
  with check (store_id in (select public.my_store_ids()));
create policy products_merchant_delete on public.products for delete to authenticated
  using (store_id in (select public.my_store_ids()));

create policy product_files_merchant on public.product_files for all to authenticated
  using (product_id in (select p.id from public.products p where p.store_id in (select public.my_store_ids())))
  with check (product_id in (select p.id from public.products p where p.store_id in (select public.my_store_ids())));

create policy shipping_zones_merchant_write on public.shipping_zones for all to authenticated
  using (store_id in (select public.my_store_ids()))
  with check (store_id in (select public.my_store_ids()));
create policy shipping_rates_merchant_write on public.shipping_rates for all to authenticated
  using (zone_id in (select z.id from public.shipping_zones z where z.store_id in (select public.my_store_ids())))
  with check (zone_id in (select z.id from public.shipping_zones z where z.store_id in (select public.my_store_ids())));

-- Orders and what hangs off them: the customer's own, or the merchant's store's.
create policy orders_customer_or_merchant on public.orders for select to authenticated
  using (customer_id = (select auth.uid()) or store_id in (select public.my_store_ids()));
-- Visible exactly when the order is (the orders policy applies inside).
create policy order_items_with_order on public.order_items for select to authenticated
  using (exists (select from public.orders o where o.id = order_id and o.created_at = order_created_at));
create policy payments_customer_or_merchant on public.payments for select to authenticated
  using (customer_id = (select auth.uid()) or store_id in (select public.my_store_ids()));
create policy transaction_logs_with_payment on public.transaction_logs for select to authenticated
  using (exists (select from public.payments p where p.id = payment_id));
create policy digital_downloads_customer_or_merchant on public.digital_downloads for select to authenticated
  using (customer_id = (select auth.uid()) or store_id in (select public.my_store_ids()));

create policy shipments_customer_or_merchant on public.shipments for select to authenticated
  using (store_id in (select public.my_store_ids())
         or exists (select from public.orders o
                    where o.id = order_id and o.created_at = order_created_at
                      and o.customer_id = (select auth.uid())));
create policy shipments_merchant_insert on public.shipments for insert to authenticated
  with check (store_id in (select public.my_store_ids())
              and exists (select from public.orders o
                          where o.id = order_id and o.created_at = order_created_at
                            and o.store_id = shipments.store_id));
create policy shipments_merchant_update on public.shipments for update to authenticated
  using (store_id in (select public.my_store_ids()))
  with check (store_id in (select public.my_store_ids()));
create policy shipment_events_with_shipment on public.shipment_events for select to authenticated
  using (exists (select from public.shipments s where s.id = shipment_id));
create policy shipment_events_merchant_insert on public.shipment_events for insert to authenticated
  with check (exists (select from public.shipments s
                      where s.id = shipment_id and s.store_id in (select public.my_store_ids())));

create policy analytics_events_merchant_read on public.analytics_events for select to authenticated
  using (store_id in (select public.my_store_ids()));

-- Not for clients at all, whatever the grants say.
revoke all on public.idempotency_keys from anon, authenticated;
revoke insert, update, delete on public.transaction_logs, public.payments, public.digital_downloads,
  public.analytics_events, public.orders, public.order_items from anon, authenticated;
