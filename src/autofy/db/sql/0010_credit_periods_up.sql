-- 0010: credits per period.
--
-- `profiles.credits_limit` is the plan's allowance per period and `credits_used` what the current
-- period has used. A period is a calendar month in UTC: it starts at 00:00 UTC on the 1st. When a
-- period has ended, the next reservation, grant or usage read starts the current one: used and
-- granted go back to 0, and an audit row (`credits.period_reset`) records the closed period.
-- Credits reserved by runs and turns still in flight carry over: they are charged in the period
-- they end in.
--
-- Every run and assistant turn reserves its most credits before it starts, with one conditional
-- UPDATE (used + reserved + wanted <= limit + granted), so concurrent starts never overshoot the
-- allowance; when it ends the reservation is settled: what it really used is charged (never more
-- than it reserved) and the rest returned. A run's reservation carries the run's id and is settled
-- by the statement that finishes the run; a reservation whose run is no longer running, or a
-- turn's whose time ran out (the turn's transaction rolled back), has lapsed and is released.
-- The functions are the only place these rules live; only the service role may call them.

create function public.credit_period_start(at_time timestamptz) returns timestamptz
language sql immutable set search_path = '' as $$
  select date_trunc('month', at_time at time zone 'UTC') at time zone 'UTC'
$$;

create function public.credit_period_end(at_time timestamptz) returns timestamptz
language sql immutable set search_path = '' as $$
  select (date_trunc('month', at_time at time zone 'UTC') + interval '1 month') at time zone 'UTC'
$$;

alter table public.profiles
  add column credits_reserved integer not null default 0 check (credits_reserved >= 0),
  add column credits_granted integer not null default 0 check (credits_granted >= 0),
  add column credits_period_start timestamptz not null default public.credit_period_start(now()),
  add column credits_period_end timestamptz not null default public.credit_period_end(now());

create table public.credit_reservations (
  -- A run's reservation has the run's id (execution); a turn's a random one (chat_turn).
  id          uuid primary key,
  user_id     uuid not null references public.profiles (id) on delete cascade,
  purpose     text not null check (purpose in ('execution', 'chat_turn')),
  credits     integer not null check (credits > 0),
  created_at  timestamptz not null default now(),
  -- When a turn's reservation lapses; null for runs (they lapse when the run is not running).
  expires_at  timestamptz
);
create index idx_credit_reservations_user on public.credit_reservations (user_id);

alter table public.credit_reservations enable row level security;
grant select, insert, update, delete on table public.credit_reservations to service_role;

-- Start the user's current period if theirs has ended, and audit the one that closed.
create function public.roll_over_credits(p_user uuid) returns void
language plpgsql set search_path = '' as $$
declare
  closed record;
begin
  select credits_used, credits_granted, credits_limit, credits_period_start, credits_period_end
    into closed
    from public.profiles
   where id = p_user and credits_period_end <= now()
     for update;
  if not found then
    return;  -- the period is current (or another transaction just rolled it over)
  end if;
  update public.profiles
     set credits_used = 0,
         credits_granted = 0,
         credits_period_start = public.credit_period_start(now()),
         credits_period_end = public.credit_period_end(now())
   where id = p_user;
  insert into public.audit_logs (user_id, action, resource_type, resource_id, details)
  values (p_user, 'credits.period_reset', 'profile', p_user, jsonb_build_object(
    'closed_period_start', closed.credits_period_start,
    'closed_period_end', closed.credits_period_end,
    'credits_used', coalesce(closed.credits_used, 0),
    'credits_granted', closed.credits_granted,
    'credits_limit', coalesce(closed.credits_limit, 0),
    'period_start', public.credit_period_start(now()),
    'period_end', public.credit_period_end(now())));
end
$$;

-- Release the user's lapsed reservations (module comment); how many credits came back.
create function public.release_lapsed_credits(p_user uuid) returns integer
language plpgsql set search_path = '' as $$
declare
  released integer;
begin
  with lapsed as (
    delete from public.credit_reservations r
     where r.user_id = p_user
       and (r.expires_at <= now()
            or (r.purpose = 'execution' and not exists (
                  select 1 from public.workflow_executions e
                   where e.id = r.id and e.execution_status = 'running')))
    returning r.credits
  )
  select coalesce(sum(credits), 0) into released from lapsed;
  if released > 0 then
    update public.profiles
       set credits_reserved = greatest(credits_reserved - released, 0)
     where id = p_user;
  end if;
  return released;
end
$$;

-- Reserve `p_credits` for a run or a turn; false (nothing reserved) when the allowance left is
-- smaller. The fast path is one conditional UPDATE; only a start that would be refused (or the
-- first of a new period) also rolls the period over and releases lapsed reservations, then tries
-- once more.
create function public.reserve_credits(
  p_user uuid, p_id uuid, p_credits integer, p_purpose text, p_expires_at timestamptz
) returns boolean
language plpgsql set search_path = '' as $$
begin
  if p_credits <= 0 then
    return true;
  end if;
  for attempt in 1..2 loop
    update public.profiles p
       set credits_reserved = p.credits_reserved + p_credits
     where p.id = p_user
       and p.credits_period_end > now()
       and coalesce(p.credits_used, 0) + p.credits_reserved + p_credits
           <= coalesce(p.credits_limit, 0) + p.credits_granted;
    if found then
      insert into public.credit_reservations (id, user_id, purpose, credits, expires_at)
      values (p_id, p_user, p_purpose, p_credits, p_expires_at);
      return true;
    end if;
    exit when attempt = 2;
    perform public.roll_over_credits(p_user);
    perform public.release_lapsed_credits(p_user);
  end loop;
  return false;
end
$$;

-- Settle the reservation `p_id` of `p_user`: charge what was really used (at most what was
-- reserved) and return the rest; the credits charged. Without a reservation (a run started before
-- reservations existed, one that reserved nothing, a turn that outlived its reservation) the use
-- is charged as it is.
create function public.settle_credits(p_user uuid, p_id uuid, p_used integer) returns integer
language plpgsql set search_path = '' as $$
declare
  reserved integer;
  charged integer;
begin
  delete from public.credit_reservations where id = p_id and user_id = p_user
  returning credits into reserved;
  charged := greatest(coalesce(p_used, 0), 0);
  if reserved is not null then
    charged := least(charged, reserved);
  end if;
  if charged > 0 or reserved is not null then
    update public.profiles
       set credits_reserved = greatest(credits_reserved - coalesce(reserved, 0), 0),
           credits_used = coalesce(credits_used, 0) + charged
     where id = p_user;
  end if;
  return charged;
end
$$;

-- Extra credits for the user's current period (an operator's grant).
create function public.grant_credits(p_user uuid, p_credits integer) returns void
language plpgsql set search_path = '' as $$
begin
  perform public.roll_over_credits(p_user);
  update public.profiles set credits_granted = credits_granted + p_credits where id = p_user;
end
$$;

-- The user's credits now: the period brought up to date and lapsed reservations released first.
create function public.credits_usage(p_user uuid)
returns table (
  plan_type text, period_start timestamptz, period_end timestamptz, credits_limit integer,
  credits_granted integer, credits_used integer, credits_reserved integer
)
language plpgsql set search_path = '' as $$
begin
  perform public.roll_over_credits(p_user);
  perform public.release_lapsed_credits(p_user);
  return query
    select p.plan_type, p.credits_period_start, p.credits_period_end, coalesce(p.credits_limit, 0),
           p.credits_granted, coalesce(p.credits_used, 0), p.credits_reserved
      from public.profiles p
     where p.id = p_user;
end
$$;

revoke execute on function
  public.roll_over_credits(uuid), public.release_lapsed_credits(uuid),
  public.reserve_credits(uuid, uuid, integer, text, timestamptz), public.settle_credits(uuid, uuid, integer),
  public.grant_credits(uuid, integer), public.credits_usage(uuid)
  from public;
grant execute on function
  public.roll_over_credits(uuid), public.release_lapsed_credits(uuid),
  public.reserve_credits(uuid, uuid, integer, text, timestamptz), public.settle_credits(uuid, uuid, integer),
  public.grant_credits(uuid, integer), public.credits_usage(uuid)
  to service_role;
