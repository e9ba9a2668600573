-- Reverts 0011_notifications.
revoke select (service_name, status, checked_at) on table public.system_status from anon;
drop policy system_status_select_public on public.system_status;

drop trigger notify_credits_low on public.profiles;
drop trigger notify_integration_error on public.integrations;
drop trigger notify_execution_failed on public.workflow_executions;
drop function public.notify_credits_low();
drop function public.notify_integration_error();
drop function public.notify_execution_failed();
drop function public.add_notification(uuid, text, uuid, jsonb);
delete from public.pgqueuer where entrypoint = 'autofy.send_notification_email';
drop table public.notifications;
