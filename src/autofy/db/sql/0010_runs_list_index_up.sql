-- A user's runs newest first (the Runs page, its "since" filter, its live updates, Home's recent
-- runs): with only per-workflow and per-status indexes, each of these read and sorted every run
-- of the account (100,000 runs: a sequential scan and a sort per page view).
create index idx_executions_user_started
  on public.workflow_executions (user_id, started_at desc, id desc);
