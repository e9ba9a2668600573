-- 0002_auth_sessions: sign-in sessions and rotating refresh tokens, modelled on Supabase's
-- auth.sessions and auth.refresh_tokens (only the columns Autofy uses). Refresh tokens are
-- stored as SHA-256 hashes, never in clear. Only the service role touches these tables: RLS is on
-- with no policy at all, and nothing is granted to anon or authenticated.

do $$
begin
  if pg_catalog.to_regclass('auth.sessions') is null then
    create table auth.sessions (
      id           uuid primary key default gen_random_uuid(),
      user_id      uuid not null references auth.users (id) on delete cascade,
      created_at   timestamptz not null default now(),
      updated_at   timestamptz not null default now(),
      refreshed_at timestamptz,
      user_agent   text,
      ip           inet
    );
    comment on table auth.sessions is
      'Created by Autofy (0002_auth_sessions): sign-in sessions; deleting one signs it out';
    create index sessions_user_id_idx on auth.sessions (user_id);
    create trigger set_updated_at before update on auth.sessions
      for each row execute function public.set_updated_at();
    alter table auth.sessions enable row level security;
    revoke all on table auth.sessions from public, anon, authenticated;
    grant select, insert, update, delete on table auth.sessions to service_role;
  end if;

  if pg_catalog.to_regclass('auth.refresh_tokens') is null then
    create table auth.refresh_tokens (
      id         bigint generated always as identity primary key,
      token_hash text not null unique,
      user_id    uuid not null references auth.users (id) on delete cascade,
      session_id uuid not null references auth.sessions (id) on delete cascade,
      parent_id  bigint references auth.refresh_tokens (id) on delete set null,
      revoked    boolean not null default false,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );
    comment on table auth.refresh_tokens is
      'Created by Autofy (0002_auth_sessions): single-use refresh tokens, stored as SHA-256 hashes';
    create index refresh_tokens_session_id_idx on auth.refresh_tokens (session_id);
    create index refresh_tokens_parent_id_idx on auth.refresh_tokens (parent_id);
    create index refresh_tokens_user_id_idx on auth.refresh_tokens (user_id);
    create trigger set_updated_at before update on auth.refresh_tokens
      for each row execute function public.set_updated_at();
    alter table auth.refresh_tokens enable row level security;
    revoke all on table auth.refresh_tokens from public, anon, authenticated;
    grant select, insert, update, delete on table auth.refresh_tokens to service_role;
  end if;
end
$$;

-- Sign-in rate limiting counts recent failures per email and per IP address in audit_logs; these
-- partial indexes keep that a short index range scan however long the audit trail grows.
create index idx_audit_logs_sign_in_failures_email
  on public.audit_logs ((details ->> 'email'), created_at)
  where action = 'auth.sign_in_failed';
create index idx_audit_logs_sign_in_failures_ip
  on public.audit_logs (ip_address, created_at)
  where action = 'auth.sign_in_failed';
