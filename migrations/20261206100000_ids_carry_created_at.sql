-- A uuid_v7 id says when its row was created, so a lookup by id can name the one
-- monthly partition that holds it instead of probing every month (issue 23).
--
-- uuid_v7() now takes its time from the transaction's start, now(): the instant every
-- `created_at default now()` holds, so a new row's created_at lies in the millisecond
-- its id names (before, clock_timestamp() put the id a few milliseconds later).
-- uuid_v7_at(t) makes the id of a row created at t (the order generator); uuid_v7_time
-- reads it back, null for an id of another version (the seed's, or rows brought from
-- elsewhere).
--
-- No constraint holds rows to it: rows made before this migration, and ids from
-- elsewhere that merely look like version 7, may disagree. So a lookup bounded by the
-- id's millisecond that finds nothing is repeated unbounded (the gateway does, for
-- GET /api/v1/orders/{id}): a found row costs one partition, a miss every partition,
-- as every lookup did before.

create function public.uuid_v7_at(at timestamptz)
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
          pg_catalog.int8send(pg_catalog.floor(extract(epoch from at) * 1000)::bigint) from 3)
        from 1 for 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;

comment on function public.uuid_v7_at(timestamptz) is
  'A version 7 UUID whose time is `at` (to the millisecond, rounded down).';

create or replace function public.uuid_v7()
returns uuid
language sql
volatile
parallel safe
set search_path = ''
as $$
  select public.uuid_v7_at(pg_catalog.now())
$$;

comment on function public.uuid_v7() is
  'A time-ordered version 7 UUID whose time is the transaction''s start (now()).';

create function public.uuid_v7_time(id uuid)
returns timestamptz
language sql
immutable
strict
parallel safe
set search_path = ''
as $$
  select case when pg_catalog.get_byte(pg_catalog.uuid_send(id), 6) >> 4 = 7 then
    timestamptz 'epoch' + interval '1 millisecond' *
      ('x' || pg_catalog.encode(substring(pg_catalog.uuid_send(id) from 1 for 6), 'hex'))::bit(48)::bigint
  end
$$;

comment on function public.uuid_v7_time(uuid) is
  'When a version 7 UUID was made (to the millisecond); null for any other version.';
