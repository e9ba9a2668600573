-- 0013_fast_start: starting runs in one statement, one run or a batch of them.
--
-- `public.start_executions(runs)` is the one place a run starts, whatever started it (a webhook
-- delivery, a schedule's batch of due slots, a poll, a manual run, a re-run or a resume). The
-- caller (engine/service.py) has already applied the rules that need the connector catalog (what
-- a run may cost, the plan, the trigger data's limits); this function does the writing. For each
-- run of the JSON array (`public.execution_start` records), the outcome is the same as if it
-- were started alone, in order:
--   1. its credits are reserved as `public.reserve_credits` would, or it is `refused` and nothing
--      is written for it (the caller explains the refusal);
--   2. the running execution is inserted; a dedupe key the workflow already started (a repeated
--      delivery, a slot another scheduler fired) gives the reservation back and answers
--      `existing` with the first execution's id;
--   3. its first job is enqueued, as pgqueuer's own enqueue writes it (the schema is pinned by
--      0003_engine): entrypoint `autofy.run_execution` (engine/queue.py), payload
--      {"execution_id", "job_seq": 1}, dedupe key `<execution id>:1`, and a `queued` log row.
--
-- It costs a few statements per batch, not per run: each user's runs of the batch reserve
-- together with one update of the profile when they all fit what is left (the common case: a
-- profile row updated once per batch, not once per run). Only the runs of a user whose batch
-- does not fit all go one by one through `public.reserve_credits` (which rolls the period over
-- and releases lapsed reservations, and must see the runs inserted before each one). The
-- profiles are locked in id order first, so two batches never deadlock on them. All executions
-- are inserted with one insert, all jobs with another (one notification to the workers).
-- Only the service role may call it. Valid on PostgreSQL 15 and newer.

create type public.execution_start as (
  id uuid, workflow_id uuid, user_id uuid, credits integer, trigger_data jsonb, total_steps integer,
  metadata jsonb, plan jsonb, step_results jsonb, engine_cursor integer, completed_steps integer,
  dedupe_key text);

create function public.start_executions(p_runs jsonb)
returns table (ord integer, execution_id uuid, outcome text)
language plpgsql set search_path = '' as $$
declare
  runs public.execution_start[] := array(select jsonb_populate_recordset(null::public.execution_start, p_runs));
  fitting uuid[];  -- users whose runs of the batch all fit their credits left
  started uuid[] := '{}';
  refused uuid[] := '{}';
  run public.execution_start;
begin
  perform from public.profiles p
   where p.id in (select r.user_id from unnest(runs) r where r.credits > 0)
   order by p.id
     for update;

  with wanted as (
    select r.user_id, sum(r.credits) as credits from unnest(runs) r where r.credits > 0 group by r.user_id
  ),
  reserved as (
    update public.profiles p
       set credits_reserved = p.credits_reserved + w.credits
      from wanted w
     where p.id = w.user_id
       and p.credits_period_end > now()
       and coalesce(p.credits_used, 0) + p.credits_reserved + w.credits
           <= coalesce(p.credits_limit, 0) + p.credits_granted
    returning p.id
  )
  select coalesce(array_agg(reserved.id), '{}') into fitting from reserved;

  insert into public.credit_reservations (id, user_id, purpose, credits)
  select r.id, r.user_id, 'execution', r.credits from unnest(runs) r
   where r.credits > 0 and r.user_id = any(fitting);

  -- The runs of users whose batch does not fit: one by one, each inserted before the next reserves.
  for i in 1 .. coalesce(cardinality(runs), 0) loop
    run := runs[i];
    if run.credits <= 0 or run.user_id = any(fitting) then
      continue;
    end if;
    if not public.reserve_credits(run.user_id, run.id, run.credits, 'execution', null) then
      refused := refused || run.id;
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
    else
      perform public.settle_credits(run.user_id, run.id, 0);
    end if;
  end loop;

  with inserted as (
    insert into public.workflow_executions
      (id, workflow_id, user_id, trigger_data, execution_status, total_steps, metadata,
       engine_plan, step_results, engine_cursor, completed_steps, dedupe_key)
    select r.id, r.workflow_id, r.user_id, r.trigger_data, 'running', r.total_steps, r.metadata,
           r.plan, r.step_results, r.engine_cursor, r.completed_steps, r.dedupe_key
      from unnest(runs) with ordinality as r
     where r.credits <= 0 or r.user_id = any(fitting)
     order by r.ordinality
    on conflict (workflow_id, dedupe_key) where dedupe_key is not null do nothing
    returning id
  )
  select started || coalesce(array_agg(inserted.id), '{}') into started from inserted;

  -- Runs whose dedupe key had already started a run give back what they reserved together.
  with given_back as (
    delete from public.credit_reservations c
     using unnest(runs) r
     where c.id = r.id and r.credits > 0 and r.user_id = any(fitting)
       and not exists (select from unnest(started) as s(id) where s.id = r.id)
    returning c.user_id, c.credits
  ),
  per_user as (
    select g.user_id, sum(g.credits) as credits from given_back g group by g.user_id
  )
  update public.profiles p
     set credits_reserved = greatest(p.credits_reserved - u.credits, 0)
    from per_user u
   where p.id = u.user_id;

  with jobs as (
    insert into public.pgqueuer (priority, entrypoint, payload, execute_after, dedupe_key, status)
    select 0, 'autofy.run_execution',
           convert_to(json_build_object('execution_id', s.id, 'job_seq', 1)::text, 'UTF8'),
           now(), s.id::text || ':1', 'queued'::public.pgqueuer_status
      from unnest(started) as s(id)
    returning id, entrypoint, priority
  )
  insert into public.pgqueuer_log (job_id, status, entrypoint, priority)
  select jobs.id, 'queued'::public.pgqueuer_status, jobs.entrypoint, jobs.priority from jobs;

  -- Joins, not `= any(array)`: a batch of n runs costs n, not n².
  return query
    select r.ordinality::integer,
           case when s.id is not null then s.id
                when f.id is null then (select e.id from public.workflow_executions e
                                         where e.workflow_id = r.workflow_id and e.dedupe_key = r.dedupe_key)
           end,
           case when s.id is not null then 'started' when f.id is not null then 'refused' else 'existing' end
      from unnest(runs) with ordinality as r
      left join unnest(started) as s(id) on s.id = r.id
      left join unnest(refused) as f(id) on f.id = r.id
     order by r.ordinality;
end
$$;

revoke execute on function public.start_executions(jsonb) from public;
grant execute on function public.start_executions(jsonb) to service_role;
