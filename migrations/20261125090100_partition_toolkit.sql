-- Monthly range partitioning kept in plain SQL (no extension: Supabase projects do not
-- all have pg_partman). Parents live in public; their partitions live in the schema
-- payhuk_partitions, which PostgREST does not expose and API roles cannot use, so every
-- read goes through the parent and its row-level security. Retired partitions move to
-- payhuk_archive (or are dropped, per table).
--
-- Bounds are whole UTC months: [YYYY-MM-01 00:00Z, next month 00:00Z).

create schema if not exists payhuk_meta;
create schema if not exists payhuk_partitions;
create schema if not exists payhuk_archive;
revoke all on schema payhuk_meta, payhuk_partitions, payhuk_archive from public;

create table payhuk_meta.partitioned_tables (
  parent regclass primary key,
  -- Months after the current one that always have a partition ready.
  premake_months integer not null default 3 check (premake_months between 0 and 36),
  -- Whole months kept before the current one; null keeps everything.
  retention_months integer check (retention_months > 0),
  retention_action text not null default 'detach' check (retention_action in ('detach', 'drop'))
);

comment on table payhuk_meta.partitioned_tables is
  'Tables partitioned by month and kept by payhuk_meta.maintain_partitions().';

-- The column a table is range-partitioned on, read from the catalog.
create function payhuk_meta.partition_column(p_parent regclass)
returns text
language sql
stable
set search_path = ''
as $$
  select a.attname::text
  from pg_catalog.pg_partitioned_table pt
  join pg_catalog.pg_attribute a
    on a.attrelid = pt.partrelid and a.attnum = pt.partattrs[0]
  where pt.partrelid = p_parent and pt.partstrat = 'r' and pt.partnatts = 1
$$;

-- Every partition of p_parent with its bounds (null bounds for the default partition).
create function payhuk_meta.partitions_of(p_parent regclass)
returns table (partition regclass, lower_bound timestamptz, upper_bound timestamptz, is_default boolean)
language sql
stable
set search_path = ''
as $$
  select c.oid::regclass,
         (pg_catalog.regexp_match(b.bound, 'FROM \(''([^'']+)''\)'))[1]::timestamptz,
         (pg_catalog.regexp_match(b.bound, 'TO \(''([^'']+)''\)'))[1]::timestamptz,
         b.bound = 'DEFAULT'
  from pg_catalog.pg_inherits i
  join pg_catalog.pg_class c on c.oid = i.inhrelid
  cross join lateral (select pg_catalog.pg_get_expr(c.relpartbound, c.oid) as bound) b
  where i.inhparent = p_parent
$$;

-- Each registered table with its default partition.
create function payhuk_meta.default_partitions()
returns table (parent regclass, partition regclass)
language sql
stable
set search_path = ''
as $$
  select t.parent, p.partition
  from payhuk_meta.partitioned_tables t
  cross join lateral payhuk_meta.partitions_of(t.parent) p
  where p.is_default
  order by t.parent::text
$$;

create function payhuk_meta.month_bounds(p_month date, out lower_bound timestamptz, out upper_bound timestamptz)
language sql
immutable
set search_path = ''
as $$
  select pg_catalog.date_trunc('month', p_month::timestamp) at time zone 'UTC',
         (pg_catalog.date_trunc('month', p_month::timestamp) + interval '1 month') at time zone 'UTC'
$$;

-- Makes sure the month holding p_month has a partition of p_parent. Rows of that month
-- already sitting in the default partition are moved into the new partition. Returns
-- null when the partition existed, else what it did.
create function payhuk_meta.ensure_month_partition(p_parent regclass, p_month date)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_column text := payhuk_meta.partition_column(p_parent);
  v_bounds record;
  v_name text;
  v_default regclass;
  v_clash regclass;
  v_moved bigint := 0;
begin
  if v_column is null then
    raise exception '% is not range-partitioned on one column', p_parent;
  end if;
  select * into v_bounds from payhuk_meta.month_bounds(p_month);

  select p.partition into v_clash
  from payhuk_meta.partitions_of(p_parent) p
  where not p.is_default
    and p.lower_bound < v_bounds.upper_bound and p.upper_bound > v_bounds.lower_bound;
  if v_clash is not null then
    if exists (select from payhuk_meta.partitions_of(p_parent) p
               where p.partition = v_clash
                 and p.lower_bound = v_bounds.lower_bound and p.upper_bound = v_bounds.upper_bound) then
      return null;
    end if;
    raise exception 'partition % of % overlaps month %', v_clash, p_parent, p_month;
  end if;

  v_name := pg_catalog.format('%s_p%s',
    (select relname from pg_catalog.pg_class where oid = p_parent),
    pg_catalog.to_char(p_month, 'YYYY_MM'));
  select p.partition into v_default from payhuk_meta.partitions_of(p_parent) p where p.is_default;

  if v_default is not null then
    execute pg_catalog.format('select count(*) from %s where %I >= $1 and %I < $2',
                              v_default, v_column, v_column)
      into v_moved using v_bounds.lower_bound, v_bounds.upper_bound;
  end if;

  if v_moved > 0 then
    -- A partition cannot be created over rows the default holds: build it apart,
    -- move the rows in, then attach it.
    execute pg_catalog.format('create table payhuk_partitions.%I (like %s including defaults including constraints)',
                              v_name, p_parent);
    execute pg_catalog.format(
      'with moved as (delete from %s where %I >= $1 and %I < $2 returning *) '
      'insert into payhuk_partitions.%I select * from moved',
      v_default, v_column, v_column, v_name)
      using v_bounds.lower_bound, v_bounds.upper_bound;
    execute pg_catalog.format('alter table %s attach partition payhuk_partitions.%I for values from (%L) to (%L)',
                              p_parent, v_name, v_bounds.lower_bound, v_bounds.upper_bound);
  else
    execute pg_catalog.format('create table payhuk_partitions.%I partition of %s for values from (%L) to (%L)',
                              v_name, p_parent, v_bounds.lower_bound, v_bounds.upper_bound);
  end if;

  return pg_catalog.jsonb_build_object(
    'partition', 'payhuk_partitions.' || v_name,
    'from', v_bounds.lower_bound,
    'to', v_bounds.upper_bound,
    'moved_from_default', v_moved);
end
$$;

-- Registers a monthly-partitioned table: creates its default partition and the
-- partitions from the current month through premake months ahead.
create function payhuk_meta.register_partitioned_table(
  p_parent regclass,
  p_premake_months integer default 3,
  p_retention_months integer default null,
  p_retention_action text default 'detach')
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_default text := (select relname from pg_catalog.pg_class where oid = p_parent) || '_default';
begin
  if payhuk_meta.partition_column(p_parent) is null then
    raise exception '% is not range-partitioned on one column', p_parent;
  end if;
  insert into payhuk_meta.partitioned_tables (parent, premake_months, retention_months, retention_action)
  values (p_parent, p_premake_months, p_retention_months, p_retention_action)
  on conflict (parent) do update
    set premake_months = excluded.premake_months,
        retention_months = excluded.retention_months,
        retention_action = excluded.retention_action;
  if not exists (select from payhuk_meta.partitions_of(p_parent) where is_default) then
    execute pg_catalog.format('create table payhuk_partitions.%I partition of %s default', v_default, p_parent);
  end if;
  perform payhuk_meta.ensure_month_partition(p_parent,
    (pg_catalog.date_trunc('month', pg_catalog.now() at time zone 'UTC') + pg_catalog.make_interval(months => m))::date)
  from pg_catalog.generate_series(0, p_premake_months) as m;
end
$$;

-- The maintenance pass: premake future partitions and retire expired ones for every
-- registered table. Idempotent; concurrent calls queue on an advisory lock, so the
-- second finds nothing left to do. p_now exists for tests.
create function payhuk_meta.maintain_partitions(p_now timestamptz default pg_catalog.now())
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_table record;
  v_part record;
  v_this_month date := pg_catalog.date_trunc('month', p_now at time zone 'UTC')::date;
  v_created jsonb;
  v_retired jsonb;
  v_done jsonb;
  v_cutoff timestamptz;
  v_name text;
  v_report jsonb := '[]';
begin
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('payhuk_meta.maintain_partitions'));

  for v_table in select * from payhuk_meta.partitioned_tables order by parent::text loop
    v_created := '[]';
    for i in 0..v_table.premake_months loop
      v_done := payhuk_meta.ensure_month_partition(v_table.parent,
                  (v_this_month + pg_catalog.make_interval(months => i))::date);
      if v_done is not null then
        v_created := v_created || pg_catalog.jsonb_build_array(v_done);
      end if;
    end loop;

    v_retired := '[]';
    if v_table.retention_months is not null then
      v_cutoff := (v_this_month - pg_catalog.make_interval(months => v_table.retention_months))::timestamp
                  at time zone 'UTC';
      for v_part in
        select * from payhuk_meta.partitions_of(v_table.parent)
        where not is_default and upper_bound <= v_cutoff
        order by lower_bound
      loop
        -- The name first: once dropped, the regclass prints as a bare oid.
        v_name := v_part.partition::text;
        execute pg_catalog.format('alter table %s detach partition %s', v_table.parent, v_name);
        if v_table.retention_action = 'drop' then
          execute pg_catalog.format('drop table %s', v_name);
        else
          execute pg_catalog.format('alter table %s set schema payhuk_archive', v_name);
        end if;
        v_retired := v_retired || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
          'partition', v_name,
          'from', v_part.lower_bound,
          'to', v_part.upper_bound,
          'action', case v_table.retention_action when 'drop' then 'dropped' else 'detached to payhuk_archive' end));
      end loop;
    end if;

    v_report := v_report || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
      'table', v_table.parent::text, 'created', v_created, 'retired', v_retired));
  end loop;

  return pg_catalog.jsonb_build_object('ran_at', p_now, 'tables', v_report);
end
$$;

-- Rows sitting in default partitions: they mean a partition was missing when they
-- arrived, and they slow every query that cannot prune the default partition.
create function payhuk_meta.default_partition_report()
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  v_table record;
  v_column text;
  v_stats record;
  v_report jsonb := '[]';
begin
  for v_table in select * from payhuk_meta.default_partitions() loop
    v_column := payhuk_meta.partition_column(v_table.parent);
    execute pg_catalog.format('select count(*) as n, min(%I) as oldest, max(%I) as newest from %s',
                              v_column, v_column, v_table.partition)
      into v_stats;
    v_report := v_report || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
      'table', v_table.parent::text,
      'default_partition', v_table.partition::text,
      'rows', v_stats.n,
      'oldest', v_stats.oldest,
      'newest', v_stats.newest));
  end loop;
  return v_report;
end
$$;

-- Moves rows out of the default partition(s) into monthly partitions made for them.
create function payhuk_meta.move_default_rows(p_parent regclass default null)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_table record;
  v_month date;
  v_column text;
  v_done jsonb;
  v_created jsonb;
  v_report jsonb := '[]';
begin
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('payhuk_meta.maintain_partitions'));
  for v_table in
    select * from payhuk_meta.default_partitions() d where p_parent is null or d.parent = p_parent
  loop
    v_column := payhuk_meta.partition_column(v_table.parent);
    v_created := '[]';
    for v_month in
      execute pg_catalog.format(
        'select distinct (pg_catalog.date_trunc(''month'', %I at time zone ''UTC''))::date from %s order by 1',
        v_column, v_table.partition)
    loop
      v_done := payhuk_meta.ensure_month_partition(v_table.parent, v_month);
      if v_done is not null then
        v_created := v_created || pg_catalog.jsonb_build_array(v_done);
      end if;
    end loop;
    v_report := v_report || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
      'table', v_table.parent::text, 'created', v_created));
  end loop;
  return v_report;
end
$$;

-- The API: RPCs for the gateway's service role only.
create function public.maintain_partitions(p_now timestamptz default pg_catalog.now())
returns jsonb
language sql
security definer
set search_path = ''
as $$ select payhuk_meta.maintain_partitions(p_now) $$;

create function public.default_partition_report()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$ select payhuk_meta.default_partition_report() $$;

create function public.move_default_partition_rows(p_table text default null)
returns jsonb
language sql
security definer
set search_path = ''
as $$ select payhuk_meta.move_default_rows(p_table::regclass) $$;

revoke all on function public.maintain_partitions(timestamptz),
                       public.default_partition_report(),
                       public.move_default_partition_rows(text)
  from public, anon, authenticated;
grant execute on function public.maintain_partitions(timestamptz),
                          public.default_partition_report(),
                          public.move_default_partition_rows(text)
  to service_role;
