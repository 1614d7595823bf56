-- One batch of generated orders (psql variable :batch) for `cargo xtask seed` and the
-- demo seed: spread over the 365 days before now, by customers (profiles that own no
-- store), for the published products of the stores, one currency per order. Prices
-- come from products; stock is not touched (this is history). Set-based, so millions
-- of rows take minutes.
--
-- Rows are valid by construction (every id comes from the tables it references), so
-- the batch skips per-row foreign-key triggers (session_replication_role = replica,
-- superuser only: this is development tooling, never a migration).
--
-- With :activity on (`cargo xtask bench --scale`), each settled order also gets its
-- payment, the payment's transaction log and the storefront's analytics events; with
-- :flat_copy on, the orders are also written to bench.orders_flat, the
-- unpartitioned copy the scale bench compares against.

begin;
set local synchronous_commit = off;
set local session_replication_role = replica;

-- Every month the batch can write into has its partition before a row arrives.
select payhuk_meta.ensure_partitions_covering(now() - interval '365 days', now(), 'public.orders');
\if :activity
select payhuk_meta.ensure_partitions_covering(now() - interval '366 days', now(), t)
from unnest(array['public.transaction_logs', 'public.analytics_events']::regclass[]) t;
\endif

create temp table gen_catalogs on commit drop as
select store_id, currency,
       (row_number() over (order by store_id, currency) - 1)::int as idx,
       count(*)::int as n_products
from public.products
where published
group by store_id, currency;

create temp table gen_products on commit drop as
select c.idx as catalog_idx,
       (row_number() over (partition by c.idx order by p.id) - 1)::int as idx,
       p.id, p.price_minor
from public.products p
join gen_catalogs c on c.store_id = p.store_id and c.currency = p.currency
where p.published;

create temp table gen_customers on commit drop as
select id, (row_number() over (order by id) - 1)::int as idx
from public.profiles pr
where not exists (select from public.stores s where s.owner_id = pr.id);

-- Each id carries its row's created_at (uuid_v7_at), as a row made then would have.
create temp table gen_orders on commit drop as
select public.uuid_v7_at(g.created_at) as id, g.*
from (select now() - random() * interval '365 days' as created_at,
             floor(random() * (select count(*) from gen_catalogs))::int as catalog_idx,
             floor(random() * (select count(*) from gen_customers))::int as customer_idx,
             1 + floor(random() * 3)::int as n_items,
             random() as r
      from generate_series(1, :batch)) g;

create temp table gen_items on commit drop as
select x.order_id, x.created_at, p.id as product_id, p.price_minor, x.quantity
from (select o.id as order_id, o.created_at, o.catalog_idx,
             floor(random() * c.n_products)::int as product_idx,
             1 + floor(random() * 3)::int as quantity
      from gen_orders o
      join gen_catalogs c on c.idx = o.catalog_idx
      cross join lateral generate_series(1, o.n_items)) x
join gen_products p on p.catalog_idx = x.catalog_idx and p.idx = x.product_idx;

create temp table gen_placed on commit drop as
select o.id, c.store_id, cu.id as customer_id,
       case when o.created_at > now() - interval '3 days' and o.r < 0.5 then 'pending'
            when o.r < 0.05 then 'cancelled'
            when o.r < 0.08 then 'refunded'
            when o.created_at > now() - interval '14 days' then 'paid'
            else 'fulfilled' end as status,
       c.currency, t.subtotal as total_minor, o.created_at, o.r
from gen_orders o
join gen_catalogs c on c.idx = o.catalog_idx
join gen_customers cu on cu.idx = o.customer_idx
join (select order_id, sum(price_minor * quantity) as subtotal from gen_items group by order_id) t
  on t.order_id = o.id;

insert into public.orders (id, store_id, customer_id, status, currency,
                           subtotal_minor, shipping_minor, total_minor, created_at, updated_at)
select id, store_id, customer_id, status, currency, total_minor, 0, total_minor, created_at, created_at
from gen_placed;

\if :flat_copy
insert into bench.orders_flat (id, store_id, customer_id, status, currency,
                                     subtotal_minor, shipping_minor, total_minor, created_at, updated_at)
select id, store_id, customer_id, status, currency, total_minor, 0, total_minor, created_at, created_at
from gen_placed;
\endif

insert into public.order_items (order_id, order_created_at, product_id, quantity,
                                unit_price_minor, line_total_minor)
select order_id, created_at, product_id, quantity, price_minor, price_minor * quantity
from gen_items
order by order_id;

\if :activity
-- A payment a minute after each order that was paid for or given up on, in the state
-- the order ended in, and its log: created, then settled.
create temp table gen_payments on commit drop as
select public.uuid_v7_at(p.created_at) as id, p.*
from (select o.id as order_id, o.created_at as order_created_at, o.store_id, o.customer_id,
             (array['moneroo', 'fedapay', 'paydunya', 'orange_money', 'mtn_momo', 'wave'])
               [1 + floor(o.r * 1000)::int % 6] as provider,
             case o.status when 'cancelled' then 'cancelled'
                           when 'refunded' then 'refunded'
                           else 'succeeded' end as status,
             o.total_minor, o.currency, o.created_at + interval '1 minute' as created_at
      from gen_placed o
      where o.status <> 'pending' and o.total_minor > 0) p;

insert into public.payments (id, order_id, order_created_at, store_id, customer_id, provider,
                             provider_ref, status, amount_minor, currency, captured_minor,
                             refunded_minor, created_at, updated_at, expires_at)
select id, order_id, order_created_at, store_id, customer_id, provider, id::text, status,
       total_minor, currency,
       case when status = 'cancelled' then 0 else total_minor end,
       case when status = 'refunded' then total_minor else 0 end,
       created_at, created_at + interval '2 minutes', created_at + interval '30 minutes'
from gen_payments;

insert into public.transaction_logs (created_at, payment_id, event, from_status, to_status,
                                     amount_minor, provider_event_id)
select p.created_at + e.after, p.id, e.event, e.from_status, e.to_status, p.total_minor,
       case when e.to_status <> 'pending' then p.provider || ':' || p.id end
from gen_payments p
cross join lateral (values
  (interval '0', 'payment.created', null, 'pending'),
  (interval '2 minutes', 'payment.' || p.status, 'pending', p.status)) e(after, event, from_status, to_status);

-- The storefront's events around each order: the product viewed, then the checkout.
insert into public.analytics_events (name, session_id, path, props, store_id, created_at)
select e.name, 's-' || left(o.id::text, 8), e.path, '{}', o.store_id, o.created_at - e.before
from gen_placed o
cross join lateral (values
  ('product_view', '/products', interval '5 minutes'),
  ('checkout', '/checkout', interval '0')) e(name, path, before);
\endif

-- No trigger fires under replica: the batch adds its sales to the daily figures itself,
-- last and in key order, so that batches run side by side wait on each other's rows
-- only briefly and never deadlock.
insert into public.store_daily_sales as s (store_id, day, currency, orders, revenue_minor)
select store_id, (created_at at time zone 'UTC')::date, currency, count(*), sum(total_minor)
from gen_placed
where payhuk_meta.counted_sale(status)
group by 1, 2, 3
order by 1, 2, 3
on conflict (store_id, day, currency) do update
  set orders = s.orders + excluded.orders, revenue_minor = s.revenue_minor + excluded.revenue_minor;

commit;
