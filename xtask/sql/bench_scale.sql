-- The figures of `cargo xtask bench --scale` at one size, on its own cluster: the
-- queries Payhuk runs against the monthly-partitioned tables and against
-- bench.orders_flat, an unpartitioned copy of the orders with the indexes the orders
-- had before partitioning; row counts and sizes on disk. Needs bench_timing.sql run
-- first. Prints `name|value` lines.

-- A whole UTC month six months back: what GET /api/v1/analytics/sales sends for a month.
select date_trunc('month', now() - interval '6 months', 'UTC') as lo,
       date_trunc('month', now() - interval '6 months', 'UTC') + interval '1 month' as hi
\gset

-- The busiest store and customer: the longest lists to page through.
select store_id as store from public.store_daily_sales group by 1 order by sum(orders) desc limit 1
\gset
select customer_id as customer from public.orders group by 1 order by count(*) desc limit 1
\gset

-- 25 orders picked at random, each looked up as the gateway does: bounded to the
-- millisecond its id names (src/ids.rs), and on the copy by id alone.
create temp table picked as
select id, public.uuid_v7_time(id) as made
from public.orders
where public.uuid_v7_time(id) is not null
order by random()
limit 25;

create temp table queries (name text primary key, statements text[]);
insert into queries values
  ('report', array[format('select public.sales_report(%L, %L, %L, %L)', :'store', :'lo', :'hi', 'day')]),
  ('report_raw_part', array[format(
     'select count(*), sum(total_minor) from public.orders where store_id = %L '
     'and created_at >= %L and created_at < %L and status in (''paid'', ''fulfilled'')',
     :'store', :'lo', :'hi')]),
  ('report_raw_flat', array[format(
     'select count(*), sum(total_minor) from bench.orders_flat where store_id = %L '
     'and created_at >= %L and created_at < %L and status in (''paid'', ''fulfilled'')',
     :'store', :'lo', :'hi')]),
  ('by_id_part', (select array_agg(format(
     'select * from public.orders where id = %L and created_at >= %L and created_at < %L',
     id, made, made + interval '1 millisecond')) from picked)),
  ('by_id_flat', (select array_agg(format(
     'select * from bench.orders_flat where id = %L', id)) from picked)),
  ('customer_page_part', array[format(
     'select * from public.orders where customer_id = %L order by created_at desc, id desc limit 21',
     :'customer')]),
  ('customer_page_flat', array[format(
     'select * from bench.orders_flat where customer_id = %L order by created_at desc, id desc limit 21',
     :'customer')]),
  ('store_page_part', array[format(
     'select * from public.orders where store_id = %L order by created_at desc, id desc limit 21',
     :'store')]),
  ('store_page_flat', array[format(
     'select * from bench.orders_flat where store_id = %L order by created_at desc, id desc limit 21',
     :'store')]);

-- Single statements: the median of 9 warm runs; lookups of 25 ids: the median of each
-- one's warm run.
select name || '_ms|' || case cardinality(statements)
                           when 1 then bench.median_ms(statements[1], 9)
                           else bench.median_of_ms(statements) end
from queries
order by name;

-- Partitions a lookup by id reads, as planned for each picked id (the most of any).
create function pg_temp.relations_read(q text) returns int
language plpgsql as $$
declare
  plan jsonb;
begin
  execute 'explain (format json) ' || q into plan;
  return (select count(*) from jsonb_path_query(plan, 'strict $.**."Relation Name"'));
end $$;
select 'by_id_partitions_read|' || max(pg_temp.relations_read(s))
from queries, unnest(statements) s
where name = 'by_id_part';

select 'orders_rows|' || count(*) from public.orders;
select 'month_rows|' || count(*) from public.orders where created_at >= :'lo' and created_at < :'hi';
select 'items_rows|' || count(*) from public.order_items;
select 'payments_rows|' || count(*) from public.payments;
select 'transaction_logs_rows|' || count(*) from public.transaction_logs;
select 'analytics_events_rows|' || count(*) from public.analytics_events;
select 'orders_bytes|' || sum(pg_total_relation_size(relid))
from pg_partition_tree('public.orders');
select 'flat_bytes|' || pg_total_relation_size('bench.orders_flat');
select 'database_bytes|' || pg_database_size(current_database());
-- Each table with its indexes (a partitioned table with its partitions), largest first.
select 'table_bytes:' || t.relname || '|' || sum(pg_total_relation_size(p.relid))
from pg_class t
join pg_namespace n on n.oid = t.relnamespace
cross join lateral pg_partition_tree(t.oid) p
where n.nspname in ('public', 'bench') and t.relkind in ('r', 'p') and not t.relispartition
group by t.relname
having sum(pg_total_relation_size(p.relid)) > 1000000;
