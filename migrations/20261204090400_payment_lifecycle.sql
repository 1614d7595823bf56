-- Payments that settle or end: a checkout at the provider recorded on the payment,
-- pending payments that expire or are cancelled (after which the order can be paid
-- again), notifications found by the provider's reference, amount mismatches logged
-- rather than lost in a rollback, and the list the reconciliation cron asks providers
-- about.
--
--   pending --> succeeded | failed | cancelled | expired
--   cancelled | expired --> succeeded   (the customer paid after all: money taken is
--                                        never dropped; see apply_provider_event)

alter table public.payments drop constraint payments_provider_check;
alter table public.payments add constraint payments_provider_check
  check (provider in ('moneroo', 'fedapay', 'paydunya', 'cinetpay', 'orange_money', 'mtn_momo', 'wave', 'card', 'test'));
alter table public.payments drop constraint payments_status_check;
alter table public.payments add constraint payments_status_check
  check (status in ('pending', 'succeeded', 'failed', 'cancelled', 'expired', 'refunded'));
alter table public.payments
  add column checkout_url text check (checkout_url ~ '^https?://' and char_length(checkout_url) <= 2000),
  -- The gateway sets it from PAYMENT_TTL_SECONDS with the checkout; 30 minutes until then.
  add column expires_at timestamptz not null default now() + interval '30 minutes',
  -- When the reconciliation cron last asked the provider about it.
  add column reconciled_at timestamptz;
create index payments_pending_expiry on public.payments (expires_at) where status = 'pending';
-- Being asked about is not a change of the payment: updated_at (which bounds how long an
-- ended payment is still asked about) stays when only reconciled_at moves.
drop trigger payments_touch_updated_at on public.payments;
create trigger payments_touch_updated_at before update on public.payments
  for each row when (new.reconciled_at is not distinct from old.reconciled_at)
  execute function public.touch_updated_at();
create unique index payments_provider_ref on public.payments (provider, provider_ref);

-- Ends the order's pending payments that are past their time, so the order can be
-- paid again without waiting for the cron. Returns how many.
create function public.expire_order_payments(p_order_id uuid)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_count integer;
begin
  with ended as (
    update public.payments p set status = 'expired'
     where p.order_id = p_order_id and p.status = 'pending' and p.expires_at <= pg_catalog.now()
    returning p.id, p.amount_minor
  )
  insert into public.transaction_logs (payment_id, event, from_status, to_status, amount_minor)
  select id, 'expired', 'pending', 'expired', amount_minor from ended;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

-- What a provider's checkout asks of the customer (Moneroo requires e-mail and names).
create function public.payment_customer(p_user uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object('customer',
           pg_catalog.jsonb_build_object('email', p.email, 'name', p.display_name))
    from public.profiles p where p.id = p_user
$$;

-- A payment intent: the amount and currency come from the order. Idempotent per key;
-- a replay answers with the payment as it is now (its checkout included). The answer
-- carries the customer's e-mail and name for the provider's checkout.
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

-- The provider's checkout for a pending payment (the gateway, as the service role,
-- after the provider created it): its reference, the customer's URL, and how long the
-- payment stays open.
create function public.attach_checkout(payment_id uuid, provider_ref text, checkout_url text, ttl_seconds integer)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_payment public.payments;
begin
  if ttl_seconds not between 60 and 7 * 86400 then
    raise exception using errcode = 'PT422', message = 'ttl_seconds must be between 60 and 604800', hint = 'invalid_ttl';
  end if;
  update public.payments p
     set provider_ref = attach_checkout.provider_ref,
         checkout_url = attach_checkout.checkout_url,
         expires_at = pg_catalog.now() + pg_catalog.make_interval(secs => ttl_seconds)
   where p.id = attach_checkout.payment_id and p.status = 'pending'
  returning * into v_payment;
  if not found then
    raise exception using errcode = 'PT409', message = 'the payment is no longer pending', hint = 'payment_not_pending';
  end if;
  insert into public.transaction_logs (payment_id, event, from_status, to_status, amount_minor, payload)
  values (v_payment.id, 'checkout', 'pending', 'pending', v_payment.amount_minor,
          pg_catalog.jsonb_build_object('provider_ref', attach_checkout.provider_ref));
  return pg_catalog.to_jsonb(v_payment);
end
$$;

-- The provider refused to open the checkout (a currency or an amount it does not take):
-- the payment ends, so the order can be paid otherwise.
create function public.fail_checkout(payment_id uuid, reason text)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_payment public.payments;
begin
  update public.payments p set status = 'failed'
   where p.id = fail_checkout.payment_id and p.status = 'pending' and p.checkout_url is null
  returning * into v_payment;
  if not found then
    raise exception using errcode = 'PT409', message = 'the payment has a checkout or is no longer pending',
      hint = 'payment_not_pending';
  end if;
  insert into public.transaction_logs (payment_id, event, from_status, to_status, amount_minor, payload)
  values (v_payment.id, 'checkout_failed', 'pending', 'failed', v_payment.amount_minor,
          pg_catalog.jsonb_build_object('reason', pg_catalog.left(fail_checkout.reason, 500)));
  return pg_catalog.to_jsonb(v_payment);
end
$$;

-- The customer gives up on a pending payment; the order can be paid again at once.
create function public.cancel_payment(payment_id uuid)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_payment public.payments;
begin
  select * into v_payment from public.payments p
   where p.id = cancel_payment.payment_id and p.customer_id = auth.uid()
   for update;
  if not found then
    raise exception using errcode = 'PT404', message = 'no such payment of yours', hint = 'unknown_payment';
  end if;
  if v_payment.status <> 'pending' then
    raise exception using errcode = 'PT409', message = 'only a pending payment can be cancelled',
      detail = v_payment.status, hint = 'payment_not_pending';
  end if;
  update public.payments p set status = 'cancelled' where p.id = v_payment.id
  returning * into v_payment;
  insert into public.transaction_logs (payment_id, event, from_status, to_status, amount_minor)
  values (v_payment.id, 'cancelled', 'pending', 'cancelled', v_payment.amount_minor);
  return pg_catalog.to_jsonb(v_payment);
end
$$;

-- Every pending payment past its time, ended (the cron). Returns how many.
create function public.expire_payments()
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_count integer;
begin
  with ended as (
    update public.payments p set status = 'expired'
     where p.status = 'pending' and p.expires_at <= pg_catalog.now()
    returning p.id, p.amount_minor
  )
  insert into public.transaction_logs (payment_id, event, from_status, to_status, amount_minor)
  select id, 'expired', 'pending', 'expired', amount_minor from ended;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

-- Payments whose outcome only the provider knows (notifications get lost): pending
-- ones with a checkout, and ones that ended here within the last day (a customer may
-- have paid just before the expiry or the cancel). Each call claims the ones asked
-- about least recently (never first), so every run moves on to others and a backlog
-- larger than one batch is still worked through.
create function public.payments_to_reconcile(max_rows integer default 50)
returns table (id uuid, provider text, provider_ref text, currency text, amount_minor bigint, status text)
language sql
volatile
security definer
set search_path = ''
as $$
  with due as (
    select p.id
      from public.payments p
     where p.checkout_url is not null
       and (p.status = 'pending'
            or (p.status in ('expired', 'cancelled') and p.updated_at > pg_catalog.now() - interval '1 day'))
     order by p.reconciled_at nulls first, p.updated_at
     limit least(greatest(max_rows, 1), 500)
       for update skip locked
  )
  update public.payments p set reconciled_at = pg_catalog.clock_timestamp()
    from due
   where p.id = due.id
  returning p.id, p.provider, p.provider_ref, p.currency, p.amount_minor, p.status
$$;

-- A provider's news about a payment (a verified notification, or its API's answer to
-- the reconciliation), named by our id or by the provider's reference. Applied at most
-- once per (provider, event_id). Outcomes:
--   applied      the payment moved (and the order, on success)
--   duplicate    this event was applied before
--   ignored      news that changes nothing (a failure after a success, ...)
--   amount_mismatch  a success for another amount: refused, and logged
create function public.apply_provider_event(provider text, event_id text, payment_id uuid, provider_ref text,
                                            status text, amount_minor bigint, payload jsonb default '{}')
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_payment public.payments;
  v_from text;
  v_outcome text;
  v_event text;
begin
  if status not in ('succeeded', 'failed', 'cancelled') then
    raise exception using errcode = 'PT422', message = 'unknown payment status', detail = status, hint = 'invalid_status';
  end if;
  insert into public.payment_events (provider, event_id, payment_id, outcome)
  values (apply_provider_event.provider, apply_provider_event.event_id, null, 'pending')
  on conflict do nothing;
  if not found then
    return pg_catalog.jsonb_build_object('outcome', 'duplicate');
  end if;

  if apply_provider_event.payment_id is not null then
    select * into v_payment from public.payments p
     where p.id = apply_provider_event.payment_id and p.provider = apply_provider_event.provider
     for update;
  else
    select * into v_payment from public.payments p
     where p.provider = apply_provider_event.provider and p.provider_ref = apply_provider_event.provider_ref
     for update;
  end if;
  if v_payment.id is null then
    raise exception using errcode = 'PT404', message = 'no such payment for this provider', hint = 'unknown_payment';
  end if;
  v_from := v_payment.status;

  if status = 'succeeded' and amount_minor is distinct from v_payment.amount_minor then
    insert into public.transaction_logs (payment_id, event, from_status, to_status, amount_minor, provider_event_id, payload)
    values (v_payment.id, 'provider.amount_mismatch', v_from, v_from, apply_provider_event.amount_minor,
            apply_provider_event.event_id, apply_provider_event.payload);
    v_outcome := 'amount_mismatch';
  elsif v_from = 'pending' or (status = 'succeeded' and v_from in ('cancelled', 'expired')) then
    update public.payments p
       set status = apply_provider_event.status,
           captured_minor = case when apply_provider_event.status = 'succeeded' then p.amount_minor else 0 end
     where p.id = v_payment.id
    returning * into v_payment;
    -- A success after the cancel or the expiry: the money was taken, so it is kept and
    -- logged apart; if another payment paid the order meanwhile, the merchant refunds.
    v_event := case when v_from = 'pending' then 'provider.' || apply_provider_event.status
                    else 'provider.succeeded_late' end;
    insert into public.transaction_logs (payment_id, event, from_status, to_status, amount_minor, provider_event_id, payload)
    values (v_payment.id, v_event, v_from, v_payment.status,
            apply_provider_event.amount_minor, apply_provider_event.event_id, apply_provider_event.payload);
    if v_payment.status = 'succeeded' then
      update public.orders o set status = 'paid'
       where o.id = v_payment.order_id and o.created_at = v_payment.order_created_at and o.status = 'pending';
    end if;
    v_outcome := 'applied';
  else
    v_outcome := 'ignored';
  end if;
  update public.payment_events e set outcome = v_outcome, payment_id = v_payment.id
   where e.provider = apply_provider_event.provider and e.event_id = apply_provider_event.event_id;
  return pg_catalog.jsonb_build_object('outcome', v_outcome, 'payment', pg_catalog.to_jsonb(v_payment));
end
$$;

-- The earlier entry point, by our id: one implementation behind both.
create or replace function public.apply_payment_event(provider text, event_id text, payment_id uuid,
                                                      status text, amount_minor bigint, payload jsonb default '{}')
returns jsonb
language sql
security definer
set search_path = ''
as $$
  select public.apply_provider_event(provider, event_id, payment_id, null, status, amount_minor, payload)
$$;

revoke all on function public.expire_order_payments(uuid),
                       public.payment_customer(uuid),
                       public.attach_checkout(uuid, text, text, integer),
                       public.fail_checkout(uuid, text),
                       public.cancel_payment(uuid),
                       public.expire_payments(),
                       public.payments_to_reconcile(integer),
                       public.apply_provider_event(text, text, uuid, text, text, bigint, jsonb)
  from public, anon, authenticated, service_role;
grant execute on function public.cancel_payment(uuid) to authenticated;
grant execute on function public.attach_checkout(uuid, text, text, integer),
                          public.fail_checkout(uuid, text),
                          public.expire_payments(),
                          public.payments_to_reconcile(integer),
                          public.apply_provider_event(text, text, uuid, text, text, bigint, jsonb)
  to service_role;
