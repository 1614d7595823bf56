-- One batch of generated orders (psql variable :batch) for `cargo xtask seed` and the
-- demo seed: spread over the 365 days before now, by customers (profiles that own no
-- store), for the published products of the stores, one currency per order. Prices
-- come from products; stock is not touched (this is history). Set-based, so millions
-- of rows take minutes.
--
-- Rows are valid by construction (every id comes from the tables it references), so
-- the batch skips per-row foreign-key triggers (session_replication_role = replica,
-- superuser only: this is development tooling, never a migration).

begin;
set local synchronous_commit = off;
set local session_replication_role = replica;

-- Every month the batch can write into has its partition before a row arrives.
select payhuk_meta.ensure_partitions_covering(now() - interval '365 days', now(), 'public.orders');

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

-- The orders, and (no trigger fires under replica) their sales in the daily figures.
with inserted as (
insert into public.orders (id, store_id, customer_id, status, currency,
                           subtotal_minor, shipping_minor, total_minor, created_at, updated_at)
select o.id, c.store_id, cu.id,
       case when o.created_at > now() - interval '3 days' and o.r < 0.5 then 'pending'
            when o.r < 0.05 then 'cancelled'
            when o.r < 0.08 then 'refunded'
            when o.created_at > now() - interval '14 days' then 'paid'
            else 'fulfilled' end,
       c.currency, t.subtotal, 0, t.subtotal, o.created_at, o.created_at
from gen_orders o
join gen_catalogs c on c.idx = o.catalog_idx
join gen_customers cu on cu.idx = o.customer_idx
join (select order_id, sum(price_minor * quantity) as subtotal from gen_items group by order_id) t
  on t.order_id = o.id
returning store_id, created_at, currency, status, total_minor)
insert into public.store_daily_sales as s (store_id, day, currency, orders, revenue_minor)
select store_id, (created_at at time zone 'UTC')::date, currency, count(*), sum(total_minor)
from inserted
where payhuk_meta.counted_sale(status)
group by 1, 2, 3
on conflict (store_id, day, currency) do update
  set orders = s.orders + excluded.orders, revenue_minor = s.revenue_minor + excluded.revenue_minor;

insert into public.order_items (order_id, order_created_at, product_id, quantity,
                                unit_price_minor, line_total_minor)
select order_id, created_at, product_id, quantity, price_minor, price_minor * quantity
from gen_items
order by order_id;

commit;
