-- Undo 0006_chat_search.
drop function if exists public.match_chat_messages;
drop index if exists public.idx_chat_messages_content_fts;
drop trigger if exists chat_message_created_at on public.chat_messages;
drop function if exists public.chat_message_created_at();
