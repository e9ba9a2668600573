-- Reverts 0003_engine: the engine's columns, then pgqueuer's schema (pgqueuer 1.6.0 uninstall).
drop index if exists public.idx_executions_running_started;
drop index if exists public.idx_executions_workflow_dedupe_key;
alter table public.workflow_executions
  drop column if exists engine_plan,
  drop column if exists engine_cursor,
  drop column if exists engine_job_seq,
  drop column if exists engine_attempt,
  drop column if exists dedupe_key;

DROP TRIGGER IF EXISTS tg_pgqueuer_changed ON pgqueuer;
DROP FUNCTION IF EXISTS fn_pgqueuer_changed;
DROP TABLE IF EXISTS pgqueuer;
DROP TABLE IF EXISTS pgqueuer_log;
DROP TABLE IF EXISTS pgqueuer_schedules;
DROP TABLE IF EXISTS pgqueuer_statistics;
DROP TYPE IF EXISTS pgqueuer_status;
DROP TYPE IF EXISTS pgqueuer_statistics_status;