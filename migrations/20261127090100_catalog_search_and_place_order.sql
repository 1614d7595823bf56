-- What the products and orders services query.

-- Full-text search PostgREST can filter on (`search_vector=wfts(simple).<words>`).
alter table public.products
  add column search_vector tsvector
  generated always as (to_tsvector('simple', name || ' ' || description)) stored;
drop index public.products_search;
create index products_search on public.products using gin (search_vector);

-- Cursor pagination, newest first: (created_at, id) descending.
drop index public.products_published;
create index products_published on public.products (created_at desc, id desc) where published;
drop index public.products_store_id;
create index products_store_id on public.products (store_id, created_at desc, id desc);

-- place_order(idempotency_key, request_hash, items): create_order made safe to retry.
-- The first call with a key creates the order and stores it with the key; later calls
-- with the same key and the same request (hash) get that order back, marked
-- "replayed"; the same key with another request is refused (409). Concurrent calls
-- with one key queue on its row: exactly one order. A failed order stores nothing, so
-- it can be retried with the same key. Keys last 24 hours.

create function public.place_order(idempotency_key text, request_hash text, items jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user uuid := auth.uid();
  v_scope text;
  v_existing public.idempotency_keys;
  v_order jsonb;
begin
  if v_user is null then
    raise exception using errcode = 'PT401', message = 'sign in to place an order', hint = 'not_authenticated';
  end if;
  if coalesce(pg_catalog.length(place_order.idempotency_key), 0) not between 1 and 255 then
    raise exception using errcode = 'PT400', message = 'an Idempotency-Key of 1 to 255 characters is required',
      hint = 'invalid_idempotency_key';
  end if;
  if coalesce(place_order.request_hash, '') !~ '^[0-9a-f]{64}$' then
    raise exception using errcode = 'PT400', message = 'request_hash must be a SHA-256 in hex', hint = 'invalid_request_hash';
  end if;
  v_scope := 'orders:' || v_user;

  -- Waits for a concurrent call holding the same key to finish.
  insert into public.idempotency_keys (scope, key, request_hash)
  values (v_scope, place_order.idempotency_key, place_order.request_hash)
  on conflict (scope, key) do nothing;

  if not found then
    select * into v_existing from public.idempotency_keys
     where scope = v_scope and key = place_order.idempotency_key
       for update;
    if v_existing.expires_at <= pg_catalog.now() then
      update public.idempotency_keys
         set request_hash = place_order.request_hash, response_status = null, response_body = null,
             created_at = pg_catalog.now(), expires_at = pg_catalog.now() + interval '24 hours'
       where scope = v_scope and key = place_order.idempotency_key;
    elsif v_existing.request_hash <> place_order.request_hash then
      raise exception using errcode = 'PT409',
        message = 'this Idempotency-Key was already used with a different request',
        hint = 'idempotency_key_reused';
    else
      return v_existing.response_body || '{"replayed": true}'::jsonb;
    end if;
  end if;

  v_order := public.create_order(items);
  update public.idempotency_keys set response_status = 201, response_body = v_order
   where scope = v_scope and key = place_order.idempotency_key;
  return v_order || '{"replayed": false}'::jsonb;
end
$$;

revoke all on function public.place_order(text, text, jsonb) from public, anon, service_role;
grant execute on function public.place_order(text, text, jsonb) to authenticated;
