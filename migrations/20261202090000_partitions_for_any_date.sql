-- Partitions for whatever dates rows carry, and a view of partition trouble for the
-- gateway's health probes.
--
-- register_partitioned_table() only makes the current month and the months ahead, so
-- rows dated earlier (a seed written "two days ago" on the 1st, an import of history)
-- land in the default partition. Writers of dated rows call
-- ensure_partitions_covering() for their date range first.

-- Makes sure every month overlapping [p_from, p_to] has a partition, for p_parent or,
-- when null, every registered table. Returns what it created.
create function payhuk_meta.ensure_partitions_covering(
  p_from timestamptz,
  p_to timestamptz,
  p_parent regclass default null)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_table record;
  v_month date;
  v_done jsonb;
  v_created jsonb := '[]';
begin
  if p_from is null or p_to is null or p_from > p_to then
    raise exception 'ensure_partitions_covering: % to % is not a range', p_from, p_to;
  end if;
  if p_parent is not null
     and not exists (select from payhuk_meta.partitioned_tables where parent = p_parent) then
    raise exception '% is not a registered partitioned table', p_parent;
  end if;
  for v_table in
    select t.parent from payhuk_meta.partitioned_tables t
    where p_parent is null or t.parent = p_parent
    order by t.parent::text
  loop
    for v_month in
      select pg_catalog.generate_series(
               pg_catalog.date_trunc('month', p_from at time zone 'UTC'),
               pg_catalog.date_trunc('month', p_to at time zone 'UTC'),
               interval '1 month')::date
    loop
      v_done := payhuk_meta.ensure_month_partition(v_table.parent, v_month);
      if v_done is not null then
        v_created := v_created || pg_catalog.jsonb_build_array(v_done);
      end if;
    end loop;
  end loop;
  return v_created;
end
$$;

-- Registered tables with something wrong: rows in the default partition (counted up to
-- p_cap, so a probe stays cheap however many there are) and months from the current
-- one through the premake horizon that have no partition. An empty array when all is
-- well. Read-only, so it runs in a probe's read-only transaction.
create function payhuk_meta.partition_health(
  p_now timestamptz default pg_catalog.now(),
  p_cap integer default 10000)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  v_table record;
  v_default regclass;
  v_rows bigint;
  v_missing jsonb;
  v_this_month date := pg_catalog.date_trunc('month', p_now at time zone 'UTC')::date;
  v_report jsonb := '[]';
begin
  for v_table in select * from payhuk_meta.partitioned_tables order by parent::text loop
    v_rows := 0;
    select p.partition into v_default
    from payhuk_meta.partitions_of(v_table.parent) p where p.is_default;
    if v_default is not null then
      execute pg_catalog.format('select count(*) from (select from %s limit $1) capped', v_default)
        into v_rows using p_cap;
    end if;

    select coalesce(pg_catalog.jsonb_agg(pg_catalog.to_char(m.month, 'YYYY-MM-DD') order by m.month), '[]')
      into v_missing
    from (select (v_this_month + pg_catalog.make_interval(months => i))::date as month
          from pg_catalog.generate_series(0, v_table.premake_months) i) m
    cross join lateral payhuk_meta.month_bounds(m.month) b
    where not exists (
      select from payhuk_meta.partitions_of(v_table.parent) p
      where not p.is_default and p.lower_bound <= b.lower_bound and p.upper_bound >= b.upper_bound);

    if v_rows > 0 or pg_catalog.jsonb_array_length(v_missing) > 0 then
      v_report := v_report || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        'table', v_table.parent::text,
        'rows_in_default', v_rows,
        'rows_in_default_capped', v_rows >= p_cap,
        'missing_months', v_missing));
    end if;
  end loop;
  return v_report;
end
$$;

-- node_status() as before, plus `partitions` (partition_health()) on the primary; the
-- standbys hold the same rows, so asking them too would only repeat the answer.
create or replace function public.node_status()
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  recovering boolean := pg_catalog.pg_is_in_recovery();
  received pg_catalog.pg_lsn;
  replayed pg_catalog.pg_lsn;
begin
  if not recovering then
    return pg_catalog.jsonb_build_object(
      'in_recovery', false,
      'current_lsn', pg_catalog.pg_current_wal_lsn()::text,
      'receive_lsn', null,
      'replay_lsn', null,
      'replay_paused', false,
      'last_replay_at', null,
      'lag_seconds', 0,
      'lag_bytes', 0,
      'wal_receiver', null,
      'server_time', pg_catalog.now(),
      'partitions', payhuk_meta.partition_health()
    );
  end if;

  received := pg_catalog.pg_last_wal_receive_lsn();
  replayed := pg_catalog.pg_last_wal_replay_lsn();
  return pg_catalog.jsonb_build_object(
    'in_recovery', true,
    'current_lsn', null,
    'receive_lsn', received::text,
    'replay_lsn', replayed::text,
    'replay_paused', pg_catalog.pg_get_wal_replay_pause_state() <> 'not paused',
    'last_replay_at', pg_catalog.pg_last_xact_replay_timestamp(),
    'lag_seconds', case
      when received is null or replayed is null or received <= replayed then 0
      else coalesce(
        extract(epoch from pg_catalog.now() - pg_catalog.pg_last_xact_replay_timestamp()),
        0)
    end,
    'lag_bytes', coalesce(greatest(pg_catalog.pg_wal_lsn_diff(received, replayed), 0), 0)::bigint,
    'wal_receiver', (select status from pg_catalog.pg_stat_wal_receiver limit 1),
    'server_time', pg_catalog.now()
  );
end
$$;
