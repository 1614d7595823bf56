-- Login in one round trip to the primary. It was three sequential calls: the lockout
-- check and the password check on the nearest replica, then the new session (or the
-- failure) on the primary; from Lagos that is 105 + 105 + 180 ms of ocean before any
-- work. A login always ends in a write, so it all goes to the primary in one
-- transaction: the lockout check, bcrypt, then the session or the recorded failure.
--
-- Answers {"status": "ok", "account": ...}, {"status": "wait", "retry_after": seconds}
-- or {"status": "refused"} (a wrong password and an unknown email alike).
create function public.auth_login(email text, password text, client text,
                                  window_seconds integer, account_limit integer,
                                  client_limit integer, token_hash text, ttl_seconds integer)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_wait integer;
  v_check jsonb;
begin
  v_wait := public.auth_login_wait(email, client, window_seconds, account_limit, client_limit);
  if v_wait > 0 then
    return pg_catalog.jsonb_build_object('status', 'wait', 'retry_after', v_wait);
  end if;
  v_check := public.auth_check_password(email, password);
  if v_check ->> 'status' = 'ok' then
    return pg_catalog.jsonb_build_object('status', 'ok', 'account',
      public.auth_start_session((v_check -> 'account' ->> 'user_id')::uuid, email,
                                token_hash, ttl_seconds));
  end if;
  perform public.auth_login_failed(email, client);
  return '{"status": "refused"}'::jsonb;
end
$$;

revoke all on function
  public.auth_login(text, text, text, integer, integer, integer, text, integer)
from public, anon, authenticated;
grant execute on function
  public.auth_login(text, text, text, integer, integer, integer, text, integer)
to service_role;
