-- Shipping quotes and shipments, signed digital-download grants, and sales figures.

-- shipping_quote(store_id, country, items): the options a store offers for a cart
-- shipped to `country` (ISO 3166-1 alpha-2). Weight brackets are [min, max) grams;
-- a rate is free when the cart's subtotal reaches its free_over_minor. Runs as the
-- caller (published products and rates are public), so on the nearest replica.
create function public.shipping_quote(store_id uuid, country text, items jsonb)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  v_country text := pg_catalog.upper(pg_catalog.btrim(shipping_quote.country));
  v_lines integer;
  v_found integer;
  v_currencies text[];
  v_subtotal numeric;
  v_weight bigint;
  v_physical boolean;
  v_options jsonb;
begin
  if v_country !~ '^[A-Z]{2}$' then
    raise exception using errcode = 'PT422', message = 'country must be an ISO 3166-1 alpha-2 code', hint = 'invalid_country';
  end if;
  select count(*) into v_lines from pg_catalog.jsonb_array_elements(items);
  select count(*), pg_catalog.array_agg(distinct p.currency),
         sum(p.price_minor::numeric * (i ->> 'quantity')::integer),
         coalesce(sum(p.weight_grams::bigint * (i ->> 'quantity')::integer) filter (where p.kind = 'physical'), 0),
         bool_or(p.kind = 'physical')
    into v_found, v_currencies, v_subtotal, v_weight, v_physical
    from pg_catalog.jsonb_array_elements(items) i
    join public.products p on p.id = (i ->> 'product_id')::uuid
   where p.store_id = shipping_quote.store_id and p.published;
  if v_found <> v_lines then
    raise exception using errcode = 'PT404', message = 'a product is not in this store''s catalogue', hint = 'unknown_product';
  end if;
  if pg_catalog.array_length(v_currencies, 1) > 1 then
    raise exception using errcode = 'PT422', message = 'a cart holds products of one currency only', hint = 'mixed_currencies';
  end if;
  if not v_physical then
    return pg_catalog.jsonb_build_object('country', v_country, 'currency', v_currencies[1],
      'subtotal_minor', v_subtotal, 'weight_grams', 0, 'shipping_required', false, 'options', '[]'::jsonb);
  end if;
  if not exists (select from public.shipping_zones z
                  where z.store_id = shipping_quote.store_id and v_country = any (z.countries)) then
    raise exception using errcode = 'PT422', message = pg_catalog.format('this store does not ship to %s', v_country),
      hint = 'country_not_served';
  end if;

  select coalesce(pg_catalog.jsonb_agg(o order by (o ->> 'price_minor')::bigint, (o ->> 'min_days')::integer, o ->> 'rate_id'), '[]')
    into v_options
    from (select pg_catalog.jsonb_build_object(
                   'rate_id', r.id, 'zone', z.name, 'name', r.name, 'kind', r.kind,
                   'price_minor', case when r.free_over_minor is not null and v_subtotal >= r.free_over_minor
                                       then 0 else r.price_minor end,
                   'free', r.free_over_minor is not null and v_subtotal >= r.free_over_minor,
                   'currency', r.currency, 'min_days', r.min_days, 'max_days', r.max_days) as o
            from public.shipping_zones z
            join public.shipping_rates r on r.zone_id = z.id
           where z.store_id = shipping_quote.store_id
             and v_country = any (z.countries)
             and r.currency = v_currencies[1]
             and (r.kind = 'flat'
                  or (v_weight >= r.min_weight_grams and (r.max_weight_grams is null or v_weight < r.max_weight_grams)))) q;

  return pg_catalog.jsonb_build_object('country', v_country, 'currency', v_currencies[1],
    'subtotal_minor', v_subtotal, 'weight_grams', v_weight, 'shipping_required', true, 'options', v_options);
end
$$;

-- A merchant ships a paid order of their store.
create function public.create_shipment(order_id uuid, carrier text, tracking_number text default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_order public.orders;
  v_shipment public.shipments;
begin
  select * into v_order from public.orders o
   where o.id = create_shipment.order_id and o.store_id in (select public.my_store_ids());
  if not found then
    raise exception using errcode = 'PT404', message = 'no such order of your store', hint = 'unknown_order';
  end if;
  if v_order.status <> 'paid' then
    raise exception using errcode = 'PT409', message = 'only a paid order can be shipped',
      detail = v_order.status, hint = 'order_not_paid';
  end if;
  insert into public.shipments (order_id, order_created_at, store_id, carrier, tracking_number)
  values (v_order.id, v_order.created_at, v_order.store_id, create_shipment.carrier, create_shipment.tracking_number)
  returning * into v_shipment;
  insert into public.shipment_events (shipment_id, status, occurred_at)
  values (v_shipment.id, 'label_created', pg_catalog.now());
  return pg_catalog.to_jsonb(v_shipment);
end
$$;

-- Tracking: an event moves the shipment's status; delivery fulfils the order.
create function public.add_shipment_event(shipment_id uuid, status text, occurred_at timestamptz,
                                          location text default null, note text default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_shipment public.shipments;
  v_event public.shipment_events;
begin
  select * into v_shipment from public.shipments s
   where s.id = add_shipment_event.shipment_id and s.store_id in (select public.my_store_ids())
   for update;
  if not found then
    raise exception using errcode = 'PT404', message = 'no such shipment of your store', hint = 'unknown_shipment';
  end if;
  insert into public.shipment_events (shipment_id, status, location, note, occurred_at)
  values (v_shipment.id, add_shipment_event.status, add_shipment_event.location, add_shipment_event.note,
          add_shipment_event.occurred_at)
  returning * into v_event;
  update public.shipments s set status = add_shipment_event.status where s.id = v_shipment.id;
  if add_shipment_event.status = 'delivered' then
    update public.orders o set status = 'fulfilled'
     where o.id = v_shipment.order_id and o.created_at = v_shipment.order_created_at and o.status = 'paid';
  end if;
  return pg_catalog.to_jsonb(v_event);
end
$$;

-- Digital downloads: a grant per link, with an expiry and a download budget that
-- claim_download() spends atomically.
create table public.download_grants (
  id uuid primary key default public.uuid_v7(),
  order_id uuid not null,
  order_created_at timestamptz not null,
  product_file_id uuid not null references public.product_files (id),
  customer_id uuid not null references public.profiles (id),
  store_id uuid not null references public.stores (id),
  max_downloads integer not null check (max_downloads between 1 and 1000),
  downloads_used integer not null default 0 check (downloads_used between 0 and max_downloads),
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  foreign key (order_id, order_created_at) references public.orders (id, created_at)
);
create index download_grants_customer on public.download_grants (customer_id, created_at desc);
alter table public.download_grants enable row level security;
create policy download_grants_customer_or_merchant on public.download_grants for select to authenticated
  using (customer_id = (select auth.uid()) or store_id in (select public.my_store_ids()));
revoke insert, update, delete on public.download_grants from anon, authenticated;

-- A customer's grant for a digital product of one of their paid orders.
create function public.grant_download(order_id uuid, product_id uuid, ttl_seconds integer, max_downloads integer)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_order public.orders;
  v_file uuid;
  v_grant public.download_grants;
begin
  select * into v_order from public.orders o
   where o.id = grant_download.order_id and o.customer_id = auth.uid();
  if not found then
    raise exception using errcode = 'PT404', message = 'no such order of yours', hint = 'unknown_order';
  end if;
  if v_order.status not in ('paid', 'fulfilled') then
    raise exception using errcode = 'PT409', message = 'the order is not paid', detail = v_order.status,
      hint = 'order_not_paid';
  end if;
  select f.id into v_file
    from public.order_items i
    join public.products p on p.id = i.product_id and p.kind = 'digital'
    join public.product_files f on f.product_id = p.id
   where i.order_id = v_order.id and i.order_created_at = v_order.created_at
     and i.product_id = grant_download.product_id
   order by f.created_at desc
   limit 1;
  if v_file is null then
    raise exception using errcode = 'PT404', message = 'this order has no file to download for that product',
      hint = 'nothing_to_download';
  end if;
  insert into public.download_grants (order_id, order_created_at, product_file_id, customer_id, store_id,
                                      max_downloads, expires_at)
  values (v_order.id, v_order.created_at, v_file, v_order.customer_id, v_order.store_id,
          grant_download.max_downloads, pg_catalog.now() + pg_catalog.make_interval(secs => grant_download.ttl_seconds))
  returning * into v_grant;
  return pg_catalog.to_jsonb(v_grant);
end
$$;

-- Spends one download of a grant, atomically, and logs it. Returns
-- {"status": "ok", "storage_url": ...} or {"status": "expired" | "exhausted" | "unknown"}.
create function public.claim_download(grant_id uuid, client_ip text default null, user_agent text default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_grant public.download_grants;
  v_url text;
begin
  update public.download_grants g set downloads_used = g.downloads_used + 1
   where g.id = claim_download.grant_id and g.downloads_used < g.max_downloads and g.expires_at > pg_catalog.now()
  returning * into v_grant;
  if not found then
    select * into v_grant from public.download_grants g where g.id = claim_download.grant_id;
    return pg_catalog.jsonb_build_object('status', case
      when not found then 'unknown'
      when v_grant.expires_at <= pg_catalog.now() then 'expired'
      else 'exhausted' end);
  end if;
  insert into public.digital_downloads (product_file_id, order_id, order_created_at, customer_id, store_id,
                                        client_ip, user_agent)
  values (v_grant.product_file_id, v_grant.order_id, v_grant.order_created_at, v_grant.customer_id,
          v_grant.store_id, pg_catalog.inet(nullif(claim_download.client_ip, '')),
          pg_catalog.left(claim_download.user_agent, 512));
  select f.storage_url into v_url from public.product_files f where f.id = v_grant.product_file_id;
  return pg_catalog.jsonb_build_object('status', 'ok', 'storage_url', v_url,
    'downloads_left', v_grant.max_downloads - v_grant.downloads_used);
end
$$;

-- Sales of a store, per day, week or month (UTC), over [from_at, to_at): orders that
-- were paid (paid or fulfilled). Runs as the caller: a merchant sees their store only.
-- The range on created_at lets the planner prune to the months asked.
create function public.sales_report(store_id uuid, from_at timestamptz, to_at timestamptz, granularity text)
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  if granularity not in ('day', 'week', 'month') then
    raise exception using errcode = 'PT422', message = 'granularity must be day, week or month', hint = 'invalid_granularity';
  end if;
  return coalesce((
    select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'period', b.period, 'currency', b.currency, 'orders', b.orders, 'revenue_minor', b.revenue)
             order by b.period, b.currency)
      from (select pg_catalog.date_trunc(sales_report.granularity, o.created_at at time zone 'UTC') as period,
                   o.currency, count(*) as orders, sum(o.total_minor) as revenue
              from public.orders o
             where o.store_id = sales_report.store_id
               and o.created_at >= sales_report.from_at and o.created_at < sales_report.to_at
               and o.status in ('paid', 'fulfilled')
             group by 1, 2) b), '[]'::jsonb);
end
$$;

revoke all on function public.create_shipment(uuid, text, text),
                       public.add_shipment_event(uuid, text, timestamptz, text, text),
                       public.grant_download(uuid, uuid, integer, integer),
                       public.claim_download(uuid, text, text)
  from public, anon, authenticated, service_role;
grant execute on function public.create_shipment(uuid, text, text),
                          public.add_shipment_event(uuid, text, timestamptz, text, text),
                          public.grant_download(uuid, uuid, integer, integer)
  to authenticated;
grant execute on function public.claim_download(uuid, text, text) to service_role;
