-- Moves public.orders into a table range-partitioned by month on created_at, keeping
-- the name the application uses. All in this migration's single transaction:
--   1. lock orders and order_items against writes;
--   2. rename the old table (and its indexes) out of the way;
--   3. create the partitioned orders with the same columns, defaults and checks, a
--      primary key that includes the partition key, and the same indexes;
--   4. create a partition for every month that has orders, plus the default partition
--      and the months ahead (payhuk_meta.register_partitioned_table);
--   5. copy every row; point order_items at (order_id, order_created_at);
--   6. check row count and totals match, then drop the old table.
-- Any failure rolls the whole migration back, leaving the old table as it was.
-- Already partitioned: nothing to do.

do $$
declare
  v_index record;
  v_old_count bigint;
  v_new_count bigint;
  v_old_sum numeric;
  v_new_sum numeric;
begin
  if (select relkind from pg_catalog.pg_class where oid = 'public.orders'::regclass) = 'p' then
    raise notice 'public.orders is already partitioned';
    return;
  end if;

  lock table public.orders, public.order_items in access exclusive mode;

  alter table public.orders rename to orders_unpartitioned;
  for v_index in
    select c.relname
    from pg_catalog.pg_index i
    join pg_catalog.pg_class c on c.oid = i.indexrelid
    where i.indrelid = 'public.orders_unpartitioned'::regclass
  loop
    execute pg_catalog.format('alter index public.%I rename to %I',
      v_index.relname, 'old_' || v_index.relname);
  end loop;

  create table public.orders (
    like public.orders_unpartitioned including all excluding indexes,
    primary key (id, created_at)
  ) partition by range (created_at);

  alter table public.orders
    add constraint orders_store_id_fkey foreign key (store_id) references public.stores (id),
    add constraint orders_customer_id_fkey foreign key (customer_id) references public.profiles (id),
    add constraint orders_currency_fkey foreign key (currency) references public.currencies (code);
  create index orders_customer_id on public.orders (customer_id, created_at desc);
  create index orders_store_id on public.orders (store_id, created_at desc);
  create index orders_id on public.orders (id);

  perform payhuk_meta.register_partitioned_table('public.orders', 3);
  perform payhuk_meta.ensure_month_partition('public.orders', m)
  from (select distinct pg_catalog.date_trunc('month', created_at at time zone 'UTC')::date as m
        from public.orders_unpartitioned) months;

  insert into public.orders select * from public.orders_unpartitioned;

  alter table public.order_items add column order_created_at timestamptz;
  update public.order_items oi
     set order_created_at = o.created_at
    from public.orders_unpartitioned o
   where o.id = oi.order_id;
  alter table public.order_items
    alter column order_created_at set not null,
    drop constraint order_items_order_id_fkey,
    add constraint order_items_order_fkey foreign key (order_id, order_created_at)
      references public.orders (id, created_at) on delete cascade;
  drop index public.order_items_order_id;
  create index order_items_order on public.order_items (order_id, order_created_at);

  select count(*), coalesce(sum(total_minor), 0) into v_old_count, v_old_sum from public.orders_unpartitioned;
  select count(*), coalesce(sum(total_minor), 0) into v_new_count, v_new_sum from public.orders;
  if v_old_count <> v_new_count or v_old_sum <> v_new_sum then
    raise exception 'orders copy mismatch: % rows / % total before, % rows / % total after',
      v_old_count, v_old_sum, v_new_count, v_new_sum;
  end if;
  raise notice 'moved % orders into the partitioned table', v_new_count;

  drop table public.orders_unpartitioned;
end
$$;

create trigger orders_touch_updated_at before update on public.orders
  for each row execute function public.touch_updated_at();

-- New orders and items get time-ordered ids (see uuid_v7()).
alter table public.orders alter column id set default public.uuid_v7();
alter table public.order_items alter column id set default public.uuid_v7();
