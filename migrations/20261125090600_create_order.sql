-- create_order(items): the one way a customer places an order. Atomic: prices come
-- from products (never from the client), stock is checked and decremented under row
-- locks taken in product-id order (so concurrent orders queue instead of deadlocking,
-- and never drive stock below zero), totals are computed here.
--
-- items: [{"product_id": "<uuid>", "quantity": <1..1000>}, ...]; a product listed
-- twice counts once with the quantities added.
--
-- Errors carry an HTTP status PostgREST passes on (SQLSTATE PTxxx) and a stable key in
-- `hint`:
--   401 not_authenticated    no user in the JWT
--   400 invalid_items        not a non-empty array of {product_id, quantity}
--   404 unknown_product      a product id that does not exist (details: the ids)
--   409 product_unavailable  a product that is not published
--   409 insufficient_stock   fewer units left than ordered (details: what is left)
--   422 mixed_stores         products of several stores (one order per store)
--   422 mixed_currencies     products priced in several currencies

create function public.create_order(items jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_customer uuid := auth.uid();
  v_item jsonb;
  v_ids uuid[];
  v_missing text;
  v_product record;
  v_wanted record;
  v_store uuid;
  v_currency text;
  v_subtotal numeric := 0;
  v_lines jsonb := '[]';
  v_order_id uuid := public.uuid_v7();
  v_created_at timestamptz := pg_catalog.now();
begin
  if v_customer is null then
    raise exception using errcode = 'PT401', message = 'sign in to place an order',
      hint = 'not_authenticated';
  end if;

  if items is null or pg_catalog.jsonb_typeof(items) <> 'array'
     or pg_catalog.jsonb_array_length(items) = 0 or pg_catalog.jsonb_array_length(items) > 100 then
    raise exception using errcode = 'PT400',
      message = 'items must be an array of 1 to 100 {"product_id", "quantity"} objects',
      hint = 'invalid_items';
  end if;
  for v_item in select value from pg_catalog.jsonb_array_elements(items) loop
    if pg_catalog.jsonb_typeof(v_item) <> 'object'
       or coalesce(v_item ->> 'product_id', '') !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
       or pg_catalog.jsonb_typeof(v_item -> 'quantity') is distinct from 'number'
       or (v_item ->> 'quantity') !~ '^[0-9]{1,4}$'
       or (v_item ->> 'quantity')::integer not between 1 and 1000 then
      raise exception using errcode = 'PT400',
        message = 'each item needs a product_id (uuid) and a whole quantity from 1 to 1000',
        detail = v_item::text, hint = 'invalid_items';
    end if;
  end loop;

  select pg_catalog.array_agg(distinct (e ->> 'product_id')::uuid)
    into v_ids
    from pg_catalog.jsonb_array_elements(items) e;

  select pg_catalog.string_agg(wanted_id::text, ', ' order by wanted_id) into v_missing
    from pg_catalog.unnest(v_ids) as wanted_id
   where not exists (select from public.products p where p.id = wanted_id);
  if v_missing is not null then
    raise exception using errcode = 'PT404', message = 'unknown product',
      detail = v_missing, hint = 'unknown_product';
  end if;

  -- Lock in id order: concurrent orders over the same products queue, never deadlock.
  perform from public.products where id = any (v_ids) order by id for update;

  for v_wanted in
    select (e ->> 'product_id')::uuid as product_id, sum((e ->> 'quantity')::integer) as quantity
      from pg_catalog.jsonb_array_elements(items) e
     group by 1
     order by 1
  loop
    select * into v_product from public.products where id = v_wanted.product_id;
    if not v_product.published then
      raise exception using errcode = 'PT409', message = 'product is not available',
        detail = v_product.id::text, hint = 'product_unavailable';
    end if;
    if v_product.stock is not null and v_product.stock < v_wanted.quantity then
      raise exception using errcode = 'PT409',
        message = pg_catalog.format('only %s left of %s', v_product.stock, v_product.name),
        detail = pg_catalog.jsonb_build_object('product_id', v_product.id,
                   'available', v_product.stock, 'requested', v_wanted.quantity)::text,
        hint = 'insufficient_stock';
    end if;
    if v_store is not null and v_store <> v_product.store_id then
      raise exception using errcode = 'PT422', message = 'an order holds products of one store only',
        hint = 'mixed_stores';
    end if;
    if v_currency is not null and v_currency <> v_product.currency then
      raise exception using errcode = 'PT422', message = 'an order holds products of one currency only',
        detail = pg_catalog.format('%s and %s', v_currency, v_product.currency), hint = 'mixed_currencies';
    end if;
    v_store := v_product.store_id;
    v_currency := v_product.currency;
    v_subtotal := v_subtotal + v_product.price_minor::numeric * v_wanted.quantity;
    v_lines := v_lines || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
      'id', public.uuid_v7(),
      'product_id', v_product.id,
      'name', v_product.name,
      'quantity', v_wanted.quantity,
      'unit_price_minor', v_product.price_minor,
      'line_total_minor', v_product.price_minor * v_wanted.quantity));

    update public.products set stock = stock - v_wanted.quantity
     where id = v_product.id and stock is not null;
  end loop;

  insert into public.orders (id, store_id, customer_id, status, currency,
                             subtotal_minor, shipping_minor, total_minor, created_at, updated_at)
  values (v_order_id, v_store, v_customer, 'pending', v_currency,
          v_subtotal::bigint, 0, v_subtotal::bigint, v_created_at, v_created_at);

  insert into public.order_items (id, order_id, order_created_at, product_id, quantity,
                                  unit_price_minor, line_total_minor)
  select (l ->> 'id')::uuid, v_order_id, v_created_at, (l ->> 'product_id')::uuid,
         (l ->> 'quantity')::integer, (l ->> 'unit_price_minor')::bigint, (l ->> 'line_total_minor')::bigint
    from pg_catalog.jsonb_array_elements(v_lines) l;

  return pg_catalog.jsonb_build_object(
    'id', v_order_id,
    'created_at', v_created_at,
    'store_id', v_store,
    'customer_id', v_customer,
    'status', 'pending',
    'currency', v_currency,
    'subtotal_minor', v_subtotal::bigint,
    'shipping_minor', 0,
    'total_minor', v_subtotal::bigint,
    'items', v_lines);
end
$$;

comment on function public.create_order(jsonb) is
  'Places an order for the signed-in customer; prices and stock come from products.';

revoke all on function public.create_order(jsonb) from public, anon, service_role;
grant execute on function public.create_order(jsonb) to authenticated;
