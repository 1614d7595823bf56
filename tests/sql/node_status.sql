-- node_status() on the primary, and who may call it.
begin;
select plan(9);

select has_function('public', 'node_status', array[]::text[], 'node_status() exists');
select function_returns('public', 'node_status', array[]::text[], 'jsonb');
select volatility_is('public', 'node_status', array[]::text[], 'stable',
  'stable, so PostgREST runs it read-only (it must work on standbys)');

select is((public.node_status() ->> 'in_recovery')::boolean, false,
  'the primary reports it is not in recovery');
select ok(pg_catalog.pg_lsn(public.node_status() ->> 'current_lsn') <= pg_catalog.pg_current_wal_lsn(),
  'the primary reports its current WAL position');
select is(public.node_status() ->> 'wal_receiver', null, 'a primary has no WAL receiver');

select ok(has_function_privilege('service_role', 'public.node_status()', 'execute'),
  'service_role may call node_status()');
select ok(not has_function_privilege('anon', 'public.node_status()', 'execute'),
  'anon may not call node_status()');
select ok(not has_function_privilege('authenticated', 'public.node_status()', 'execute'),
  'authenticated may not call node_status()');

select * from finish();
rollback;
