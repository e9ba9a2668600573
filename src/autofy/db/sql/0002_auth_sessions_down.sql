-- Undo 0002_auth_sessions: the indexes, and the two tables when this migration created them
-- (their "Created by Autofy (0002_auth_sessions)" marker says so).

drop index public.idx_audit_logs_sign_in_failures_ip;
drop index public.idx_audit_logs_sign_in_failures_email;

do $$
declare
  marker constant text := 'Created by Autofy (0002_auth_sessions)%';
begin
  if pg_catalog.obj_description(pg_catalog.to_regclass('auth.refresh_tokens'), 'pg_class') like marker then
    drop table auth.refresh_tokens;
  end if;
  if pg_catalog.obj_description(pg_catalog.to_regclass('auth.sessions'), 'pg_class') like marker then
    drop table auth.sessions;
  end if;
end
$$;
