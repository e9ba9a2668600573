drop function if exists public.start_executions(jsonb);
