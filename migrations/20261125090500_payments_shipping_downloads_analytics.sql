-- What hangs off an order (payments, shipments, downloads) and the high-volume logs.
-- Rows that point at an order carry its (id, created_at): the partitioned orders' key.

create table public.payments (
  id uuid primary key default public.uuid_v7(),
  order_id uuid not null,
  order_created_at timestamptz not null,
  store_id uuid not null references public.stores (id),
  customer_id uuid not null references public.profiles (id),
  -- Mobile-money aggregators and wallets Payhuk's customers pay with.
  provider text not null
    check (provider in ('moneroo', 'fedapay', 'paydunya', 'orange_money', 'mtn_momo', 'wave', 'card', 'test')),
  provider_ref text,
  status text not null default 'pending'
    check (status in ('pending', 'succeeded', 'failed', 'cancelled', 'refunded')),
  amount_minor bigint not null check (amount_minor > 0),
  currency text not null references public.currencies (code),
  captured_minor bigint not null default 0 check (captured_minor between 0 and amount_minor),
  refunded_minor bigint not null default 0 check (refunded_minor between 0 and captured_minor),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  foreign key (order_id, order_created_at) references public.orders (id, created_at),
  unique (provider, provider_ref)
);
create index payments_order on public.payments (order_id, order_created_at);
create index payments_store_id on public.payments (store_id, created_at desc);
create index payments_customer_id on public.payments (customer_id, created_at desc);
create trigger payments_touch_updated_at before update on public.payments
  for each row execute function public.touch_updated_at();

-- Append-only: one row per payment state transition or provider event.
create table public.transaction_logs (
  id bigint generated always as identity,
  created_at timestamptz not null default now(),
  payment_id uuid not null references public.payments (id),
  event text not null check (event ~ '^[a-z][a-z_.]{0,63}$'),
  from_status text,
  to_status text,
  amount_minor bigint,
  provider_event_id text,
  payload jsonb not null default '{}'::jsonb,
  primary key (id, created_at)
) partition by range (created_at);
create index transaction_logs_payment_id on public.transaction_logs (payment_id, created_at);
create index transaction_logs_provider_event on public.transaction_logs (provider_event_id)
  where provider_event_id is not null;

create table public.shipments (
  id uuid primary key default public.uuid_v7(),
  order_id uuid not null,
  order_created_at timestamptz not null,
  store_id uuid not null references public.stores (id),
  carrier text not null check (char_length(carrier) between 1 and 80),
  tracking_number text check (char_length(tracking_number) <= 120),
  status text not null default 'label_created'
    check (status in ('label_created', 'in_transit', 'out_for_delivery', 'delivered', 'exception', 'returned')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  foreign key (order_id, order_created_at) references public.orders (id, created_at)
);
create index shipments_order on public.shipments (order_id, order_created_at);
create index shipments_store_id on public.shipments (store_id, created_at desc);
create trigger shipments_touch_updated_at before update on public.shipments
  for each row execute function public.touch_updated_at();

create table public.shipment_events (
  id bigint generated always as identity primary key,
  shipment_id uuid not null references public.shipments (id) on delete cascade,
  status text not null
    check (status in ('label_created', 'in_transit', 'out_for_delivery', 'delivered', 'exception', 'returned')),
  location text check (char_length(location) <= 200),
  note text check (char_length(note) <= 1000),
  occurred_at timestamptz not null,
  created_at timestamptz not null default now()
);
create index shipment_events_shipment_id on public.shipment_events (shipment_id, occurred_at);

-- One row per delivered download of a digital product.
create table public.digital_downloads (
  id uuid not null default public.uuid_v7(),
  created_at timestamptz not null default now(),
  product_file_id uuid not null references public.product_files (id),
  order_id uuid not null,
  order_created_at timestamptz not null,
  customer_id uuid not null references public.profiles (id),
  store_id uuid not null references public.stores (id),
  client_ip inet,
  user_agent text check (char_length(user_agent) <= 512),
  primary key (id, created_at),
  foreign key (order_id, order_created_at) references public.orders (id, created_at)
) partition by range (created_at);
create index digital_downloads_customer_id on public.digital_downloads (customer_id, created_at desc);
create index digital_downloads_store_id on public.digital_downloads (store_id, created_at desc);
create index digital_downloads_order on public.digital_downloads (order_id, order_created_at);

create table public.analytics_events (
  id bigint generated always as identity,
  name text not null check (name ~ '^[a-z][a-z0-9_.:-]{0,63}$'),
  session_id text not null check (char_length(session_id) between 1 and 128),
  path text check (char_length(path) <= 2048),
  props jsonb not null default '{}'::jsonb
    check (jsonb_typeof(props) = 'object' and pg_column_size(props) <= 8192),
  store_id uuid references public.stores (id),
  created_at timestamptz not null default now(),
  primary key (id, created_at)
) partition by range (created_at);
create index analytics_events_store on public.analytics_events (store_id, created_at) where store_id is not null;
create index analytics_events_name on public.analytics_events (name, created_at);

-- Replays of non-idempotent API calls (POST /orders, /payments) within a day.
create table public.idempotency_keys (
  scope text not null check (char_length(scope) between 1 and 200),
  key text not null check (char_length(key) between 1 and 255),
  request_hash text not null check (request_hash ~ '^[0-9a-f]{64}$'),
  response_status integer check (response_status between 100 and 599),
  response_body jsonb,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '24 hours',
  primary key (scope, key)
);
create index idempotency_keys_expires_at on public.idempotency_keys (expires_at);

-- Financial records are kept; downloads two years (then archived), analytics 13 months.
select payhuk_meta.register_partitioned_table('public.transaction_logs', 3);
select payhuk_meta.register_partitioned_table('public.digital_downloads', 3, 24, 'detach');
select payhuk_meta.register_partitioned_table('public.analytics_events', 3, 13, 'drop');
