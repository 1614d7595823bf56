-- create_order(), reached as clients reach it, through place_order: prices from products,
-- stock checked and decremented, clear errors. (Concurrent orders are tested in the
-- integration layer: pgTAP runs one session.)
begin;
select plan(20);

-- Act as a signed-in customer, as PostgREST does with a JWT.
create function pg_temp.act_as(sub uuid) returns void
language sql as $$
  select set_config('request.jwt.claims', json_build_object('sub', sub, 'role', 'authenticated')::text, true);
  set local role authenticated;
$$;

-- Known stock for this transaction (other tests on a long-lived stack may have sold some).
update public.products set stock = 40 where id = '44444444-4444-4444-8444-000000000201';
update public.products set stock = 3 where id = '44444444-4444-4444-8444-000000000203';

-- Prices as they are now (other tests may have changed them).
create temp table prices on commit drop as
select (select price_minor from public.products where id = '44444444-4444-4444-8444-000000000201') as kente,
       (select price_minor from public.products where id = '44444444-4444-4444-8444-000000000203') as necklace,
       (select stock from public.products where id = '44444444-4444-4444-8444-000000000201') as kente_stock,
       (select stock from public.products where id = '44444444-4444-4444-8444-000000000203') as necklace_stock;
grant select on prices to public;

select pg_temp.act_as('22222222-2222-4222-8222-000000000004');

create temp table placed on commit drop as
select public.place_order(gen_random_uuid()::text, repeat('0', 64), '[
  {"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 2, "unit_price_minor": 1},
  {"product_id": "44444444-4444-4444-8444-000000000203", "quantity": 1},
  {"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 1}
]'::jsonb) as o;

select is((select o ->> 'status' from placed), 'pending', 'the order is pending');
select is((select o ->> 'customer_id' from placed), '22222222-2222-4222-8222-000000000004', 'for the caller');
select is((select o ->> 'currency' from placed), 'EUR', 'in the products'' currency');
select is((select (o ->> 'subtotal_minor')::bigint from placed), (select 3 * kente + necklace from prices),
  'priced from products, ignoring prices sent by the client');
select is((select (o ->> 'total_minor')::bigint from placed), (select 3 * kente + necklace from prices),
  'total = subtotal + shipping');
select is((select jsonb_array_length(o -> 'items') from placed), 2, 'a product listed twice is one line');
select is(
  (select quantity from public.order_items where order_id = (select (o ->> 'id')::uuid from placed)
      and product_id = '44444444-4444-4444-8444-000000000201'),
  3, 'with the quantities added');
select is((select count(*)::int from public.orders where id = (select (o ->> 'id')::uuid from placed)), 1,
  'the customer sees the new order');

reset role;
select is((select stock from public.products where id = '44444444-4444-4444-8444-000000000201'),
  (select kente_stock - 3 from prices), 'stock went down by 3');
select is((select stock from public.products where id = '44444444-4444-4444-8444-000000000203'),
  (select necklace_stock - 1 from prices), 'and by 1');
select is(
  (select tableoid::regclass::text from public.orders where id = (select (o ->> 'id')::uuid from placed)),
  'payhuk_partitions.orders_p' || to_char(now() at time zone 'UTC', 'YYYY_MM'),
  'the order is in this month''s partition');

-- A product of Kofi's store priced in another currency, for the mixed-currency case.
insert into public.products (id, store_id, kind, name, price_minor, currency, stock, weight_grams, published)
values ('44444444-4444-4444-8444-0000000002ff', '33333333-3333-4333-8333-000000000002',
        'physical', 'USD-priced scarf', 5000, 'USD', 5, 100, true);

select pg_temp.act_as('22222222-2222-4222-8222-000000000004');

select throws_ok($$ select public.place_order(gen_random_uuid()::text, repeat('0', 64), '[{"product_id": "44444444-4444-4444-8444-00000000dead", "quantity": 1}]') $$,
  'PT404', 'unknown product', 'an unknown product is refused');
select throws_ok($$ select public.place_order(gen_random_uuid()::text, repeat('0', 64), '[{"product_id": "44444444-4444-4444-8444-000000000104", "quantity": 1}]') $$,
  'PT409', 'product is not available', 'an unpublished product is refused');
select throws_ok($$ select public.place_order(gen_random_uuid()::text, repeat('0', 64), '[{"product_id": "44444444-4444-4444-8444-000000000203", "quantity": 1000}]') $$,
  'PT409', null, 'more than the stock is refused');
select throws_ok($$ select public.place_order(gen_random_uuid()::text, repeat('0', 64), '[{"product_id": "44444444-4444-4444-8444-000000000204", "quantity": 1}]') $$,
  'PT409', 'only 0 left of Bolga basket (sold out)', 'a sold-out product is refused');
select throws_ok($$ select public.place_order(gen_random_uuid()::text, repeat('0', 64), '[{"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 1},
                                                 {"product_id": "44444444-4444-4444-8444-0000000002ff", "quantity": 1}]') $$,
  'PT422', 'an order holds products of one currency only', 'mixed currencies are refused');
select throws_ok($$ select public.place_order(gen_random_uuid()::text, repeat('0', 64), '[{"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 1},
                                                 {"product_id": "44444444-4444-4444-8444-000000000301", "quantity": 1}]') $$,
  'PT422', 'an order holds products of one store only', 'products of two stores are refused');
select throws_ok($$ select public.place_order(gen_random_uuid()::text, repeat('0', 64), '[{"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 0}]') $$,
  'PT400', null, 'a zero quantity is refused');
select throws_ok($$ select public.place_order(gen_random_uuid()::text, repeat('0', 64), '[]') $$, 'PT400', null, 'an empty order is refused');

select set_config('request.jwt.claims', '{"role": "authenticated"}', true);
select throws_ok($$ select public.place_order(gen_random_uuid()::text, repeat('0', 64), '[{"product_id": "44444444-4444-4444-8444-000000000201", "quantity": 1}]') $$,
  'PT401', 'sign in to place an order', 'no user, no order');

select * from finish();
rollback;
