-- 0015_chat_search_index: chat search that uses its indexes at scale (docs/performance.md,
-- "Chat search"; bench/chat_search.py measures it).
--
-- Full text. As the user, `@@` is checked after the row-level security policy (it is not
-- leakproof), so the GIN index on the messages' text could never serve a user's search: every
-- search read every message the user could see. This function searches as its owner, with the
-- caller's own sessions as an explicit filter, on the same terms as match_chat_messages
-- (SECURITY DEFINER, empty search_path, only the caller's rows, ids and ranks only). The
-- expression is idx_chat_messages_content_fts's.
--
-- Ranking reads each match's text again (ts_rank_cd needs its tsvector): a common word that a
-- third of an account's 100,000 messages contain cost 0.2 s (20 ms with this bound, measured
-- on this 2-core machine). Only the newest 1,000 matches are ranked; a rarer word's matches are
-- all ranked, as before.
create function public.search_chat_messages_text(query text, match_count integer default 20)
returns table (message_id uuid, rank real)
language sql
stable
security definer
set search_path = ''
as $$
  select newest.id,
         pg_catalog.ts_rank_cd(pg_catalog.to_tsvector('english'::pg_catalog.regconfig, newest.content), q.query)
           as rank
  from pg_catalog.websearch_to_tsquery('english'::pg_catalog.regconfig, query) as q(query)
  cross join lateral (
    select m.id, m.content, m.created_at
    from public.chat_messages m
    join public.chat_sessions s on s.id = m.session_id
    where pg_catalog.to_tsvector('english'::pg_catalog.regconfig, m.content) operator(pg_catalog.@@) q.query
      and s.user_id = (select auth.uid())
    order by m.created_at desc
    limit 1000
  ) as newest
  order by rank desc, newest.created_at desc
  limit least(greatest(match_count, 1), 100)
$$;
revoke all on function public.search_chat_messages_text from public, anon, authenticated, service_role;
grant execute on function public.search_chat_messages_text to authenticated;

-- Vectors. The HNSW index (idx_chat_messages_embedding) returns at most hnsw.ef_search rows per
-- scan (40 by default), before the caller's filter: a search for 50 candidates got at most 40,
-- and fewer when other users' or other models' vectors were among them. Now each search scans
-- with ef_search = 100 and, with pgvector 0.8 or later, iterative scans: the index keeps
-- returning rows until the filter has let through enough (relaxed order, so the outer query
-- sorts them again). Same signature and guarantees as 0006_chat_search's version.
do $$
declare
  vector_schema name;
  vector_version integer[];
  iterative text := '';
begin
  select n.nspname, pg_catalog.string_to_array(e.extversion, '.')::integer[]
    into vector_schema, vector_version
  from pg_catalog.pg_extension e
  join pg_catalog.pg_namespace n on n.oid = e.extnamespace
  where e.extname = 'vector';
  if vector_version >= array[0, 8] then
    iterative := 'set hnsw.iterative_scan = relaxed_order';
  end if;
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
    iterative
  );
end
$$;

-- Without statistics on the model filter the planner guessed that 0.5 % of messages carry the
-- query's model, so it judged a sort of "all of them" cheaper than the HNSW index and compared
-- every vector of the user (85 ms for 10,000 messages, growing linearly). With them it knows how
-- many do, and takes the index when the user has many messages and an exact scan when few.
create statistics public.chat_messages_embedding_model on (metadata ->> 'embedding_model')
  from public.chat_messages;
analyze public.chat_messages;
