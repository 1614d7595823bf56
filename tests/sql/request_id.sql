-- The pre-request hook puts the gateway's x-request-id into application_name, which
-- log_line_prefix prints (%a), for the request's transaction only; anything that is not
-- an id is ignored, never refused.
begin;
select plan(17);

-- The hook as PostgREST runs it for `authenticated`, with these request headers (null:
-- none set); returns the application_name it leaves, from a known one.
create function pg_temp.hook(headers text) returns text language plpgsql as $$
begin
  execute 'reset role';
  perform set_config('application_name', 'tap-before', true);
  perform set_config('request.headers', coalesce(headers, ''), true);
  execute 'set local role authenticated';
  perform public.payhuk_pre_request();
  execute 'reset role';
  return current_setting('application_name');
end
$$;
create function pg_temp.with_id(id text) returns text language sql as $$
  select pg_temp.hook(json_build_object('x-request-id', id, 'accept', 'application/json')::text)
$$;

select is(pg_temp.with_id('abc123'), 'payhuk-edge request-id=abc123', 'a plain id is taken');
select is(pg_temp.with_id('8f1c-42.a_b:c'), 'payhuk-edge request-id=8f1c-42.a_b:c',
  'letters, digits and ._:- are id characters');
select is(pg_temp.with_id('0195f2a4-7c1e-7d2b-9a4e-3f6b8c9d0e1f'),
  'payhuk-edge request-id=0195f2a4-7c1e-7d2b-9a4e-3f6b8c9d0e1f', 'a uuid, whole');
select is(pg_temp.with_id(repeat('a', 40)), 'payhuk-edge request-id=' || repeat('a', 40),
  '40 characters: whole, the most application_name (63 bytes) can hold after the prefix');
select is(pg_temp.with_id(repeat('b', 41)),
  'payhuk-edge request-id=' || repeat('b', 31) || '~'
    || left(encode(sha256(convert_to(repeat('b', 41), 'UTF8')), 'hex'), 8),
  'longer: its first 31 characters, ~ and 8 hex digits of its SHA-256');
select is(length(pg_temp.with_id(repeat('c', 128))), 63, 'so 128 characters fit, uncut');

select is(pg_temp.with_id('abc 123'), 'tap-before', 'an id with a space is ignored');
select is(pg_temp.with_id('abc''); drop table x; --'), 'tap-before', 'an id with quotes is ignored');
select is(pg_temp.with_id('"abc"'), 'tap-before', 'a quoted id is ignored');
select is(pg_temp.with_id(repeat('a', 129)), 'tap-before', '129 characters are too many');
select is(pg_temp.with_id(repeat('a', 200)), 'tap-before', '200 characters are too many');
select is(pg_temp.with_id(E'abc\n'), 'tap-before', 'a trailing newline is not an id character');
select is(pg_temp.with_id(''), 'tap-before', 'an empty id is ignored');
select is(pg_temp.hook('{"accept": "application/json"}'), 'tap-before', 'no x-request-id: unchanged');
select is(pg_temp.hook(null), 'tap-before', 'no request headers at all: unchanged, and no error');

-- What the hook did before is unchanged on the primary: the write's transaction id.
do $$ begin perform pg_temp.with_id('abc123'); end $$;
select ok(current_setting('response.headers') ~ '^\[\{"x-payhuk-xid" *: *"[0-9]+"\}\]$',
  'a read-write request still gets x-payhuk-xid');

select ok(not (select prosecdef from pg_proc where oid = 'public.payhuk_pre_request()'::regprocedure)
          and has_function_privilege('anon', 'public.payhuk_pre_request()', 'execute')
          and has_function_privilege('service_role', 'public.payhuk_pre_request()', 'execute'),
  'still security invoker, for every API role');

select * from finish();
rollback;
