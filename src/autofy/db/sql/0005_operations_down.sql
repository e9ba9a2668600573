drop index if exists public.idx_system_status_checked;
drop index if exists public.idx_audit_logs_created;
drop index if exists public.idx_executions_finished_started;
drop table if exists public.autofy_heartbeats;
