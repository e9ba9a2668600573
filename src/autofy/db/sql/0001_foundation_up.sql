-- 0001_foundation: the seed schema (docs/spec/DATABASE_SCHEMA.md), the Supabase-compatible auth
-- layer it stands on, row-level security, and the seed data. Valid on PostgreSQL 15 and newer, on
-- a plain server and inside a Supabase project. docs/database.md explains every decision and every
-- deviation from the seed.

-- ---------------------------------------------------------------------------------------------
-- pgvector. Supabase keeps it in schema `extensions`; a plain server gets it in `public`. The type
-- is then resolved through a search_path that names whichever schema holds it.
-- ---------------------------------------------------------------------------------------------
do $$
begin
  if not exists (select from pg_catalog.pg_extension where extname = 'vector') then
    create extension vector;
    -- The marker tells the downgrade that this migration, not an operator, installed it.
    comment on extension vector is
      'Created by Autofy (0001_foundation): vector data type and ivfflat and hnsw access methods';
  end if;
end
$$;

do $$
declare
  vector_schema name;
begin
  select n.nspname into vector_schema
  from pg_catalog.pg_extension e
  join pg_catalog.pg_namespace n on n.oid = e.extnamespace
  where e.extname = 'vector';
  perform pg_catalog.set_config('search_path', pg_catalog.format('public, %I', vector_schema), true);
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Roles, exactly as Supabase creates them, only where missing (roles are cluster-wide and shared
-- by every database on the server, so the downgrade never drops them).
-- ---------------------------------------------------------------------------------------------
do $$
begin
  if not exists (select from pg_catalog.pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_catalog.pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
end
$$;

-- Autofy switches roles with set_config('role', …) inside each transaction; the connecting role
-- must be a member of the three (a superuser, and Supabase's `postgres`, already is).
do $$
declare
  api_role text;
begin
  foreach api_role in array array['anon', 'authenticated', 'service_role'] loop
    if not pg_catalog.pg_has_role(current_user, api_role, 'MEMBER') then
      execute pg_catalog.format('grant %I to %I', api_role, current_user);
    end if;
  end loop;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Trigger functions. Trigger functions cannot be called directly, and none of them is executable
-- by PUBLIC, anon or authenticated anyway.
-- ---------------------------------------------------------------------------------------------
create function public.set_updated_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := pg_catalog.now();
  return new;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- The auth schema: a Supabase-compatible subset, created only where Supabase is not already there.
-- ---------------------------------------------------------------------------------------------
do $$
begin
  if not exists (select from pg_catalog.pg_namespace where nspname = 'auth') then
    create schema auth;
    comment on schema auth is 'Created by Autofy (0001_foundation): Supabase-compatible auth schema';
    grant usage on schema auth to anon, authenticated, service_role;
  end if;

  if pg_catalog.to_regclass('auth.users') is null then
    create table auth.users (
      id                 uuid primary key default gen_random_uuid(),
      email              text unique,
      encrypted_password text,
      raw_user_meta_data jsonb default '{}'::jsonb,
      raw_app_meta_data  jsonb default '{}'::jsonb,
      role               text default 'authenticated',
      aud                text default 'authenticated',
      email_confirmed_at timestamptz,
      last_sign_in_at    timestamptz,
      banned_until       timestamptz,
      created_at         timestamptz default now(),
      updated_at         timestamptz default now()
    );
    comment on table auth.users is
      'Created by Autofy (0001_foundation): Supabase-compatible subset of auth.users';
    create trigger set_updated_at before update on auth.users
      for each row execute function public.set_updated_at();
    revoke all on table auth.users from public;
    -- Sign-up and account changes run as the service (Supabase's GoTrue plays this part there).
    grant select, insert, update, delete on table auth.users to service_role;
  end if;

  -- auth.uid(), auth.role(), auth.jwt(): Supabase's own definitions.
  if pg_catalog.to_regprocedure('auth.uid()') is null then
    create function auth.uid() returns uuid
    language sql stable
    as $fn$
      select
        coalesce(
          nullif(current_setting('request.jwt.claim.sub', true), ''),
          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
        )::uuid
    $fn$;
    comment on function auth.uid() is 'Created by Autofy (0001_foundation): the caller''s user id';
    revoke all on function auth.uid() from public;
    grant execute on function auth.uid() to anon, authenticated, service_role;
  end if;

  if pg_catalog.to_regprocedure('auth.role()') is null then
    create function auth.role() returns text
    language sql stable
    as $fn$
      select
        coalesce(
          nullif(current_setting('request.jwt.claim.role', true), ''),
          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
        )::text
    $fn$;
    comment on function auth.role() is 'Created by Autofy (0001_foundation): the caller''s role';
    revoke all on function auth.role() from public;
    grant execute on function auth.role() to anon, authenticated, service_role;
  end if;

  if pg_catalog.to_regprocedure('auth.jwt()') is null then
    create function auth.jwt() returns jsonb
    language sql stable
    as $fn$
      select
        coalesce(
          nullif(current_setting('request.jwt.claim', true), ''),
          nullif(current_setting('request.jwt.claims', true), '')
        )::jsonb
    $fn$;
    comment on function auth.jwt() is 'Created by Autofy (0001_foundation): the caller''s claims';
    revoke all on function auth.jwt() from public;
    grant execute on function auth.jwt() to anon, authenticated, service_role;
  end if;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Tables, in the seed's words. Deviations (documented in docs/database.md): ON DELETE actions on
-- the FKs the seed leaves without one, and profiles.id cascading from auth.users.
-- ---------------------------------------------------------------------------------------------
create table public.profiles (
  id                   uuid primary key references auth.users (id) on delete cascade,
  email                text not null,
  full_name            text,
  avatar_url           text,
  timezone             text default 'UTC',
  plan_type            text default 'free' check (plan_type in ('free', 'pro', 'enterprise')),
  credits_used         integer default 0,
  credits_limit        integer default 1000,
  onboarding_completed boolean default false,
  created_at           timestamptz default now(),
  updated_at           timestamptz default now()
);

create table public.user_preferences (
  id               uuid primary key default gen_random_uuid(),
  user_id          uuid not null references public.profiles (id) on delete cascade,
  preference_key   text not null,
  preference_value jsonb not null,
  created_at       timestamptz default now(),
  updated_at       timestamptz default now(),
  unique (user_id, preference_key)
);

create table public.integrations (
  id             uuid primary key default gen_random_uuid(),
  user_id        uuid not null references public.profiles (id) on delete cascade,
  service_name   text not null check (service_name in
                   ('gmail', 'notion', 'telegram', 'openai', 'anthropic', 'gemini', 'openrouter')),
  display_name   text not null,
  credentials    jsonb not null,
  configuration  jsonb default '{}'::jsonb,
  status         text default 'active' check (status in ('active', 'inactive', 'error', 'expired')),
  last_tested_at timestamptz,
  error_message  text,
  metadata       jsonb default '{}'::jsonb,
  created_at     timestamptz default now(),
  updated_at     timestamptz default now(),
  unique (user_id, service_name)
);

create table public.integration_templates (
  id              uuid primary key default gen_random_uuid(),
  service_name    text not null,
  template_name   text not null,
  description     text,
  configuration   jsonb not null,
  required_scopes text[],
  setup_guide     text,
  is_active       boolean default true,
  created_at      timestamptz default now(),
  unique (service_name, template_name)
);

-- workflows and chat_sessions reference each other: workflows first, its FK to chat_sessions
-- added once chat_sessions exists.
create table public.workflows (
  id                    uuid primary key default gen_random_uuid(),
  user_id               uuid not null references public.profiles (id) on delete cascade,
  name                  text not null,
  description           text,
  status                text default 'draft' check (status in ('draft', 'active', 'paused', 'archived')),
  trigger_type          text not null check (trigger_type in ('manual', 'scheduled', 'webhook', 'email')),
  trigger_config        jsonb default '{}'::jsonb,
  tags                  text[] default array[]::text[],
  total_executions      integer default 0,
  successful_executions integer default 0,
  failed_executions     integer default 0,
  last_executed_at      timestamptz,
  average_duration      interval,
  created_from_chat     boolean default false,
  chat_session_id       uuid,
  created_at            timestamptz default now(),
  updated_at            timestamptz default now()
);

create table public.workflow_steps (
  id             uuid primary key default gen_random_uuid(),
  workflow_id    uuid not null references public.workflows (id) on delete cascade,
  step_order     integer not null,
  step_type      text not null check (step_type in ('trigger', 'action', 'condition', 'delay')),
  service_name   text not null,
  action_name    text not null,
  configuration  jsonb not null,
  conditions     jsonb default '{}'::jsonb,
  error_handling jsonb default '{"retry": true, "max_retries": 3}'::jsonb,
  is_enabled     boolean default true,
  created_at     timestamptz default now(),
  updated_at     timestamptz default now(),
  unique (workflow_id, step_order)
);

create table public.workflow_executions (
  id               uuid primary key default gen_random_uuid(),
  workflow_id      uuid not null references public.workflows (id) on delete cascade,
  user_id          uuid not null references public.profiles (id) on delete cascade,
  trigger_data     jsonb default '{}'::jsonb,
  execution_status text not null check (execution_status in ('running', 'completed', 'failed', 'cancelled')),
  started_at       timestamptz default now(),
  completed_at     timestamptz,
  duration         interval,
  total_steps      integer default 0,
  completed_steps  integer default 0,
  failed_steps     integer default 0,
  step_results     jsonb default '[]'::jsonb,
  error_message    text,
  error_step_id    uuid references public.workflow_steps (id) on delete set null,
  metadata         jsonb default '{}'::jsonb,
  credits_used     integer default 0
);

create table public.workflow_templates (
  id                    uuid primary key default gen_random_uuid(),
  name                  text not null,
  description           text,
  category              text not null,
  difficulty            text default 'beginner' check (difficulty in ('beginner', 'intermediate', 'advanced')),
  required_integrations text[] not null,
  template_data         jsonb not null,
  preview_image         text,
  use_count             integer default 0,
  is_featured           boolean default false,
  created_by            uuid references public.profiles (id) on delete set null,
  created_at            timestamptz default now(),
  updated_at            timestamptz default now()
);

create table public.chat_sessions (
  id           uuid primary key default gen_random_uuid(),
  user_id      uuid not null references public.profiles (id) on delete cascade,
  session_name text,
  intent       text,
  context      jsonb default '{}'::jsonb,
  status       text default 'active' check (status in ('active', 'completed', 'abandoned')),
  workflow_id  uuid references public.workflows (id) on delete set null,
  created_at   timestamptz default now(),
  updated_at   timestamptz default now()
);

alter table public.workflows
  add constraint workflows_chat_session_id_fkey
  foreign key (chat_session_id) references public.chat_sessions (id) on delete set null;

create table public.chat_messages (
  id         uuid primary key default gen_random_uuid(),
  session_id uuid not null references public.chat_sessions (id) on delete cascade,
  role       text not null check (role in ('user', 'assistant', 'system')),
  content    text not null,
  metadata   jsonb default '{}'::jsonb,
  embedding  vector(1536),
  created_at timestamptz default now()
);

create table public.api_keys (
  id           uuid primary key default gen_random_uuid(),
  user_id      uuid not null references public.profiles (id) on delete cascade,
  key_name     text not null,
  key_prefix   text not null,
  key_hash     text not null,
  permissions  text[] default array['read']::text[],
  last_used_at timestamptz,
  usage_count  integer default 0,
  expires_at   timestamptz,
  is_active    boolean default true,
  created_at   timestamptz default now(),
  unique (user_id, key_name)
);

create table public.audit_logs (
  id            uuid primary key default gen_random_uuid(),
  user_id       uuid references public.profiles (id) on delete set null,
  action        text not null,
  resource_type text not null,
  resource_id   uuid,
  details       jsonb default '{}'::jsonb,
  ip_address    inet,
  user_agent    text,
  created_at    timestamptz default now()
);

create table public.system_status (
  id            uuid primary key default gen_random_uuid(),
  service_name  text not null,
  status        text not null check (status in ('healthy', 'degraded', 'down')),
  response_time integer,
  error_message text,
  metadata      jsonb default '{}'::jsonb,
  checked_at    timestamptz default now()
);

-- ---------------------------------------------------------------------------------------------
-- Indexes: the seed's, with the two documented changes, then the ones RLS and FK actions need.
-- ---------------------------------------------------------------------------------------------
create index idx_profiles_email on public.profiles (email);
create index idx_integrations_user_service on public.integrations (user_id, service_name);
create index idx_workflows_user_status on public.workflows (user_id, status);
create index idx_workflow_steps_workflow_order on public.workflow_steps (workflow_id, step_order);
-- The seed names workflow_executions.created_at, which the table lacks; started_at is when the
-- row is created.
create index idx_executions_workflow_started on public.workflow_executions (workflow_id, started_at desc);
create index idx_executions_user_status on public.workflow_executions (user_id, execution_status);
create index idx_chat_sessions_user_created on public.chat_sessions (user_id, created_at desc);
create index idx_chat_messages_session_created on public.chat_messages (session_id, created_at);
-- HNSW, not ivfflat: an ivfflat index built on an empty table has lists without centroids and
-- poor recall until rebuilt; HNSW needs no training data.
create index idx_chat_messages_embedding on public.chat_messages using hnsw (embedding vector_cosine_ops);
create index idx_audit_logs_user_created on public.audit_logs (user_id, created_at desc);
create index idx_system_status_service_checked on public.system_status (service_name, checked_at desc);

-- FK columns whose referenced rows get deleted: without these, each delete scans the table.
create index idx_workflows_chat_session on public.workflows (chat_session_id)
  where chat_session_id is not null;
create index idx_chat_sessions_workflow on public.chat_sessions (workflow_id)
  where workflow_id is not null;
create index idx_executions_error_step on public.workflow_executions (error_step_id)
  where error_step_id is not null;
create index idx_workflow_templates_created_by on public.workflow_templates (created_by)
  where created_by is not null;
-- API keys are looked up by their visible prefix before the owner is known.
create index idx_api_keys_key_prefix on public.api_keys (key_prefix);

-- ---------------------------------------------------------------------------------------------
-- Triggers
-- ---------------------------------------------------------------------------------------------
create trigger set_updated_at before update on public.profiles
  for each row execute function public.set_updated_at();
create trigger set_updated_at before update on public.user_preferences
  for each row execute function public.set_updated_at();
create trigger set_updated_at before update on public.integrations
  for each row execute function public.set_updated_at();
create trigger set_updated_at before update on public.workflows
  for each row execute function public.set_updated_at();
create trigger set_updated_at before update on public.workflow_steps
  for each row execute function public.set_updated_at();
create trigger set_updated_at before update on public.workflow_templates
  for each row execute function public.set_updated_at();
create trigger set_updated_at before update on public.chat_sessions
  for each row execute function public.set_updated_at();

-- A new account gets its profile. SECURITY DEFINER because on Supabase the row is inserted by
-- GoTrue's own role, which has no privilege on public.profiles; search_path is empty and every
-- name is qualified, so the caller cannot substitute objects.
create function public.handle_new_user() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.profiles (id, email, full_name, avatar_url)
  values (
    new.id,
    coalesce(new.email, ''),
    new.raw_user_meta_data ->> 'full_name',
    new.raw_user_meta_data ->> 'avatar_url'
  )
  on conflict (id) do nothing;
  return new;
end
$$;

-- Keeps the profile in step with the account: the email always, full_name and avatar_url only
-- when the account's metadata changes them (a name edited in the profile is not overwritten by
-- an unrelated metadata change).
create function public.handle_user_updated() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  update public.profiles p
  set email = coalesce(new.email, ''),
      full_name = case
        when new.raw_user_meta_data ->> 'full_name' is distinct from old.raw_user_meta_data ->> 'full_name'
        then new.raw_user_meta_data ->> 'full_name' else p.full_name end,
      avatar_url = case
        when new.raw_user_meta_data ->> 'avatar_url' is distinct from old.raw_user_meta_data ->> 'avatar_url'
        then new.raw_user_meta_data ->> 'avatar_url' else p.avatar_url end
  where p.id = new.id;
  return new;
end
$$;

-- Default preferences follow the profile, however it was created (trigger, backfill, service).
create function public.create_default_preferences() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  insert into public.user_preferences (user_id, preference_key, preference_value)
  values
    (new.id, 'default_ai_provider', '"openai"'::jsonb),
    (new.id, 'default_ai_model', '"gpt-4o-mini"'::jsonb),
    (new.id, 'theme', '"system"'::jsonb),
    (new.id, 'notifications', '{"email_on_failure": true, "email_on_success": false}'::jsonb)
  on conflict (user_id, preference_key) do nothing;
  return new;
end
$$;

-- The engine relies on this: once an execution is completed, failed or cancelled, its status is
-- final, whoever tries to change it and however late a stray worker arrives.
create function public.guard_finished_execution() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'execution % is already %; its status cannot change to %',
    old.id, old.execution_status, new.execution_status
    using errcode = 'object_not_in_prerequisite_state';
end
$$;

create trigger on_auth_user_created after insert on auth.users
  for each row execute function public.handle_new_user();
create trigger on_auth_user_updated after update of email, raw_user_meta_data on auth.users
  for each row
  when (old.email is distinct from new.email
        or old.raw_user_meta_data is distinct from new.raw_user_meta_data)
  execute function public.handle_user_updated();
create trigger create_default_preferences after insert on public.profiles
  for each row execute function public.create_default_preferences();
create trigger guard_finished_execution before update on public.workflow_executions
  for each row
  when (old.execution_status in ('completed', 'failed', 'cancelled')
        and new.execution_status is distinct from old.execution_status)
  execute function public.guard_finished_execution();

revoke all on function public.set_updated_at() from public, anon, authenticated, service_role;
revoke all on function public.handle_new_user() from public, anon, authenticated, service_role;
revoke all on function public.handle_user_updated() from public, anon, authenticated, service_role;
revoke all on function public.create_default_preferences() from public, anon, authenticated, service_role;
revoke all on function public.guard_finished_execution() from public, anon, authenticated, service_role;

-- Accounts that existed before this migration (a Supabase project adopting Autofy) get profiles.
insert into public.profiles (id, email, full_name, avatar_url)
select u.id, coalesce(u.email, ''), u.raw_user_meta_data ->> 'full_name', u.raw_user_meta_data ->> 'avatar_url'
from auth.users u
on conflict (id) do nothing;

-- ---------------------------------------------------------------------------------------------
-- Row-level security. Every table has it on; the table owner (the migrating role) is not subject
-- to it, which is fine because the application never connects as the owner for user work.
-- Policies use (select auth.uid()) so the call is evaluated once per statement, not per row.
-- ---------------------------------------------------------------------------------------------
alter table public.profiles enable row level security;
alter table public.user_preferences enable row level security;
alter table public.integrations enable row level security;
alter table public.integration_templates enable row level security;
alter table public.workflows enable row level security;
alter table public.workflow_steps enable row level security;
alter table public.workflow_executions enable row level security;
alter table public.workflow_templates enable row level security;
alter table public.chat_sessions enable row level security;
alter table public.chat_messages enable row level security;
alter table public.api_keys enable row level security;
alter table public.audit_logs enable row level security;
alter table public.system_status enable row level security;

-- profiles: read and edit your own; it is created and deleted with the account.
create policy profiles_select_own on public.profiles for select to authenticated
  using (id = (select auth.uid()));
create policy profiles_update_own on public.profiles for update to authenticated
  using (id = (select auth.uid())) with check (id = (select auth.uid()));

-- user_preferences, integrations, chat_sessions, api_keys: CRUD your own rows.
create policy user_preferences_select_own on public.user_preferences for select to authenticated
  using (user_id = (select auth.uid()));
create policy user_preferences_insert_own on public.user_preferences for insert to authenticated
  with check (user_id = (select auth.uid()));
create policy user_preferences_update_own on public.user_preferences for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy user_preferences_delete_own on public.user_preferences for delete to authenticated
  using (user_id = (select auth.uid()));

create policy integrations_select_own on public.integrations for select to authenticated
  using (user_id = (select auth.uid()));
create policy integrations_insert_own on public.integrations for insert to authenticated
  with check (user_id = (select auth.uid()));
create policy integrations_update_own on public.integrations for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy integrations_delete_own on public.integrations for delete to authenticated
  using (user_id = (select auth.uid()));

create policy api_keys_select_own on public.api_keys for select to authenticated
  using (user_id = (select auth.uid()));
create policy api_keys_insert_own on public.api_keys for insert to authenticated
  with check (user_id = (select auth.uid()));
create policy api_keys_update_own on public.api_keys for update to authenticated
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy api_keys_delete_own on public.api_keys for delete to authenticated
  using (user_id = (select auth.uid()));

-- workflows and chat_sessions may point at each other only within one owner: an FK check alone
-- would accept another tenant's id.
create policy workflows_select_own on public.workflows for select to authenticated
  using (user_id = (select auth.uid()));
create policy workflows_insert_own on public.workflows for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and (chat_session_id is null or exists (
      select from public.chat_sessions s
      where s.id = workflows.chat_session_id and s.user_id = (select auth.uid())))
  );
create policy workflows_update_own on public.workflows for update to authenticated
  using (user_id = (select auth.uid()))
  with check (
    user_id = (select auth.uid())
    and (chat_session_id is null or exists (
      select from public.chat_sessions s
      where s.id = workflows.chat_session_id and s.user_id = (select auth.uid())))
  );
create policy workflows_delete_own on public.workflows for delete to authenticated
  using (user_id = (select auth.uid()));

create policy chat_sessions_select_own on public.chat_sessions for select to authenticated
  using (user_id = (select auth.uid()));
create policy chat_sessions_insert_own on public.chat_sessions for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and (workflow_id is null or exists (
      select from public.workflows w
      where w.id = chat_sessions.workflow_id and w.user_id = (select auth.uid())))
  );
create policy chat_sessions_update_own on public.chat_sessions for update to authenticated
  using (user_id = (select auth.uid()))
  with check (
    user_id = (select auth.uid())
    and (workflow_id is null or exists (
      select from public.workflows w
      where w.id = chat_sessions.workflow_id and w.user_id = (select auth.uid())))
  );
create policy chat_sessions_delete_own on public.chat_sessions for delete to authenticated
  using (user_id = (select auth.uid()));

-- workflow_steps and chat_messages belong to whoever owns their workflow / session.
create policy workflow_steps_select_own on public.workflow_steps for select to authenticated
  using (exists (select from public.workflows w
                 where w.id = workflow_steps.workflow_id and w.user_id = (select auth.uid())));
create policy workflow_steps_insert_own on public.workflow_steps for insert to authenticated
  with check (exists (select from public.workflows w
                      where w.id = workflow_steps.workflow_id and w.user_id = (select auth.uid())));
create policy workflow_steps_update_own on public.workflow_steps for update to authenticated
  using (exists (select from public.workflows w
                 where w.id = workflow_steps.workflow_id and w.user_id = (select auth.uid())))
  with check (exists (select from public.workflows w
                      where w.id = workflow_steps.workflow_id and w.user_id = (select auth.uid())));
create policy workflow_steps_delete_own on public.workflow_steps for delete to authenticated
  using (exists (select from public.workflows w
                 where w.id = workflow_steps.workflow_id and w.user_id = (select auth.uid())));

create policy chat_messages_select_own on public.chat_messages for select to authenticated
  using (exists (select from public.chat_sessions s
                 where s.id = chat_messages.session_id and s.user_id = (select auth.uid())));
create policy chat_messages_insert_own on public.chat_messages for insert to authenticated
  with check (exists (select from public.chat_sessions s
                      where s.id = chat_messages.session_id and s.user_id = (select auth.uid())));
create policy chat_messages_update_own on public.chat_messages for update to authenticated
  using (exists (select from public.chat_sessions s
                 where s.id = chat_messages.session_id and s.user_id = (select auth.uid())))
  with check (exists (select from public.chat_sessions s
                      where s.id = chat_messages.session_id and s.user_id = (select auth.uid())));
create policy chat_messages_delete_own on public.chat_messages for delete to authenticated
  using (exists (select from public.chat_sessions s
                 where s.id = chat_messages.session_id and s.user_id = (select auth.uid())));

-- Executions and audit logs: read your own; only the service writes them.
create policy workflow_executions_select_own on public.workflow_executions for select to authenticated
  using (user_id = (select auth.uid()));
create policy audit_logs_select_own on public.audit_logs for select to authenticated
  using (user_id = (select auth.uid()));

-- Catalog-like tables every signed-in user reads; only the service writes.
create policy integration_templates_select_active on public.integration_templates for select
  to authenticated using (is_active);
create policy workflow_templates_select_all on public.workflow_templates for select
  to authenticated using (true);
create policy system_status_select_all on public.system_status for select
  to authenticated using (true);

-- ---------------------------------------------------------------------------------------------
-- Grants. Supabase's default privileges hand ALL on new tables to anon and authenticated, so
-- everything is revoked first and only what the policies above need is granted back.
-- Column grants keep what only the service may write (plans, credits, counters, usage) and what
-- a user must never read back (integrations.credentials, chat_messages.embedding,
-- api_keys.key_hash) out of reach.
-- ---------------------------------------------------------------------------------------------
revoke all on table
  public.profiles, public.user_preferences, public.integrations, public.integration_templates,
  public.workflows, public.workflow_steps, public.workflow_executions, public.workflow_templates,
  public.chat_sessions, public.chat_messages, public.api_keys, public.audit_logs,
  public.system_status
from public, anon, authenticated;

grant all on table
  public.profiles, public.user_preferences, public.integrations, public.integration_templates,
  public.workflows, public.workflow_steps, public.workflow_executions, public.workflow_templates,
  public.chat_sessions, public.chat_messages, public.api_keys, public.audit_logs,
  public.system_status
to service_role;

grant select on table public.profiles to authenticated;
grant update (full_name, avatar_url, timezone, onboarding_completed) on table public.profiles
  to authenticated;

grant select, insert, update, delete on table public.user_preferences to authenticated;

grant select (id, user_id, service_name, display_name, configuration, status, last_tested_at,
              error_message, metadata, created_at, updated_at)
  on table public.integrations to authenticated;
grant insert, update, delete on table public.integrations to authenticated;

grant select on table public.workflows to authenticated;
grant insert (id, user_id, name, description, status, trigger_type, trigger_config, tags,
              created_from_chat, chat_session_id)
  on table public.workflows to authenticated;
grant update (user_id, name, description, status, trigger_type, trigger_config, tags,
              created_from_chat, chat_session_id)
  on table public.workflows to authenticated;
grant delete on table public.workflows to authenticated;

grant select, insert, update, delete on table public.workflow_steps to authenticated;

grant select, insert, update, delete on table public.chat_sessions to authenticated;

grant select (id, session_id, role, content, metadata, created_at)
  on table public.chat_messages to authenticated;
grant insert (id, session_id, role, content, metadata)
  on table public.chat_messages to authenticated;
grant update (session_id, role, content, metadata)
  on table public.chat_messages to authenticated;
grant delete on table public.chat_messages to authenticated;

grant select (id, user_id, key_name, key_prefix, permissions, last_used_at, usage_count,
              expires_at, is_active, created_at)
  on table public.api_keys to authenticated;
grant insert (id, user_id, key_name, key_prefix, key_hash, permissions, expires_at)
  on table public.api_keys to authenticated;
grant update (key_name, is_active) on table public.api_keys to authenticated;
grant delete on table public.api_keys to authenticated;

grant select on table public.workflow_executions to authenticated;
grant select on table public.audit_logs to authenticated;
grant select on table public.integration_templates to authenticated;
grant select on table public.workflow_templates to authenticated;
grant select on table public.system_status to authenticated;

-- Alembic's bookkeeping table is no business of the API roles (Supabase would have granted it).
do $$
begin
  if pg_catalog.to_regclass('public.alembic_version') is not null then
    revoke all on table public.alembic_version from public, anon, authenticated;
  end if;
end
$$;
