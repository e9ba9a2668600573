-- 0011_notifications: in-app notifications and their emails (docs/notifications.md), and the
-- public status page's read access to health checks. Valid on PostgreSQL 15 and newer.

create table public.notifications (
  id            uuid primary key default gen_random_uuid(),
  user_id       uuid not null references public.profiles(id) on delete cascade,
  kind          text not null
                check (kind in ('execution_failed', 'integration_error', 'credits_low')),
  -- The workflow, integration or profile the notification is about (emails are batched by it).
  subject_id    uuid not null,
  -- What the message is composed from (names, counts, a short error), as it was at the time.
  details       jsonb not null default '{}'::jsonb,
  -- False when the user turned in-app notifications off: the row exists only to drive its email.
  in_app        boolean not null default true,
  read_at       timestamptz,
  -- null: no email wanted. queued → sending → sent; batched: an email about the same workflow
  -- went out within the hour; skipped: no mail server configured; failed: retries ran out.
  email_status  text check (email_status in ('queued', 'sending', 'sent', 'batched', 'skipped', 'failed')),
  emailed_at    timestamptz,
  created_at    timestamptz not null default now()
);

create index idx_notifications_user_created on public.notifications (user_id, created_at desc);
create index idx_notifications_unread on public.notifications (user_id) where read_at is null and in_app;
create index idx_notifications_emailed on public.notifications (user_id, subject_id, created_at desc)
  where email_status in ('queued', 'sending', 'sent');
create index idx_notifications_created on public.notifications (created_at);

alter table public.notifications enable row level security;

-- Users read and mark read their own in-app notifications; only the triggers below (and the
-- service, for the email job) create them.
create policy notifications_select_own on public.notifications for select to authenticated
  using (user_id = (select auth.uid()) and in_app);
create policy notifications_update_own on public.notifications for update to authenticated
  using (user_id = (select auth.uid()) and in_app)
  with check (user_id = (select auth.uid()));

revoke all on table public.notifications from public, anon, authenticated;
grant all on table public.notifications to service_role;
grant select (id, user_id, kind, subject_id, details, in_app, read_at, created_at)
  on table public.notifications to authenticated;
grant update (read_at) on table public.notifications to authenticated;

-- ---------------------------------------------------------------------------------------------
-- Producing notifications. One function decides, by the owner's `notifications` preference, whether
-- a notification is shown in the app and whether it is emailed, and queues the email job (a
-- pgqueuer row, as pgqueuer's own enqueue writes it; its schema is pinned by 0003_engine). The
-- triggers call it only on the transitions that matter, so a completed run costs nothing (the
-- WHEN clauses are checked before any function runs). A notification must never fail the change
-- that caused it: an error here is turned into a warning in the server log.
-- ---------------------------------------------------------------------------------------------
create function public.add_notification(target uuid, notification_kind text, subject uuid, facts jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  preference jsonb;
  -- The preference's keys are `<channel>_on_<event>` (the Account page's grid).
  event text := case notification_kind when 'execution_failed' then 'failure' else notification_kind end;
  show_in_app boolean;
  send_email boolean;
  mail_status text;
  notification_id uuid := gen_random_uuid();
begin
  select preference_value into preference
  from public.user_preferences
  where user_id = target and preference_key = 'notifications';
  -- Missing or malformed settings fall back to the defaults: in the app, and by email.
  show_in_app := case when jsonb_typeof(preference -> ('in_app_on_' || event)) = 'boolean'
                      then (preference -> ('in_app_on_' || event))::boolean else true end;
  send_email := case when jsonb_typeof(preference -> ('email_on_' || event)) = 'boolean'
                     then (preference -> ('email_on_' || event))::boolean else true end;
  if not show_in_app and not send_email then
    return;
  end if;
  if send_email then
    mail_status := 'queued';
    -- Repeated failures of one workflow: at most one email an hour (the in-app list has them all).
    if notification_kind = 'execution_failed' and exists (
      select from public.notifications n
      where n.user_id = target and n.subject_id = subject and n.kind = notification_kind
        and n.email_status in ('queued', 'sending', 'sent')
        and n.created_at > now() - interval '1 hour'
    ) then
      mail_status := 'batched';
    end if;
  end if;
  insert into public.notifications (id, user_id, kind, subject_id, details, in_app, email_status)
  values (notification_id, target, notification_kind, subject, facts, show_in_app, mail_status);
  if mail_status = 'queued' then
    insert into public.pgqueuer (priority, entrypoint, payload, status)
    values (0, 'autofy.send_notification_email',
            convert_to(jsonb_build_object('notification_id', notification_id)::text, 'UTF8'),
            'queued'::public.pgqueuer_status);
  end if;
end
$$;
revoke all on function public.add_notification(uuid, text, uuid, jsonb)
  from public, anon, authenticated, service_role;

create function public.notify_execution_failed() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform public.add_notification(
    new.user_id, 'execution_failed', new.workflow_id,
    jsonb_build_object(
      'execution_id', new.id,
      'workflow_id', new.workflow_id,
      'workflow_name', (select w.name from public.workflows w where w.id = new.workflow_id),
      'error_message', left(new.error_message, 500)));
  return null;
exception when others then
  raise warning 'notification for failed execution % not recorded: %', new.id, sqlerrm;
  return null;
end
$$;
revoke all on function public.notify_execution_failed() from public, anon, authenticated, service_role;

create trigger notify_execution_failed after update of execution_status on public.workflow_executions
  for each row when (new.execution_status = 'failed' and old.execution_status is distinct from 'failed')
  execute function public.notify_execution_failed();

-- `error` and `expired` (a revoked OAuth grant) both need the user to act; a move between them
-- is the same problem and is not announced again.
create function public.notify_integration_error() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform public.add_notification(
    new.user_id, 'integration_error', new.id,
    jsonb_build_object(
      'integration_id', new.id,
      'service_name', new.service_name,
      'display_name', new.display_name,
      'status', new.status,
      'error_message', left(new.error_message, 500)));
  return null;
exception when others then
  raise warning 'notification for integration % not recorded: %', new.id, sqlerrm;
  return null;
end
$$;
revoke all on function public.notify_integration_error() from public, anon, authenticated, service_role;

create trigger notify_integration_error after update of status on public.integrations
  for each row when (new.status in ('error', 'expired')
                     and old.status is distinct from new.status
                     and old.status not in ('error', 'expired'))
  execute function public.notify_integration_error();

-- Crossing 90 % of the period's allowance (plan limit + operator grants), upwards: once per
-- period, since only a new period (credits_used reset), a higher limit or a grant brings usage back
-- under the line.
create function public.notify_credits_low() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform public.add_notification(
    new.id, 'credits_low', new.id,
    jsonb_build_object('credits_used', new.credits_used,
                       'credits_limit', new.credits_limit + coalesce(new.credits_granted, 0)));
  return null;
exception when others then
  raise warning 'credits notification for profile % not recorded: %', new.id, sqlerrm;
  return null;
end
$$;
revoke all on function public.notify_credits_low() from public, anon, authenticated, service_role;

create trigger notify_credits_low
  after update of credits_used, credits_limit, credits_granted on public.profiles
  for each row when (  -- bigint: ten times a large limit overflows integer
    coalesce(new.credits_limit, 0) + coalesce(new.credits_granted, 0) > 0
    and coalesce(new.credits_used, 0)::bigint * 10
        >= (coalesce(new.credits_limit, 0)::bigint + coalesce(new.credits_granted, 0)) * 9
    and not (coalesce(old.credits_limit, 0) + coalesce(old.credits_granted, 0) > 0
             and coalesce(old.credits_used, 0)::bigint * 10
                 >= (coalesce(old.credits_limit, 0)::bigint + coalesce(old.credits_granted, 0)) * 9))
  execute function public.notify_credits_low();

-- ---------------------------------------------------------------------------------------------
-- The public status page (/status) reads health checks signed out, as `anon`: the service, its
-- state and when, nothing else (error messages and metadata stay with signed-in users).
-- ---------------------------------------------------------------------------------------------
create policy system_status_select_public on public.system_status for select to anon using (true);
grant select (service_name, status, checked_at) on table public.system_status to anon;
