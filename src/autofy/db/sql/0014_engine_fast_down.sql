drop function public.settle_credits(uuid, uuid, integer);

-- Settle the reservation `p_id` of `p_user`: charge what was really used (at most what was
-- reserved) and return the rest; the credits charged. Without a reservation (a run started before
-- reservations existed, one that reserved nothing, a turn that outlived its reservation) the use
-- is charged as it is.
create function public.settle_credits(p_user uuid, p_id uuid, p_used integer) returns integer
language plpgsql set search_path = '' as $$
declare
  reserved integer;
  charged integer;
begin
  delete from public.credit_reservations where id = p_id and user_id = p_user
  returning credits into reserved;
  charged := greatest(coalesce(p_used, 0), 0);
  if reserved is not null then
    charged := least(charged, reserved);
  end if;
  if charged > 0 or reserved is not null then
    update public.profiles
       set credits_reserved = greatest(credits_reserved - coalesce(reserved, 0), 0),
           credits_used = coalesce(credits_used, 0) + charged
     where id = p_user;
  end if;
  return charged;
end
$$;

revoke execute on function public.settle_credits(uuid, uuid, integer) from public;
grant execute on function public.settle_credits(uuid, uuid, integer) to service_role;
drop function public.settle_credits_many(uuid[], uuid[], integer[]);
