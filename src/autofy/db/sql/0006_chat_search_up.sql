-- 0006_chat_search: search over a user's own chat messages (docs/assistant.md, "Search").

-- A turn saves the user's message and the assistant's answer in one transaction, where now() is
-- one instant: the insertion time keeps them in the order they were written.
create function public.chat_message_created_at() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.created_at := pg_catalog.clock_timestamp();
  return new;
end
$$;
revoke all on function public.chat_message_created_at() from public, anon, authenticated, service_role;

create trigger chat_message_created_at before insert on public.chat_messages
  for each row execute function public.chat_message_created_at();

-- Full-text search, always available. The expression must match the one the search query uses
-- (autofy/chat/repository.py) for the planner to use the index.
create index idx_chat_messages_content_fts
  on public.chat_messages using gin (to_tsvector('english'::regconfig, content));

-- Vector search. Users may not read chat_messages.embedding (column privilege), so a query as
-- the user cannot compare vectors itself. This function does it for them and is safe because:
-- it is SECURITY DEFINER with an empty search_path (every name below is schema-qualified), it
-- returns only messages of sessions owned by the caller ((select auth.uid()), which is null for
-- anyone but a signed-in user, so then nothing matches), it compares only vectors made by the
-- model the caller names, and it returns ids and similarities, never an embedding.
-- pgvector's schema differs (public on a plain server, extensions on Supabase), so the function
-- is created with the schema found, as 0001_foundation resolves the vector type.
do $$
declare
  vector_schema name;
begin
  select n.nspname into vector_schema
  from pg_catalog.pg_extension e
  join pg_catalog.pg_namespace n on n.oid = e.extnamespace
  where e.extname = 'vector';
  execute pg_catalog.format(
    $fn$
    create function public.match_chat_messages(
      query_embedding %1$I.vector,
      query_model text,
      match_count integer default 20
    )
    returns table (message_id uuid, similarity double precision)
    language sql
    stable
    security definer
    set search_path = ''
    as $body$
      select m.id, 1 - (m.embedding operator(%1$I.<=>) query_embedding)
      from public.chat_messages m
      join public.chat_sessions s on s.id = m.session_id
      where s.user_id = (select auth.uid())
        and m.embedding is not null
        and m.metadata ->> 'embedding_model' = query_model
      order by m.embedding operator(%1$I.<=>) query_embedding
      limit least(greatest(match_count, 1), 100)
    $body$
    $fn$,
    vector_schema
  );
end
$$;

revoke all on function public.match_chat_messages from public, anon, authenticated, service_role;
grant execute on function public.match_chat_messages to authenticated;
