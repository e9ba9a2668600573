-- Reverts 0004_triggers.
drop table if exists public.workflow_trigger_polls;
drop table if exists public.workflow_schedules;
drop table if exists public.workflow_webhooks;
