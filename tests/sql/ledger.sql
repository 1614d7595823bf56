-- The migration ledger records every migration file exactly once.
begin;
select plan(3);

select has_table('payhuk_meta', 'schema_migrations', 'the ledger exists');
select ok((select count(*) > 0 from payhuk_meta.schema_migrations), 'migrations are recorded');
select ok(
  (select bool_and(version ~ '^\d{14}$' and checksum ~ '^[0-9a-f]{64}$')
     from payhuk_meta.schema_migrations),
  'each row has a 14-digit version and a sha256 checksum');

select * from finish();
rollback;
