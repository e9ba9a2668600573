"""The engine's SQL, on the connection of the transaction it is given.

The worker's path is the hot one (every execution crosses it several times), so these statements
go straight to asyncpg (prepared and cached per connection) rather than through SQLAlchemy's
expression layer; they still run inside the caller's SQLAlchemy transaction. json/jsonb
parameters are passed as JSON text; the connection decodes json/jsonb results into Python values.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeAlias, cast

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from autofy.engine.records import for_history

Row = asyncpg.Record
# A connection of its own (pgqueuer's, SQLAlchemy's) or one lent by the worker's pool.
Connection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"


def as_json(value: Any) -> str:
    return json.dumps(value, default=str, separators=(",", ":"))


# --- starting ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkflowToStart:
    """A workflow as a run of it starts: its plan (the enabled steps after the trigger step) is
    kept as the JSON text the run stores, not decoded and encoded again on every start."""

    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    status: str
    trigger_type: str
    plan_json: str
    plan_length: int
    actions: list[tuple[str, str]]  # (service_name, action_name) of the plan's action steps
    trigger_step: dict[str, Any] | None  # step_order and action_name of an app trigger's step

    def plan(self) -> list[dict[str, Any]]:
        decoded: list[dict[str, Any]] = json.loads(self.plan_json)
        return decoded


_WORKFLOWS_TO_START = """
select w.id, w.user_id, w.name, w.status, w.trigger_type,
       coalesce(steps.plan, '[]'::json)::text as plan_json, steps.plan_length,
       coalesce(steps.services, '{}') as services, coalesce(steps.actions, '{}') as actions,
       steps.trigger_step
from public.workflows w
cross join lateral (
  select json_agg(json_build_object(
           'step_id', s.id, 'step_order', s.step_order, 'step_type', s.step_type,
           'service_name', s.service_name, 'action_name', s.action_name,
           'configuration', s.configuration, 'conditions', coalesce(s.conditions, '{}'),
           'error_handling', coalesce(s.error_handling, '{}'))
         order by s.step_order) filter (where s.step_type <> 'trigger') as plan,
         count(*) filter (where s.step_type <> 'trigger') as plan_length,
         array_agg(s.service_name order by s.step_order) filter (where s.step_type = 'action') as services,
         array_agg(s.action_name order by s.step_order) filter (where s.step_type = 'action') as actions,
         (array_agg(json_build_object('step_order', s.step_order, 'action_name', s.action_name)
                    order by s.step_order) filter (where s.step_type = 'trigger'))[1] as trigger_step
  from public.workflow_steps s
  where s.workflow_id = w.id and coalesce(s.is_enabled, true)
) steps
where w.id = any($1::uuid[])
"""


async def workflows_to_start(
    connection: Connection, workflow_ids: list[uuid.UUID]
) -> dict[uuid.UUID, WorkflowToStart]:
    """The workflows among `workflow_ids` that exist, with their enabled steps, by id."""
    rows = await connection.fetch(_WORKFLOWS_TO_START, workflow_ids)
    return {
        row["id"]: WorkflowToStart(
            id=row["id"],
            user_id=row["user_id"],
            name=row["name"],
            status=row["status"],
            trigger_type=row["trigger_type"],
            plan_json=row["plan_json"],
            plan_length=row["plan_length"],
            actions=list(zip(row["services"], row["actions"], strict=True)),
            trigger_step=row["trigger_step"],
        )
        for row in rows
    }


@dataclass(frozen=True)
class RunToStart:
    """A run the rules let start (engine/service.py): what `public.start_executions` writes."""

    execution_id: uuid.UUID
    workflow_id: uuid.UUID
    user_id: uuid.UUID
    credits: int  # the most it may use, reserved before it is written
    trigger_json: str  # the trigger data, already as JSON (its size was checked on that text)
    total_steps: int
    metadata: dict[str, Any]
    plan_json: str  # the plan, as the JSON text `WorkflowToStart` read
    step_results: list[dict[str, Any]]
    cursor: int
    completed_steps: int
    dedupe_key: str | None

    def as_json(self) -> str:
        fields = as_json(
            {
                "id": self.execution_id,
                "workflow_id": self.workflow_id,
                "user_id": self.user_id,
                "credits": self.credits,
                "total_steps": self.total_steps,
                "metadata": self.metadata,
                "step_results": self.step_results,
                "engine_cursor": self.cursor,
                "completed_steps": self.completed_steps,
                "dedupe_key": self.dedupe_key,
            }
        )
        # The trigger data (up to 1 MiB) and the plan are spliced in as the JSON text they already
        # are, not decoded and encoded again.
        return f'{fields[:-1]},"plan":{self.plan_json},"trigger_data":{self.trigger_json}}}'


@dataclass(frozen=True)
class StartOutcome:
    """What `public.start_executions` did with one run: `started`; `existing` (its dedupe key had
    already started `execution_id`); `refused` (its credits were not left: nothing written)."""

    outcome: str
    execution_id: uuid.UUID | None


def runs_json(runs: list[RunToStart]) -> str:
    """`runs` as the JSON array `start_runs` passes to `public.start_executions`."""
    return "[" + ",".join(run.as_json() for run in runs) + "]"


async def start_runs(connection: Connection, runs_json: str) -> list[StartOutcome]:
    """Reserve, record and enqueue the runs of `runs_json` (`runs_json()`) in one statement
    (migrations 0013_fast_start, 0016_schedule_prepare); one outcome per run, in order."""
    if runs_json == "[]":
        return []
    rows = await connection.fetch(
        "select ord, execution_id, outcome from public.start_executions($1::jsonb) order by ord", runs_json
    )
    return [StartOutcome(row["outcome"], row["execution_id"]) for row in rows]


# --- running ----------------------------------------------------------------------------------

# The runs of the jobs a worker dequeued together, in one round trip (ExecutionRunner.load). The
# plan comes as its JSON text: runs of one workflow share it, decoded and checked once (runner.py).
_EXECUTIONS_FOR_JOBS = """
select e.id, e.workflow_id, e.user_id, e.execution_status, e.trigger_data, e.started_at,
       e.step_results, e.completed_steps, e.failed_steps, e.credits_used, e.metadata,
       e.engine_plan::text as engine_plan, e.engine_cursor, e.engine_job_seq, e.engine_attempt
from public.workflow_executions e
where e.id = any($1::uuid[])
"""


async def executions_for_jobs(connection: Connection, execution_ids: list[uuid.UUID]) -> dict[uuid.UUID, Row]:
    """The executions of these ids that exist, by id."""
    rows = await connection.fetch(_EXECUTIONS_FOR_JOBS, execution_ids)
    return {row["id"]: row for row in rows}


async def execution_for_job(connection: Connection, execution_id: uuid.UUID) -> Row | None:
    return (await executions_for_jobs(connection, [execution_id])).get(execution_id)


async def execution_for_user_action(connection: Connection, execution_id: uuid.UUID) -> Row | None:
    row: Row | None = await connection.fetchrow(
        "select id, workflow_id, execution_status, trigger_data, step_results, error_step_id "
        "from public.workflow_executions where id = $1",
        execution_id,
    )
    return row


_CHECKPOINT = """
update public.workflow_executions
set step_results = $4::jsonb, completed_steps = $5, failed_steps = $6, credits_used = $7,
    metadata = $8::jsonb, engine_cursor = $9, engine_attempt = $10, engine_job_seq = $11
where id = $1 and engine_job_seq = $2 and engine_cursor = $3 and execution_status = 'running'
"""


@dataclass(frozen=True)
class Progress:
    """The part of an execution a checkpoint writes."""

    step_results: list[dict[str, Any]]
    completed_steps: int
    failed_steps: int
    credits_used: int
    metadata: dict[str, Any]
    cursor: int
    attempt: int
    job_seq: int


@dataclass(frozen=True)
class Token:
    """Where the writer believes the run stands. A write is applied only if that is still true,
    which refuses a zombie worker's late write and any write after a cancel."""

    execution_id: uuid.UUID
    job_seq: int
    cursor: int


async def checkpoint(connection: Connection, token: Token, progress: Progress) -> bool:
    status = await connection.execute(
        _CHECKPOINT,
        token.execution_id,
        token.job_seq,
        token.cursor,
        as_json(progress.step_results),
        progress.completed_steps,
        progress.failed_steps,
        progress.credits_used,
        as_json(progress.metadata),
        progress.cursor,
        progress.attempt,
        progress.job_seq,
    )
    return bool(status == "UPDATE 1")


# Finishing executions and their bookkeeping, in one statement for any number of them: each run's
# final state, its workflow's totals and running average, and each run's credit reservation settled
# on its owner's profile (charged what it used, at most what it reserved; each profile updated
# once for the group: `public.settle_credits_many`).
# The runs come as one JSON array (`FinishingRun.as_record`); a run whose `checked` is false skips
# the compare-and-set (a cancel by the user applies whatever the worker is doing). Totals are
# added per workflow, so runs of one workflow finished together update its row once: a busy
# workflow's row is not a lock every completion queues on.
_FINISH = """
with runs as (
  select * from jsonb_to_recordset($1::jsonb) as r(
    id uuid, checked boolean, job_seq int, cursor_at int, status text, step_results jsonb,
    completed_steps int, failed_steps int, credits_used int, metadata jsonb, error_message text,
    error_step_id uuid, engine_cursor int)
),
finished as (
  update public.workflow_executions e
  set execution_status = r.status, completed_at = clock_timestamp(),
      duration = clock_timestamp() - e.started_at,
      step_results = coalesce(r.step_results, e.step_results),
      completed_steps = coalesce(r.completed_steps, e.completed_steps),
      failed_steps = coalesce(r.failed_steps, e.failed_steps),
      credits_used = coalesce(r.credits_used, e.credits_used),
      metadata = coalesce(r.metadata, e.metadata),
      error_message = r.error_message, error_step_id = r.error_step_id,
      engine_cursor = coalesce(r.engine_cursor, e.engine_cursor),
      engine_job_seq = e.engine_job_seq + 1
  from runs r
  -- By primary key: a join the planner would otherwise hash over every running execution.
  where e.id = any(array(select id from runs)) and e.id = r.id and e.execution_status = 'running'
    and (not r.checked or (e.engine_job_seq = r.job_seq and e.engine_cursor = r.cursor_at))
  returning e.id, e.workflow_id, e.user_id, e.execution_status, e.duration, e.credits_used, e.completed_at
),
per_workflow as (
  select workflow_id, count(*) as runs,
         count(*) filter (where execution_status = 'completed') as succeeded,
         count(*) filter (where execution_status = 'failed') as failed,
         max(completed_at) as last_completed_at,
         coalesce(sum(duration) filter (where execution_status <> 'cancelled'), interval '0') as timed,
         count(*) filter (where execution_status <> 'cancelled') as timed_runs
  from finished group by workflow_id
),
totals as (
  update public.workflows w
  set total_executions = coalesce(w.total_executions, 0) + f.runs,
      successful_executions = coalesce(w.successful_executions, 0) + f.succeeded,
      failed_executions = coalesce(w.failed_executions, 0) + f.failed,
      last_executed_at = f.last_completed_at,
      -- The running average over completed and failed runs (cancelled ones are not timed).
      average_duration = case
        when f.timed_runs = 0 then w.average_duration
        else coalesce(w.average_duration, interval '0')
             + (f.timed - coalesce(w.average_duration, interval '0') * f.timed_runs)
               / (coalesce(w.successful_executions, 0) + coalesce(w.failed_executions, 0) + f.timed_runs)
      end
  from per_workflow f
  where w.id = f.workflow_id
),
settled as (
  select s.id
  from (select array_agg(user_id) as users, array_agg(id) as ids, array_agg(credits_used) as used
        from finished) f,
       lateral public.settle_credits_many(f.users, f.ids, f.used) s
)
select id from settled
"""


@dataclass(frozen=True)
class Outcome:
    status: str  # completed | failed | cancelled
    progress: Progress | None = None
    error_message: str | None = None
    error_step_id: uuid.UUID | None = None


@dataclass(frozen=True)
class FinishingRun:
    """One run to finish: its outcome, and the token its writer holds (None: a user's cancel)."""

    execution_id: uuid.UUID
    token: Token | None
    outcome: Outcome

    def as_record(self) -> dict[str, Any]:
        progress = self.outcome.progress
        return {
            "id": str(self.execution_id),
            "checked": self.token is not None,
            "job_seq": self.token.job_seq if self.token else 0,
            "cursor_at": self.token.cursor if self.token else 0,
            "status": self.outcome.status,
            "step_results": for_history(progress.step_results) if progress else None,
            "completed_steps": progress.completed_steps if progress else None,
            "failed_steps": progress.failed_steps if progress else None,
            "credits_used": progress.credits_used if progress else None,
            "metadata": progress.metadata if progress else None,
            "error_message": self.outcome.error_message,
            "error_step_id": self.outcome.error_step_id,
            "engine_cursor": progress.cursor if progress else None,
        }


async def finish_many(connection: Connection, runs: list[FinishingRun]) -> set[uuid.UUID]:
    """Record the end of runs and their bookkeeping; the ids of those finished (the others had
    already moved on)."""
    rows = await connection.fetch(_FINISH, as_json([run.as_record() for run in runs]))
    return {row["id"] for row in rows}


async def finish(
    connection: Connection, token: Token | None, execution_id: uuid.UUID, outcome: Outcome
) -> bool:
    """Record the end of a run and its bookkeeping; False when the run had already moved on."""
    return bool(await finish_many(connection, [FinishingRun(execution_id, token, outcome)]))


# --- credentials ------------------------------------------------------------------------------


async def integration_for(connection: Connection, user_id: uuid.UUID, service_name: str) -> Row | None:
    row: Row | None = await connection.fetchrow(
        "select id, credentials, configuration, status from public.integrations "
        "where user_id = $1 and service_name = $2",
        user_id,
        service_name,
    )
    return row


async def named_integration(
    connection: Connection, user_id: uuid.UUID, integration_id: uuid.UUID, service_name: str
) -> Row | None:
    """An integration a step names by id: only the run owner's own, of the service the step takes."""
    row: Row | None = await connection.fetchrow(
        "select id, credentials, configuration, status from public.integrations "
        "where id = $1 and user_id = $2 and service_name = $3",
        integration_id,
        user_id,
        service_name,
    )
    return row


async def save_integration_credentials(
    connection: Connection, integration_id: uuid.UUID, stored: dict[str, Any]
) -> None:
    await connection.execute(
        "update public.integrations set credentials = $2::jsonb where id = $1",
        integration_id,
        as_json(stored),
    )


async def mark_integration_failing(
    connection: Connection, integration_id: uuid.UUID, *, status: str, message: str
) -> None:
    await connection.execute(
        "update public.integrations set status = $2, error_message = $3 where id = $1",
        integration_id,
        status,
        message,
    )


# --- sweeping ---------------------------------------------------------------------------------

# Running executions with no live job (queued or picked) for their current job_seq: their job was
# lost to something outside the engine's control (an operator deleting queue rows, a bug). One
# worker at a time sweeps (the advisory lock); each run found gets a fresh job.
_ORPHANS = """
select e.id, e.engine_job_seq, e.engine_cursor
from public.workflow_executions e
where e.execution_status = 'running'
  and e.started_at < now() - $1::interval
  and pg_try_advisory_xact_lock(7244101003)
  and not exists (
    select from pgqueuer q
    where q.dedupe_key = e.id::text || ':' || e.engine_job_seq
      and q.status in ('queued', 'picked'))
limit 100
"""


async def orphaned_executions(connection: Connection, older_than_seconds: float) -> list[Token]:
    rows = await connection.fetch(_ORPHANS, timedelta(seconds=older_than_seconds))
    return [Token(row["id"], row["engine_job_seq"], row["engine_cursor"]) for row in rows]


async def move_job_seq(connection: Connection, token: Token) -> bool:
    status = await connection.execute(
        "update public.workflow_executions set engine_job_seq = engine_job_seq + 1 "
        "where id = $1 and engine_job_seq = $2 and engine_cursor = $3 and execution_status = 'running'",
        token.execution_id,
        token.job_seq,
        token.cursor,
    )
    return bool(status == "UPDATE 1")


# --- worker liveness --------------------------------------------------------------------------
# Each worker process holds a session-level advisory lock, keyed on its pgqueuer queue_manager_id,
# on its queue connection for as long as it lives. The server releases it the moment the process
# or its connection dies, so another worker sees the death within one takeover check instead of
# waiting out the lease. (Advisory locks of two int4 keys never collide with the sweeper's one
# bigint key.)
WORKER_LOCK_CLASS = 72_441_010

# Wakes every worker's queue listener as pgqueuer's own trigger does on an insert: its trigger
# is a statement trigger that never fires for updates, and a job handed back must not wait for
# the next poll.
_WAKE_WORKERS = """
select pg_notify('ch_pgqueuer', json_build_object(
  'channel', 'ch_pgqueuer', 'operation', 'update', 'sent_at', now(), 'table', 'pgqueuer',
  'type', 'table_changed_event')::text)
"""

# Beat for the jobs this worker runs (pgqueuer beats too, but only on the connection that picked
# them, which a database restart may have taken), and hand back — make stale at once — the jobs it
# picked that none of its tasks runs any more (their end could not be recorded).
_CONFIRM_JOBS = """
with mine as (
  update pgqueuer
  set heartbeat = case when id = any($2::bigint[]) then now() else to_timestamp(0) end
  where queue_manager_id = $1 and status = 'picked'
    and (id = any($2::bigint[]) or heartbeat between to_timestamp(1) and now() - $3::interval)
  returning heartbeat
)
select count(*) as jobs from mine where heartbeat = to_timestamp(0)
"""

# Jobs picked by workers whose lock is free (dead) are made stale, so the next dequeue takes them.
# Right after the server started, workers are still reconnecting and their locks are free without
# their being dead: lock-based takeover waits `grace` (the lease still applies meanwhile).
_TAKE_OVER_DEAD_WORKERS = """
with owners as (
  select distinct queue_manager_id as id from pgqueuer
  where status = 'picked' and queue_manager_id <> $1 and heartbeat > to_timestamp(0)
),
dead as (
  select id from owners
  where now() - pg_postmaster_start_time() > $2::interval
    and pg_try_advisory_xact_lock($3, hashtext(id::text))
),
taken as (
  update pgqueuer q set heartbeat = to_timestamp(0)
  from dead
  where q.queue_manager_id = dead.id and q.status = 'picked' and q.heartbeat > to_timestamp(0)
  returning q.id
)
select count(*) as jobs from taken
"""


class QueueDriver(Protocol):
    """pgqueuer's driver of a worker's queue connection (it serialises statements on it)."""

    async def fetch(self, query: str, *args: object) -> list[dict[str, object]]: ...

    async def execute(self, query: str, *args: object) -> str: ...


async def take_worker_lock(driver: QueueDriver, worker_id: uuid.UUID) -> bool:
    """False while another session holds it (this worker's previous connection, which the server
    has not noticed is gone yet)."""
    rows = await driver.fetch(
        "select pg_try_advisory_lock($1, hashtext($2::text)) as locked", WORKER_LOCK_CLASS, str(worker_id)
    )
    return bool(rows[0]["locked"])


async def confirm_jobs(
    driver: QueueDriver, worker_id: uuid.UUID, running: list[int], *, idle_for: timedelta
) -> int:
    """Beat for `running` jobs; hand back this worker's other picked jobs idle for `idle_for`."""
    rows = await driver.fetch(_CONFIRM_JOBS, worker_id, running, idle_for)
    return await _woken(driver, int(cast(int, rows[0]["jobs"])))


async def take_over_dead_workers(driver: QueueDriver, worker_id: uuid.UUID, *, grace: timedelta) -> int:
    """Hand the jobs of dead workers to the queue; how many."""
    rows = await driver.fetch(_TAKE_OVER_DEAD_WORKERS, worker_id, grace, WORKER_LOCK_CLASS)
    return await _woken(driver, int(cast(int, rows[0]["jobs"])))


async def _woken(driver: QueueDriver, handed_back: int) -> int:
    if handed_back:
        await driver.execute(_WAKE_WORKERS)
    return handed_back
