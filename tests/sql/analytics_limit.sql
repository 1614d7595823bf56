-- Analytics ingest per client: events counted in one-minute windows, at pinned instants
-- across the year end 2026-12-31 23:59 -> 2027-01-01 00:00 UTC.
begin;
set local timezone = 'UTC';
select plan(13);

create function pg_temp.batch(n integer, store uuid default null) returns jsonb
language sql as $$
  select jsonb_agg(jsonb_build_object('name', 'tap_limit', 'session_id', 'tap-limit-' || i,
                                      'store_id', store))
    from generate_series(1, n) i
$$;
create function pg_temp.stored() returns integer language sql as
  $$ select count(*)::integer from public.analytics_events where name = 'tap_limit' $$;

set local role service_role;
select is(public.ingest_analytics_events('198.51.100.7', pg_temp.batch(3), 5, '2026-12-31 23:59:30+00'),
  '{"stored": 3}'::jsonb, 'under the limit: stored');
select is(public.ingest_analytics_events('198.51.100.7', pg_temp.batch(3), 5, '2026-12-31 23:59:40+00'),
  '{"retry_after": 20}'::jsonb, 'a batch that would pass the limit: the seconds to the next minute');
select is(pg_temp.stored(), 3, 'and none of it stored');
select is(public.ingest_analytics_events('198.51.100.7', pg_temp.batch(2), 5, '2026-12-31 23:59:59.5+00'),
  '{"stored": 2}'::jsonb, 'up to the limit exactly');
select is(public.ingest_analytics_events('198.51.100.8', pg_temp.batch(5), 5, '2026-12-31 23:59:59.5+00'),
  '{"stored": 5}'::jsonb, 'another client has its own count');
select is(public.ingest_analytics_events('198.51.100.7', pg_temp.batch(5), 5, '2027-01-01 00:00:00+00'),
  '{"stored": 5}'::jsonb, 'a new minute (and year): counted afresh');
select throws_ok($$ select public.ingest_analytics_events('198.51.100.9',
                     pg_temp.batch(1, '00000000-0000-4000-8000-00000000dead'), 5, '2027-01-01 00:00:10+00') $$,
  '23503', null, 'an unknown store fails the batch');
select is(public.ingest_analytics_events('198.51.100.9', pg_temp.batch(5), 5, '2027-01-01 00:00:20+00'),
  '{"stored": 5}'::jsonb, 'and counted nothing');
select throws_ok($$ select public.ingest_analytics_events('198.51.100.9', pg_temp.batch(6), 5) $$,
  'PT400', null, 'a batch larger than the limit can never pass');
select is(pg_temp.stored(), 20, 'every stored event is there');

select is(public.purge_expired('2027-01-01 00:02:00+00') -> 'analytics_windows', '2'::jsonb,
  'windows are purged two minutes after they close');
reset role;
select is((select count(*)::integer from payhuk_meta.analytics_ingest_windows
            where client like '198.51.100.%'), 2, 'the current minute''s are kept');

set local role anon;
select throws_ok($$ select public.ingest_analytics_events('x', pg_temp.batch(1), 5) $$,
  '42501', null, 'clients cannot ingest around the gateway');

select * from finish();
rollback;
