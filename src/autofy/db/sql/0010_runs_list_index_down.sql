drop index if exists public.idx_executions_user_started;
