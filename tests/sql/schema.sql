-- The shape of the schema: tables, partitioning, keys, where partitions live, RLS.
begin;
set local timezone = 'UTC';
select plan(26);

select tables_are('public', array[
  'currencies', 'regions', 'profiles', 'stores', 'products', 'product_files',
  'shipping_zones', 'shipping_rates', 'orders', 'order_items', 'payments', 'transaction_logs',
  'shipments', 'shipment_events', 'digital_downloads', 'analytics_events', 'idempotency_keys',
  'payment_events', 'download_grants', 'store_daily_sales'
], 'public has exactly the API tables (partitions live elsewhere)');

select is(
  (select array_agg(c.relname::text order by c.relname) from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
   where n.nspname = 'public' and c.relkind = 'p'),
  array['analytics_events', 'digital_downloads', 'orders', 'transaction_logs'],
  'the four high-volume tables are partitioned');

select is(
  (select array_agg(parent::text order by parent::text) from payhuk_meta.partitioned_tables),
  array['analytics_events', 'digital_downloads', 'orders', 'transaction_logs'],
  'and registered for maintenance');

-- Per partitioned table: range on created_at, a default partition, the current month
-- and three ahead, primary key including the partition key.
select is(payhuk_meta.partition_column(t::regclass), 'created_at', t || ' is partitioned on created_at')
from unnest(array['orders', 'transaction_logs', 'digital_downloads', 'analytics_events']) t;

select ok(exists (select from payhuk_meta.partitions_of(t::regclass) where is_default),
          t || ' has a default partition')
from unnest(array['orders', 'transaction_logs', 'digital_downloads', 'analytics_events']) t;

select ok(
  (select count(*) from payhuk_meta.partitions_of(t::regclass) p
    where not p.is_default
      and p.lower_bound >= date_trunc('month', now() at time zone 'UTC') at time zone 'UTC'
      and p.lower_bound < (date_trunc('month', now() at time zone 'UTC') + interval '4 months') at time zone 'UTC') = 4,
  t || ' has partitions for this month and the next three')
from unnest(array['orders', 'transaction_logs', 'digital_downloads', 'analytics_events']) t;

select col_is_pk('public', 'orders', array['id', 'created_at'], 'orders key includes created_at');
-- (pgTAP's fk_ok trips over the per-partition copies of the constraint.)
select is(
  (select pg_get_constraintdef(oid) from pg_constraint
    where conrelid = 'public.order_items'::regclass and contype = 'f' and confrelid = 'public.orders'::regclass),
  'FOREIGN KEY (order_id, order_created_at) REFERENCES orders(id, created_at) ON DELETE CASCADE',
  'order items reference the partitioned orders');

select is(
  (select count(*)::int from pg_inherits i join pg_class c on c.oid = i.inhrelid
    join pg_namespace n on n.oid = c.relnamespace
   where i.inhparent in ('public.orders'::regclass, 'public.transaction_logs'::regclass,
                         'public.digital_downloads'::regclass, 'public.analytics_events'::regclass)
     and n.nspname <> 'payhuk_partitions'),
  0, 'every partition lives in payhuk_partitions');

select is(
  (select array_agg(c.relname::text order by c.relname) from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
   where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relrowsecurity),
  null, 'every public table has row-level security enabled');

select ok(not has_schema_privilege('anon', 'payhuk_partitions', 'usage')
          and not has_schema_privilege('authenticated', 'payhuk_partitions', 'usage'),
  'API roles cannot reach partitions directly');
select ok(not has_schema_privilege('anon', 'payhuk_meta', 'usage')
          and not has_schema_privilege('authenticated', 'payhuk_meta', 'usage'),
  'API roles cannot reach payhuk_meta');

select ok(has_function_privilege('service_role', 'public.maintain_partitions(timestamptz)', 'execute')
          and not has_function_privilege('anon', 'public.maintain_partitions(timestamptz)', 'execute')
          and not has_function_privilege('authenticated', 'public.maintain_partitions(timestamptz)', 'execute'),
  'partition maintenance is for the service role only');

select is((select count(*)::int from public.regions), 3, 'three regions');
select is((select code from public.regions where role = 'primary'), 'iad1', 'iad1 was built as the primary');
select ok((select array_agg(code) from public.currencies) @> array['XOF', 'EUR', 'USD'], 'XOF, EUR and USD are accepted');
select is((select minor_units::int from public.currencies where code = 'XOF'), 0, 'XOF has no minor units');

select * from finish();
rollback;
