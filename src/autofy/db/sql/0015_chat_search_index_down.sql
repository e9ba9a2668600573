-- Undo 0015_chat_search_index: 0006_chat_search's vector search function, no text function.
drop statistics if exists public.chat_messages_embedding_model;
drop function if exists public.search_chat_messages_text;

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
    create or replace function public.match_chat_messages(
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
