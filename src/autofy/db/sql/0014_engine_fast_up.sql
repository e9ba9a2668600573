-- Settle the reservations of many runs at once (a worker's finishing group): each run is charged
-- what it really used, at most what it reserved, and the rest returned; without a reservation the
-- use is charged as it is. Each owner's profile is updated once for the whole group: before, every
-- run of the group wrote a new version of the same profile row (and checked its foreign key again).
-- Returns each run's id and the credits charged. `settle_credits` (one run, a chat turn) is this
-- with one entry, so the rule lives here only.
create function public.settle_credits_many(p_users uuid[], p_ids uuid[], p_used integer[])
returns table (id uuid, charged integer)
language sql set search_path = '' as $$
  with settling as (
    select s.user_id, s.id, greatest(coalesce(s.used, 0), 0) as used
    from unnest(p_users, p_ids, p_used) as s(user_id, id, used)
  ),
  released as (
    delete from public.credit_reservations c
    using settling s
    where c.id = s.id and c.user_id = s.user_id
    returning c.id, c.credits
  ),
  charges as (
    select s.id, s.user_id, r.credits as reserved,
           case when r.credits is null then s.used else least(s.used, r.credits) end as charged
    from settling s left join released r on r.id = s.id
  ),
  per_profile as (
    select user_id, coalesce(sum(reserved), 0) as released, sum(charged) as charged
    from charges
    group by user_id
    having sum(charged) > 0 or count(reserved) > 0
  ),
  updated as (
    update public.profiles p
       set credits_reserved = greatest(p.credits_reserved - u.released, 0),
           credits_used = coalesce(p.credits_used, 0) + u.charged
      from per_profile u
     where p.id = u.user_id
  )
  select charges.id, charges.charged from charges
$$;

create or replace function public.settle_credits(p_user uuid, p_id uuid, p_used integer) returns integer
language sql set search_path = '' as $$
  select charged from public.settle_credits_many(array[p_user], array[p_id], array[p_used])
$$;

revoke execute on function public.settle_credits_many(uuid[], uuid[], integer[]) from public;
grant execute on function public.settle_credits_many(uuid[], uuid[], integer[]) to service_role;
