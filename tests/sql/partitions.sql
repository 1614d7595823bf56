-- Partition routing, pruning, maintenance, retention and the default partition.
begin;
set local timezone = 'UTC';
select plan(30);

-- The partitions a query touches, from its plan.
create function pg_temp.scanned(query text) returns text[]
language plpgsql as $$
declare
  plan jsonb;
begin
  execute 'explain (format json) ' || query into plan;
  return (select array_agg(distinct r order by r)
            from jsonb_path_query(plan, '$.**."Relation Name"') as j(v),
                 lateral (select v #>> '{}') as x(r));
end
$$;

-- Whatever the date, the migrations and the dev seed made the partitions their rows need.
select is(
  (select sum((r ->> 'rows')::int)::int from jsonb_array_elements(public.default_partition_report()) r),
  0, 'the migrations and the dev seed left no row in a default partition');
select is(payhuk_meta.partition_health(), '[]'::jsonb, 'partition_health() finds nothing wrong');

-- Drops the (empty) partition `months` ahead of this month.
create function pg_temp.drop_month_ahead(p_parent regclass, months int) returns void
language plpgsql as $$
begin
  execute format('drop table payhuk_partitions.%I',
    (select relname from pg_class where oid = p_parent) || '_p'
      || to_char(date_trunc('month', now() at time zone 'UTC') + make_interval(months => months), 'YYYY_MM'));
end
$$;

-- Routing: a row lands in its month's partition.
insert into public.analytics_events (name, session_id, created_at)
values ('routing_probe', 'tap', date_trunc('month', now()) + interval '1 month' + interval '3 days');
select is(
  (select tableoid::regclass::text from public.analytics_events where name = 'routing_probe' and session_id = 'tap'),
  'payhuk_partitions.analytics_events_p' || to_char(now() + interval '1 month', 'YYYY_MM'),
  'an event of next month lands in next month''s partition');

insert into public.transaction_logs (payment_id, event, created_at)
values ('88888888-8888-4888-8888-000000000001', 'routing_probe', now());
select is(
  (select tableoid::regclass::text from public.transaction_logs where event = 'routing_probe'),
  'payhuk_partitions.transaction_logs_p' || to_char(now() at time zone 'UTC', 'YYYY_MM'),
  'a transaction log of now lands in this month''s partition');

-- Pruning: a one-month range scans exactly that month's partition.
select is(
  pg_temp.scanned(format(
    'select * from public.%I where created_at >= %L and created_at < %L', t,
    date_trunc('month', now() at time zone 'UTC') at time zone 'UTC',
    (date_trunc('month', now() at time zone 'UTC') + interval '1 month') at time zone 'UTC')),
  array[t || '_p' || to_char(now() at time zone 'UTC', 'YYYY_MM')],
  'a one-month query on ' || t || ' prunes to one partition')
from unnest(array['orders', 'transaction_logs', 'digital_downloads', 'analytics_events']) t;

-- Maintenance a year ahead creates that month and three more, per table.
create temp table first_run as select public.maintain_partitions(now() + interval '12 months') as report;
select is(
  (select jsonb_array_length(t -> 'created') from first_run, jsonb_array_elements(report -> 'tables') t
    where t ->> 'table' = 'public.orders'),
  4, 'maintenance premakes the month and three ahead for orders');
select is(
  (select sum(jsonb_array_length(t -> 'created'))::int from first_run, jsonb_array_elements(report -> 'tables') t),
  16, 'and for each of the four tables');
select ok(
  to_regclass('payhuk_partitions.orders_p' || to_char(now() + interval '15 months', 'YYYY_MM')) is not null,
  'the partition fifteen months ahead exists');
select is(
  (select sum(jsonb_array_length(t -> 'created') + jsonb_array_length(t -> 'retired'))::int
     from jsonb_array_elements(public.maintain_partitions(now() + interval '12 months') -> 'tables') t),
  0, 'a second run changes nothing');

-- Retention: analytics keeps 13 months and drops older partitions; downloads keep 24
-- months and detach older ones to payhuk_archive.
select payhuk_meta.ensure_month_partition('public.analytics_events', (now() - interval '20 months')::date);
select payhuk_meta.ensure_month_partition('public.digital_downloads', (now() - interval '30 months')::date);
insert into public.analytics_events (name, session_id, created_at)
values ('old_probe', 'tap', now() - interval '20 months');
create temp table retire_run as select public.maintain_partitions(now()) as report;
select is(
  (select t -> 'retired' -> 0 ->> 'partition' from retire_run, jsonb_array_elements(report -> 'tables') t
    where t ->> 'table' = 'public.analytics_events'),
  'payhuk_partitions.analytics_events_p' || to_char(now() - interval '20 months', 'YYYY_MM'),
  'the 20-month-old analytics partition is retired');
select ok(to_regclass('payhuk_partitions.analytics_events_p' || to_char(now() - interval '20 months', 'YYYY_MM')) is null,
  'and dropped');
select is((select count(*)::int from public.analytics_events where name = 'old_probe'), 0,
  'its rows are gone from the table');
select ok(to_regclass('payhuk_archive.digital_downloads_p' || to_char(now() - interval '30 months', 'YYYY_MM')) is not null,
  'the 30-month-old downloads partition is detached into payhuk_archive');
select is(
  (select jsonb_array_length(t -> 'retired') from retire_run, jsonb_array_elements(report -> 'tables') t
    where t ->> 'table' = 'public.orders'),
  0, 'orders have no retention: nothing retired');
select ok(
  exists (select from payhuk_meta.partitions_of('public.orders') p
           where p.lower_bound <= now() - interval '11 months'),
  'old order partitions are still attached');

-- The default partition catches rows no partition covers; they can be moved out.
insert into public.analytics_events (name, session_id, created_at)
values ('far_future', 'tap', now() + interval '40 months'),
       ('far_future', 'tap', now() + interval '40 months' + interval '1 day');
select is(
  (select tableoid::regclass::text from public.analytics_events where name = 'far_future' limit 1),
  'payhuk_partitions.analytics_events_default', 'a row with no partition lands in the default partition');
select is(
  (select (r ->> 'rows')::int from jsonb_array_elements(public.default_partition_report()) r
    where r ->> 'table' = 'public.analytics_events'),
  2, 'the report counts it');
select is(
  (select jsonb_array_length(r -> 'created') from jsonb_array_elements(public.move_default_partition_rows('public.analytics_events')) r),
  (select count(distinct date_trunc('month', created_at at time zone 'UTC'))::int
     from public.analytics_events where name = 'far_future'),
  'moving them creates the partitions they need');
select is(
  (select (r ->> 'rows')::int from jsonb_array_elements(public.default_partition_report()) r
    where r ->> 'table' = 'public.analytics_events'),
  0, 'the default partition is empty afterwards');
select is(
  (select count(*)::int from public.analytics_events where name = 'far_future'
     and tableoid::regclass::text like 'payhuk_partitions.analytics_events_p%'),
  2, 'and no row was lost');

-- Writers of dated rows make their months first, for any range.
select is(
  jsonb_array_length(payhuk_meta.ensure_partitions_covering(
    now() - interval '50 months', now() - interval '48 months', 'public.transaction_logs')),
  3, 'a range over three old months creates their three partitions');
select is(
  jsonb_array_length(payhuk_meta.ensure_partitions_covering(
    now() - interval '50 months', now() - interval '48 months', 'public.transaction_logs')),
  0, 'a second call finds them made');
select throws_ok(
  $$select payhuk_meta.ensure_partitions_covering(now(), now() - interval '1 day')$$,
  'P0001', null, 'a range that ends before it starts is refused');

-- What the health probes see: rows in a default partition, a month ahead missing.
insert into public.analytics_events (name, session_id, created_at)
values ('stray', 'tap', now() + interval '60 months'), ('stray', 'tap', now() + interval '61 months');
select pg_temp.drop_month_ahead('public.transaction_logs', 2);
select is(
  (select (r ->> 'rows_in_default')::int from jsonb_array_elements(payhuk_meta.partition_health()) r
    where r ->> 'table' = 'public.analytics_events'),
  2, 'partition_health counts the rows in a default partition');
select is(
  (select r -> 'missing_months' from jsonb_array_elements(payhuk_meta.partition_health()) r
    where r ->> 'table' = 'public.transaction_logs'),
  jsonb_build_array(to_char(date_trunc('month', now() at time zone 'UTC') + interval '2 months', 'YYYY-MM-DD')),
  'and names the month ahead that has no partition');
select is(
  (select (r ->> 'rows_in_default')::int || ' ' || (r ->> 'rows_in_default_capped')
     from jsonb_array_elements(payhuk_meta.partition_health(now(), 1)) r
    where r ->> 'table' = 'public.analytics_events'),
  '1 true', 'its count stops at the cap and says so');
select is(
  (select jsonb_array_length(public.node_status() -> 'partitions')), 2,
  'node_status() on the primary carries it');

select * from finish();
rollback;
