-- 0004_triggers: the state behind webhook, schedule and polling (new email, new message) triggers.
-- Valid on PostgreSQL 15 and newer. docs/triggers.md explains the design.
--
-- Rows exist for workflows whose trigger needs state: a webhook endpoint from the workflow's first
-- activation on (kept while paused, so its URL survives a pause), a schedule and a poll only while
-- the workflow is active. Users read their own rows; only the service role writes them (the API
-- writes through `triggers.service`, which switches to the service role for those statements).

create table public.workflow_webhooks (
  workflow_id    uuid primary key references public.workflows (id) on delete cascade,
  user_id        uuid not null references public.profiles (id) on delete cascade,
  -- The secret part of the URL (/hooks/<token>): 32 random bytes, URL-safe base64. Stored as is,
  -- like any capability URL its owner must be able to read again; rotate it when it leaks.
  token          text not null unique check (length(token) >= 43),
  -- Key of the optional HMAC-SHA256 signature (required when trigger_config.require_signature).
  signing_secret text not null check (length(signing_secret) >= 43),
  created_at     timestamptz not null default now(),
  rotated_at     timestamptz
);

create table public.workflow_schedules (
  workflow_id   uuid primary key references public.workflows (id) on delete cascade,
  user_id       uuid not null references public.profiles (id) on delete cascade,
  -- Five-field cron expression (the simple form already expanded) read in `timezone`.
  expression    text not null,
  timezone      text not null,
  -- The next slot to fire; claiming a slot moves it on in the transaction that starts the run.
  next_fire_at  timestamptz not null,
  last_fired_at timestamptz,
  created_at    timestamptz not null default now(),
  updated_at    timestamptz not null default now()
);

-- The scheduler's one query per tick: the schedules whose slot has come.
create index idx_workflow_schedules_next_fire_at on public.workflow_schedules (next_fire_at);

create table public.workflow_trigger_polls (
  workflow_id          uuid primary key references public.workflows (id) on delete cascade,
  user_id              uuid not null references public.profiles (id) on delete cascade,
  -- The connector's polling trigger (gmail/new_email, telegram/new_message) and the trigger
  -- step's configuration the cursor was started with.
  service_name         text not null,
  trigger_name         text not null,
  config               jsonb not null default '{}'::jsonb,
  -- Where the last poll stopped; written in the transaction that starts the runs it found.
  cursor               jsonb not null,
  interval_seconds     integer not null check (interval_seconds > 0),
  next_poll_at         timestamptz not null,
  last_polled_at       timestamptz,
  last_error           text,
  consecutive_failures integer not null default 0,
  created_at           timestamptz not null default now(),
  updated_at           timestamptz not null default now()
);

create index idx_workflow_trigger_polls_next_poll_at on public.workflow_trigger_polls (next_poll_at);

create index idx_workflow_webhooks_user on public.workflow_webhooks (user_id);
create index idx_workflow_schedules_user on public.workflow_schedules (user_id);
create index idx_workflow_trigger_polls_user on public.workflow_trigger_polls (user_id);

create trigger set_updated_at before update on public.workflow_schedules
  for each row execute function public.set_updated_at();
create trigger set_updated_at before update on public.workflow_trigger_polls
  for each row execute function public.set_updated_at();

alter table public.workflow_webhooks enable row level security;
alter table public.workflow_schedules enable row level security;
alter table public.workflow_trigger_polls enable row level security;

create policy workflow_webhooks_select_own on public.workflow_webhooks for select to authenticated
  using (user_id = (select auth.uid()));
create policy workflow_schedules_select_own on public.workflow_schedules for select to authenticated
  using (user_id = (select auth.uid()));
create policy workflow_trigger_polls_select_own on public.workflow_trigger_polls for select
  to authenticated using (user_id = (select auth.uid()));

-- Supabase's default privileges hand ALL on new tables to anon and authenticated: revoke first.
-- Users may not write trigger state: a chosen token could probe other users' tokens through the
-- unique index, and a chosen next_fire_at or cursor would bypass the trigger's rules.
revoke all on table public.workflow_webhooks, public.workflow_schedules, public.workflow_trigger_polls
  from public, anon, authenticated;
grant all on table public.workflow_webhooks, public.workflow_schedules, public.workflow_trigger_polls
  to service_role;
grant select on table public.workflow_webhooks, public.workflow_schedules, public.workflow_trigger_polls
  to authenticated;
