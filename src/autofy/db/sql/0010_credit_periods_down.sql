drop function public.credits_usage(uuid);
drop function public.grant_credits(uuid, integer);
drop function public.settle_credits(uuid, uuid, integer);
drop function public.reserve_credits(uuid, uuid, integer, text, timestamptz);
drop function public.release_lapsed_credits(uuid);
drop function public.roll_over_credits(uuid);
drop table public.credit_reservations;
alter table public.profiles
  drop column credits_reserved,
  drop column credits_granted,
  drop column credits_period_start,
  drop column credits_period_end;
drop function public.credit_period_end(timestamptz);
drop function public.credit_period_start(timestamptz);
