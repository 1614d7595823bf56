-- Payments: intents for an order the customer owns, provider notifications applied
-- once, a state machine every transition of which is logged in the same transaction,
-- and merchant refunds never above what was captured.
--
--   pending --> succeeded | failed | cancelled
--   succeeded --> refunded (partial refunds keep it succeeded; the last one refunds it)

-- Provider events already applied, so a redelivery changes nothing.
create table public.payment_events (
  provider text not null,
  event_id text not null check (char_length(event_id) between 1 and 200),
  payment_id uuid references public.payments (id),
  outcome text not null,
  received_at timestamptz not null default now(),
  primary key (provider, event_id)
);
alter table public.payment_events enable row level security;
revoke all on public.payment_events from anon, authenticated;

-- A payment intent: the amount and currency come from the order. Idempotent per key.
create function public.create_payment(idempotency_key text, request_hash text, order_id uuid, provider text)
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
    return v_existing.response_body || '{"replayed": true}'::jsonb;
  end if;

  select * into v_order from public.orders o
   where o.id = create_payment.order_id and o.customer_id = v_user
   for update;
  if not found then
    raise exception using errcode = 'PT404', message = 'no such order of yours', hint = 'unknown_order';
  end if;
  if v_order.status <> 'pending' then
    raise exception using errcode = 'PT409', message = 'this order is not awaiting payment',
      detail = v_order.status, hint = 'order_not_payable';
  end if;
  if exists (select from public.payments p where p.order_id = v_order.id and p.status in ('pending', 'succeeded')) then
    raise exception using errcode = 'PT409', message = 'this order already has a payment under way',
      hint = 'payment_exists';
  end if;

  insert into public.payments (order_id, order_created_at, store_id, customer_id, provider, status,
                               amount_minor, currency)
  values (v_order.id, v_order.created_at, v_order.store_id, v_user, create_payment.provider, 'pending',
          v_order.total_minor, v_order.currency)
  returning * into v_payment;
  -- The reference the provider echoes back in its notifications.
  update public.payments set provider_ref = 'phk_' || v_payment.id where id = v_payment.id
  returning * into v_payment;
  insert into public.transaction_logs (payment_id, event, from_status, to_status, amount_minor)
  values (v_payment.id, 'created', null, 'pending', v_payment.amount_minor);

  update public.idempotency_keys set response_status = 201, response_body = pg_catalog.to_jsonb(v_payment)
   where scope = v_scope and key = create_payment.idempotency_key;
  return pg_catalog.to_jsonb(v_payment) || '{"replayed": false}'::jsonb;
end
$$;

-- A provider's notification, already authenticated by the gateway. Applied at most
-- once per (provider, event_id); concurrent deliveries of one event queue on its key.
-- Returns {"outcome": "applied" | "duplicate" | "ignored", "payment": ...}.
create function public.apply_payment_event(provider text, event_id text, payment_id uuid,
                                           status text, amount_minor bigint, payload jsonb default '{}')
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_payment public.payments;
  v_outcome text;
begin
  if status not in ('succeeded', 'failed', 'cancelled') then
    raise exception using errcode = 'PT422', message = 'unknown payment status', detail = status, hint = 'invalid_status';
  end if;
  insert into public.payment_events (provider, event_id, payment_id, outcome)
  values (apply_payment_event.provider, apply_payment_event.event_id, apply_payment_event.payment_id, 'pending')
  on conflict do nothing;
  if not found then
    return pg_catalog.jsonb_build_object('outcome', 'duplicate');
  end if;

  select * into v_payment from public.payments p
   where p.id = apply_payment_event.payment_id and p.provider = apply_payment_event.provider
   for update;
  if not found then
    raise exception using errcode = 'PT404', message = 'no such payment for this provider', hint = 'unknown_payment';
  end if;

  if v_payment.status <> 'pending' then
    -- Late or out-of-order news about a settled payment changes nothing.
    v_outcome := 'ignored';
  elsif status = 'succeeded' and amount_minor <> v_payment.amount_minor then
    raise exception using errcode = 'PT422', message = 'the notified amount is not the payment''s',
      detail = pg_catalog.format('%s notified, %s expected', amount_minor, v_payment.amount_minor),
      hint = 'amount_mismatch';
  else
    update public.payments p
       set status = apply_payment_event.status,
           captured_minor = case when apply_payment_event.status = 'succeeded' then p.amount_minor else 0 end
     where p.id = v_payment.id
    returning * into v_payment;
    insert into public.transaction_logs (payment_id, event, from_status, to_status, amount_minor, provider_event_id, payload)
    values (v_payment.id, 'provider.' || apply_payment_event.status, 'pending', v_payment.status,
            apply_payment_event.amount_minor, apply_payment_event.event_id, apply_payment_event.payload);
    if v_payment.status = 'succeeded' then
      update public.orders o set status = 'paid'
       where o.id = v_payment.order_id and o.created_at = v_payment.order_created_at and o.status = 'pending';
    end if;
    v_outcome := 'applied';
  end if;
  update public.payment_events e set outcome = v_outcome
   where e.provider = apply_payment_event.provider and e.event_id = apply_payment_event.event_id;
  return pg_catalog.jsonb_build_object('outcome', v_outcome, 'payment', pg_catalog.to_jsonb(v_payment));
end
$$;

-- A merchant's refund of a succeeded payment of their store; never above what was
-- captured in total. The last unit refunded marks the payment (and order) refunded.
create function public.refund_payment(payment_id uuid, amount_minor bigint, reason text default null)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_payment public.payments;
  v_status text;
begin
  select * into v_payment from public.payments p where p.id = refund_payment.payment_id for update;
  if not found or v_payment.store_id not in (select public.my_store_ids()) then
    raise exception using errcode = 'PT404', message = 'no such payment of your store', hint = 'unknown_payment';
  end if;
  if v_payment.status <> 'succeeded' then
    raise exception using errcode = 'PT409', message = 'only a succeeded payment can be refunded',
      detail = v_payment.status, hint = 'not_refundable';
  end if;
  if refund_payment.amount_minor <= 0
     or v_payment.refunded_minor + refund_payment.amount_minor > v_payment.captured_minor then
    raise exception using errcode = 'PT422', message = 'a refund cannot exceed what is left of the capture',
      detail = pg_catalog.format('%s asked, %s left', refund_payment.amount_minor,
                                 v_payment.captured_minor - v_payment.refunded_minor),
      hint = 'refund_exceeds_capture';
  end if;
  v_status := case when v_payment.refunded_minor + refund_payment.amount_minor = v_payment.captured_minor
                   then 'refunded' else 'succeeded' end;
  update public.payments p
     set refunded_minor = p.refunded_minor + refund_payment.amount_minor, status = v_status
   where p.id = v_payment.id
  returning * into v_payment;
  insert into public.transaction_logs (payment_id, event, from_status, to_status, amount_minor, payload)
  values (v_payment.id, 'refund', 'succeeded', v_status, refund_payment.amount_minor,
          pg_catalog.jsonb_build_object('reason', refund_payment.reason));
  if v_status = 'refunded' then
    update public.orders o set status = 'refunded'
     where o.id = v_payment.order_id and o.created_at = v_payment.order_created_at;
  end if;
  return pg_catalog.to_jsonb(v_payment);
end
$$;

revoke all on function public.create_payment(text, text, uuid, text),
                       public.apply_payment_event(text, text, uuid, text, bigint, jsonb),
                       public.refund_payment(uuid, bigint, text)
  from public, anon, authenticated, service_role;
grant execute on function public.create_payment(text, text, uuid, text) to authenticated;
grant execute on function public.refund_payment(uuid, bigint, text) to authenticated;
grant execute on function public.apply_payment_event(text, text, uuid, text, bigint, jsonb) to service_role;
