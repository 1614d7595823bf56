-- The row-level security matrix: role x table x operation, allowed and denied both.
-- Actors (from the demo seed):
--   customer A  aminata  22..01  ordered 77..01 from Awa's store (paid, downloaded)
--   customer B  jean     22..03  ordered 77..02 from Kofi's store (paid, shipped)
--   merchant Awa  11..01 owns store 33..01;  merchant Kofi  11..02 owns store 33..02
begin;
select plan(62);

create function pg_temp.act(role text, sub uuid default null) returns void
language plpgsql as $$
begin
  execute 'reset role';
  perform set_config('request.jwt.claims',
    coalesce(jsonb_build_object('role', role, 'sub', sub), jsonb_build_object('role', role))::text, true);
  execute format('set local role %I', role);
end
$$;
create function pg_temp.customer_a() returns void language sql as
  $$ select pg_temp.act('authenticated', '22222222-2222-4222-8222-000000000001') $$;
create function pg_temp.customer_b() returns void language sql as
  $$ select pg_temp.act('authenticated', '22222222-2222-4222-8222-000000000003') $$;
create function pg_temp.awa() returns void language sql as
  $$ select pg_temp.act('authenticated', '11111111-1111-4111-8111-000000000001') $$;
create function pg_temp.kofi() returns void language sql as
  $$ select pg_temp.act('authenticated', '11111111-1111-4111-8111-000000000002') $$;
-- Rows a data-modifying statement touched (0 when RLS hid them).
create function pg_temp.touched(stmt text) returns int language plpgsql as $$
declare n int;
begin
  execute stmt;
  get diagnostics n = row_count;
  return n;
end
$$;

-- What the superuser sees, for comparisons made under other roles.
create temp table seen_by_superuser as
select (select count(*)::int from public.orders) as orders,
       (select count(*)::int from public.stores) as stores,
       (select created_at from public.orders where id = '77777777-7777-4777-8777-000000000002') as order_b_created_at,
       (select created_at from public.orders where id = '77777777-7777-4777-8777-000000000001') as order_a_created_at;
grant select on seen_by_superuser to public;

-- anon: the public catalogue, nothing else.
select pg_temp.act('anon');
select is((select count(*)::int from public.products where not published), 0, 'anon: no unpublished products');
select ok((select count(*) from public.products where published) >= 9, 'anon: published products');
select is((select count(*)::int from public.stores), (select stores from seen_by_superuser), 'anon: every store');
select ok((select count(*) from public.shipping_rates) = 4, 'anon: shipping rates');
select ok((select count(*) from public.currencies) >= 3 and (select count(*) from public.regions) = 3, 'anon: currencies and regions');
select is((select count(*)::int from public.orders), 0, 'anon: no orders');
select is((select count(*)::int from public.profiles), 0, 'anon: no profiles');
select is((select count(*)::int from public.product_files), 0, 'anon: no product files');
select is((select count(*)::int from public.analytics_events), 0, 'anon: no analytics');
select throws_ok($$ insert into public.products (store_id, kind, name, price_minor, currency)
                    values ('33333333-3333-4333-8333-000000000001', 'digital', 'x', 1, 'XOF') $$,
  '42501', null, 'anon: cannot insert products');
select throws_ok($$ insert into public.analytics_events (name, session_id) values ('x', 'y') $$,
  '42501', null, 'anon: cannot write analytics directly');

-- Customer A.
select pg_temp.customer_a();
select is((select count(*)::int from public.profiles), 1, 'customer: sees only their profile');
select is((select count(*)::int from public.orders where customer_id <> '22222222-2222-4222-8222-000000000001'), 0,
  'customer: no one else''s orders');
select is((select count(*)::int from public.orders where id = '77777777-7777-4777-8777-000000000001'), 1,
  'customer: their own order');
select is((select count(*)::int from public.order_items where order_id = '77777777-7777-4777-8777-000000000001'), 2,
  'customer: their order''s items');
select is((select count(*)::int from public.payments where id = '88888888-8888-4888-8888-000000000001'), 1,
  'customer: their payment');
select is((select count(*)::int from public.transaction_logs where payment_id = '88888888-8888-4888-8888-000000000001'), 2,
  'customer: their payment''s log');
select ok((select count(*) from public.digital_downloads) >= 1
          and (select count(*) from public.digital_downloads where customer_id <> '22222222-2222-4222-8222-000000000001') = 0,
  'customer: their downloads, nobody else''s');
select is((select count(*)::int from public.shipments), 0, 'customer: no shipment of others');
select is((select count(*)::int from public.products where not published), 0, 'customer: no unpublished products');
select throws_ok($$ insert into public.orders (store_id, customer_id, currency, subtotal_minor, total_minor)
                    values ('33333333-3333-4333-8333-000000000001', '22222222-2222-4222-8222-000000000001', 'XOF', 1, 1) $$,
  '42501', null, 'customer: cannot insert orders around create_order');
select throws_ok($$ update public.payments set status = 'refunded' where id = '88888888-8888-4888-8888-000000000001' $$,
  '42501', null, 'customer: cannot change a payment');
select is(pg_temp.touched($$ update public.products set price_minor = 1 where id = '44444444-4444-4444-8444-000000000101' $$), 0,
  'customer: cannot change products');
select throws_ok($$ select * from public.idempotency_keys $$, '42501', null, 'customer: no idempotency keys');
select is(pg_temp.touched($$ update public.profiles set display_name = 'Aminata S.' $$), 1,
  'customer: can update their own profile (only)');

-- Customer B.
select pg_temp.customer_b();
select is((select count(*)::int from public.orders where id = '77777777-7777-4777-8777-000000000001'), 0,
  'customer B: not A''s order');
select is((select count(*)::int from public.order_items where order_id = '77777777-7777-4777-8777-000000000001'), 0,
  'customer B: not A''s items');
select is((select count(*)::int from public.payments where id = '88888888-8888-4888-8888-000000000001'), 0,
  'customer B: not A''s payment');
select is((select count(*)::int from public.transaction_logs where payment_id = '88888888-8888-4888-8888-000000000001'), 0,
  'customer B: not A''s payment log');
select is((select count(*)::int from public.digital_downloads), 0, 'customer B: not A''s downloads');
select is((select count(*)::int from public.shipments), 1, 'customer B: their shipment');
select is((select count(*)::int from public.shipment_events), 3, 'customer B: its tracking events');

-- Merchant Awa (digital store).
select pg_temp.awa();
select is((select count(*)::int from public.orders where store_id <> '33333333-3333-4333-8333-000000000001'
             and customer_id <> '11111111-1111-4111-8111-000000000001'), 0,
  'merchant: no other store''s orders');
select ok((select count(*) from public.orders) > 0, 'merchant: their store''s orders');
select is((select count(*)::int from public.products where id = '44444444-4444-4444-8444-000000000104'), 1,
  'merchant: their unpublished product');
select is((select count(*)::int from public.product_files), 2, 'merchant: their product files only');
select ok((select count(*) from public.analytics_events) >= 3
          and (select count(*) from public.analytics_events where store_id <> '33333333-3333-4333-8333-000000000001') = 0,
  'merchant: their store''s analytics only');
select ok((select count(*) from public.digital_downloads) >= 1
          and (select count(*) from public.digital_downloads where store_id <> '33333333-3333-4333-8333-000000000001') = 0,
  'merchant: downloads of their products, no other store''s');
select is((select count(*)::int from public.payments where store_id <> '33333333-3333-4333-8333-000000000001'), 0,
  'merchant: no other store''s payments');
select is((select count(*)::int from public.shipments), 0, 'merchant: no other store''s shipments');
select is(pg_temp.touched($$ update public.products set price_minor = 5500 where id = '44444444-4444-4444-8444-000000000101' $$), 1,
  'merchant: updates their product');
select is(pg_temp.touched($$ update public.products set price_minor = 1 where id = '44444444-4444-4444-8444-000000000201' $$), 0,
  'merchant: cannot update another store''s product');
select is(pg_temp.touched($$ delete from public.products where id = '44444444-4444-4444-8444-000000000201' $$), 0,
  'merchant: cannot delete another store''s product');
select lives_ok($$ insert into public.products (store_id, kind, name, price_minor, currency)
                   values ('33333333-3333-4333-8333-000000000001', 'digital', 'New ebook', 2000, 'XOF') $$,
  'merchant: adds a product to their store');
select throws_ok($$ insert into public.products (store_id, kind, name, price_minor, currency)
                    values ('33333333-3333-4333-8333-000000000002', 'digital', 'Sneaky', 1, 'EUR') $$,
  '42501', null, 'merchant: cannot add a product to another store');
select throws_ok($$ insert into public.shipments (order_id, order_created_at, store_id, carrier)
                    select '77777777-7777-4777-8777-000000000002', order_b_created_at,
                           '33333333-3333-4333-8333-000000000001', 'DHL' from seen_by_superuser $$,
  '42501', null, 'merchant: cannot ship another store''s order, even claiming it for their store');
select throws_ok($$ insert into public.shipping_rates (zone_id, name, kind, price_minor, currency, min_days, max_days)
                    values ('66666666-6666-4666-8666-000000000201', 'x', 'flat', 1, 'EUR', 1, 2) $$,
  '42501', null, 'merchant: cannot add rates to another store''s zone');
select is(pg_temp.touched($$ update public.stores set name = 'Mine now' where id = '33333333-3333-4333-8333-000000000002' $$), 0,
  'merchant: cannot rename another store');

-- Merchant Kofi (physical store).
select pg_temp.kofi();
select is((select count(*)::int from public.orders where id = '77777777-7777-4777-8777-000000000001'), 0,
  'merchant Kofi: not Awa''s order');
select lives_ok($$ insert into public.shipments (order_id, order_created_at, store_id, carrier)
                   select id, created_at, store_id, 'La Poste' from public.orders where id = '77777777-7777-4777-8777-000000000002' $$,
  'merchant Kofi: ships his store''s order');
select is((select count(*)::int from public.analytics_events where store_id <> '33333333-3333-4333-8333-000000000002'), 0,
  'merchant Kofi: not Awa''s analytics');
select is(pg_temp.touched($$ update public.shipments set tracking_number = 'LP-2'
                             where order_id = '77777777-7777-4777-8777-000000000002' $$), 2,
  'merchant Kofi: updates his shipments'' tracking numbers');
select throws_ok($$ update public.shipments set order_id = '77777777-7777-4777-8777-000000000001',
                                              order_created_at = (select order_a_created_at from seen_by_superuser)
                    where order_id = '77777777-7777-4777-8777-000000000002' $$,
  '42501', null, 'merchant Kofi: cannot point his shipment at another store''s order');
select throws_ok($$ update public.shipments set status = 'delivered'
                    where order_id = '77777777-7777-4777-8777-000000000002' $$,
  '42501', null, 'merchant Kofi: a shipment''s status moves only through its events');
select throws_ok($$ select public.grant_download('22222222-2222-4222-8222-000000000001',
                      '77777777-7777-4777-8777-000000000001', '44444444-4444-4444-8444-000000000101', 31536000, 1000000) $$,
  '42501', null, 'a client cannot grant itself downloads with its own limits');
select throws_ok($$ truncate public.analytics_events $$, '42501', null, 'merchant: no TRUNCATE, which RLS would not stop');
select pg_temp.customer_a();
select throws_ok($$ select public.create_order('[{"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 1}]') $$,
  '42501', null, 'customer: no order around place_order''s idempotency key');
select ok(has_function_privilege('public.place_order(text, text, jsonb)', 'execute'),
  'customer: places orders through place_order');
select pg_temp.act('anon');
select throws_ok($$ truncate public.products $$, '42501', null, 'anon: no TRUNCATE');
select throws_ok($$ select public.create_order('[]') $$, '42501', null, 'anon: no create_order');

-- The gateway's service role sees everything.
select pg_temp.act('service_role');
select is((select count(*)::int from public.orders), (select orders from seen_by_superuser),
  'service role: every order');
-- 104 from the seed and Awa's new (unpublished by default) ebook.
select is((select count(*)::int from public.products where not published), 2, 'service role: unpublished products too');

select * from finish();
rollback;
