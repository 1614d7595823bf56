-- A payment's life at a provider: its checkout, cancel and expiry (after which the
-- order can be paid again), news found by the provider's reference, a wrong amount
-- logged, a success after the cancel kept, and the reconciliation list.
begin;
set local timezone = 'UTC';
select plan(33);

create function pg_temp.act(sub uuid) returns void language plpgsql as $$
begin
  execute 'reset role';
  perform set_config('request.jwt.claims', json_build_object('sub', sub, 'role', 'authenticated')::text, true);
  execute 'set local role authenticated';
end
$$;
create function pg_temp.as_service() returns void language plpgsql as $$
begin
  execute 'reset role';
  perform set_config('request.jwt.claims', '{"role": "service_role"}', true);
  execute 'set local role service_role';
end
$$;

-- Fatou's pending order: one Kente scarf at Kofi's (XOF).
select pg_temp.act('22222222-2222-4222-8222-000000000004');
create temp table o as
select public.place_order(gen_random_uuid()::text, repeat('0', 64), '[{"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 1}]') as v;
grant select on o to public;
create temp table p1 as
select public.create_payment('life-1', repeat('1', 64), (select (v ->> 'id')::uuid from o), 'cinetpay') as v;
grant select on p1 to public;
reset role;
select is((select v ->> 'provider' from p1), 'cinetpay', 'CinetPay is a provider the payments table takes');

-- The checkout, recorded by the gateway as the service role.
select pg_temp.act('22222222-2222-4222-8222-000000000004');
select throws_ok(format($$ select public.attach_checkout(%L, 'x', 'https://evil.test', 600) $$, (select v ->> 'id' from p1)),
  '42501', null, 'a customer cannot set their payment''s checkout');
select pg_temp.as_service();
select is(public.attach_checkout((select (v ->> 'id')::uuid from p1), 'cp_ref_1', 'https://checkout.cinetpay.test/pay/1', 900) ->> 'checkout_url',
  'https://checkout.cinetpay.test/pay/1', 'the checkout URL is kept on the payment');
select throws_ok(format($$ select public.attach_checkout(%L, 'x', 'https://c.test', 10) $$, (select v ->> 'id' from p1)),
  'PT422', null, 'a lifetime under a minute is refused');
reset role;
select is((select expires_at from public.payments where id = (select (v ->> 'id')::uuid from p1)),
  now() + interval '900 seconds', 'it stays open for the configured time');

-- A replay answers with the payment as it is now, checkout included.
select pg_temp.act('22222222-2222-4222-8222-000000000004');
select is(public.create_payment('life-1', repeat('1', 64), (select (v ->> 'id')::uuid from o), 'cinetpay') ->> 'checkout_url',
  'https://checkout.cinetpay.test/pay/1', 'a replay carries the checkout');
select throws_ok($$ select public.create_payment('life-2', repeat('2', 64), (select (v ->> 'id')::uuid from o), 'fedapay') $$,
  'PT409', 'this order already has a payment under way', 'one open payment per order');

-- Cancelled by its customer only; then the order can be paid again.
select pg_temp.act('22222222-2222-4222-8222-000000000005');
select throws_ok(format($$ select public.cancel_payment(%L) $$, (select v ->> 'id' from p1)),
  'PT404', null, 'another customer cannot cancel it');
select pg_temp.act('22222222-2222-4222-8222-000000000004');
select is(public.cancel_payment((select (v ->> 'id')::uuid from p1)) ->> 'status', 'cancelled', 'its customer cancels it');
select throws_ok(format($$ select public.cancel_payment(%L) $$, (select v ->> 'id' from p1)),
  'PT409', null, 'a payment is cancelled once');
create temp table p2 as
select public.create_payment('life-3', repeat('3', 64), (select (v ->> 'id')::uuid from o), 'fedapay') as v;
grant select on p2 to public;
select is((select v ->> 'status' from p2), 'pending', 'after the cancel the order can be paid again');

-- Expired: past its time, a payment no longer holds the order.
reset role;
update public.payments set expires_at = now() - interval '1 second' where id = (select (v ->> 'id')::uuid from p2);
select pg_temp.act('22222222-2222-4222-8222-000000000004');
create temp table p3 as
select public.create_payment('life-4', repeat('4', 64), (select (v ->> 'id')::uuid from o), 'moneroo') as v;
grant select on p3 to public;
reset role;
select is((select status from public.payments where id = (select (v ->> 'id')::uuid from p2)), 'expired',
  'a new attempt ends the expired one');
select is((select v ->> 'status' from p3), 'pending', 'and starts its own');
update public.payments set expires_at = now() - interval '1 second', checkout_url = 'https://m.test/3',
                           provider_ref = 'mon_3'
 where id = (select (v ->> 'id')::uuid from p3);
select pg_temp.as_service();
select cmp_ok(public.expire_payments(), '>=', 1, 'the cron ends payments past their time');
select is(public.expire_payments(), 0, 'once');
reset role;
select is((select array_agg(event order by id)::text from public.transaction_logs where payment_id = (select (v ->> 'id')::uuid from p3)),
  '{created,expired}', 'the expiry is logged');

-- Reconciliation: pending payments with a checkout, and recently ended ones.
select pg_temp.as_service();
select set_eq($$ select provider_ref from public.payments_to_reconcile(500)
                 where id in (select (v ->> 'id')::uuid from p1 union all select (v ->> 'id')::uuid from p3) $$,
  array['cp_ref_1', 'mon_3'], 'ended payments with a checkout are asked about for a day');
select is((select count(*)::int from public.payments
            where id in (select (v ->> 'id')::uuid from p1 union all select (v ->> 'id')::uuid from p3)
              and reconciled_at is not null and updated_at < reconciled_at),
  2, 'asking marks them asked, and is not a change of the payment');
select cmp_ok((select count(*)::int from public.payments_to_reconcile(500)), '>=', 2, 'every payment due is asked');
reset role;
update public.payments set reconciled_at = '2000-01-01' where id = (select (v ->> 'id')::uuid from p3);
select pg_temp.as_service();
select is((select provider_ref from public.payments_to_reconcile(1)), 'mon_3',
  'the one asked least recently is asked next: a backlog is worked through, not the same batch each run');

-- News by the provider's reference. A wrong amount is refused and logged.
select is(public.apply_provider_event('cinetpay', 'cp:1:bad', null, 'cp_ref_1', 'succeeded', 1) ->> 'outcome',
  'amount_mismatch', 'a success for another amount is refused');
select is(public.apply_provider_event('cinetpay', 'cp:1:bad', null, 'cp_ref_1', 'succeeded', 1) ->> 'outcome',
  'duplicate', 'and counted once');
select throws_ok($$ select public.apply_provider_event('cinetpay', 'cp:x', null, 'no-such-ref', 'failed', null) $$,
  'PT404', null, 'an unknown reference is refused');
select throws_ok(format($$ select public.apply_provider_event('fedapay', 'f:x', null, %L, 'failed', null) $$, 'cp_ref_1'),
  'PT404', null, 'a reference of another provider is refused');

-- The customer paid the cancelled checkout after all: the money is kept, the order paid.
select is(public.apply_provider_event('cinetpay', 'cp:1:ok', null, 'cp_ref_1', 'succeeded',
                                      (select (v ->> 'amount_minor')::bigint from p1)) ->> 'outcome',
  'applied', 'a success after the cancel is applied');
reset role;
select is((select status from public.orders where id = (select (v ->> 'id')::uuid from o)), 'paid', 'the order is paid');
select is((select array_agg(event order by id)::text from public.transaction_logs where payment_id = (select (v ->> 'id')::uuid from p1)),
  '{created,checkout,cancelled,provider.amount_mismatch,provider.succeeded_late}', 'every step is logged, the mismatch too');
select pg_temp.as_service();
select is(public.apply_provider_event('moneroo', 'm:3:failed', null, 'mon_3', 'failed', null) ->> 'outcome',
  'ignored', 'a failure of an expired payment changes nothing');
reset role;

-- A provider that refuses to open the checkout ends the payment; the order stays payable.
select pg_temp.act('22222222-2222-4222-8222-000000000004');
create temp table o2 as
select public.place_order(gen_random_uuid()::text, repeat('0', 64), '[{"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 1}]') as v;
grant select on o2 to public;
create temp table p4 as
select public.create_payment('life-5', repeat('5', 64), (select (v ->> 'id')::uuid from o2), 'cinetpay') as v;
grant select on p4 to public;
select pg_temp.as_service();
select is(public.fail_checkout((select (v ->> 'id')::uuid from p4), 'CinetPay takes XOF in multiples of 5') ->> 'status',
  'failed', 'a refused checkout fails the payment');
select throws_ok(format($$ select public.fail_checkout(%L, 'again') $$, (select v ->> 'id' from p4)),
  'PT409', null, 'once');
select pg_temp.act('22222222-2222-4222-8222-000000000004');
select is(public.create_payment('life-6', repeat('6', 64), (select (v ->> 'id')::uuid from o2), 'fedapay') ->> 'status',
  'pending', 'and the order can be paid with another provider');
reset role;

-- Who may call what.
select ok(not has_function_privilege('authenticated', 'public.apply_provider_event(text, text, uuid, text, text, bigint, jsonb)', 'execute')
          and not has_function_privilege('anon', 'public.expire_payments()', 'execute')
          and not has_function_privilege('authenticated', 'public.payments_to_reconcile(integer)', 'execute')
          and not has_function_privilege('authenticated', 'public.fail_checkout(uuid, text)', 'execute'),
  'only the gateway applies news, expires and reconciles');
select ok(not has_function_privilege('anon', 'public.cancel_payment(uuid)', 'execute'), 'anon cannot cancel');

select * from finish();
rollback;
