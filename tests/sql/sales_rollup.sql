-- store_daily_sales: the daily figures sales_report reads equal the plain aggregate of
-- the orders, after random orders, random status changes, total changes and deletions,
-- over a month boundary and a leap day, at every granularity.
begin;
set local timezone = 'UTC';
select plan(9);

insert into public.stores (id, owner_id, name, slug)
values ('99999999-9999-4999-8999-000000000023', '11111111-1111-4111-8111-000000000001',
        'Rollup test', 'rollup-test-23');
select payhuk_meta.ensure_partitions_covering('2028-01-01', '2028-04-01');
select setseed(0.23);

insert into public.orders (id, store_id, customer_id, status, currency, subtotal_minor,
                           shipping_minor, total_minor, created_at)
select public.uuid_v7_at(g.t), '99999999-9999-4999-8999-000000000023',
       '22222222-2222-4222-8222-000000000001',
       (array['pending', 'paid', 'fulfilled', 'cancelled', 'refunded'])[1 + floor(random() * 5)::int],
       (array['XOF', 'EUR'])[1 + floor(random() * 2)::int], g.amount, 0, g.amount, g.t
from (select timestamptz '2028-01-25' + random() * interval '40 days' as t,
             (1 + floor(random() * 1000))::bigint * 100 as amount
      from generate_series(1, 3000)) g;
update public.orders
   set status = (array['pending', 'paid', 'fulfilled', 'cancelled', 'refunded'])[1 + floor(random() * 5)::int],
       updated_at = now()
 where store_id = '99999999-9999-4999-8999-000000000023' and random() < 0.5;
update public.orders set total_minor = total_minor + 100, subtotal_minor = subtotal_minor + 100
 where store_id = '99999999-9999-4999-8999-000000000023' and random() < 0.1;
delete from public.orders
 where store_id = '99999999-9999-4999-8999-000000000023' and random() < 0.05;

-- The orders' own aggregate, as sales_report counted before the daily figures.
create function pg_temp.counted(granularity text, from_at timestamptz, to_at timestamptz)
returns jsonb language sql as $$
  select coalesce(jsonb_agg(jsonb_build_object('period', b.period, 'currency', b.currency,
                                               'orders', b.orders, 'revenue_minor', b.revenue)
                            order by b.period, b.currency), '[]'::jsonb)
    from (select date_trunc(granularity, o.created_at at time zone 'UTC') as period, o.currency,
                 count(*) as orders, sum(o.total_minor) as revenue
            from public.orders o
           where o.store_id = '99999999-9999-4999-8999-000000000023'
             and o.created_at >= from_at and o.created_at < to_at
             and o.status in ('paid', 'fulfilled')
           group by 1, 2) b
$$;
create function pg_temp.report(granularity text, from_at timestamptz, to_at timestamptz)
returns jsonb language sql as $$
  select public.sales_report('99999999-9999-4999-8999-000000000023', from_at, to_at, granularity)
$$;

select ok(jsonb_array_length(pg_temp.counted('day', '2028-01-25', '2028-03-06')) > 60,
  'the random orders give the report something to count (days and currencies)');
select is(pg_temp.report('day', '2028-01-25', '2028-03-06'), pg_temp.counted('day', '2028-01-25', '2028-03-06'),
  'per day over 40 days: the daily figures equal the orders');
select is(pg_temp.report('week', '2028-01-24', '2028-03-06'), pg_temp.counted('week', '2028-01-24', '2028-03-06'),
  'per week: equal');
select is(pg_temp.report('month', '2028-01-01', '2028-04-01'), pg_temp.counted('month', '2028-01-01', '2028-04-01'),
  'per month, January to March 2028: equal');
select is(pg_temp.report('day', '2028-02-29', '2028-03-01'), pg_temp.counted('day', '2028-02-29', '2028-03-01'),
  'the leap day alone: equal');
select is(pg_temp.report('day', '2028-02-10 12:30', '2028-02-20 08:00'),
  pg_temp.counted('day', '2028-02-10 12:30', '2028-02-20 08:00'),
  'a range that is not whole days is counted from the orders: equal');
select is(
  (select sum(orders)::bigint from public.store_daily_sales where store_id = '99999999-9999-4999-8999-000000000023'),
  (select count(*) from public.orders where store_id = '99999999-9999-4999-8999-000000000023'
      and status in ('paid', 'fulfilled')),
  'every counted order is in the daily figures once');

-- The whole-day report reads the daily figures, not the orders: a change to a day's
-- figures shows in it.
update public.store_daily_sales set orders = orders + 1000
 where store_id = '99999999-9999-4999-8999-000000000023' and day = '2028-02-29';
select isnt(pg_temp.report('day', '2028-02-29', '2028-03-01'), pg_temp.counted('day', '2028-02-29', '2028-03-01'),
  'the report of whole days comes from store_daily_sales');

-- Only the store's owner reads its figures.
select set_config('request.jwt.claims', '{"sub": "11111111-1111-4111-8111-000000000002", "role": "authenticated"}', true);
set local role authenticated;
select is((select count(*)::int from public.store_daily_sales where store_id = '99999999-9999-4999-8999-000000000023'), 0,
  'another merchant sees none of the store''s figures');
reset role;

select * from finish();
rollback;
