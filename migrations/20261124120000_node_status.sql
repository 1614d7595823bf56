-- node_status(): what this node is and how far behind it is, asked through PostgREST
-- by the gateway's health checks and region policy. Works on the primary and on hot
-- standbys (stable, so PostgREST runs it in a read-only transaction).
--
-- lag_seconds: zero when every received WAL record is replayed, else the age of the
-- last replayed transaction. lag_bytes: WAL received but not yet replayed. The gateway
-- also compares replay_lsn with the primary's current_lsn, which catches WAL the
-- standby has not even received.

create or replace function public.node_status()
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  recovering boolean := pg_catalog.pg_is_in_recovery();
  received pg_catalog.pg_lsn;
  replayed pg_catalog.pg_lsn;
begin
  if not recovering then
    return pg_catalog.jsonb_build_object(
      'in_recovery', false,
      'current_lsn', pg_catalog.pg_current_wal_lsn()::text,
      'receive_lsn', null,
      'replay_lsn', null,
      'replay_paused', false,
      'last_replay_at', null,
      'lag_seconds', 0,
      'lag_bytes', 0,
      'wal_receiver', null,
      'server_time', pg_catalog.now()
    );
  end if;

  received := pg_catalog.pg_last_wal_receive_lsn();
  replayed := pg_catalog.pg_last_wal_replay_lsn();
  return pg_catalog.jsonb_build_object(
    'in_recovery', true,
    'current_lsn', null,
    'receive_lsn', received::text,
    'replay_lsn', replayed::text,
    'replay_paused', pg_catalog.pg_get_wal_replay_pause_state() <> 'not paused',
    'last_replay_at', pg_catalog.pg_last_xact_replay_timestamp(),
    'lag_seconds', case
      when received is null or replayed is null or received <= replayed then 0
      else coalesce(
        extract(epoch from pg_catalog.now() - pg_catalog.pg_last_xact_replay_timestamp()),
        0)
    end,
    'lag_bytes', coalesce(greatest(pg_catalog.pg_wal_lsn_diff(received, replayed), 0), 0)::bigint,
    'wal_receiver', (select status from pg_catalog.pg_stat_wal_receiver limit 1),
    'server_time', pg_catalog.now()
  );
end
$$;

comment on function public.node_status() is
  'Role, WAL positions and replay lag of this node; for the gateway (service_role).';

-- Replication state is operational detail: only the gateway's role may ask.
revoke all on function public.node_status() from public, anon, authenticated;
grant execute on function public.node_status() to service_role;
