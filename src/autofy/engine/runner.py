"""One engine job: advance an execution from its last checkpoint as far as it can go.

A job loads the execution, then runs its steps in order. After a step with side effects (an HTTP
call, a connector action) the result is checkpointed before anything else happens; steps without
side effects (formatters, set fields, filters) run on and are checkpointed with what follows, since
running them again after a crash changes nothing outside. A job ends when the run ends (completed,
filtered, failed: recorded with the run's bookkeeping in one transaction), or when the run must
wait (a delay, a retry's backoff): the checkpoint then enqueues the job that continues it, with
pgqueuer's execute_after, in the same transaction.

Every write is conditional on the token the job read (`engine_job_seq`, `engine_cursor`, status
running): a worker that lost its lease (its job was taken over) or a run cancelled meanwhile makes
the write match no row, and the job stops without recording anything.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from autofy.connectors.core.conditions import evaluate_conditions
from autofy.connectors.sdk import AuthenticationError, ConnectorError, PermanentError, TransientError
from autofy.connectors.validation import step_run_problem
from autofy.engine import queue, repository
from autofy.engine.actions import ActionInvoker, Credentials, is_instant
from autofy.engine.config import EngineConfig
from autofy.engine.connections import ServicePool
from autofy.engine.finishing import FinishingGroup
from autofy.engine.grouping import Grouped
from autofy.engine.queue import ExecutionJob
from autofy.engine.records import MAX_STEP_OUTPUT_BYTES, StepResult, json_size
from autofy.engine.repository import Connection, FinishingRun, Outcome, Progress, Token, as_json
from autofy.engine.templating import TemplateError, render_off_loop
from autofy.input_guard import MAX_STORED_DEPTH, UnstorableInput, check_storable
from autofy.observability import metrics
from autofy.security.crypto import CredentialCipher, CredentialDecryptionError

logger = logging.getLogger(__name__)

# Runs read in one statement at most: more than a worker dequeues at once.
MAX_LOAD_GROUP = 100


@dataclass
class RunState:
    """An execution as the job sees it, and what the job has done to it since the last write."""

    execution_id: uuid.UUID
    workflow_id: uuid.UUID
    user_id: uuid.UUID
    trigger_data: Any
    # Read only: runs of one workflow share it (`SharedPlan`).
    plan: list[dict[str, Any]]
    shared_plan: SharedPlan
    step_results: list[dict[str, Any]]
    completed_steps: int
    failed_steps: int
    credits_used: int
    metadata: dict[str, Any]
    cursor: int
    attempt: int
    job_seq: int
    # The state as last written: the compare-and-set token for the next write.
    token: Token
    credentials: dict[str, Credentials] = field(default_factory=dict)
    rotated: dict[uuid.UUID, Credentials] = field(default_factory=dict)
    failing_integrations: dict[uuid.UUID, tuple[str, str]] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: repository.Row) -> RunState:
        shared_plan = _shared_plan(row["engine_plan"])
        return cls(
            execution_id=row["id"],
            workflow_id=row["workflow_id"],
            user_id=row["user_id"],
            trigger_data=row["trigger_data"],
            plan=shared_plan.steps,
            shared_plan=shared_plan,
            step_results=row["step_results"],
            completed_steps=row["completed_steps"] or 0,
            failed_steps=row["failed_steps"] or 0,
            credits_used=row["credits_used"] or 0,
            metadata=row["metadata"] or {},
            cursor=row["engine_cursor"],
            attempt=row["engine_attempt"],
            job_seq=row["engine_job_seq"],
            token=Token(row["id"], row["engine_job_seq"], row["engine_cursor"]),
        )

    def progress(self) -> Progress:
        return Progress(
            step_results=self.step_results,
            completed_steps=self.completed_steps,
            failed_steps=self.failed_steps,
            credits_used=self.credits_used,
            metadata=self.metadata,
            cursor=self.cursor,
            attempt=self.attempt,
            job_seq=self.job_seq,
        )

    def template_context(self, now: datetime) -> dict[str, Any]:
        """What templates see: trigger, steps (by action name and by order), workflow, execution."""
        steps: dict[str | int, Any] = {}
        trigger_step = self.metadata.get("trigger_step")
        if trigger_step:
            steps[trigger_step["step_order"]] = self.trigger_data
            steps[trigger_step["action_name"]] = self.trigger_data
        for result in self.step_results:
            if result["status"] == "completed":
                # By name, a later step of the same action shadows an earlier one; by order, each
                # stays reachable.
                steps[result["step_order"]] = result["output"]
                steps[result["action_name"]] = result["output"]
        return {
            "trigger": self.trigger_data,
            "steps": steps,
            "workflow": {"id": str(self.workflow_id), "name": self.metadata.get("workflow_name")},
            "execution": {"id": str(self.execution_id)},
            "now": now.isoformat(),
        }


class Superseded(Exception):
    """The run moved on without this job (cancelled, taken over): stop, record nothing."""


@dataclass(frozen=True)
class StepRun:
    """What running one step came to."""

    result: StepResult | None
    # "next" (go on), "retry" (after `wait`), "park" (delay: continue after `wait`),
    # "filtered", "failed" (ends the run), "failed_continue".
    verdict: str
    wait: timedelta = timedelta(0)
    error: str | None = None


class ExecutionRunner:
    """Runs engine jobs. One per worker process; jobs share its pools and its cipher."""

    def __init__(
        self,
        pool: ServicePool,
        invoker: ActionInvoker,
        cipher: CredentialCipher,
        config: EngineConfig,
    ) -> None:
        self.pool = pool
        self.invoker = invoker
        self.cipher = cipher
        self.config = config
        self.finishing = FinishingGroup(pool)
        self._loading = Grouped(self._load_rows, max_group=MAX_LOAD_GROUP)

    async def load(self, job: ExecutionJob) -> RunState | None:
        """The execution this job advances, or None when the job is superseded."""
        row = await self._loading(job.execution_id)
        if row is None or row["execution_status"] != "running" or row["engine_job_seq"] != job.job_seq:
            return None
        state = RunState.from_row(row)
        services = {
            step["service_name"]
            for step in state.plan[state.cursor :]
            if self.invoker.requires_integration(step["service_name"])
        }
        named = {
            self._credentials_key(step): integration
            for step in state.plan[state.cursor :]
            if (integration := self._named_integration(step)) is not None
        }
        if not services and not named:
            return state  # built-in steps only: nothing more to read
        async with self.pool.connection() as connection:
            for service_name in services:
                found = await repository.integration_for(connection, state.user_id, service_name)
                if found is not None:
                    state.credentials[service_name] = self._decrypt(state.user_id, found)
            for key, (integration_id, service_name) in named.items():
                found = await repository.named_integration(
                    connection, state.user_id, integration_id, service_name
                )
                if found is not None:
                    state.credentials[key] = self._decrypt(state.user_id, found)
        return state

    async def _load_rows(self, execution_ids: list[uuid.UUID]) -> list[repository.Row | None]:
        # The runs of jobs dequeued together, read in one round trip (engine/grouping.py).
        async with self.pool.connection() as connection:
            rows = await repository.executions_for_jobs(connection, execution_ids)
        return [rows.get(execution_id) for execution_id in execution_ids]

    def _named_integration(self, step: dict[str, Any]) -> tuple[uuid.UUID, str] | None:
        """The integration a step names by `integration_id` (the HTTP step's credentials), if any."""
        service = self.invoker.catalog.integration_service(step["service_name"], step["action_name"])
        value = (step.get("configuration") or {}).get("integration_id")
        if service is None or not value:
            return None
        try:
            return uuid.UUID(str(value)), service
        except ValueError:
            return None  # the step fails with "does not exist" when it runs

    def _credentials_key(self, step: dict[str, Any]) -> str:
        """Where a step's credentials are kept in the run: by the integration it names, else by service."""
        named = self._named_integration(step)
        return f"integration:{named[0]}" if named else str(step["service_name"])

    def _decrypt(self, user_id: uuid.UUID, integration: repository.Row) -> Credentials:
        credentials = Credentials(
            integration_id=integration["id"],
            secrets={},
            configuration=integration["configuration"] or {},
            status=integration["status"],
        )
        try:
            credentials.secrets = self.cipher.decrypt(
                integration["credentials"], user_id=user_id, integration_id=integration["id"]
            )
        except CredentialDecryptionError as error:
            logger.warning("integration %s: %s", integration["id"], error)
            credentials.problem = (
                "the integration's stored credentials cannot be read with this server's encryption "
                "keys: connect the account again"
            )
        return credentials

    async def run(self, state: RunState) -> None:
        """Advance the run until it ends or waits. Raises Superseded when it was taken from us."""
        while True:
            if state.cursor >= len(state.plan):
                await self._finish(state, Outcome(status="completed", progress=state.progress()))
                return
            step = state.plan[state.cursor]
            step_run = await self._run_step(state, step)
            if step_run.result is not None:
                self._record(state, step_run.result)
            if step_run.verdict == "retry":
                metrics.step_retries.labels(step["service_name"], step["action_name"]).inc()
                state.attempt += 1
                state.metadata["retrying"] = {
                    "step_id": step["step_id"],
                    "step_order": step["step_order"],
                    "attempt": state.attempt,
                    "error": step_run.error,
                    "next_attempt_at": (datetime.now(UTC) + step_run.wait).isoformat(),
                }
                await self._wait(state, step_run.wait)
                return
            state.metadata.pop("retrying", None)
            if step_run.verdict == "filtered":
                state.metadata["filtered"] = True
                state.cursor += 1
                await self._finish(state, Outcome(status="completed", progress=state.progress()))
                return
            if step_run.verdict == "failed":
                state.cursor += 1
                await self._finish(
                    state,
                    Outcome(
                        status="failed",
                        progress=state.progress(),
                        error_message=(
                            f"Step {step['step_order']} ({step['service_name']}/{step['action_name']}) "
                            f"failed: {step_run.error}"
                        ),
                        error_step_id=uuid.UUID(str(step["step_id"])),
                    ),
                )
                return
            state.cursor += 1
            state.attempt = 0
            if step_run.verdict == "park":
                await self._wait(state, step_run.wait)
                return
            if state.cursor >= len(state.plan):
                continue  # finishing is the checkpoint
            if not self.config.chain_instant_steps:
                await self._wait(state, timedelta(0))
                return
            if not is_instant(step):
                await self._checkpoint(state)

    def _record(self, state: RunState, result: StepResult) -> None:
        metrics.step_duration.labels(result.service_name, result.action_name, result.status).observe(
            result.duration_ms / 1000
        )
        state.step_results.append(result.as_json())
        if result.status == "completed":
            state.completed_steps += 1
        elif result.status == "failed":
            state.failed_steps += 1
        state.credits_used += result.credits

    async def _run_step(self, state: RunState, step: dict[str, Any]) -> StepRun:
        started = datetime.now(UTC)
        attempts = state.attempt + 1
        context = state.template_context(started)

        def finished(
            status: Any, *, input: Any, output: Any = None, error: str | None = None, credits: int = 0
        ) -> StepResult:
            return StepResult.timed(
                step=step,
                status=status,
                attempts=attempts,
                started_at=started,
                completed_at=datetime.now(UTC),
                input=input,
                output=output,
                error=error,
                credits=credits,
            )

        # Rows saved before a validation rule existed are checked again here, so they fail with the
        # validator's message instead of at render time (or not at all, for a stored secret).
        invalid = state.shared_plan.problem(state.cursor, state.metadata.get("trigger_step"))
        if invalid is not None:
            message = f"the step is not valid as saved ({invalid}); edit the workflow and run it again"
            return self._failure(step, finished("failed", input=None, error=message), message)

        conditions = step.get("conditions") or {}
        if conditions:
            try:
                outcome = evaluate_conditions(await render_off_loop(conditions, context, path="conditions"))
            except (TemplateError, PermanentError) as error:
                return self._failure(step, finished("failed", input=conditions, error=str(error)), str(error))
            if not outcome.passed:
                skipped = finished("skipped", input=None, output={"reason": outcome.explanation})
                return StepRun(skipped, "next")

        try:
            rendered = await render_off_loop(step["configuration"], context)
            check_storable(rendered, "configuration", max_depth=MAX_STORED_DEPTH)
        except (TemplateError, UnstorableInput) as error:
            # The step's configuration as saved is what is recorded: a rendered value that
            # cannot be stored would make the record itself fail.
            return self._failure(
                step, finished("failed", input=step["configuration"], error=str(error)), str(error)
            )

        credentials = state.credentials.get(self._credentials_key(step))
        try:
            call = await self.invoker.invoke(
                step["service_name"],
                step["action_name"],
                rendered,
                credentials=credentials,
                save_credentials=_rotation_recorder(state, credentials),
            )
        except TransientError as error:
            handling = step.get("error_handling") or {}
            retries_allowed = bool(handling.get("retry", True))
            max_retries = int(handling.get("max_retries", 3))
            if retries_allowed and attempts <= max_retries:
                wait = self._backoff(state.attempt, error.retry_after)
                return StepRun(None, "retry", wait=wait, error=error.message)
            message = f"{error.message} (after {attempts} attempt{'s' if attempts > 1 else ''})"
            return self._failure(step, finished("failed", input=rendered, error=message), message)
        except ConnectorError as error:
            if isinstance(error, AuthenticationError) and credentials is not None:
                state.failing_integrations[credentials.integration_id] = (
                    "expired" if error.expired else "error",
                    error.message,
                )
            return self._failure(step, finished("failed", input=rendered, error=error.message), error.message)

        output = call.output
        if json_size(output) > MAX_STEP_OUTPUT_BYTES:
            message = (
                f"the step's output is larger than {MAX_STEP_OUTPUT_BYTES // 1024} KiB; "
                "narrow what it returns (fewer results, fewer fields)"
            )
            return self._failure(step, finished("failed", input=rendered, error=message), message)
        try:
            check_storable(output, "output", max_depth=MAX_STORED_DEPTH)
        except UnstorableInput as error:
            # Said now, as the step's failure: the checkpoint would fail on it, retry and end as
            # an internal error that names nothing.
            message = f"the step's {error.field} {error.problem}"
            return self._failure(step, finished("failed", input=rendered, error=message), message)

        if step["step_type"] == "condition" and not output.get("passed", False):
            return StepRun(finished("filtered", input=rendered, output=output), "filtered")
        if step["step_type"] == "delay":
            resume_at = datetime.fromisoformat(str(output["resume_at"]))
            wait = max(resume_at - datetime.now(UTC), timedelta(0))
            return StepRun(finished("completed", input=rendered, output=output), "park", wait=wait)
        charged = call.credits if step["step_type"] == "action" else 0
        return StepRun(finished("completed", input=rendered, output=output, credits=charged), "next")

    @staticmethod
    def _failure(step: dict[str, Any], result: StepResult, error: str) -> StepRun:
        handling = step.get("error_handling") or {}
        verdict = "failed_continue" if handling.get("continue_on_error") else "failed"
        return StepRun(result, "next" if verdict == "failed_continue" else "failed", error=error)

    def _backoff(self, attempts_made: int, retry_after: float | None) -> timedelta:
        """Full jitter (a random wait up to base * 2**attempt, capped); the server's Retry-After wins."""
        if retry_after is not None:
            return timedelta(seconds=retry_after)
        ceiling = min(
            self.config.retry_max_delay.total_seconds(),
            self.config.retry_base_delay.total_seconds() * 2**attempts_made,
        )
        return timedelta(seconds=random.uniform(0, ceiling))  # noqa: S311 - jitter, not security

    # --- writes ---------------------------------------------------------------------------------

    async def _checkpoint(self, state: RunState) -> None:
        async with self.pool.transaction() as connection:
            await self._save_integrations(connection, state)
            if not await repository.checkpoint(connection, state.token, state.progress()):
                raise Superseded
        state.token = Token(state.execution_id, state.job_seq, state.cursor)

    async def _wait(self, state: RunState, wait: timedelta) -> None:
        """Checkpoint and hand the rest of the run to a new job that starts after `wait`."""
        state.job_seq += 1
        async with self.pool.transaction() as connection:
            await self._save_integrations(connection, state)
            if not await repository.checkpoint(connection, state.token, state.progress()):
                raise Superseded
            await queue.enqueue(connection, ExecutionJob(state.execution_id, state.job_seq), delay=wait)

    async def _finish(self, state: RunState, outcome: Outcome) -> None:
        async def save_integrations(connection: Connection) -> None:
            await self._save_integrations(connection, state)

        run = FinishingRun(state.execution_id, state.token, outcome)
        before = save_integrations if state.rotated or state.failing_integrations else None
        if not await self.finishing.finish(run, before):
            raise Superseded
        _count_finished(state, outcome)

    async def _save_integrations(self, connection: Connection, state: RunState) -> None:
        for integration_id, credentials in state.rotated.items():
            stored = self.cipher.encrypt(
                credentials.secrets, user_id=state.user_id, integration_id=integration_id
            )
            await repository.save_integration_credentials(connection, integration_id, stored)
        for integration_id, (status, message) in state.failing_integrations.items():
            await repository.mark_integration_failing(
                connection, integration_id, status=status, message=message
            )

    async def hand_back(self, job: ExecutionJob, state: RunState | None) -> None:
        """Give a job that cannot finish here (shutdown) to another worker now, not at lease end."""
        if state is None:
            return
        async with self.pool.transaction() as connection:
            if await repository.move_job_seq(connection, state.token):
                await queue.enqueue(connection, ExecutionJob(job.execution_id, state.token.job_seq + 1))

    async def fail_internal(self, job: ExecutionJob, message: str) -> None:
        """Record a run as failed when the engine itself cannot advance it (after its retries)."""
        async with self.pool.transaction() as connection:
            row = await repository.execution_for_job(connection, job.execution_id)
            if row is None or row["engine_job_seq"] != job.job_seq:
                return
            state = RunState.from_row(row)
            outcome = Outcome(status="failed", error_message=message)
            if not await repository.finish(connection, state.token, state.execution_id, outcome):
                return
        _count_finished(state, outcome)


class SharedPlan:
    """A run's plan as the runs of one workflow share it (they carry the same plan text): decoded
    once, and each step checked once (`step_run_problem` is a pure function of the plan)."""

    def __init__(self, text: str) -> None:
        self.steps: list[dict[str, Any]] = json.loads(text)
        self._problems: dict[tuple[int, str], str | None] = {}

    def problem(self, index: int, trigger_step: dict[str, Any] | None) -> str | None:
        key = (index, as_json(trigger_step))
        if key not in self._problems:
            self._problems[key] = step_run_problem(self.steps, index, trigger_step)
        return self._problems[key]


# Bounded: at most this many plans (and their checks) are kept in memory.
@lru_cache(maxsize=256)
def _shared_plan(text: str) -> SharedPlan:
    return SharedPlan(text)


def _count_finished(state: RunState, outcome: Outcome) -> None:
    trigger_type = str(state.metadata.get("trigger_type", "unknown"))
    metrics.executions_finished.labels(trigger_type, outcome.status).inc()


def _rotation_recorder(state: RunState, credentials: Credentials | None) -> Any:
    async def save(new_secrets: dict[str, Any]) -> None:
        if credentials is None:
            return
        credentials.secrets = new_secrets
        state.rotated[credentials.integration_id] = credentials

    return save
