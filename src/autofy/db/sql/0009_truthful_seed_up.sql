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

-- The HTTP credentials service (0007) gets its integration template like every other service.
insert into public.integration_templates
  (id, service_name, template_name, description, configuration, required_scopes, setup_guide)
values (
  '10000000-0000-4000-8000-000000000008', 'http', 'HTTP credentials',
  'A bearer token, basic auth, or an API key in a header or query field, for the HTTP request step.',
  $json${
    "auth_kind": "api_key",
    "credential_fields": [
      {"name": "scheme", "label": "Scheme: bearer, basic, header or query", "secret": false},
      {"name": "token", "label": "Token (bearer)", "secret": true},
      {"name": "username", "label": "User name (basic)", "secret": false},
      {"name": "password", "label": "Password (basic)", "secret": true},
      {"name": "name", "label": "Header or query field name (header, query)", "secret": false},
      {"name": "value", "label": "Key (header, query)", "secret": true}
    ],
    "api_base": ""
  }$json$::jsonb,
  null,
  $guide$1. Take the token or key from the API's own settings page.
2. Choose how it is sent (scheme) and fill in that scheme's fields only.
3. Set configuration.api_base to the API's base URL (e.g. https://api.example.com/v1): the secret is sent only to URLs under it, and the connection test calls it.$guide$
)
on conflict (service_name, template_name) do nothing;
