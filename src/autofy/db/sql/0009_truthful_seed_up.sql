-- 0009: seeded data that tells the truth.

-- The seed's initial system_status rows said every service was "healthy" from install time until
-- a check ran (and, offline, forever for a service never checked). They now say `unknown`, "not
-- checked yet"; the first real check appends a row with the real state.
alter table public.system_status drop constraint system_status_status_check;
alter table public.system_status add constraint system_status_status_check
  check (status in ('unknown', 'healthy', 'degraded', 'down'));

update public.system_status
   set status = 'unknown', error_message = 'not checked yet'
 where metadata @> '{"initial": true}'::jsonb;

-- The Notion connector reads the credential `token` (the API's word); the template named it
-- `api_key`, so a client following the template sent a field the API refuses.
update public.integration_templates
   set configuration = jsonb_set(
         configuration,
         '{credential_fields}',
         '[{"name": "token", "label": "Internal integration secret", "secret": true}]'::jsonb)
 where id = '10000000-0000-4000-8000-000000000002';
