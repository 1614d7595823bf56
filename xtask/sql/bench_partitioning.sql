-- Partitioning figures for `cargo xtask bench`: the same rows (a copy of public.orders)
-- monthly-partitioned and unpartitioned, a one-month aggregate on each (the
-- unpartitioned one with and without an index on created_at), and retiring one
-- month (detach + drop) against DELETE of the same rows. The copies live in the schema
-- `bench` and are rebuilt only when public.orders changed size; the retirements run in
-- transactions that are rolled back, so the copies stay whole for the next run.
-- Prints `name|value` lines.

-- Needs bench_timing.sql run first (bench.time_ms, bench.median_ms).

-- The one-month aggregate the figures compare, on table `tbl`: the median of 5 runs.
create or replace function bench.month_aggregate_ms(tbl text, lo timestamptz, hi timestamptz)
returns double precision
language sql as $$
  select bench.median_ms(format(
    'select count(*), sum(total_minor) from %s where created_at >= %L and created_at < %L',
    tbl, lo, hi), 5)
$$;

do $$
declare
  m timestamptz;
  copied bigint;
begin
  if to_regclass('bench.orders_flat') is not null then
    -- Dynamic: a static reference would be resolved before the table exists.
    execute 'select count(*) from bench.orders_flat' into copied;
    if copied = (select count(*) from public.orders) then
      return;
    end if;
  end if;
  raise notice 'copying public.orders into bench.orders_flat and bench.orders_part';
  drop table if exists bench.orders_flat;
  drop table if exists bench.orders_part;
  create table bench.orders_flat as select * from public.orders;
  -- What an unpartitioned orders table would have for time-range queries.
  create index orders_flat_created_at on bench.orders_flat (created_at);
  create table bench.orders_part (like public.orders) partition by range (created_at);
  for m in
    select distinct date_trunc('month', created_at, 'UTC') from bench.orders_flat
  loop
    execute format(
      'create table bench.%I partition of bench.orders_part for values from (%L) to (%L)',
      'orders_part_' || to_char(m at time zone 'UTC', 'YYYY_MM'), m, m + interval '1 month');
  end loop;
  insert into bench.orders_part select * from bench.orders_flat;
end $$;

-- Both copies as a table is some time after a bulk load: vacuumed (hint bits set, pages
-- all-visible) and analyzed, as autovacuum's insert threshold would have them. Left to
-- autovacuum, that work (and the WAL it writes) runs during the timings below. Cheap
-- when the copies were kept: vacuum skips all-visible pages.
vacuum (analyze) bench.orders_flat, bench.orders_part;
checkpoint;

-- Time on a quiet cluster: wait (at most 5 minutes) until the WAL written so far is
-- archived and replayed by the standbys and no autovacuum worker runs; on a small machine
-- that catch-up otherwise takes the CPU from the first figures.
do $$
declare
  target pg_lsn := pg_current_wal_lsn();
  deadline timestamptz := clock_timestamp() + interval '5 minutes';
begin
  while clock_timestamp() < deadline
    and (exists (select from pg_ls_archive_statusdir() where name like '%.ready')
         or exists (select from pg_stat_replication
                    where replay_lsn is null or replay_lsn < target)
         or exists (select from pg_stat_activity where backend_type = 'autovacuum worker'))
  loop
    perform pg_sleep(1);
    perform pg_stat_clear_snapshot();
  end loop;
end $$;

-- A whole month six months back.
select date_trunc('month', now() - interval '6 months', 'UTC') as lo,
       date_trunc('month', now() - interval '6 months', 'UTC') + interval '1 month' as hi,
       'orders_part_' || to_char(date_trunc('month', now() - interval '6 months', 'UTC')
                                 at time zone 'UTC', 'YYYY_MM') as month_partition
\gset

select 'rows|' || count(*) from bench.orders_flat;
select 'month_rows|' || count(*) from bench.orders_flat
 where created_at >= :'lo' and created_at < :'hi';

select 'aggregate_partitioned_ms|' || bench.month_aggregate_ms('bench.orders_part', :'lo', :'hi');
select 'aggregate_unpartitioned_indexed_ms|' || bench.month_aggregate_ms('bench.orders_flat', :'lo', :'hi');

-- As Payhuk's unpartitioned orders table is: no index leading with created_at.
begin;
drop index bench.orders_flat_created_at;
select 'aggregate_unpartitioned_ms|' || bench.month_aggregate_ms('bench.orders_flat', :'lo', :'hi');
rollback;

-- The same without parallel query, for both: the per-row work alone, without a parallel
-- plan's fixed costs (worker start-up, three processes sharing two cores).
set max_parallel_workers_per_gather = 0;
select 'aggregate_partitioned_serial_ms|' || bench.month_aggregate_ms('bench.orders_part', :'lo', :'hi');
begin;
drop index bench.orders_flat_created_at;
select 'aggregate_unpartitioned_serial_ms|' || bench.month_aggregate_ms('bench.orders_flat', :'lo', :'hi');
rollback;
reset max_parallel_workers_per_gather;

begin;
select 'retire_detach_drop_ms|' || (
  bench.time_ms(format('alter table bench.orders_part detach partition bench.%I', :'month_partition'))
  + bench.time_ms(format('drop table bench.%I', :'month_partition')));
rollback;

begin;
select 'retire_delete_ms|' || bench.time_ms(format(
  'delete from bench.orders_flat where created_at >= %L and created_at < %L', :'lo', :'hi'));
rollback;
