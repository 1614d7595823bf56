-- Amounts that cannot overflow: the price bound, and the largest order it allows.
begin;
select plan(5);

create function pg_temp.act(sub uuid) returns void language plpgsql as $$
begin
  execute 'reset role';
  perform set_config('request.jwt.claims', json_build_object('sub', sub, 'role', 'authenticated')::text, true);
  execute 'set local role authenticated';
end
$$;

select throws_ok($$ insert into public.products (store_id, kind, name, price_minor, currency, published)
                    values ('33333333-3333-4333-8333-000000000001', 'digital', 'Too dear', 1000000000001, 'XOF', true) $$,
  '23514', null, 'a price over 10^12 minor units is refused');
select throws_ok($$ update public.products set price_minor = 9223372036854775807
                    where id = '44444444-4444-4444-8444-000000000101' $$,
  '23514', null, 'and cannot be set later');

-- The most one order can hold: the highest price, 100 lines of 1000 of one product.
insert into public.products (id, store_id, kind, name, price_minor, currency, stock, published)
values ('44444444-4444-4444-8444-00000000b0b0', '33333333-3333-4333-8333-000000000001', 'digital',
        'Priceless', 1000000000000, 'XOF', null, true);
select pg_temp.act('22222222-2222-4222-8222-000000000004');
create temp table big as
select public.place_order(gen_random_uuid()::text, repeat('0', 64), (select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
          'product_id', '44444444-4444-4444-8444-00000000b0b0', 'quantity', 1000))
   from pg_catalog.generate_series(1, 100))) as v;
reset role;
select is((select (v ->> 'total_minor')::numeric from big), 100000000000000000::numeric,
  'the largest order totals exactly 10^17, no overflow');
select is((select sum(line_total_minor)::numeric from public.order_items
            where order_id = (select (v ->> 'id')::uuid from big)), 100000000000000000::numeric,
  'its lines add up to it');
select ok((select (v ->> 'total_minor')::numeric from big) < 9223372036854775807::numeric / 10,
  'with room to spare under bigint');

select * from finish();
rollback;
