-- 0009 reverted: the initial status rows go back to the seed's "healthy". The Notion template keeps
-- its corrected credential field: the connector reads `token` at every revision.
update public.system_status
   set status = 'healthy', error_message = null
 where status = 'unknown';

alter table public.system_status drop constraint system_status_status_check;
alter table public.system_status add constraint system_status_status_check
  check (status in ('healthy', 'degraded', 'down'));

delete from public.integration_templates where id = '10000000-0000-4000-8000-000000000008';
