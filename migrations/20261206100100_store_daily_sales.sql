-- Sales per store, per UTC day and currency, kept as orders change, so a month's report
-- reads a month of days (at most 31 rows a currency) whatever the order count (issue
-- 23). An order counts while it is paid or fulfilled, on the day it was placed, as
-- sales_report has always counted it.
--
-- A trigger on orders keeps the figures in the transaction that changes an order's
-- status (apply_payment_event, refunds, cancellations, shipments), so a report never
-- sees a payment without its sale. Writers that bypass triggers (the order generator,
-- under session_replication_role = replica) add their own rows' figures.

create table public.store_daily_sales (
  store_id uuid not null references public.stores (id),
  day date not null,
  currency text not null references public.currencies (code),
  orders bigint not null default 0,
  revenue_minor bigint not null default 0,
  primary key (store_id, day, currency)
);

comment on table public.store_daily_sales is
  'Paid and fulfilled orders per store, UTC day of placing and currency: what sales_report reads.';

alter table public.store_daily_sales enable row level security;
create policy store_daily_sales_merchant on public.store_daily_sales for select to authenticated
  using (store_id in (select public.my_store_ids()));
revoke insert, update, delete, truncate on public.store_daily_sales from anon, authenticated;

-- What an order adds to its day's figures: itself, when it counts.
create function payhuk_meta.counted_sale(status text)
returns boolean
language sql
immutable
set search_path = ''
as $$
  select status in ('paid', 'fulfilled')
$$;

-- Adds one order (sign 1) or takes it away (sign -1) from its day's figures.
create function payhuk_meta.add_store_daily_sale(p_store_id uuid, p_created_at timestamptz,
                                                 p_currency text, p_sign integer, p_total bigint)
returns void
language sql
set search_path = ''
as $$
  insert into public.store_daily_sales as s (store_id, day, currency, orders, revenue_minor)
  values (p_store_id, (p_created_at at time zone 'UTC')::date, p_currency, p_sign, p_sign * p_total)
  on conflict (store_id, day, currency) do update
    set orders = s.orders + excluded.orders, revenue_minor = s.revenue_minor + excluded.revenue_minor
$$;

create function payhuk_meta.keep_store_daily_sales()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op in ('UPDATE', 'DELETE') and payhuk_meta.counted_sale(old.status) then
    perform payhuk_meta.add_store_daily_sale(old.store_id, old.created_at, old.currency, -1, old.total_minor);
  end if;
  if tg_op in ('INSERT', 'UPDATE') and payhuk_meta.counted_sale(new.status) then
    perform payhuk_meta.add_store_daily_sale(new.store_id, new.created_at, new.currency, 1, new.total_minor);
  end if;
  return null;
end
$$;

revoke all on function payhuk_meta.keep_store_daily_sales(),
  payhuk_meta.add_store_daily_sale(uuid, timestamptz, text, integer, bigint) from public;

-- Only when what the figures hold changes: most updates of an order (updated_at, a
-- shipment's note) do not touch them.
create trigger orders_keep_store_daily_sales
  after insert or delete or update of status, total_minor, store_id, currency, created_at
  on public.orders
  for each row execute function payhuk_meta.keep_store_daily_sales();

-- The orders there already.
insert into public.store_daily_sales (store_id, day, currency, orders, revenue_minor)
select store_id, (created_at at time zone 'UTC')::date, currency, count(*), sum(total_minor)
  from public.orders
 where payhuk_meta.counted_sale(status)
 group by 1, 2, 3;

-- The report from the daily figures when [from_at, to_at) is whole UTC days (what
-- GET /api/v1/analytics/sales asks); any other range is counted from the orders.
create or replace function public.sales_report(store_id uuid, from_at timestamptz, to_at timestamptz, granularity text)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  v_whole_days boolean := (from_at at time zone 'UTC')::time = '00:00'
                          and (to_at at time zone 'UTC')::time = '00:00';
begin
  if granularity not in ('day', 'week', 'month') then
    raise exception using errcode = 'PT422', message = 'granularity must be day, week or month', hint = 'invalid_granularity';
  end if;
  return coalesce((
    select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'period', b.period, 'currency', b.currency, 'orders', b.orders, 'revenue_minor', b.revenue)
             order by b.period, b.currency)
      from (select pg_catalog.date_trunc(sales_report.granularity, d.day::timestamp) as period,
                   d.currency, sum(d.orders) as orders, sum(d.revenue_minor) as revenue
              from public.store_daily_sales d
             where v_whole_days
               and d.store_id = sales_report.store_id
               and d.day >= (sales_report.from_at at time zone 'UTC')::date
               and d.day < (sales_report.to_at at time zone 'UTC')::date
             group by 1, 2
            having sum(d.orders) <> 0
            union all
            select pg_catalog.date_trunc(sales_report.granularity, o.created_at at time zone 'UTC'),
                   o.currency, count(*), sum(o.total_minor)
              from public.orders o
             where not v_whole_days
               and o.store_id = sales_report.store_id
               and o.created_at >= sales_report.from_at and o.created_at < sales_report.to_at
               and o.status in ('paid', 'fulfilled')
             group by 1, 2) b), '[]'::jsonb);
end
$$;
