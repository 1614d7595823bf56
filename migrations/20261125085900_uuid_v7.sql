-- uuid_v7(): time-ordered UUIDs (RFC 9562 version 7: 48-bit Unix milliseconds, then
-- random bits). Ids of high-volume rows (orders, their items, payments, downloads) use
-- it so new rows append to the right edge of their indexes instead of landing on a
-- random page of an index larger than memory. PostgreSQL 18 has uuidv7(); 15 does not.

create function public.uuid_v7()
returns uuid
language sql
volatile
parallel safe
set search_path = ''
as $$
  select pg_catalog.encode(
    pg_catalog.set_bit(pg_catalog.set_bit(
      overlay(
        pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
        placing substring(
          pg_catalog.int8send((extract(epoch from pg_catalog.clock_timestamp()) * 1000)::bigint) from 3)
        from 1 for 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;

comment on function public.uuid_v7() is 'A time-ordered version 7 UUID.';
