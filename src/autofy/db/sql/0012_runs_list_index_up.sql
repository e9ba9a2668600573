-- Lists of runs come newest first, in the order pagination.order_by gives them
-- (started_at desc nulls last, id desc): a user's runs (the Runs page, its "since" filter, its live
-- updates, Home's recent runs), by status (the status filter, Home's runs today), and one
-- workflow's. With indexes in another order (or none), each page view read and sorted every
-- matching run: 100,000 runs in an account cost a sequential scan and a sort per view.
create index idx_executions_user_started
  on public.workflow_executions (user_id, started_at desc nulls last, id desc);

create index idx_executions_user_status_started
  on public.workflow_executions (user_id, execution_status, started_at desc nulls last, id desc);
drop index public.idx_executions_user_status;

create index idx_executions_workflow_started_id
  on public.workflow_executions (workflow_id, started_at desc nulls last, id desc);
drop index public.idx_executions_workflow_started;
