-- Undo 0017_chat_halfvec: the full-precision HNSW index and 0015_chat_search_index's vector
-- search function, where the upgrade replaced them (it did not with pgvector older than 0.7).
do $$
declare
  vector_schema name;
  vector_version integer[];
begin
  if pg_catalog.pg_get_indexdef('public.idx_chat_messages_embedding'::pg_catalog.regclass)
       not like '%halfvec%' then
    return;
  end if;
  select n.nspname, pg_catalog.string_to_array(e.extversion, '.')::integer[]
    into vector_schema, vector_version
  from pg_catalog.pg_extension e
  join pg_catalog.pg_namespace n on n.oid = e.extnamespace
  where e.extname = 'vector';

  drop index public.idx_chat_messages_embedding;
  execute pg_catalog.format(
    'create index idx_chat_messages_embedding on public.chat_messages
       using hnsw (embedding %1$I.vector_cosine_ops)',
    vector_schema
  );
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
    set hnsw.ef_search = 100
    %2$s
    as $body$
      select nearest.id, 1 - nearest.distance
      from (
        select m.id, m.embedding operator(%1$I.<=>) query_embedding as distance
        from public.chat_messages m
        join public.chat_sessions s on s.id = m.session_id
        where s.user_id = (select auth.uid())
          and m.embedding is not null
          and m.metadata ->> 'embedding_model' = query_model
        order by m.embedding operator(%1$I.<=>) query_embedding
        limit least(greatest(match_count, 1), 100)
      ) as nearest
      order by nearest.distance
    $body$
    $fn$,
    vector_schema,
    case when vector_version >= array[0, 8] then 'set hnsw.iterative_scan = relaxed_order' else '' end
  );
end
$$;
