-- Undo 0016_schedule_prepare: started_at defaults to the transaction's start again, and
-- public.start_executions is 0013_fast_start's again (profiles locked first).
alter table public.workflow_executions alter column started_at set default now();

create or replace function public.start_executions(p_runs jsonb)
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
