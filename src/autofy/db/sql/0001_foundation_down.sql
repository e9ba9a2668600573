-- Undo 0001_foundation: everything the upgrade created, and nothing it found already there.
-- The roles anon, authenticated and service_role stay: they belong to the whole server, and
-- other databases on it may use them. The auth schema objects and the vector extension are
-- dropped only when their "Created by Autofy (0001_foundation)" marker says this migration made
-- them (inside a Supabase project they were there first and stay).

do $$
begin
  if pg_catalog.to_regclass('auth.users') is not null then
    drop trigger if exists on_auth_user_created on auth.users;
    drop trigger if exists on_auth_user_updated on auth.users;
  end if;
end
$$;

-- One statement drops the tables together, so their circular foreign keys need no CASCADE (and
-- an object of someone else's depending on them stops the downgrade instead of vanishing).
drop table
  public.chat_messages, public.chat_sessions, public.workflow_executions, public.workflow_steps,
  public.workflows, public.workflow_templates, public.integrations, public.integration_templates,
  public.user_preferences, public.api_keys, public.audit_logs, public.system_status,
  public.profiles;

drop function public.handle_new_user();
drop function public.handle_user_updated();
drop function public.create_default_preferences();
drop function public.guard_finished_execution();

do $$
declare
  marker constant text := 'Created by Autofy (0001_foundation)%';
begin
  if pg_catalog.obj_description(pg_catalog.to_regclass('auth.users'), 'pg_class') like marker then
    drop table auth.users;
  end if;
  if pg_catalog.obj_description(pg_catalog.to_regprocedure('auth.uid()'), 'pg_proc') like marker then
    drop function auth.uid();
  end if;
  if pg_catalog.obj_description(pg_catalog.to_regprocedure('auth.role()'), 'pg_proc') like marker then
    drop function auth.role();
  end if;
  if pg_catalog.obj_description(pg_catalog.to_regprocedure('auth.jwt()'), 'pg_proc') like marker then
    drop function auth.jwt();
  end if;
  if pg_catalog.obj_description(
       (select oid from pg_catalog.pg_namespace where nspname = 'auth'), 'pg_namespace') like marker
  then
    -- Without CASCADE: anything else left in the schema keeps it (and says so).
    drop schema auth;
  end if;
  if pg_catalog.obj_description(
       (select oid from pg_catalog.pg_extension where extname = 'vector'), 'pg_extension') like marker
  then
    drop extension vector;
  end if;
end
$$;

-- Last: auth.users (when kept, in a Supabase project) no longer uses it once the triggers are gone.
drop function public.set_updated_at();
