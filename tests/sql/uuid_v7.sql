-- uuid_v7(): a valid version 7 UUID whose leading 48 bits are the transaction's start in
-- milliseconds, the instant a row's `created_at default now()` holds; uuid_v7_at(t) and
-- uuid_v7_time(id) write and read that time; an order made with the defaults has an id
-- and a created_at that agree (lookups_by_id.sql: a lookup by id reads one partition).
begin;
set local timezone = 'UTC';
select plan(10);

create temp table ids as
select n, public.uuid_v7() as id
from generate_series(1, 2000) n;

select is((select count(*)::int from ids where substr(id::text, 15, 1) <> '7'), 0, 'the version nibble is 7');
select is((select count(*)::int from ids where substr(id::text, 20, 1) not in ('8', '9', 'a', 'b')), 0,
  'the variant is RFC 9562''s');
select is((select count(distinct id)::int from ids), 2000, 'ids are unique');
select ok(
  (select bool_and(('x' || lpad(replace(substr(id::text, 1, 13), '-', ''), 16, '0'))::bit(64)::bigint
                   = floor(extract(epoch from now()) * 1000)::bigint)
     from ids),
  'the leading 48 bits are the transaction''s start in milliseconds');
select ok(
  (select bool_and(public.uuid_v7_time(id) = date_trunc('milliseconds', now())) from ids),
  'uuid_v7_time reads the time back');

-- Pinned instants: a leap day, the last millisecond of a year, before 1970 is not asked.
select is(public.uuid_v7_time(public.uuid_v7_at('2028-02-29 12:34:56.789999+00')),
  '2028-02-29 12:34:56.789+00'::timestamptz, 'uuid_v7_at rounds down to the millisecond (a leap day)');
select is(public.uuid_v7_time(public.uuid_v7_at('2026-12-31 23:59:59.999+00')),
  '2026-12-31 23:59:59.999+00'::timestamptz, 'the last millisecond of a year stays in it');
select is(public.uuid_v7_time('01a3fe63-087b-7000-8000-000000000000'),
  '2027-03-01 00:00:00.123+00'::timestamptz, 'a known id''s time (the gateway''s unit test reads the same)');
select is(public.uuid_v7_time('77777777-7777-4777-8777-000000000001'), null,
  'a version 4 id (the seed''s) has no time');

-- A row made with the defaults lies in the millisecond its id names.
create temp table made as
with o as (
  insert into public.orders (store_id, customer_id, currency, subtotal_minor, total_minor)
  values ('33333333-3333-4333-8333-000000000001', '22222222-2222-4222-8222-000000000001', 'XOF', 100, 100)
  returning id, created_at)
select * from o;
select ok(
  (select created_at >= public.uuid_v7_time(id) and created_at < public.uuid_v7_time(id) + interval '1 millisecond'
     from made),
  'an order made with the defaults: created_at in its id''s millisecond');

select * from finish();
rollback;
