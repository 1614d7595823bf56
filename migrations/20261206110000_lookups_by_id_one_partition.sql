-- The functions that find an order by its id alone read one monthly partition, not
-- every month's (issue 23): an id names the millisecond of its row's created_at
-- (20261206100000_ids_carry_created_at), so payhuk_meta.order_created_at asks that
-- millisecond first, and every month only when it finds nothing there (rows older than
-- that migration, ids from elsewhere). The functions then read or lock the order by
-- (id, created_at), which names its partition: create_payment, create_shipment and
-- grant_download; their checks, locks, errors and grants are as they were.
--
-- Functions that reach an order through a row that points at it (a payment's or a
-- shipment's order_id, order_created_at) already name the partition by that exact
-- created_at, and are not changed. digital_downloads and transaction_logs are looked up
-- by no function by id: rows are only inserted there.

-- The created_at of the order with this id (its partition key), or null if there is
-- none. Reads one partition when the id's time agrees with the row's.
create function payhuk_meta.order_created_at(p_order_id uuid)
returns timestamptz
language plpgsql
stable
set search_path = ''
as $$
declare
  v_made timestamptz := public.uuid_v7_time(p_order_id);
  v_created_at timestamptz;
begin
  if v_made is not null then
    select o.created_at into v_created_at from public.orders o
     where o.id = p_order_id
       and o.created_at >= v_made and o.created_at < v_made + interval '1 millisecond';
    if found then
      return v_created_at;
    end if;
  end if;
  select o.created_at into v_created_at from public.orders o where o.id = p_order_id;
  return v_created_at;
end
$$;

revoke all on function payhuk_meta.order_created_at(uuid) from public;

create or replace function public.create_payment(idempotency_key text, request_hash text, order_id uuid, provider text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user uuid := auth.uid();
  v_scope text;
  v_existing public.idempotency_keys;
  v_order public.orders;
  v_order_created_at timestamptz;
  v_payment public.payments;
begin
  if v_user is null then
    raise exception using errcode = 'PT401', message = 'sign in to pay', hint = 'not_authenticated';
  end if;
  v_scope := 'payments:' || v_user;
  insert into public.idempotency_keys (scope, key, request_hash)
  values (v_scope, create_payment.idempotency_key, create_payment.request_hash)
  on conflict (scope, key) do nothing;
  if not found then
    select * into v_existing from public.idempotency_keys
     where scope = v_scope and key = create_payment.idempotency_key for update;
    if v_existing.request_hash <> create_payment.request_hash then
      raise exception using errcode = 'PT409', message = 'this Idempotency-Key was already used with a different request',
        hint = 'idempotency_key_reused';
    end if;
    select * into v_payment from public.payments p where p.id = (v_existing.response_body ->> 'id')::uuid;
    return pg_catalog.to_jsonb(v_payment) || public.payment_customer(v_user) || '{"replayed": true}'::jsonb;
  end if;

  v_order_created_at := payhuk_meta.order_created_at(create_payment.order_id);
  select * into v_order from public.orders o
   where o.id = create_payment.order_id
     and o.created_at = v_order_created_at
     and o.customer_id = v_user
   for update;
  if not found then
    raise exception using errcode = 'PT404', message = 'no such order of yours', hint = 'unknown_order';
  end if;
  if v_order.status <> 'pending' then
    raise exception using errcode = 'PT409', message = 'this order is not awaiting payment',
      detail = v_order.status, hint = 'order_not_payable';
  end if;
  perform public.expire_order_payments(v_order.id);
  if exists (select from public.payments p where p.order_id = v_order.id and p.status in ('pending', 'succeeded')) then
    raise exception using errcode = 'PT409', message = 'this order already has a payment under way',
      detail = 'cancel it (POST /api/v1/payments/{id}/cancel) or wait until it expires',
      hint = 'payment_exists';
  end if;

  insert into public.payments (order_id, order_created_at, store_id, customer_id, provider, status,
                               amount_minor, currency)
  values (v_order.id, v_order.created_at, v_order.store_id, v_user, create_payment.provider, 'pending',
          v_order.total_minor, v_order.currency)
  returning * into v_payment;
  -- The reference the provider echoes back, until its checkout gives one of its own.
  update public.payments set provider_ref = 'phk_' || v_payment.id where id = v_payment.id
  returning * into v_payment;
  insert into public.transaction_logs (payment_id, event, from_status, to_status, amount_minor)
  values (v_payment.id, 'created', null, 'pending', v_payment.amount_minor);

  update public.idempotency_keys set response_status = 201, response_body = pg_catalog.to_jsonb(v_payment)
   where scope = v_scope and key = create_payment.idempotency_key;
  return pg_catalog.to_jsonb(v_payment) || public.payment_customer(v_user) || '{"replayed": false}'::jsonb;
end
$$;

create or replace function public.create_shipment(order_id uuid, carrier text, tracking_number text default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_order public.orders;
  v_order_created_at timestamptz;
  v_shipment public.shipments;
begin
  v_order_created_at := payhuk_meta.order_created_at(create_shipment.order_id);
  select * into v_order from public.orders o
   where o.id = create_shipment.order_id
     and o.created_at = v_order_created_at
     and o.store_id in (select public.my_store_ids());
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

create or replace function public.grant_download(customer_id uuid, order_id uuid, product_id uuid,
                                                 ttl_seconds integer, max_downloads integer)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_order public.orders;
  v_order_created_at timestamptz;
  v_file uuid;
  v_grant public.download_grants;
begin
  if ttl_seconds not between 60 and 604800 or max_downloads not between 1 and 1000 then
    raise exception using errcode = 'PT400', message = 'download limits out of range',
      detail = pg_catalog.format('ttl_seconds %s, max_downloads %s', ttl_seconds, max_downloads),
      hint = 'invalid_limits';
  end if;
  v_order_created_at := payhuk_meta.order_created_at(grant_download.order_id);
  select * into v_order from public.orders o
   where o.id = grant_download.order_id
     and o.created_at = v_order_created_at
     and o.customer_id = grant_download.customer_id;
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
