create index idx_executions_workflow_started on public.workflow_executions (workflow_id, started_at desc);
drop index if exists public.idx_executions_workflow_started_id;

create index idx_executions_user_status on public.workflow_executions (user_id, execution_status);
drop index if exists public.idx_executions_user_status_started;

drop index if exists public.idx_executions_user_started;
