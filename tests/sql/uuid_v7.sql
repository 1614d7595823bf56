-- uuid_v7(): a valid version 7 UUID whose leading 48 bits are the time in milliseconds.
begin;
select plan(5);

create temp table ids as
select n, public.uuid_v7() as id, clock_timestamp() as at
from generate_series(1, 2000) n;

select is((select count(*)::int from ids where substr(id::text, 15, 1) <> '7'), 0, 'the version nibble is 7');
select is((select count(*)::int from ids where substr(id::text, 20, 1) not in ('8', '9', 'a', 'b')), 0,
  'the variant is RFC 9562''s');
select is((select count(distinct id)::int from ids), 2000, 'ids are unique');
select ok(
  (select bool_and(abs(('x' || lpad(replace(substr(id::text, 1, 13), '-', ''), 16, '0'))::bit(64)::bigint
                       - (extract(epoch from at) * 1000)::bigint) <= 5)
     from ids),
  'the leading 48 bits are the creation time in milliseconds');
select ok(
  (select bool_and(substr(a.id::text, 1, 13) <= substr(b.id::text, 1, 13))
     from ids a join ids b on b.n = a.n + 1),
  'later ids never sort before earlier ones (to the millisecond)');

select * from finish();
rollback;
