drop function if exists public.start_executions(jsonb);
drop type if exists public.execution_start;
