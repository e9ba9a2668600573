-- Undo 0016_schedule_prepare: started_at defaults to the transaction's start again.
alter table public.workflow_executions alter column started_at set default now();
