-- Lookups by id read one monthly partition (issue 23): the gateway's GET
-- /api/v1/orders/{id} (EXPLAIN), and the functions that find an order by its id
-- (create_payment, create_shipment, grant_download) or through a row that points at it
-- (a payment's or a shipment's order_id, order_created_at), counted by the partitions
-- this transaction's statistics say were scanned. A row whose id disagrees with its
-- created_at is still found, through every partition.
begin;
set local timezone = 'UTC';
select plan(20);

select payhuk_meta.ensure_partitions_covering('2027-02-01', '2027-05-01');

-- The partitions of public.orders a query's plan reads.
create function pg_temp.scanned(query text) returns text[]
language plpgsql as $$
declare
  plan jsonb;
begin
  execute 'explain (format json) ' || query into plan;
  return (select array_agg(distinct r order by r)
            from jsonb_path_query(plan, '$.**."Relation Name"') as j(v),
                 lateral (select v #>> '{}') as x(r));
end
$$;

-- The partitions of public.orders scanned (sequentially or by an index) while `call`, a
-- jsonb expression, runs as `role` with the JWT claims `claims`; and its answer.
create function pg_temp.orders_read(role text, claims jsonb, call text, out read text[], out answer jsonb)
language plpgsql as $$
declare
  before jsonb;
begin
  select jsonb_object_agg(relname, seq_scan + coalesce(idx_scan, 0)) into before
    from pg_stat_xact_user_tables
   where relid in (select inhrelid from pg_inherits where inhparent = 'public.orders'::regclass);
  perform set_config('request.jwt.claims', claims::text, true);
  execute format('set local role %I', role);
  execute 'select ' || call into answer;
  execute 'reset role';
  select array_agg(relname::text order by relname) into read
    from pg_stat_xact_user_tables
   where relid in (select inhrelid from pg_inherits where inhparent = 'public.orders'::regclass)
     and seq_scan + coalesce(idx_scan, 0) > (before ->> relname)::bigint;
end
$$;

-- Customer Aminata's orders at Awa Digital, one Guide each: two whose id names their
-- created_at, two whose id does not (made elsewhere, or before ids carried it).
create temp table o (name text primary key, id uuid, created_at timestamptz, status text);
insert into o values
  ('pending',          public.uuid_v7_at('2027-03-15 12:00:00.000+00'), '2027-03-15 12:00:00.000+00', 'pending'),
  ('paid',             public.uuid_v7_at('2027-03-16 09:30:00.250+00'), '2027-03-16 09:30:00.250+00', 'paid'),
  ('pending_disagree', public.uuid_v7_at('2027-02-10 08:00:00+00'),     '2027-03-20 10:00:00+00',     'pending'),
  ('paid_disagree',    public.uuid_v7_at('2027-04-02 08:00:00+00'),     '2027-03-21 10:00:00+00',     'paid');
insert into public.orders (id, store_id, customer_id, status, currency, subtotal_minor, total_minor,
                           created_at, updated_at)
select id, '33333333-3333-4333-8333-000000000001', '22222222-2222-4222-8222-000000000001', status, 'XOF',
       5000, 5000, created_at, created_at
  from o;
insert into public.order_items (order_id, order_created_at, product_id, quantity, unit_price_minor, line_total_minor)
select id, created_at, '44444444-4444-4444-8444-000000000101', 1, 5000, 5000 from o;

create function pg_temp.id(name text) returns uuid language sql as $$ select id from o where o.name = $1 $$;
create temp table customer as select '{"sub": "22222222-2222-4222-8222-000000000001", "role": "authenticated"}'::jsonb as c;
create temp table merchant as select '{"sub": "11111111-1111-4111-8111-000000000001", "role": "authenticated"}'::jsonb as c;
create temp table service as select '{"role": "service_role"}'::jsonb as c;

-- The helper, alone.
select is((select read from pg_temp.orders_read('postgres', '{}',
             format('to_jsonb(payhuk_meta.order_created_at(%L))', pg_temp.id('paid')))),
  array['orders_p2027_03'], 'order_created_at: an id that names its millisecond reads one partition');
select is(payhuk_meta.order_created_at(pg_temp.id('paid_disagree')), '2027-03-21 10:00:00+00'::timestamptz,
  'order_created_at: an id that disagrees is found by asking every month');
select is(payhuk_meta.order_created_at(public.uuid_v7_at('2027-03-15 12:00:00.000+00')), null,
  'order_created_at: no such order is null');

-- Payments: created (by id), then settled and refunded (through payments.order_created_at).
create temp table pay as
select * from pg_temp.orders_read('authenticated', (select c from customer),
  format('public.create_payment(%L, repeat(''a'', 64), %L, ''test'')', 'lookups-1', pg_temp.id('pending')));
select is((select read from pay), array['orders_p2027_03'], 'create_payment reads one partition');
select is((select answer ->> 'order_id' from pay)::uuid, pg_temp.id('pending'), 'and pays that order');
select is((select (answer ->> 'order_id')::uuid from pg_temp.orders_read('authenticated', (select c from customer),
             format('public.create_payment(%L, repeat(''b'', 64), %L, ''test'')', 'lookups-2',
                    pg_temp.id('pending_disagree')))),
  pg_temp.id('pending_disagree'), 'create_payment finds an order whose id disagrees');
select set_config('request.jwt.claims', (select c::text from customer), true);
select throws_ok(format($$ select public.create_payment('lookups-3', repeat('c', 64), %L, 'test') $$,
                        public.uuid_v7_at('2027-03-15 12:00:00.000+00')),
  'PT404', 'no such order of yours', 'create_payment: no such order is still 404');

create temp table settled as
select * from pg_temp.orders_read('service_role', (select c from service),
  format('public.apply_provider_event(''test'', ''evt-lookups-1'', %L, null, ''succeeded'', 5000)',
         (select answer ->> 'id' from pay)));
select is((select read from settled), array['orders_p2027_03'], 'apply_provider_event marks the order paid in one partition');
select is((select status from public.orders where id = pg_temp.id('pending')), 'paid', 'the order is paid');
select is((select read from pg_temp.orders_read('authenticated', (select c from merchant),
             format('public.refund_payment(%L, 5000)', (select answer ->> 'id' from pay)))),
  array['orders_p2027_03'], 'refund_payment marks the order refunded in one partition');
select is((select status from public.orders where id = pg_temp.id('pending')), 'refunded', 'the order is refunded');

-- Shipping: a shipment made (by id), then delivered (through shipments.order_created_at).
create temp table ship as
select * from pg_temp.orders_read('authenticated', (select c from merchant),
  format('public.create_shipment(%L, ''DHL'')', pg_temp.id('paid')));
select is((select read from ship), array['orders_p2027_03'], 'create_shipment reads one partition');
select is((select read from pg_temp.orders_read('authenticated', (select c from merchant),
             format('to_jsonb(public.add_shipment_event(%L, ''delivered'', now()))', (select answer ->> 'id' from ship)))),
  array['orders_p2027_03'], 'add_shipment_event fulfils the order in one partition');
select is((select status from public.orders where id = pg_temp.id('paid')), 'fulfilled', 'the order is fulfilled');
select is((select (answer ->> 'order_created_at')::timestamptz from pg_temp.orders_read('authenticated', (select c from merchant),
             format('public.create_shipment(%L, ''DHL'')', pg_temp.id('paid_disagree')))),
  '2027-03-21 10:00:00+00'::timestamptz, 'create_shipment finds an order whose id disagrees');

-- Downloads: a grant for the customer's paid order.
select is((select read from pg_temp.orders_read('service_role', (select c from service),
             format('public.grant_download(''22222222-2222-4222-8222-000000000001'', %L, ''44444444-4444-4444-8444-000000000101'', 600, 3)',
                    pg_temp.id('paid')))),
  array['orders_p2027_03'], 'grant_download reads one partition');
select is((select (answer ->> 'order_id')::uuid from pg_temp.orders_read('service_role', (select c from service),
             format('public.grant_download(''22222222-2222-4222-8222-000000000001'', %L, ''44444444-4444-4444-8444-000000000101'', 600, 3)',
                    pg_temp.id('paid_disagree')))),
  pg_temp.id('paid_disagree'), 'grant_download finds an order whose id disagrees');

-- The lookup the gateway makes for GET /api/v1/orders/{id}: created_at in the id's
-- millisecond, one partition wherever the millisecond falls.
select is(
  pg_temp.scanned($$select * from public.orders where id = '01a4490f-3e00-7000-8000-000000000000'
                    and created_at >= '2027-03-15T12:00:00.000Z' and created_at < '2027-03-15T12:00:00.001Z'$$),
  array['orders_p2027_03'],
  'an id from mid-month (2027-03-15 12:00): one partition');
select is(
  pg_temp.scanned($$select * from public.orders where id = '01a3fe63-0800-7000-8000-000000000000'
                    and created_at >= '2027-03-01T00:00:00.000Z' and created_at < '2027-03-01T00:00:00.001Z'$$),
  array['orders_p2027_03'],
  'an id from a month''s first millisecond: that month only');
select is(
  pg_temp.scanned($$select * from public.orders where id = '01a3fe63-07ff-7000-8000-000000000000'
                    and created_at >= '2027-02-28T23:59:59.999Z' and created_at < '2027-03-01T00:00:00.000Z'$$),
  array['orders_p2027_02'],
  'an id from a month''s last millisecond: that month only');

select * from finish();
rollback;
