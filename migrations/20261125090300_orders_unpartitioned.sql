-- Orders as Payhuk has them today: one unpartitioned table. The next migration moves
-- it into a monthly-partitioned table under the same name; keeping this step means the
-- conversion runs on every fresh database exactly as it runs on Payhuk's own.

create table public.orders (
  id uuid primary key default gen_random_uuid(),
  store_id uuid not null references public.stores (id),
  customer_id uuid not null references public.profiles (id),
  status text not null default 'pending'
    check (status in ('pending', 'paid', 'fulfilled', 'cancelled', 'refunded')),
  currency text not null references public.currencies (code),
  subtotal_minor bigint not null check (subtotal_minor >= 0),
  shipping_minor bigint not null default 0 check (shipping_minor >= 0),
  total_minor bigint not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (total_minor = subtotal_minor + shipping_minor)
);
create index orders_customer_id on public.orders (customer_id, created_at desc);
create index orders_store_id on public.orders (store_id, created_at desc);

create table public.order_items (
  id uuid primary key default gen_random_uuid(),
  order_id uuid not null references public.orders (id) on delete cascade,
  product_id uuid not null references public.products (id),
  quantity integer not null check (quantity > 0),
  unit_price_minor bigint not null check (unit_price_minor >= 0),
  line_total_minor bigint not null,
  check (line_total_minor = unit_price_minor * quantity)
);
create index order_items_order_id on public.order_items (order_id);
