-- The older schema has no `http` service: HTTP credentials integrations are deleted (steps that
-- name them then run unauthenticated); secrets blanked in steps are not restored.
delete from public.integrations where service_name = 'http';
drop index public.integrations_user_id_service_name_key;
alter table public.integrations add constraint integrations_user_id_service_name_key
  unique (user_id, service_name);
alter table public.integrations drop constraint integrations_service_name_check;
alter table public.integrations add constraint integrations_service_name_check check (service_name in
  ('gmail', 'notion', 'telegram', 'openai', 'anthropic', 'gemini', 'openrouter'));
