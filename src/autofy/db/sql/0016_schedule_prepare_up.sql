-- 0016_schedule_prepare: runs that start at the same moment no longer wait for each other.
--
-- A scheduler prepares its batches of runs before their slot (engine/service.prepare_starts) and
-- starts them all at the slot, in one transaction each (triggers/scheduler.py). Two things had to
-- change for that:
--
-- 1. A run's `started_at` is when the statement that started it ran. A prepared batch's
--    transaction begins a second or two before its slot, and `now()` is the transaction's start:
--    runs would seem to have started before their slot. Everywhere else a run starts in a short
--    transaction, where the two differ by microseconds.
--
-- 2. `public.start_executions` locks its users' profiles (credits) only for the reservation, after
--    writing the executions and their jobs. It locked them first, so that batches sharing a user
--    (at the slot of 10,000 schedules every batch shares them) ran one after the other, each
--    holding the lock through all of its writing: the start of a minute's runs could use one core
--    of two. Now the writing goes side by side and only the reservations queue. The outcome of
--    every run is unchanged (0013_fast_start describes it), and cheaper in two cases: a dedupe key
--    already started reserves nothing (it reserved and gave back), and nothing is locked for it.
--    A refused run's execution and job are written and removed again in the same transaction
--    (never visible). The profiles are locked `for no key update` (all the reservation needs):
--    the key-share locks the executions' foreign keys took on them do not block it, so batches
--    holding those locks cannot deadlock here. The credit period of such a user rolls over first,
--    before anything is written (rolling over locks the profile `for update`, which those
--    key-share locks would block).
alter table public.workflow_executions alter column started_at set default statement_timestamp();

create or replace function public.start_executions(p_runs jsonb)
returns table (ord integer, execution_id uuid, outcome text)
language plpgsql set search_path = '' as $$
declare
  runs public.execution_start[] := array(select jsonb_populate_recordset(null::public.execution_start, p_runs));
  inserted uuid[];  -- runs whose execution was written (not a dedupe key already started)
  fitting uuid[];   -- users whose written runs of the batch all fit their credits left
  refused uuid[] := '{}';
  run public.execution_start;
begin
  perform public.roll_over_credits(p.id)
     from public.profiles p
    where p.id in (select r.user_id from unnest(runs) r where r.credits > 0)
      and p.credits_period_end <= now();

  with written as (
    insert into public.workflow_executions
      (id, workflow_id, user_id, trigger_data, execution_status, total_steps, metadata,
       engine_plan, step_results, engine_cursor, completed_steps, dedupe_key)
    select r.id, r.workflow_id, r.user_id, r.trigger_data, 'running', r.total_steps, r.metadata,
           r.plan, r.step_results, r.engine_cursor, r.completed_steps, r.dedupe_key
      from unnest(runs) with ordinality as r
     order by r.ordinality
    on conflict (workflow_id, dedupe_key) where dedupe_key is not null do nothing
    returning id
  )
  select coalesce(array_agg(written.id), '{}') into inserted from written;

  with jobs as (
    insert into public.pgqueuer (priority, entrypoint, payload, execute_after, dedupe_key, status)
    select 0, 'autofy.run_execution',
           convert_to(json_build_object('execution_id', i.id, 'job_seq', 1)::text, 'UTF8'),
           now(), i.id::text || ':1', 'queued'::public.pgqueuer_status
      from unnest(inserted) as i(id)
    returning id, entrypoint, priority
  )
  insert into public.pgqueuer_log (job_id, status, entrypoint, priority)
  select jobs.id, 'queued'::public.pgqueuer_status, jobs.entrypoint, jobs.priority from jobs;

  -- The reservations, last: from here to the commit the profiles are locked.
  perform from public.profiles p
   where p.id in (select r.user_id from unnest(runs) r join unnest(inserted) as i(id) on i.id = r.id
                   where r.credits > 0)
   order by p.id
     for no key update;

  with wanted as (
    select r.user_id, sum(r.credits) as credits
      from unnest(runs) r join unnest(inserted) as i(id) on i.id = r.id
     where r.credits > 0
     group by r.user_id
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
  select r.id, r.user_id, 'execution', r.credits
    from unnest(runs) r join unnest(inserted) as i(id) on i.id = r.id
   where r.credits > 0 and r.user_id = any(fitting);

  -- The runs of users whose batch does not fit: one by one, in batch order, as far as they go.
  for i in 1 .. coalesce(cardinality(runs), 0) loop
    run := runs[i];
    if run.credits <= 0 or run.user_id = any(fitting) or not run.id = any(inserted) then
      continue;
    end if;
    if not public.reserve_credits(run.user_id, run.id, run.credits, 'execution', null) then
      refused := refused || run.id;
    end if;
  end loop;

  if cardinality(refused) > 0 then
    with removed_jobs as (
      delete from public.pgqueuer q
       using unnest(refused) as f(id)
       where q.dedupe_key = f.id::text || ':1'
      returning q.id
    )
    delete from public.pgqueuer_log l using removed_jobs j where l.job_id = j.id;
    delete from public.workflow_executions e using unnest(refused) as f(id) where e.id = f.id;
  end if;

  -- Joins, not `= any(array)`: a batch of n runs costs n, not n².
  return query
    select r.ordinality::integer,
           case when f.id is not null then null
                when s.id is not null then s.id
                else (select e.id from public.workflow_executions e
                       where e.workflow_id = r.workflow_id and e.dedupe_key = r.dedupe_key)
           end,
           case when f.id is not null then 'refused' when s.id is not null then 'started' else 'existing' end
      from unnest(runs) with ordinality as r
      left join unnest(inserted) as s(id) on s.id = r.id
      left join unnest(refused) as f(id) on f.id = r.id
     order by r.ordinality;
end
$$;
