-- HTTP credentials: a user may keep several `http` integrations (one per API); every other
-- service stays one integration per user.
alter table public.integrations drop constraint integrations_service_name_check;
alter table public.integrations add constraint integrations_service_name_check check (service_name in
  ('gmail', 'notion', 'telegram', 'openai', 'anthropic', 'gemini', 'openrouter', 'http'));
alter table public.integrations drop constraint integrations_user_id_service_name_key;
create unique index integrations_user_id_service_name_key
  on public.integrations (user_id, service_name) where service_name <> 'http';
