-- 0008_webhook_replay: each signed webhook delivery starts at most one run. Valid on PostgreSQL 15.
-- docs/triggers.md explains the design.

-- The signature of every accepted signed delivery (X-Autofy-Signature), until its timestamp is
-- too old to be accepted anyway (`expires_at`); a delivery that repeats one gets the first one's
-- run. Rows past `expires_at` are deleted by the next signed delivery to the same workflow.
create table public.webhook_signatures_seen (
  workflow_id  uuid not null references public.workflows (id) on delete cascade,
  signature    text not null,
  execution_id uuid,
  expires_at   timestamptz not null,
  primary key (workflow_id, signature)
);

create index idx_webhook_signatures_seen_expiry
  on public.webhook_signatures_seen (workflow_id, expires_at);

-- Written and read by the webhook route as the service role only; no user reads it.
alter table public.webhook_signatures_seen enable row level security;
revoke all on table public.webhook_signatures_seen from public, anon, authenticated;
grant all on table public.webhook_signatures_seen to service_role;
