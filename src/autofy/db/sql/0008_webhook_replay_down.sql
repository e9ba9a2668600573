drop table if exists public.webhook_signatures_seen;
