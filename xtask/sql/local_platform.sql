-- Credentials of the local stack only (development values, see xtask/src/topology.rs).
-- Runs as the superuser after the migrations on every `cargo xtask up`; idempotent.
-- :authenticator_password, :replicator_password and :superuser_password are psql
-- variables.

do $$
begin
  if not exists (select from pg_roles where rolname = 'replicator') then
    create role replicator login replication;
  end if;
end
$$;

alter role authenticator with login password :'authenticator_password';
alter role replicator with password :'replicator_password';
alter role postgres with password :'superuser_password';
