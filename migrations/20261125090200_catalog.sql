-- People, stores and what they sell, and where they ship.

-- One row per account; id is the auth user id (the JWT's `sub`).
create table public.profiles (
  id uuid primary key,
  email text not null unique check (email = lower(email) and email like '%_@_%'),
  display_name text check (char_length(display_name) <= 120),
  created_at timestamptz not null default now()
);

-- A merchant's shop. The merchant is its owner: RLS looks ownership up here.
create table public.stores (
  id uuid primary key default gen_random_uuid(),
  owner_id uuid not null references public.profiles (id),
  name text not null check (char_length(name) between 1 and 120),
  slug text not null unique check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and char_length(slug) <= 60),
  default_currency text not null default 'XOF' references public.currencies (code),
  created_at timestamptz not null default now()
);
create index stores_owner_id on public.stores (owner_id);

create table public.products (
  id uuid primary key default gen_random_uuid(),
  store_id uuid not null references public.stores (id) on delete cascade,
  kind text not null check (kind in ('physical', 'digital', 'service')),
  name text not null check (char_length(name) between 1 and 200),
  description text not null default '' check (char_length(description) <= 10000),
  -- In minor units of currency (XOF has none: 5000 means 5000 XOF; EUR 1999 is 19.99).
  price_minor bigint not null check (price_minor >= 0),
  currency text not null references public.currencies (code),
  -- Units left; null for what never runs out (digital goods, services).
  stock integer check (stock >= 0),
  -- Shipping weight of physical goods, for rate brackets.
  weight_grams integer check (weight_grams >= 0),
  published boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (kind = 'physical' or weight_grams is null)
);
create index products_store_id on public.products (store_id, created_at desc);
create index products_published on public.products (created_at desc, id) where published;
create index products_search on public.products
  using gin (to_tsvector('simple', name || ' ' || description));

-- The file a digital product delivers.
create table public.product_files (
  id uuid primary key default gen_random_uuid(),
  product_id uuid not null references public.products (id) on delete cascade,
  storage_url text not null check (storage_url ~ '^https?://'),
  file_name text not null check (char_length(file_name) between 1 and 255),
  size_bytes bigint check (size_bytes >= 0),
  sha256 text check (sha256 ~ '^[0-9a-f]{64}$'),
  created_at timestamptz not null default now()
);
create index product_files_product_id on public.product_files (product_id);

create function public.touch_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := pg_catalog.now();
  return new;
end
$$;

create trigger products_touch_updated_at before update on public.products
  for each row execute function public.touch_updated_at();

-- Shipping: a store's zones (sets of countries) and the rates offered in each.
create table public.shipping_zones (
  id uuid primary key default gen_random_uuid(),
  store_id uuid not null references public.stores (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 120),
  -- ISO 3166-1 alpha-2 codes.
  countries text[] not null check (cardinality(countries) > 0 and array_to_string(countries, ',') ~ '^[A-Z]{2}(,[A-Z]{2})*$')
);
create index shipping_zones_store_id on public.shipping_zones (store_id);
create index shipping_zones_countries on public.shipping_zones using gin (countries);

create table public.shipping_rates (
  id uuid primary key default gen_random_uuid(),
  zone_id uuid not null references public.shipping_zones (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 120),
  kind text not null check (kind in ('flat', 'weight')),
  price_minor bigint not null check (price_minor >= 0),
  currency text not null references public.currencies (code),
  -- Weight bracket [min, max) in grams for kind = 'weight'.
  min_weight_grams integer check (min_weight_grams >= 0),
  max_weight_grams integer check (max_weight_grams > min_weight_grams),
  -- Orders at or above this subtotal ship free with this rate.
  free_over_minor bigint check (free_over_minor >= 0),
  min_days smallint not null check (min_days >= 0),
  max_days smallint not null check (max_days >= min_days),
  check (kind = 'flat' or min_weight_grams is not null)
);
create index shipping_rates_zone_id on public.shipping_rates (zone_id);
