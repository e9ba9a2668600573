-- 0005_operations: process heartbeats for the health monitor, and the indexes retention needs.

create table public.autofy_heartbeats (
    id uuid primary key,
    kind text not null check (kind in ('worker', 'scheduler')),
    hostname text not null,
    pid integer not null,
    started_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now()
);
create index idx_heartbeats_kind_seen on public.autofy_heartbeats (kind, last_seen_at desc);

-- Infrastructure rows no user owns: the service role only, and RLS as a second lock.
alter table public.autofy_heartbeats enable row level security;
revoke all on table public.autofy_heartbeats from public, anon, authenticated;
grant select, insert, update, delete on table public.autofy_heartbeats to service_role;

-- Pruning walks each table oldest first; without these it would scan whole tables per batch.
create index idx_executions_finished_started
  on public.workflow_executions (started_at) where execution_status <> 'running';
create index idx_audit_logs_created on public.audit_logs (created_at);
create index idx_system_status_checked on public.system_status (checked_at);
