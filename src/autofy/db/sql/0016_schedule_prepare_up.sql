-- 0016_schedule_prepare: a run's `started_at` is when the statement that started it ran.
--
-- A scheduler prepares a batch of runs in a transaction that begins a second or two before their
-- slot (it claims the schedules, reads the workflows and applies the rules ahead), and starts
-- them at the slot. `now()` is the transaction's start, so runs would seem to have started
-- before their slot; `statement_timestamp()` is the start's own time. Everywhere else a run
-- starts in a short transaction, where the two differ by microseconds.
alter table public.workflow_executions alter column started_at set default statement_timestamp();
