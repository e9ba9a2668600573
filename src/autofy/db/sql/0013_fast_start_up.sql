-- 0013_fast_start: starting runs in one statement, one run or a batch of them.
--
-- `public.start_executions(runs)` is the one place a run starts, whatever started it (a webhook
-- delivery, a schedule's batch of due slots, a poll, a manual run, a re-run or a resume). The
-- caller (engine/service.py) has already applied the rules that need the connector catalog (what
-- a run may cost, the plan, the trigger data's limits); this function does the writing, in order,
-- for each run of the JSON array:
--   1. reserve the run's credits (`public.reserve_credits`), or answer `refused` and write nothing
--      for it (the caller explains the refusal);
--   2. insert the running execution; a dedupe key the workflow already started (a repeated
--      delivery, a slot another scheduler fired) releases the reservation and answers `existing`
--      with the first execution's id;
-- then enqueues the first job of every started run with one insert into pgqueuer (one
-- notification to the workers for the whole batch), as pgqueuer's own enqueue writes it (its
-- schema is pinned by 0003_engine): entrypoint `autofy.run_execution` (engine/queue.py), payload
-- {"execution_id", "job_seq": 1}, dedupe key `<execution id>:1`, and a `queued` log row.
--
-- Runs are reserved and inserted one after the other, not as one set: a reservation refused at
-- first looks for lapsed reservations to release, which must see the runs inserted before it.
-- Only the service role may call it. Valid on PostgreSQL 15 and newer.

create function public.start_executions(p_runs jsonb)
returns table (ord integer, execution_id uuid, outcome text)
language plpgsql set search_path = '' as $$
declare
  run record;
  started uuid[] := '{}';
begin
  for run in
    select r.*, item.n::integer as position
      from jsonb_array_elements(p_runs) with ordinality as item(value, n)
      cross join lateral jsonb_to_record(item.value) as r(
        id uuid, workflow_id uuid, user_id uuid, credits integer, trigger_data jsonb, total_steps integer,
        metadata jsonb, plan jsonb, step_results jsonb, engine_cursor integer, completed_steps integer,
        dedupe_key text)
     order by item.n
  loop
    ord := run.position;
    if not public.reserve_credits(run.user_id, run.id, run.credits, 'execution', null) then
      execution_id := null;
      outcome := 'refused';
      return next;
      continue;
    end if;
    insert into public.workflow_executions
      (id, workflow_id, user_id, trigger_data, execution_status, total_steps, metadata,
       engine_plan, step_results, engine_cursor, completed_steps, dedupe_key)
    values (run.id, run.workflow_id, run.user_id, run.trigger_data, 'running', run.total_steps,
            run.metadata, run.plan, run.step_results, run.engine_cursor, run.completed_steps,
            run.dedupe_key)
    on conflict (workflow_id, dedupe_key) where dedupe_key is not null do nothing;
    if found then
      started := started || run.id;
      execution_id := run.id;
      outcome := 'started';
    else
      perform public.settle_credits(run.user_id, run.id, 0);
      select e.id into execution_id
        from public.workflow_executions e
       where e.workflow_id = run.workflow_id and e.dedupe_key = run.dedupe_key;
      outcome := 'existing';
    end if;
    return next;
  end loop;

  if cardinality(started) > 0 then
    with jobs as (
      insert into public.pgqueuer (priority, entrypoint, payload, execute_after, dedupe_key, status)
      select 0, 'autofy.run_execution',
             convert_to(json_build_object('execution_id', s.id, 'job_seq', 1)::text, 'UTF8'),
             now(), s.id::text || ':1', 'queued'::public.pgqueuer_status
        from unnest(started) as s(id)
      returning id, entrypoint, priority
    )
    insert into public.pgqueuer_log (job_id, status, entrypoint, priority)
    select id, 'queued'::public.pgqueuer_status, entrypoint, priority from jobs;
  end if;
  return;
end
$$;

revoke execute on function public.start_executions(jsonb) from public;
grant execute on function public.start_executions(jsonb) to service_role;
