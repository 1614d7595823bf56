-- Payments, shipping quotes, downloads and sales, in SQL.
begin;
set local timezone = 'UTC';
select plan(34);

create function pg_temp.act(sub uuid) returns void language plpgsql as $$
begin
  execute 'reset role';
  perform set_config('request.jwt.claims', json_build_object('sub', sub, 'role', 'authenticated')::text, true);
  execute 'set local role authenticated';
end
$$;

-- A fresh pending order for customer Fatou: two Kente scarves at Kofi's.
select pg_temp.act('22222222-2222-4222-8222-000000000004');
create temp table o as
select public.place_order(gen_random_uuid()::text, repeat('0', 64), '[{"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 2}]') as v;
grant select on o to public;
create temp table pay as
select public.create_payment('tap-key', repeat('1', 64), (select (v ->> 'id')::uuid from o), 'test') as v;
grant select on pay to public;
reset role;

select is((select v ->> 'status' from pay), 'pending', 'a payment intent starts pending');
select is((select (v ->> 'amount_minor')::bigint from pay), (select (v ->> 'total_minor')::bigint from o),
  'for the order''s total, not an amount from the client');
select is((select v ->> 'provider_ref' from pay), 'phk_' || (select v ->> 'id' from pay), 'with the reference providers echo');

select pg_temp.act('22222222-2222-4222-8222-000000000004');
select throws_ok($$ select public.create_payment('tap-key', repeat('2', 64), (select (v ->> 'id')::uuid from o), 'test') $$,
  'PT409', null, 'the same key with another request is refused');
select is((select public.create_payment('tap-key', repeat('1', 64), (select (v ->> 'id')::uuid from o), 'test') ->> 'id'),
  (select v ->> 'id' from pay), 'the same key and request return the same payment');
select throws_ok($$ select public.create_payment('tap-key-2', repeat('3', 64), (select (v ->> 'id')::uuid from o), 'test') $$,
  'PT409', null, 'one payment under way per order');
reset role;

-- Provider events: applied once; a wrong amount is refused; late news is ignored.
select is(public.apply_payment_event('test', 'evt-amount', (select (v ->> 'id')::uuid from pay), 'succeeded', 1) ->> 'outcome',
  'amount_mismatch', 'an amount that is not the payment''s is refused (and logged, below)');
select is(public.apply_payment_event('test', 'evt-1', (select (v ->> 'id')::uuid from pay), 'succeeded',
                                     (select (v ->> 'amount_minor')::bigint from pay)) ->> 'outcome',
  'applied', 'a success is applied');
select is(public.apply_payment_event('test', 'evt-1', (select (v ->> 'id')::uuid from pay), 'succeeded',
                                     (select (v ->> 'amount_minor')::bigint from pay)) ->> 'outcome',
  'duplicate', 'the same event again changes nothing');
select is(public.apply_payment_event('test', 'evt-2', (select (v ->> 'id')::uuid from pay), 'failed', 0) ->> 'outcome',
  'ignored', 'news after settlement is ignored');
select is((select status from public.orders where id = (select (v ->> 'id')::uuid from o)), 'paid', 'the order is paid');
select is((select status from public.payments where id = (select (v ->> 'id')::uuid from pay)), 'succeeded', 'the payment succeeded');

-- Refunds by the store's merchant, never above the capture.
select pg_temp.act('11111111-1111-4111-8111-000000000001');
select throws_ok(format($$ select public.refund_payment(%L, 1) $$, (select v ->> 'id' from pay)),
  'PT404', null, 'another store''s merchant cannot refund');
select pg_temp.act('11111111-1111-4111-8111-000000000002');
select throws_ok(format($$ select public.refund_payment(%L, %s) $$, (select v ->> 'id' from pay),
                        (select (v ->> 'amount_minor')::bigint + 1 from pay)),
  'PT422', null, 'a refund above the capture is refused');
select is(public.refund_payment((select (v ->> 'id')::uuid from pay), 100) ->> 'status', 'succeeded', 'a partial refund');
select is(public.refund_payment((select (v ->> 'id')::uuid from pay), (select (v ->> 'amount_minor')::bigint - 100 from pay)) ->> 'status',
  'refunded', 'the rest refunds it');
select throws_ok(format($$ select public.refund_payment(%L, 1) $$, (select v ->> 'id' from pay)),
  'PT409', null, 'nothing is left to refund');
reset role;
select is((select array_agg(event order by id)::text from public.transaction_logs where payment_id = (select (v ->> 'id')::uuid from pay)),
  '{created,provider.amount_mismatch,provider.succeeded,refund,refund}', 'one log row per transition');

-- Shipping quotes at Kofi's (West Africa: under 1 kg 800, 1 to 5 kg 1500; Europe: 1200, free from 10000).
select is((select public.shipping_quote('33333333-3333-4333-8333-000000000002', 'GH',
            '[{"product_id": "44444444-4444-4444-8444-000000000203", "quantity": 1}]') -> 'options' -> 0 ->> 'price_minor')::int,
  800, '80 g to Ghana: the under-1 kg bracket');
select is((select public.shipping_quote('33333333-3333-4333-8333-000000000002', 'GH',
            '[{"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 5}]') -> 'options' -> 0 ->> 'price_minor')::int,
  1500, 'exactly 1000 g belongs to the next bracket, [1000, 5000)');
select is((select public.shipping_quote('33333333-3333-4333-8333-000000000002', 'SN',
            '[{"product_id": "44444444-4444-4444-8444-000000000202", "quantity": 6}]') -> 'options')::text,
  '[]', '5400 g is over every bracket: no option');
select is((select public.shipping_quote('33333333-3333-4333-8333-000000000002', 'fr',
            '[{"product_id": "44444444-4444-4444-8444-000000000203", "quantity": 1}]') -> 'options' -> 0 ->> 'price_minor')::int,
  1200, 'under the free threshold, a flat rate (lowercase country accepted)');
select is((select public.shipping_quote('33333333-3333-4333-8333-000000000002', 'DE',
            format('[{"product_id": "44444444-4444-4444-8444-000000000201", "quantity": %s}]',
                   ceil(10000.0 / (select price_minor from public.products where id = '44444444-4444-4444-8444-000000000201')))::jsonb)
           -> 'options' -> 0 ->> 'free')::boolean,
  true, 'at the free threshold, free');
select throws_ok($$ select public.shipping_quote('33333333-3333-4333-8333-000000000002', 'JP',
                    '[{"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 1}]') $$,
  'PT422', 'this store does not ship to JP', 'a country no zone serves is a clear 4xx');

-- Downloads: a grant's budget is spent atomically.
insert into public.download_grants (order_id, order_created_at, product_file_id, customer_id, store_id, max_downloads, expires_at)
select '77777777-7777-4777-8777-000000000001', created_at, '55555555-5555-4555-8555-000000000101',
       '22222222-2222-4222-8222-000000000001', '33333333-3333-4333-8333-000000000001', 2, now() + interval '1 hour'
from public.orders where id = '77777777-7777-4777-8777-000000000001';
create temp table g as select id from public.download_grants order by created_at desc limit 1;
select is((select array_agg(public.claim_download((select id from g)) ->> 'status')::text from generate_series(1, 3)),
  '{ok,ok,exhausted}', 'two downloads, then exhausted');

-- Sales equal the plain aggregate.
select is(
  (select sum((r ->> 'revenue_minor')::bigint) from jsonb_array_elements(
     public.sales_report('33333333-3333-4333-8333-000000000001', now() - interval '1 year', now(), 'month')) r),
  (select sum(total_minor) from public.orders where store_id = '33333333-3333-4333-8333-000000000001'
      and created_at >= now() - interval '1 year' and created_at < now() and status in ('paid', 'fulfilled')),
  'monthly sales add up to the orders');
select throws_ok($$ select public.sales_report('33333333-3333-4333-8333-000000000001', now() - interval '1 day', now(), 'hour') $$,
  'PT422', null, 'granularity is day, week or month');

-- store_sales: the report in one call, for the store's owner only.
create temp table awa_report as
select public.sales_report('33333333-3333-4333-8333-000000000001', now() - interval '1 year', now(), 'month') as v;
grant select on awa_report to public;
select pg_temp.act('11111111-1111-4111-8111-000000000001');
select is(public.store_sales('33333333-3333-4333-8333-000000000001', now() - interval '1 year', now(), 'month'),
  (select v from awa_report), 'store_sales for the owner is the report');
select pg_temp.act('11111111-1111-4111-8111-000000000002');
select throws_ok($$ select public.store_sales('33333333-3333-4333-8333-000000000001', now() - interval '1 year', now(), 'month') $$,
  'PT404', 'no store of yours has this id', 'another merchant''s store is not found');
reset role;

-- store_orders: a store's page in one call, newest first on (created_at, id), for the
-- store's owner only. The reference ordering is read as the superuser.
create temp table awa_orders as
select id, created_at, row_number() over (order by created_at desc, id desc) as n
from public.orders where store_id = '33333333-3333-4333-8333-000000000001';
grant select on awa_orders to public;
select pg_temp.act('11111111-1111-4111-8111-000000000001');
select cmp_ok((select count(*) from awa_orders), '>=', 4::bigint, 'Awa''s store has orders to page through');
select results_eq(
  $$ select id from public.store_orders('33333333-3333-4333-8333-000000000001', 2) $$,
  $$ select id from awa_orders where n <= 2 order by n $$,
  'the first page is the newest orders');
select results_eq(
  $$ select id from public.store_orders('33333333-3333-4333-8333-000000000001', 2,
       (select created_at from awa_orders where n = 2), (select id from awa_orders where n = 2)) $$,
  $$ select id from awa_orders where n in (3, 4) order by n $$,
  'the next page starts after the cursor''s row');
select throws_ok($$ select public.store_orders('33333333-3333-4333-8333-000000000001', 0) $$,
  'PT422', 'page_size must be from 1 to 101', 'a page holds at least one order');
select pg_temp.act('11111111-1111-4111-8111-000000000002');
select throws_ok($$ select public.store_orders('33333333-3333-4333-8333-000000000001', 20) $$,
  'PT404', 'no store of yours has this id', 'another merchant''s store is not found');
reset role;

select * from finish();
rollback;
