-- 0017_chat_halfvec: chat search's vector index in half precision, re-ranked in full precision
-- (docs/performance.md, "Chat search"; bench/chat_search.py measures it).
--
-- At 1,000,000 messages the full-precision HNSW index was 7.8 GB (one 6 KB vector per 8 KB
-- page): too big to stay cached beside the table. Indexing `embedding::halfvec(1536)` halves it
-- (two vectors per page; 3.9 GB). Half precision moves distances
-- by about 1e-4, enough to swap near neighbours, so the function takes twice the asked number of
-- candidates from the index and returns the nearest of them by the full-precision distance (the
-- stored vectors are unchanged): the order and the similarities it returns are exact ones.
--
-- The graph gets m = 32 links per node and ef_construction = 128 (pgvector's defaults: 16 and
-- 64), and each search explores ef_search = 200 candidates (0015: 100). On tightly clustered
-- vectors (many messages on one subject, all about as near each other) a sparser graph leaves
-- messages that searches hardly reach, and a narrower search misses whole subjects: at 1,000,000
-- messages recall@50 rose from 0.80 (minimum 0.0) to 0.996 (minimum 0.96), for twice the build
-- time (10 to 20 minutes on two cores) and the same index size (docs/performance.md, "Chat
-- search").
--
-- halfvec needs pgvector 0.7 or later. With an older pgvector this migration changes nothing:
-- the full-precision index and 0015_chat_search_index's function stay, and search works as
-- before (slower and larger at a million messages).
do $$
declare
  vector_schema name;
  vector_version integer[];
begin
  select n.nspname, pg_catalog.string_to_array(e.extversion, '.')::integer[]
    into vector_schema, vector_version
  from pg_catalog.pg_extension e
  join pg_catalog.pg_namespace n on n.oid = e.extnamespace
  where e.extname = 'vector';
  if vector_version < array[0, 7] then
    raise notice 'pgvector % has no halfvec: chat search keeps its full-precision index',
      pg_catalog.array_to_string(vector_version, '.');
    return;
  end if;

  drop index public.idx_chat_messages_embedding;
  execute pg_catalog.format(
    'create index idx_chat_messages_embedding on public.chat_messages
       using hnsw ((embedding::%1$I.halfvec(1536)) %1$I.halfvec_cosine_ops) with (m = 32, ef_construction = 128)',
    vector_schema
  );
  -- iterative_scan exists from pgvector 0.8 (0015_chat_search_index says why it is needed).
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
    set hnsw.ef_search = 200
    %2$s
    as $body$
      select reranked.id, 1 - reranked.distance
      from (
        select candidate.id, candidate.embedding operator(%1$I.<=>) query_embedding as distance
        from (
          select m.id, m.embedding
          from public.chat_messages m
          join public.chat_sessions s on s.id = m.session_id
          where s.user_id = (select auth.uid())
            and m.embedding is not null
            and m.metadata ->> 'embedding_model' = query_model
          order by (m.embedding::%1$I.halfvec(1536)) operator(%1$I.<=>) (query_embedding::%1$I.halfvec)
          limit 2 * least(greatest(match_count, 1), 100)
        ) as candidate
        order by distance
        limit least(greatest(match_count, 1), 100)
      ) as reranked
      order by reranked.distance
    $body$
    $fn$,
    vector_schema,
    case when vector_version >= array[0, 8] then 'set hnsw.iterative_scan = relaxed_order' else '' end
  );
end
$$;
